-- staging.emails: one row per email engagement.
SELECT {{ engagement_columns() }},
    upper(hs_email_direction) AS direction,
    upper(hs_email_status) AS status,
    hs_email_subject AS subject,
    hs_lastmodifieddate AS last_modified_at,
    _dlt_load_id AS load_id
FROM {{ typed_source('emails') }}
WHERE id IS NOT NULL
