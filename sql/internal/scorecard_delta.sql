-- The new rows of marts.rep_scorecard for the groups holding a changed episode: each group's current row
-- plus the signed episode versions in staging._episode_changes (+1 new, -1 old). Counts and sums add up;
-- the exact quantiles are recomputed from marts.speed_to_lead only for groups whose multiset of response
-- times changed. A group whose mqls falls to 0 is returned with mqls = 0 (the caller drops it).
-- The period expression and every derived column are the ones in sql/marts/rep_scorecard.sql.
WITH grains(period_type) AS (VALUES ('week'), ('month'), ('quarter')),
changes AS (
    SELECT c.*, g.period_type,
        CAST(date_trunc(g.period_type, DATE '1970-01-01' + CAST(epoch_ms(c.mql_at) // 86400000 AS INTEGER)) AS DATE) AS period_start
    FROM staging._episode_changes AS c
    CROSS JOIN grains AS g
),
delta AS (
    SELECT period_type, period_start, owner_id,
        sum(sign) AS mqls,
        sum(CASE WHEN first_touch_at IS NOT NULL THEN sign ELSE 0 END) AS touched,
        sum(CASE WHEN sla_status = 'met' THEN sign ELSE 0 END) AS sla_met,
        sum(CASE WHEN sla_status = 'breached' THEN sign ELSE 0 END) AS sla_breached,
        sum(CASE WHEN sla_status = 'overdue' THEN sign ELSE 0 END) AS sla_overdue,
        sum(CASE WHEN sla_status = 'pending' THEN sign ELSE 0 END) AS sla_pending,
        sum(sign * attempts) AS total_attempts,
        sum(CASE WHEN recycled_at IS NOT NULL THEN sign ELSE 0 END) AS recycled,
        sum(CASE WHEN recycled_below_minimum_attempts THEN sign ELSE 0 END) AS recycled_below_minimum_attempts,
        sum(CASE WHEN sql_at IS NOT NULL THEN sign ELSE 0 END) AS sqls,
        sum(CASE WHEN opportunity_at IS NOT NULL THEN sign ELSE 0 END) AS opportunities,
        sum(CASE WHEN customer_at IS NOT NULL THEN sign ELSE 0 END) AS customers,
        count(*) FILTER (WHERE sign = 1) AS added,
        any_value(team) FILTER (WHERE sign = 1) AS added_team
    FROM changes
    GROUP BY period_type, period_start, owner_id
),
times_changed AS (
    SELECT DISTINCT period_type, period_start, owner_id
    FROM (SELECT period_type, period_start, owner_id, minutes_to_first_touch, business_minutes_to_first_touch,
                 sum(sign) AS net
          FROM changes
          WHERE minutes_to_first_touch IS NOT NULL OR business_minutes_to_first_touch IS NOT NULL
          GROUP BY ALL) AS t
    WHERE net <> 0
),
changed_days AS (
    -- every UTC day of every group whose response times changed, as the epoch-day number the period
    -- expression starts from: a speed_to_lead row falls in the group iff (owner, day) matches
    SELECT t.period_type, t.period_start, t.owner_id, epoch_ms(d.day) // 86400000 AS epoch_day
    FROM times_changed AS t,
         unnest(generate_series(CAST(t.period_start AS TIMESTAMP),
                                CAST(t.period_start AS TIMESTAMP) + CASE t.period_type WHEN 'week' THEN INTERVAL 7 DAY
                                    WHEN 'month' THEN INTERVAL 1 MONTH ELSE INTERVAL 3 MONTH END - INTERVAL 1 DAY,
                                INTERVAL 1 DAY)) AS d(day)
),
requantiled AS (
    -- the changed groups' exact quantiles from marts.speed_to_lead, joined by (owner, day): no row is expanded
    -- into its three periods first, and only touched episodes (the quantiles skip NULLs) are read. Every
    -- changed group has a row here: NULL quantiles when none of its episodes is touched any more.
    SELECT t.period_type, t.period_start, t.owner_id, q.wall_quantiles, q.business_quantiles
    FROM times_changed AS t
    LEFT JOIN (
        SELECT c.period_type, c.period_start, c.owner_id,
            quantile_cont(s.minutes_to_first_touch, [0.5, 0.9]) AS wall_quantiles,
            quantile_cont(s.business_minutes_to_first_touch, [0.5, 0.9]) AS business_quantiles
        FROM (SELECT * FROM marts.speed_to_lead
              WHERE minutes_to_first_touch IS NOT NULL OR business_minutes_to_first_touch IS NOT NULL) AS s
        JOIN changed_days AS c
          ON c.epoch_day = epoch_ms(s.mql_at) // 86400000 AND c.owner_id IS NOT DISTINCT FROM s.owner_id
        GROUP BY c.period_type, c.period_start, c.owner_id
    ) AS q
      ON q.period_type = t.period_type AND q.period_start = t.period_start AND q.owner_id IS NOT DISTINCT FROM t.owner_id
),
merged AS (
    SELECT d.period_type, d.period_start, d.owner_id,
        -- the owner's name now, as the full build reads it (a new group has no row to take it from)
        (SELECT any_value(o.owner_name) FROM staging.owners AS o WHERE o.owner_id = d.owner_id) AS owner_name,
        CASE WHEN d.added > 0 THEN d.added_team ELSE r.team END AS team,
        CAST(coalesce(r.mqls, 0) + d.mqls AS BIGINT) AS mqls,
        CAST(coalesce(r.touched, 0) + d.touched AS BIGINT) AS touched,
        CASE WHEN q.period_type IS NOT NULL THEN q.wall_quantiles[1] ELSE r.median_minutes_to_first_touch END AS median_minutes_to_first_touch,
        CASE WHEN q.period_type IS NOT NULL THEN q.wall_quantiles[2] ELSE r.p90_minutes_to_first_touch END AS p90_minutes_to_first_touch,
        CASE WHEN q.period_type IS NOT NULL THEN q.business_quantiles[1] ELSE r.median_business_minutes_to_first_touch END AS median_business_minutes_to_first_touch,
        CASE WHEN q.period_type IS NOT NULL THEN q.business_quantiles[2] ELSE r.p90_business_minutes_to_first_touch END AS p90_business_minutes_to_first_touch,
        CAST(coalesce(r.sla_met, 0) + d.sla_met AS BIGINT) AS sla_met,
        CAST(coalesce(r.sla_breached, 0) + d.sla_breached AS BIGINT) AS sla_breached,
        CAST(coalesce(r.sla_overdue, 0) + d.sla_overdue AS BIGINT) AS sla_overdue,
        CAST(coalesce(r.sla_pending, 0) + d.sla_pending AS BIGINT) AS sla_pending,
        CAST(coalesce(r.total_attempts, 0) + d.total_attempts AS BIGINT) AS total_attempts,
        CAST(coalesce(r.recycled, 0) + d.recycled AS BIGINT) AS recycled,
        CAST(coalesce(r.recycled_below_minimum_attempts, 0) + d.recycled_below_minimum_attempts AS BIGINT) AS recycled_below_minimum_attempts,
        CAST(coalesce(r.sqls, 0) + d.sqls AS BIGINT) AS sqls,
        CAST(coalesce(r.opportunities, 0) + d.opportunities AS BIGINT) AS opportunities,
        CAST(coalesce(r.customers, 0) + d.customers AS BIGINT) AS customers
    FROM delta AS d
    LEFT JOIN marts.rep_scorecard AS r
      ON r.period_type = d.period_type AND r.period_start = d.period_start AND r.owner_id IS NOT DISTINCT FROM d.owner_id
    LEFT JOIN requantiled AS q
      ON q.period_type = d.period_type AND q.period_start = d.period_start AND q.owner_id IS NOT DISTINCT FROM d.owner_id
)
SELECT *,
    sla_met / nullif(sla_met + sla_breached + sla_overdue, 0) AS sla_met_rate,
    sla_breached + sla_overdue AS breaches,
    CAST(total_attempts AS DOUBLE) / CAST(nullif(mqls, 0) AS DOUBLE) AS attempts_per_lead,
    sqls / nullif(mqls, 0) AS mql_to_sql_rate,
    opportunities / nullif(mqls, 0) AS mql_to_opportunity_rate
FROM merged
