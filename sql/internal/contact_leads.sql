-- staging._contact_leads (internal, maintained with marts.mql_episodes): one row per non-excluded contact
-- that entered the `lead` stage, with the UTC month of its first entry, its current owner and source, and
-- whether it ever became an MQL. conversion_funnel counts leads from it; incremental builds replace only the
-- contacts in staging._build_scope (the history scan is not repeated for every contact on every run), from
-- the temp tables _scope_history / _scope_contacts that marts.mql_episodes' incremental build read (and
-- _scope_episodes: the scope's episodes it inserted).
WITH first_lead AS (
    SELECT contact_id, min(changed_at) AS lead_at
    FROM {% if incremental %}_scope_history{% else %}staging.contact_property_history{% endif %}
    WHERE property = 'lifecyclestage' AND value = 'lead'
    GROUP BY contact_id
)
SELECT
    c.contact_id,
    CAST(date_trunc('month', DATE '1970-01-01' + CAST(epoch_ms(fl.lead_at) // 86400000 AS INTEGER)) AS DATE) AS month_start,
    c.owner_id,
    c.lead_source,
    c.contact_id IN (SELECT contact_id FROM {% if incremental %}_scope_episodes{% else %}marts.mql_episodes{% endif %}) AS became_mql
FROM {% if incremental %}_scope_contacts{% else %}staging.contacts{% endif %} AS c
JOIN first_lead AS fl ON fl.contact_id = c.contact_id
WHERE NOT c.excluded
