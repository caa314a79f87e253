-- staging._contact_leads (internal, maintained with marts.mql_episodes): one row per non-excluded contact
-- that entered the `lead` stage, with the UTC month of its first entry, its current owner and source, and
-- whether it ever became an MQL. conversion_funnel counts leads from it; incremental builds replace only the
-- contacts in staging._build_scope (the history scan is not repeated for every contact on every run).
WITH first_lead AS (
    SELECT contact_id, min(changed_at) AS lead_at
    FROM staging.contact_property_history
    WHERE property = 'lifecyclestage' AND value = 'lead'
    {% if incremental %}AND contact_id IN (SELECT contact_id FROM staging._build_scope){% endif %}
    GROUP BY contact_id
)
SELECT
    c.contact_id,
    CAST(date_trunc('month', DATE '1970-01-01' + CAST(epoch_ms(fl.lead_at) // 86400000 AS INTEGER)) AS DATE) AS month_start,
    c.owner_id,
    c.lead_source,
    c.contact_id IN (SELECT contact_id FROM marts.mql_episodes) AS became_mql
FROM staging.contacts AS c
JOIN first_lead AS fl ON fl.contact_id = c.contact_id
WHERE NOT c.excluded
{% if incremental %}AND c.contact_id IN (SELECT contact_id FROM staging._build_scope){% endif %}
