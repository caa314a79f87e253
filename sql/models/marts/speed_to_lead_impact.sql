-- marts.speed_to_lead_impact: conversion by response-time bucket (the user's own "8x"), overall and per
-- MQL type, with 95% Wilson score intervals. Every episode counts; untouched episodes whose SLA clock is
-- still running sit in 'never' (counted in `pending`). Conversion = the episode reached SQL (also shown:
-- opportunity).
WITH buckets(response_bucket, bucket_order) AS {{ response_buckets() }},
types(mql_type) AS (VALUES ('all'), ('demo_request'), ('other')),
by_type AS (
    SELECT s.mql_type, {{ response_bucket('s.minutes_to_first_touch') }} AS response_bucket,
        count(*) AS episodes, count(s.sql_at) AS conversions, count(s.opportunity_at) AS opportunities,
        count(*) FILTER (WHERE s.sla_status = 'pending') AS pending
    FROM {{ ref('speed_to_lead') }} AS s
    GROUP BY ALL
),
grouped AS (
    -- per MQL type and bucket, and per bucket over all types (summed from the first: one pass over the mart)
    SELECT * FROM by_type
    UNION ALL
    SELECT 'all', response_bucket, CAST(sum(episodes) AS BIGINT), CAST(sum(conversions) AS BIGINT),
        CAST(sum(opportunities) AS BIGINT), CAST(sum(pending) AS BIGINT)
    FROM by_type
    GROUP BY response_bucket
),
counted AS (
    -- every (type, bucket) pair, empty ones with zero counts
    SELECT t.mql_type, b.response_bucket, b.bucket_order,
        coalesce(g.episodes, 0) AS episodes,
        coalesce(g.conversions, 0) AS conversions,
        coalesce(g.opportunities, 0) AS opportunities,
        coalesce(g.pending, 0) AS pending
    FROM types AS t
    CROSS JOIN buckets AS b
    LEFT JOIN grouped AS g ON g.mql_type = t.mql_type AND g.response_bucket = b.response_bucket
),
rated AS (
    SELECT *,
        conversions / nullif(episodes, 0) AS conversion_rate,
        opportunities / nullif(episodes, 0) AS opportunity_rate,
        1.959963984540054 AS z
    FROM counted
),
intervals AS (
    -- the Wilson score interval, (mid -/+ half) / scale (read only where episodes > 0)
    SELECT *, (mid - half) / scale AS conversion_rate_low, (mid + half) / scale AS conversion_rate_high
    FROM (SELECT *,
        conversion_rate + z * z / (2 * episodes) AS mid,
        z * sqrt(conversion_rate * (1 - conversion_rate) / episodes + z * z / (4.0 * episodes * episodes)) AS half,
        1 + z * z / episodes AS scale
    FROM rated) AS w
)
SELECT
    i.mql_type,
    i.response_bucket,
    CAST(i.bucket_order AS INTEGER) AS bucket_order,
    i.episodes,
    i.conversions,
    i.conversion_rate,
    CASE WHEN i.episodes > 0 THEN greatest(i.conversion_rate_low, 0.0) END AS conversion_rate_low,
    CASE WHEN i.episodes > 0 THEN least(i.conversion_rate_high, 1.0) END AS conversion_rate_high,
    i.opportunities,
    i.opportunity_rate,
    i.pending,
    i.conversion_rate / nullif(slow.conversion_rate, 0) AS ratio_to_over_24h,
    fast.conversion_rate / nullif(slow.conversion_rate, 0) AS fastest_to_over_24h_ratio
FROM intervals AS i
JOIN intervals AS fast ON fast.mql_type = i.mql_type AND fast.response_bucket = '<5 min'
JOIN intervals AS slow ON slow.mql_type = i.mql_type AND slow.response_bucket = '>24 h'
ORDER BY i.mql_type, i.bucket_order
