-- marts.rep_scorecard: per owner (owner at MQL) and period (week, month, quarter of mql_at, UTC):
-- volume, response times, SLA outcome, attempts, recycling below the policy minimum, conversion.
-- Episodes with no owner at MQL are grouped under owner_id NULL ("unassigned").
WITH periods AS (
    SELECT s.*, g.period_type,
        CAST(date_trunc(g.period_type, {{ utc_date('s.mql_at') }}) AS DATE) AS period_start
    FROM {{ ref('speed_to_lead') }} AS s
    CROSS JOIN (VALUES ('week'), ('month'), ('quarter')) AS g(period_type)
),
aggregated AS (
    SELECT
    p.period_type,
    p.period_start,
    p.owner_id,
    any_value(o.owner_name) AS owner_name,
    any_value(p.team) AS team,
    count(*) AS mqls,
    count(p.first_touch_at) AS touched,
    -- one pass per column for both quantiles (median = 0.5, p90 = 0.9; exact, interpolated)
    {{ quantiles('p.minutes_to_first_touch', '[0.5, 0.9]') }} AS wall_quantiles,
    {{ quantiles('p.business_minutes_to_first_touch', '[0.5, 0.9]') }} AS business_quantiles,
    count(*) FILTER (WHERE p.sla_status = 'met') AS sla_met,
    count(*) FILTER (WHERE p.sla_status = 'breached') AS sla_breached,
    count(*) FILTER (WHERE p.sla_status = 'overdue') AS sla_overdue,
    count(*) FILTER (WHERE p.sla_status = 'pending') AS sla_pending,
    -- share of decided episodes (pending ones have not had their chance yet)
    count(*) FILTER (WHERE p.sla_status = 'met')
        / nullif(count(*) FILTER (WHERE p.sla_status <> 'pending'), 0) AS sla_met_rate,
    count(*) FILTER (WHERE p.sla_status IN ('breached', 'overdue')) AS breaches,
    avg(p.attempts) AS attempts_per_lead,
    CAST(sum(p.attempts) AS BIGINT) AS total_attempts,
    count(*) FILTER (WHERE p.recycled_at IS NOT NULL) AS recycled,
    count(*) FILTER (WHERE p.recycled_below_minimum_attempts) AS recycled_below_minimum_attempts,
    count(p.sql_at) AS sqls,
    count(p.opportunity_at) AS opportunities,
    count(p.customer_at) AS customers,
    count(p.sql_at) / count(*) AS mql_to_sql_rate,
    count(p.opportunity_at) / count(*) AS mql_to_opportunity_rate
FROM periods AS p
LEFT JOIN {{ ref('owners') }} AS o ON o.owner_id = p.owner_id
GROUP BY p.period_type, p.period_start, p.owner_id
)
SELECT
    period_type, period_start, owner_id, owner_name, team, mqls, touched,
    wall_quantiles[1] AS median_minutes_to_first_touch,
    wall_quantiles[2] AS p90_minutes_to_first_touch,
    business_quantiles[1] AS median_business_minutes_to_first_touch,
    business_quantiles[2] AS p90_business_minutes_to_first_touch,
    * EXCLUDE (period_type, period_start, owner_id, owner_name, team, mqls, touched, wall_quantiles,
               business_quantiles)
FROM aggregated
ORDER BY period_type, period_start, owner_id NULLS LAST
