-- staging.contacts: one row per contact; `excluded` = archived (deleted) or merged away.
SELECT
    id AS contact_id,
    coalesce(createdate, created_at) AS created_at,
    updated_at,
    coalesce(archived, false) AS archived,
    nullif(merged_into_id, '') AS merged_into_id,
    coalesce(archived, false) OR nullif(merged_into_id, '') IS NOT NULL AS excluded,
    email,
    firstname AS first_name,
    lastname AS last_name,
    jobtitle AS job_title,
    company AS company_name,
    country,
    state,
    city,
    nullif(lifecyclestage, '') AS lifecycle_stage,
    nullif(hubspot_owner_id, '') AS owner_id,
    nullif(hs_lead_status, '') AS lead_status,
    nullif(recent_conversion_event_name, '') AS recent_conversion_event_name,
    recent_conversion_date,
    nullif(first_conversion_event_name, '') AS first_conversion_event_name,
    hubspotscore AS score,
    nullif(hs_analytics_source, '') AS lead_source,
    lastmodifieddate AS last_modified_at,
    hs_merged_object_ids AS merged_object_ids,
    _dlt_load_id AS load_id
FROM {{ typed_source('contacts') }}
WHERE id IS NOT NULL
