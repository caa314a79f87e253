-- staging.meetings: one row per meeting engagement; booked_at = hs_createdate (when it was booked or logged),
-- occurred_at = hs_timestamp (when it takes place).
SELECT {{ engagement_columns() }},
    upper(hs_meeting_outcome) AS outcome,
    hs_meeting_title AS title,
    hs_meeting_start_time AS starts_at,
    hs_createdate AS booked_at,
    hs_lastmodifieddate AS last_modified_at,
    _dlt_load_id AS load_id
FROM {{ typed_source('meetings') }}
WHERE id IS NOT NULL
