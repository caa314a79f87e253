-- The rep_scorecard groups (period type, period start, owner) holding an episode that changed in the last
-- incremental speed_to_lead build (staging._episode_changes: old and new versions). The period expression
-- is the one in sql/marts/rep_scorecard.sql.
SELECT DISTINCT
    g.period_type,
    CAST(date_trunc(g.period_type, DATE '1970-01-01' + CAST(epoch_ms(c.mql_at) // 86400000 AS INTEGER)) AS DATE) AS period_start,
    c.owner_id
FROM staging._episode_changes AS c
CROSS JOIN (VALUES ('week'), ('month'), ('quarter')) AS g(period_type)
