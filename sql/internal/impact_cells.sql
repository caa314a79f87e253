-- staging._impact_cells (internal, kept with marts.speed_to_lead in its transaction): episodes per MQL type x
-- response-time bucket, with how many reached SQL / an opportunity and how many are still pending: what
-- marts.speed_to_lead_impact rates. Full builds group marts.speed_to_lead; incremental ones group the signed
-- episode versions in staging._episode_changes into a delta that runner.add_to_cells merges into the cells.
SELECT
    s.mql_type,
    CASE
        WHEN s.minutes_to_first_touch IS NULL THEN 'never'
        WHEN s.minutes_to_first_touch < 5 THEN '<5 min'
        WHEN s.minutes_to_first_touch < 60 THEN '5-60 min'
        WHEN s.minutes_to_first_touch < 240 THEN '1-4 h'
        WHEN s.minutes_to_first_touch < 1440 THEN '4-24 h'
        ELSE '>24 h'
    END AS response_bucket,
    CAST(sum(s.sign) AS BIGINT) AS episodes,
    CAST(sum(CASE WHEN s.sql_at IS NOT NULL THEN s.sign ELSE 0 END) AS BIGINT) AS conversions,
    CAST(sum(CASE WHEN s.opportunity_at IS NOT NULL THEN s.sign ELSE 0 END) AS BIGINT) AS opportunities,
    CAST(sum(CASE WHEN s.sla_status = 'pending' THEN s.sign ELSE 0 END) AS BIGINT) AS pending
FROM {% if incremental %}staging._episode_changes{% else %}(SELECT *, 1 AS sign FROM marts.speed_to_lead){% endif %} AS s
GROUP BY ALL
