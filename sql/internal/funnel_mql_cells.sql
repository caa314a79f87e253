-- staging._funnel_mql_cells (internal, kept with marts.speed_to_lead in its transaction): the MQL cohort's
-- counts per UTC month x MQL type x team x lead source, the finest grain of conversion_funnel's MQL steps.
-- Full builds group marts.speed_to_lead; incremental ones group the signed episode versions in
-- staging._episode_changes (-1 old, +1 new) into a delta that runner.add_to_cells merges into the cells.
SELECT
    CAST(date_trunc('month', DATE '1970-01-01' + CAST(epoch_ms(s.mql_at) // 86400000 AS INTEGER)) AS DATE) AS month_start,
    s.mql_type,
    coalesce(s.team, '(no team)') AS team,
    coalesce(s.lead_source, '(unknown)') AS lead_source,
    CAST(sum(s.sign) AS BIGINT) AS mqls,
    CAST(sum(CASE WHEN s.sql_at IS NOT NULL THEN s.sign ELSE 0 END) AS BIGINT) AS sqls,
    CAST(sum(CASE WHEN s.opportunity_at IS NOT NULL THEN s.sign ELSE 0 END) AS BIGINT) AS opportunities,
    CAST(sum(CASE WHEN s.customer_at IS NOT NULL THEN s.sign ELSE 0 END) AS BIGINT) AS customers
FROM {% if incremental %}staging._episode_changes{% else %}(SELECT *, 1 AS sign FROM marts.speed_to_lead){% endif %} AS s
GROUP BY ALL
