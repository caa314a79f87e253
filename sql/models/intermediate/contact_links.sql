-- staging.contact_links: the links that count, one row per (object, contact): every engagement that is an
-- outreach attempt by the touch rules (macro counted_touches; the clock rule is speed_to_lead's) and every live
-- deal, with the object's time (a meeting's touch time; a deal's created_at) and owner, for the contacts that
-- entered a stage of the `mql` role (no other contact has an episode to read them). speed_to_lead reads its
-- touches (family 1-4, also the touch type's tie-break rank) and mql_episodes its deals (family 5) from here.
-- Incremental by contact like the episode marts (macros/incremental.sql): staging.episode_scope, built first,
-- reads this table's previous rows (links a sync removed) and puts every contact a changed object counts or
-- counted for in scope; those contacts' rows are deleted and rebuilt.
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
-- no DISTINCT: dlt's primary keys (an engagement's or deal's id; a link's from/to) make each row unique
SELECT c.family, c.object_id, l.contact_id, c.occurred_at, c.owner_id
FROM counted AS c
JOIN links AS l ON l.family = c.family AND l.object_id = c.object_id
WHERE c.occurred_at IS NOT NULL
