-- staging.calls: one row per call engagement.
SELECT {{ engagement_columns() }},
    upper(hs_call_direction) AS direction,
    upper(hs_call_status) AS status,
    hs_call_disposition AS disposition,
    hs_call_title AS title,
    hs_call_duration AS duration_ms,
    hs_lastmodifieddate AS last_modified_at,
    _dlt_load_id AS load_id
FROM {{ typed_source('calls') }}
WHERE id IS NOT NULL
