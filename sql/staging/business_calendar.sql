-- staging.business_calendar: one row per local day of the policy's business-hours time zone, covering
-- every MQL and its SLA horizon. `open_ms_before` is the business time (ms) elapsed from the first day up
-- to that day's opening, so business time between two instants is a difference of two lookups.
-- `bounds_only` renders just the range needed (first_day, last_day); with `incremental`, only for the
-- lifecycle rows of the loads in ($old, $new]: runner keeps the calendar while it covers that range, so a
-- built calendar runs 60 days past the range needed now (the clock moves on every run).
WITH p AS (SELECT * FROM staging.policy),
span AS (
    SELECT min(changed_at) AS first_at, max(changed_at) AS last_at
    FROM staging.contact_property_history
    WHERE property = 'lifecyclestage' {% if incremental %}AND {{ new_loads }}{% endif %}
),
bounds AS (
    SELECT
        CAST(timezone(p.business_timezone, coalesce(span.first_at, p.now_at)) AS DATE) - 7 AS first_day,
        CAST(timezone(p.business_timezone, greatest(p.now_at, coalesce(span.last_at, p.now_at))) AS DATE)
            + 14
            + 7 * CAST(ceil(greatest(p.sla_minutes_demo_request, p.sla_minutes_other)
                            / ((p.business_end_minute - p.business_start_minute) * len(p.business_weekdays)))
                       AS INTEGER)
            {% if not (bounds_only is defined and bounds_only) %}+ 60{% endif %} AS last_day
    FROM p, span
),
{% if bounds_only is defined and bounds_only %}
final AS (SELECT first_day, last_day FROM bounds)
SELECT * FROM final
{% else %}
days AS (
    SELECT CAST(g.d AS DATE) AS local_day
    FROM bounds, generate_series(CAST(bounds.first_day AS TIMESTAMP), CAST(bounds.last_day AS TIMESTAMP), INTERVAL 1 DAY) AS g(d)
),
hours AS (
    SELECT
        d.local_day,
        list_contains(p.business_weekdays, isodow(d.local_day)) AS is_business_day,
        timezone(p.business_timezone, d.local_day + to_minutes(p.business_start_minute)) AS opens_at,
        timezone(p.business_timezone, d.local_day + to_minutes(p.business_end_minute)) AS closes_at
    FROM days AS d, p
),
lengths AS (
    SELECT *, CASE WHEN is_business_day THEN epoch_ms(closes_at) - epoch_ms(opens_at) ELSE 0 END AS open_ms
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
{% endif %}
