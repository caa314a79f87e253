-- staging.contact_links: every link of an engagement (family 1-4: call, email, meeting, communication) or a
-- deal (5) to a contact that entered a stage of the `mql` role (no other contact has an episode to read it), one
-- row per (object, contact). occurred_at and owner_id are set when the object counts: an outreach attempt by the
-- touch rules (macro counted_touches, at its touch time; the clock rule is speed_to_lead's) or a live deal (at its
-- created_at); NULL when it does not. speed_to_lead reads its touches and mql_episodes its deals from here.
-- Incremental by contact like the episode marts (macros/incremental.sql): staging.episode_scope, built first,
-- reads this table's previous rows (every contact a changed object was linked to, links a sync removed included)
-- and puts them in scope; those contacts' rows are deleted and rebuilt.
{{ config(materialized='incremental', incremental_strategy='append',
          pre_hook=["{{ clear_episode_rows() }}", "{{ uncompressed_text(true) }}"],
          post_hook=["{{ uncompressed_text(false) }}", "{{ record_mark(episode_build_mode()) }}"]) }}
-- depends_on: {{ ref('episode_scope') }}
{%- set incremental = episode_build_mode() == 'incremental' %}
WITH counted AS (
    SELECT type_rank AS family, object_id, occurred_at, owner_id FROM ({{ counted_touches() }}) AS t
    UNION ALL
    SELECT 5, deal_id, created_at, NULL FROM {{ ref('deals') }} WHERE NOT archived
),
mql_contacts AS (
    -- only a contact that entered a stage of the `mql` role can have an episode: no other contact's links are read
    SELECT DISTINCT h.contact_id
    FROM {{ ref('contact_property_history') }} AS h
    JOIN {{ ref('lifecycle_stages') }} AS st ON st.value = h.value AND st.role = 'mql'
    WHERE h.property = 'lifecyclestage' {% if incremental %}AND {{ scope_filter('h.contact_id') }}{% endif %}
),
links AS (
    SELECT CASE a.from_type WHEN 'calls' THEN 1 WHEN 'emails' THEN 2 WHEN 'meetings' THEN 3
                            WHEN 'communications' THEN 4 WHEN 'deals' THEN 5 END AS family,
        a.from_id AS object_id, a.to_id AS contact_id
    FROM {{ ref('associations') }} AS a
    WHERE a.to_type = 'contacts' AND a.to_id IS NOT NULL  -- (NULL: a cleared object's marker)
      AND a.from_type IN ('calls', 'emails', 'meetings', 'communications', 'deals')
      AND a.to_id IN (SELECT contact_id FROM mql_contacts)
)
-- no DISTINCT: dlt's primary keys (an engagement's or deal's id; a link's from/to) make each row unique; the
-- links that do not count stay (occurred_at NULL), so the scope finds a changed object's contacts here
SELECT l.family, l.object_id, l.contact_id, c.occurred_at, c.owner_id
FROM links AS l
LEFT JOIN counted AS c ON c.family = l.family AND c.object_id = l.object_id AND c.occurred_at IS NOT NULL
