-- staging.communications: one row per logged communication (SMS, WhatsApp, LinkedIn message).
SELECT {{ engagement_columns() }},
    upper(hs_communication_channel_type) AS channel,
    upper(hs_communication_logged_from) AS logged_from,
    hs_communication_body AS body,
    hs_lastmodifieddate AS last_modified_at,
    _dlt_load_id AS load_id
FROM {{ typed_source('communications') }}
WHERE id IS NOT NULL
