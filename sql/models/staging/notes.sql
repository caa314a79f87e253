-- staging.notes: one row per note (never an outreach attempt; kept for the handoff brief).
SELECT {{ engagement_columns() }},
    hs_note_body AS body,
    hs_lastmodifieddate AS last_modified_at,
    _dlt_load_id AS load_id
FROM {{ typed_source('notes') }}
WHERE id IS NOT NULL
