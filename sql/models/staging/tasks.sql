-- staging.tasks: one row per task (never an outreach attempt).
SELECT {{ engagement_columns() }},
    hs_task_subject AS subject,
    hs_task_status AS status,
    hs_task_type AS task_type,
    hs_lastmodifieddate AS last_modified_at,
    _dlt_load_id AS load_id
FROM {{ typed_source('tasks') }}
WHERE id IS NOT NULL
