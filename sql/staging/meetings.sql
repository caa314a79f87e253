-- staging.meetings: one row per meeting engagement. A meeting's hs_timestamp is when it takes place; it counts
-- as outreach at the earlier of when it was booked or logged (hs_createdate) and when it takes place
-- (docs/contracts.md "Touch rules"; the Python spelling: pipeline.touch_rules.touch_time).
SELECT
    id AS engagement_id,
    CASE WHEN hs_createdate IS NOT NULL AND (hs_timestamp IS NULL OR hs_createdate < hs_timestamp)
         THEN hs_createdate ELSE hs_timestamp END AS occurred_at,
    hs_timestamp AS meeting_at,
    hs_createdate AS booked_at,
    coalesce(archived, false) AS archived,
    nullif(hubspot_owner_id, '') AS owner_id,
    upper(hs_meeting_outcome) AS outcome,
    hs_meeting_title AS title,
    hs_meeting_start_time AS starts_at,
    hs_lastmodifieddate AS last_modified_at,
    _dlt_load_id AS load_id
FROM {{ raw('meetings') }}
WHERE id IS NOT NULL
