-- staging.episode_scope: the contacts whose episodes may have changed since speed_to_lead was last built
-- (macros/incremental.sql), and a header row (contact_id NULL) with the state they are measured against:
-- base_* = speed_to_lead's mark, target_* = this run's newest complete load, clock and policy; or
-- full_rebuild_reason when only a full rebuild is right (a full refresh asked for: no scope is computed; no mark,
-- another policy or other models (staging.policy's policy_hash covers both), the link table not built from the
-- same state). A contact is in scope when a load in (base, target] wrote its contact or history row, a link to
-- it, or an engagement or deal it was linked to (the previous link table holds every link of a contact with an
-- MQL entry, counted or not; a link added since is a link row of the new loads; a contact with its first MQL
-- entry since has a new history row); when the clock passed one of its touches; or when the clock ran out the
-- SLA of one of its pending episodes.
-- depends_on: {{ ref('contacts') }} {{ ref('contact_property_history') }} {{ ref('associations') }} {{ ref('deals') }}
-- depends_on: {{ ref('calls') }} {{ ref('emails') }} {{ ref('meetings') }} {{ ref('communications') }}
{%- set base = build_mark('speed_to_lead') %}
{%- set target_load = newest_load() %}
{%- set links_mark = build_mark('contact_links') %}
{%- set old_links = adapter.get_relation(this.database, 'staging', 'contact_links') if execute else none %}
{%- set old_mart = adapter.get_relation(this.database, 'marts', 'speed_to_lead') if execute else none %}
{%- set current = run_query('SELECT policy_hash, CAST(now_at AS VARCHAR) FROM (' ~ policy_row() ~ ')') if execute else none %}
{%- set clock_back = execute and base is not none and run_query("SELECT CAST('" ~ base.now_at ~ "' AS TIMESTAMPTZ) > CAST('"
                     ~ current[0][1] ~ "' AS TIMESTAMPTZ)")[0][0] %}
{%- if flags.FULL_REFRESH %}{% set reason = 'full refresh requested' %}
{%- elif base is none or old_links is none or old_mart is none %}{% set reason = 'first build' %}
{%- elif base.policy_hash != current[0][0] %}{% set reason = 'policy or models changed' %}
{%- elif clock_back %}{% set reason = 'clock moved back' %}
{%- elif links_mark != base %}{% set reason = 'link table built from another state' %}
{%- elif base.load_id is none or target_load is none %}{% set reason = 'no complete dlt load recorded' %}
{%- else %}{% set reason = none %}{% endif %}
WITH p AS ({{ policy_row() }}),
target AS (SELECT {{ load_sql(target_load) }} AS load_id),
header AS (
    SELECT CAST(NULL AS VARCHAR) AS contact_id,
        CAST({{ sql_text(reason) if reason else 'NULL' }} AS VARCHAR) AS full_rebuild_reason,
        CAST({{ sql_text(base.load_id) if base and base.load_id else 'NULL' }} AS VARCHAR) AS base_load_id,
        CAST({{ sql_text(base.now_at) if base else 'NULL' }} AS TIMESTAMPTZ) AS base_now_at,
        target.load_id AS target_load_id, p.now_at AS target_now_at, p.policy_hash
    FROM p, target
)
{%- if reason is none %},
new_loads AS (SELECT {{ sql_text(base.load_id) }} AS old, (SELECT load_id FROM target) AS new),
{%- set in_new_loads = 'load_id > new_loads.old AND load_id <= new_loads.new' %}
changed_objects AS (
    {% for t, family, id in [('calls', 1, 'engagement_id'), ('emails', 2, 'engagement_id'), ('meetings', 3, 'engagement_id'),
                              ('communications', 4, 'engagement_id'), ('deals', 5, 'deal_id')] %}
    SELECT {{ family }} AS family, {{ id }} AS object_id FROM {{ ref(t) }}, new_loads WHERE {{ in_new_loads }}
    UNION ALL
    SELECT {{ family }}, from_id FROM {{ ref('associations') }}, new_loads
    WHERE from_type = '{{ t }}' AND to_type = 'contacts' AND {{ in_new_loads }}
    {{ 'UNION ALL' if not loop.last }}
    {% endfor %}
),
changed AS (
    SELECT contact_id FROM {{ ref('contacts') }}, new_loads WHERE {{ in_new_loads }}
    UNION ALL
    SELECT contact_id FROM {{ ref('contact_property_history') }}, new_loads WHERE {{ in_new_loads }}
    UNION ALL
    SELECT to_id FROM {{ ref('associations') }}, new_loads WHERE to_type = 'contacts' AND {{ in_new_loads }}
    UNION ALL
    -- the contacts a changed engagement or deal was linked to before this sync
    SELECT l.contact_id FROM {{ old_links }} AS l
    JOIN changed_objects AS c ON c.family = l.family AND c.object_id = l.object_id
    UNION ALL
    -- touches the clock passed since the last build (a scheduled meeting that has now happened)
    SELECT l.contact_id FROM {{ old_links }} AS l, p
    WHERE l.family <= 4 AND l.occurred_at > CAST({{ sql_text(base.now_at) }} AS TIMESTAMPTZ) AND l.occurred_at <= p.now_at
    UNION ALL
    -- pending episodes whose SLA the clock has run out since (they are overdue now)
    SELECT m.contact_id FROM {{ old_mart }} AS m, p WHERE m.sla_status = 'pending' AND p.now_at > m.sla_due_at
)
SELECT * FROM header
UNION ALL
SELECT DISTINCT changed.contact_id, NULL, NULL, NULL, NULL, NULL, NULL FROM changed WHERE contact_id IS NOT NULL
{%- else %}
SELECT * FROM header
{%- endif %}
