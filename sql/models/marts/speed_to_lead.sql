-- marts.speed_to_lead: one row per MQL episode with its first outreach attempt (touch), response times on the
-- wall clock and in business hours, the SLA outcome under the policy, attempts and conversions (the pinned
-- analyst contract). Touch rules: macro counted_touches (via staging.contact_links). Incremental by contact
-- (macros/incremental.sql); the post-hooks bring every row's team (owners move between teams) and computed_at
-- to this run's, as a full build would.
{{ config(materialized='incremental', incremental_strategy='append',
          pre_hook=["{{ clear_episode_rows() }}"],
          post_hook=["{{ refresh_teams_and_clock() }}", "{{ record_mark(episode_build_mode()) }}"]) }}
-- depends_on: {{ ref('episode_scope') }}
{%- set incremental = episode_build_mode() == 'incremental' %}
WITH p AS ({{ policy_row() }}),
episodes AS (
    SELECT * FROM {{ ref('mql_episodes') }}
    {% if incremental %}WHERE {{ scope_filter() }}{% endif %}
),
contact_touches AS (
    SELECT contact_id, family AS type_rank, object_id, occurred_at, owner_id
    FROM {{ ref('contact_links') }}
    WHERE family <= 4 AND occurred_at IS NOT NULL {% if incremental %}AND {{ scope_filter() }}{% endif %}
),
episode_touches AS (
    SELECT e.mql_id,
        count(*) AS attempts,
        count(*) FILTER (WHERE e.recycled_at IS NOT NULL AND ct.occurred_at < e.recycled_at) AS attempts_before_recycled,
        -- earliest touch; ties: call < email < meeting < communication, then engagement id (numeric when numeric)
        min({'at': ct.occurred_at, 'rank': ct.type_rank, 'num_id': TRY_CAST(ct.object_id AS HUGEINT),
             'id': ct.object_id, 'owner_id': ct.owner_id}) AS first_touch
    FROM episodes AS e
    CROSS JOIN p
    JOIN contact_touches AS ct
      ON ct.occurred_at <= p.now_at AND ct.contact_id = e.contact_id AND ct.occurred_at >= e.mql_at
     AND (e.next_mql_at IS NULL OR ct.occurred_at < e.next_mql_at)
    GROUP BY e.mql_id
),
primary_team AS ({{ primary_team() }}),
measured AS (
    SELECT
        e.*,
        CASE e.mql_type WHEN 'demo_request' THEN p.sla_minutes_demo_request ELSE p.sla_minutes_other END AS sla_minutes,
        et.first_touch.at AS first_touch_at,
        {{ touch_type('et.first_touch.rank') }} AS first_touch_type,
        et.first_touch.owner_id AS first_touch_owner_id,
        coalesce(et.attempts, 0) AS attempts,
        coalesce(et.attempts_before_recycled, 0) AS attempts_before_recycled,
        p.now_at, p.sla_clock, p.business_timezone, p.minimum_attempts
    FROM episodes AS e
    CROSS JOIN p
    LEFT JOIN episode_touches AS et ON et.mql_id = e.mql_id
),
calendar AS (SELECT * FROM {{ ref('business_calendar') }}),
business_days AS (SELECT * FROM {{ ref('business_calendar') }} WHERE open_ms > 0),
business_clock AS (
    -- business milliseconds elapsed (since the calendar's first day) at mql_at and at the first touch
    SELECT m.mql_id,
        cm.open_ms_before + CASE WHEN cm.open_ms > 0
            THEN least(greatest({{ epoch_ms('m.mql_at') }} - {{ epoch_ms('cm.opens_at') }}, 0), cm.open_ms) ELSE 0 END AS mql_business_ms,
        ct.open_ms_before + CASE WHEN ct.open_ms > 0
            THEN least(greatest({{ epoch_ms('m.first_touch_at') }} - {{ epoch_ms('ct.opens_at') }}, 0), ct.open_ms) ELSE 0 END AS touch_business_ms
    FROM measured AS m
    JOIN calendar AS cm ON cm.local_day = {{ local_date('m.business_timezone', 'm.mql_at') }}
    LEFT JOIN calendar AS ct ON ct.local_day = {{ local_date('m.business_timezone', 'm.first_touch_at') }}
),
business_due AS (
    -- the instant at which sla_minutes of business time have elapsed after mql_at
    SELECT b.mql_id, {{ add_ms('d.opens_at', 'b.due_business_ms - d.open_ms_before') }} AS business_due_at
    FROM (SELECT bc.mql_id, bc.mql_business_ms + CAST(m.sla_minutes AS BIGINT) * 60000 AS due_business_ms
          FROM business_clock AS bc JOIN measured AS m ON m.mql_id = bc.mql_id) AS b
    ASOF LEFT JOIN business_days AS d ON b.due_business_ms <= d.open_ms_through
),
timed AS (
    SELECT m.*,
        CASE WHEN m.sla_clock = 'business' THEN bd.business_due_at
             ELSE {{ add_ms('m.mql_at', 'CAST(m.sla_minutes AS BIGINT) * 60000') }} END AS sla_due_at,
        ({{ epoch_ms('m.first_touch_at') }} - {{ epoch_ms('m.mql_at') }}) / 60000.0 AS minutes_to_first_touch,
        (bc.touch_business_ms - bc.mql_business_ms) / 60000.0 AS business_minutes_to_first_touch
    FROM measured AS m
    JOIN business_clock AS bc ON bc.mql_id = m.mql_id
    LEFT JOIN business_due AS bd ON bd.mql_id = m.mql_id
)
SELECT
    t.mql_id,
    t.contact_id,
    t.mql_at,
    t.mql_type,
    t.owner_id,
    pt.team,
    CAST(t.sla_minutes AS INTEGER) AS sla_minutes,
    t.sla_due_at,
    t.first_touch_at,
    t.first_touch_type,
    t.first_touch_owner_id,
    t.minutes_to_first_touch,
    t.business_minutes_to_first_touch,
    CASE
        WHEN t.first_touch_at IS NOT NULL AND t.first_touch_at <= t.sla_due_at THEN 'met'
        WHEN t.first_touch_at IS NOT NULL THEN 'breached'
        WHEN t.now_at > t.sla_due_at THEN 'overdue'
        ELSE 'pending'
    END AS sla_status,
    CAST(t.attempts AS INTEGER) AS attempts,
    t.sql_at,
    t.opportunity_at,
    t.customer_at,
    t.now_at AS computed_at,
    -- beyond the pinned columns: routing delay vs rep delay, episode context, recycling
    t.assigned_at,
    t.assigned_owner_id,
    ({{ epoch_ms('t.assigned_at') }} - {{ epoch_ms('t.mql_at') }}) / 60000.0 AS routing_minutes,
    ({{ epoch_ms('t.first_touch_at') }} - {{ epoch_ms('t.assigned_at') }}) / 60000.0 AS rep_minutes,
    t.episode_number,
    t.next_mql_at,
    t.conversion_event_name,
    t.lead_source,
    t.exited_mql_at,
    t.recycled_at,
    CAST(t.attempts_before_recycled AS INTEGER) AS attempts_before_recycled,
    t.recycled_at IS NOT NULL AND t.attempts_before_recycled < t.minimum_attempts AS recycled_below_minimum_attempts
FROM timed AS t
LEFT JOIN primary_team AS pt ON pt.owner_id = t.owner_id
