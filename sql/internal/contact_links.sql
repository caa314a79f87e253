-- staging._contact_links (internal): the links that count, one row per (object, contact) for every
-- engagement that is an outreach attempt by the touch rules (docs/contracts.md "Touch rules"; the clock rule
-- `occurred_at <= now` is applied by speed_to_lead) and every live deal, with the object's time and owner.
-- speed_to_lead reads touches (family 1-4) and mql_episodes deals (family 5) from it by integer contact key,
-- instead of joining the 10M raw associations with the engagement tables on every build.
-- family: pipeline.modeling.link_keys.FAMILY_CODES, which is also the touch type's tie-break rank (call <
-- email < meeting < communication); object_key / contact_key: the ids as BIGINT, their text kept in
-- object_id / contact_id only for ids that are not canonical integers (NULL for HubSpot's ids).
-- Full builds read everything. Incremental syncs (runner.sync_links; $old/$new/$first: the load-id range,
-- raw_columns.NEW_LOADS) read only the objects in the temp table _changed_objects: their engagement/deal rows
-- of the new loads, plus, for the families in `lookup`, the unchanged rows of objects whose associations alone changed.
WITH links AS (
    SELECT {{ family_code('a.from_type') }} AS family, {{ key('a.from_id') }} AS object_key,
        {{ key('a.to_id') }} AS contact_key,
        CASE WHEN {{ key('a.to_id') }} < 0 THEN a.to_id END AS contact_id
    FROM staging.associations AS a
    {% if incremental %}JOIN _changed_objects AS c ON c.family = a.from_type AND c.object_id = a.from_id{% endif %}
    WHERE a.to_type = 'contacts' AND a.to_id IS NOT NULL  -- (NULL: a cleared object's marker)
      AND a.from_type IN ({% for f in family %}'{{ f }}'{{ ", " if not loop.last }}{% endfor %})
),
{% macro changed(table, id_column) -%}
    {% if incremental -%}
    AND (({{ new_loads }})
         {% if table in lookup %}OR {{ id_column }} IN (SELECT object_id FROM _changed_objects WHERE family = '{{ table }}' AND NOT has_new_row){% endif %})
    {%- endif %}
{%- endmacro %}
counted AS (
    SELECT 'calls' AS from_type, engagement_id AS object_id, occurred_at, owner_id
    FROM staging.calls
    WHERE NOT archived AND direction = 'OUTBOUND' {{ changed('calls', 'engagement_id') }}
    UNION ALL
    SELECT 'emails', engagement_id, occurred_at, owner_id
    FROM staging.emails
    WHERE NOT archived AND direction IN ('EMAIL', 'FORWARDED_EMAIL')
      AND coalesce(status, 'SENT') NOT IN ('BOUNCED', 'FAILED', 'SCHEDULED') {{ changed('emails', 'engagement_id') }}
    UNION ALL
    SELECT 'meetings', engagement_id, occurred_at, owner_id
    FROM staging.meetings
    WHERE NOT archived AND NOT list_contains((SELECT meeting_outcomes_excluded FROM staging.policy), coalesce(outcome, ''))
      {{ changed('meetings', 'engagement_id') }}
    UNION ALL
    SELECT 'communications', engagement_id, occurred_at, owner_id
    FROM staging.communications
    WHERE NOT archived AND channel IN ('SMS', 'WHATS_APP', 'LINKEDIN_MESSAGE') AND coalesce(logged_from, 'CRM') = 'CRM'
      {{ changed('communications', 'engagement_id') }}
    UNION ALL
    SELECT 'deals', deal_id, created_at, NULL
    FROM staging.deals
    WHERE NOT archived {{ changed('deals', 'deal_id') }}
),
keyed AS (
    SELECT {{ family_code('from_type') }} AS family, {{ key('object_id') }} AS object_key, object_id, occurred_at, owner_id
    FROM counted
    WHERE occurred_at IS NOT NULL
)
SELECT
    o.family,
    o.object_key,
    l.contact_key,
    o.occurred_at,
    o.owner_id,
    CASE WHEN o.object_key < 0 THEN o.object_id END AS object_id,
    l.contact_id
FROM keyed AS o
JOIN links AS l ON l.family = o.family AND l.object_key = o.object_key
