-- marts.mql_episodes: one row per MQL episode (each entry into a stage of the policy's `mql` role), with the
-- owner in force at mql_at, the MQL type, and the conversions credited to the episode's window.
-- Rules: docs/contracts.md "Episode rules". Incremental by contact (macros/incremental.sql).
{{ config(materialized='incremental', incremental_strategy='append',
          pre_hook=["{{ clear_episode_rows() }}"],
          post_hook=["{{ record_mark(episode_build_mode()) }}"]) }}
-- depends_on: {{ ref('episode_scope') }}
{%- set incremental = episode_build_mode() == 'incremental' %}
WITH p AS ({{ policy_row() }}),
eligible AS (
    SELECT contact_id, lead_source
    FROM {{ ref('contacts') }}
    WHERE NOT excluded {% if incremental %}AND {{ scope_filter() }}{% endif %}
),
history AS (
    SELECT h.contact_id, h.property, h.value, h.changed_at, h.hubspot_position
    FROM {{ ref('contact_property_history') }} AS h
    WHERE h.property IN ('lifecyclestage', 'hubspot_owner_id', 'recent_conversion_event_name', 'hs_lead_status')
      {% if incremental %}AND {{ scope_filter('h.contact_id') }}{% endif %}
    -- (excluded contacts are dropped by the final join with `eligible`)
),
lifecycle AS (
    -- ties on changed_at: HubSpot's order (older = higher position); without positions a cleared stage first,
    -- then the portal's stage order. A custom stage in no role is skipped: it neither ends nor opens an episode.
    SELECT h.contact_id, h.changed_at, h.value AS stage, st.role,
        row_number() OVER lifecycle_order AS seq,
        lag(st.role) OVER lifecycle_order AS previous_role
    FROM history AS h
    LEFT JOIN {{ ref('lifecycle_stages') }} AS st ON st.value = h.value
    WHERE h.property = 'lifecyclestage' AND NOT coalesce(st.skipped, h.value <> '')
    WINDOW lifecycle_order AS (
        PARTITION BY h.contact_id
        ORDER BY h.changed_at, h.hubspot_position DESC NULLS LAST,
                 CASE WHEN h.value = '' THEN -1 ELSE coalesce(st.stage_order, 1000000) END, h.value)
),
openings AS (
    SELECT contact_id, changed_at AS mql_at, seq AS open_seq,
        row_number() OVER w AS episode_number,
        lead(changed_at) OVER w AS next_mql_at,
        lead(seq) OVER w AS next_open_seq
    FROM lifecycle
    WHERE role = 'mql' AND previous_role IS DISTINCT FROM 'mql'
    WINDOW w AS (PARTITION BY contact_id ORDER BY seq)
),
stage_moves AS (
    SELECT o.contact_id, o.open_seq,
        min(l.changed_at) FILTER (WHERE l.role IN ('sql', 'opportunity', 'customer')) AS sql_at,
        min(l.changed_at) FILTER (WHERE l.role IN ('opportunity', 'customer')) AS stage_opportunity_at,
        min(l.changed_at) FILTER (WHERE l.role = 'customer') AS customer_at,
        min(l.changed_at) FILTER (WHERE l.role IS DISTINCT FROM 'mql') AS exited_mql_at,
        min(l.changed_at) FILTER (WHERE l.stage IN ('subscriber', 'lead')) AS recycled_stage_at
    FROM openings AS o
    JOIN lifecycle AS l
      ON l.contact_id = o.contact_id AND l.seq > o.open_seq AND (o.next_open_seq IS NULL OR l.seq < o.next_open_seq)
    GROUP BY o.contact_id, o.open_seq
),
property_values AS (
    -- owner and conversion event: one value per instant (several entries in the same millisecond: HubSpot's
    -- newest, else the highest); only the contacts with an episode are read
    SELECT contact_id, property, changed_at,
        nullif(CASE WHEN count(hubspot_position) > 0 THEN {{ arg_min('value', 'hubspot_position') }} ELSE max(value) END,
               '') AS value
    FROM history
    WHERE property IN ('hubspot_owner_id', 'recent_conversion_event_name')
      AND contact_id IN (SELECT contact_id FROM openings)
    GROUP BY contact_id, property, changed_at
),
owner_changes AS (
    SELECT contact_id, changed_at, value AS owner_id FROM property_values WHERE property = 'hubspot_owner_id'
),
owner_at_mql AS (
    SELECT o.contact_id, o.open_seq, oc.owner_id
    FROM openings AS o
    ASOF LEFT JOIN owner_changes AS oc ON oc.contact_id = o.contact_id AND o.mql_at >= oc.changed_at
),
first_assignment AS (
    SELECT o.contact_id, o.open_seq,
        min(oc.changed_at) AS assigned_at,
        {{ arg_min('oc.owner_id', 'oc.changed_at') }} AS assigned_owner_id
    FROM openings AS o
    JOIN owner_changes AS oc
      ON oc.contact_id = o.contact_id AND oc.changed_at > o.mql_at
     AND (o.next_mql_at IS NULL OR oc.changed_at < o.next_mql_at) AND oc.owner_id IS NOT NULL
    GROUP BY o.contact_id, o.open_seq
),
conversion_events AS (
    SELECT contact_id, changed_at, value AS event_name
    FROM property_values WHERE property = 'recent_conversion_event_name'
),
event_at_mql AS (
    SELECT o.contact_id, o.open_seq, ce.event_name
    FROM (SELECT openings.*, {{ add_ms('openings.mql_at', 'p.logging_skew_minutes * 60000') }} AS event_cutoff
          FROM openings, p) AS o
    ASOF LEFT JOIN conversion_events AS ce ON ce.contact_id = o.contact_id AND o.event_cutoff >= ce.changed_at
),
demo_events AS (
    -- each distinct event name matched once against the policy's demo recognition
    SELECT e.event_name,
        {{ matches_ci('e.event_name', 'p.demo_pattern') }} OR {{ list_has('p.demo_forms', 'e.event_name') }} AS is_demo
    FROM (SELECT DISTINCT event_name FROM event_at_mql WHERE event_name IS NOT NULL) AS e, p
),
unqualified AS (
    SELECT o.contact_id, o.open_seq, min(h.changed_at) AS unqualified_at
    FROM openings AS o
    JOIN history AS h
      ON h.contact_id = o.contact_id AND h.property = 'hs_lead_status' AND upper(h.value) = 'UNQUALIFIED'
     AND h.changed_at >= o.mql_at AND (o.next_mql_at IS NULL OR h.changed_at < o.next_mql_at)
    GROUP BY o.contact_id, o.open_seq
),
first_deal AS (
    -- live deals per linked contact (staging.contact_links family 5; occurred_at = the deal's created_at, NULL
    -- for an archived deal, which the join's condition leaves out)
    SELECT o.contact_id, o.open_seq, min(dc.occurred_at) AS deal_created_at
    FROM openings AS o
    JOIN {{ ref('contact_links') }} AS dc
      ON dc.family = 5 AND dc.contact_id = o.contact_id AND dc.occurred_at >= o.mql_at
     AND (o.next_mql_at IS NULL OR dc.occurred_at < o.next_mql_at)
    GROUP BY o.contact_id, o.open_seq
)
SELECT
    o.contact_id || ':' || CAST({{ epoch_ms('o.mql_at') }} AS VARCHAR) AS mql_id,
    o.contact_id,
    CAST(o.episode_number AS INTEGER) AS episode_number,
    o.mql_at,
    o.next_mql_at,
    CASE WHEN coalesce(de.is_demo, false) THEN 'demo_request' ELSE 'other' END AS mql_type,
    ev.event_name AS conversion_event_name,
    ow.owner_id,
    CASE WHEN ow.owner_id IS NOT NULL THEN o.mql_at ELSE fa.assigned_at END AS assigned_at,
    CASE WHEN ow.owner_id IS NOT NULL THEN ow.owner_id ELSE fa.assigned_owner_id END AS assigned_owner_id,
    el.lead_source,
    sm.sql_at,
    {{ earliest('sm.stage_opportunity_at', 'fd.deal_created_at') }} AS opportunity_at,
    sm.customer_at,
    sm.exited_mql_at,
    {{ earliest('sm.recycled_stage_at', 'uq.unqualified_at') }} AS recycled_at
FROM openings AS o
JOIN eligible AS el ON el.contact_id = o.contact_id
LEFT JOIN owner_at_mql AS ow ON ow.contact_id = o.contact_id AND ow.open_seq = o.open_seq
LEFT JOIN first_assignment AS fa ON fa.contact_id = o.contact_id AND fa.open_seq = o.open_seq
LEFT JOIN event_at_mql AS ev ON ev.contact_id = o.contact_id AND ev.open_seq = o.open_seq
LEFT JOIN demo_events AS de ON de.event_name = ev.event_name
LEFT JOIN stage_moves AS sm ON sm.contact_id = o.contact_id AND sm.open_seq = o.open_seq
LEFT JOIN unqualified AS uq ON uq.contact_id = o.contact_id AND uq.open_seq = o.open_seq
LEFT JOIN first_deal AS fd ON fd.contact_id = o.contact_id AND fd.open_seq = o.open_seq
