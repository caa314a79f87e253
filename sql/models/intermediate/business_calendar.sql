-- staging.business_calendar: one row per local day of the policy's business-hours time zone, covering every
-- MQL and its SLA horizon. `open_ms_before` is the business time (ms) elapsed from the first day up to that
-- day's opening, so business time between two instants is a difference of two lookups.
WITH p AS ({{ policy_row() }}),
span AS (
    SELECT min(changed_at) AS first_at, max(changed_at) AS last_at
    FROM {{ ref('contact_property_history') }}
    WHERE property = 'lifecyclestage'
),
bounds AS (
    SELECT
        {{ local_date('p.business_timezone', 'coalesce(span.first_at, p.now_at)') }} - 7 AS first_day,
        {{ local_date('p.business_timezone', 'greatest(p.now_at, coalesce(span.last_at, p.now_at))') }}
            + 14
            + 7 * CAST(ceil(greatest(p.sla_minutes_demo_request, p.sla_minutes_other)
                            / ((p.business_end_minute - p.business_start_minute) * len(p.business_weekdays)))
                       AS INTEGER) AS last_day
    FROM p, span
),
days AS (
    SELECT CAST(g.d AS DATE) AS local_day
    FROM bounds, {{ days_between_series('bounds.first_day', 'bounds.last_day') }} AS g(d)
),
hours AS (
    SELECT
        d.local_day,
        {{ list_has('p.business_weekdays', 'isodow(d.local_day)') }} AS is_business_day,
        {{ local_instant('p.business_timezone', 'd.local_day', 'p.business_start_minute') }} AS opens_at,
        {{ local_instant('p.business_timezone', 'd.local_day', 'p.business_end_minute') }} AS closes_at
    FROM days AS d, p
),
lengths AS (
    SELECT *, CASE WHEN is_business_day THEN {{ epoch_ms('closes_at') }} - {{ epoch_ms('opens_at') }} ELSE 0 END AS open_ms
    FROM hours
)
SELECT
    local_day,
    is_business_day,
    opens_at,
    closes_at,
    open_ms,
    CAST(coalesce(sum(open_ms) OVER (ORDER BY local_day ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS BIGINT) AS open_ms_before,
    CAST(sum(open_ms) OVER (ORDER BY local_day ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS BIGINT) AS open_ms_through
FROM lengths
ORDER BY local_day
