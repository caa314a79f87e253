-- staging.deals: one row per deal; `created_at` is the deal's createdate property (else the object's).
SELECT
    id AS deal_id,
    coalesce(createdate, created_at) AS created_at,
    updated_at,
    coalesce(archived, false) AS archived,
    dealname AS deal_name,
    dealstage AS deal_stage,
    pipeline,
    amount,
    closedate AS closed_at,
    nullif(hubspot_owner_id, '') AS owner_id,
    dealtype AS deal_type,
    hs_lastmodifieddate AS last_modified_at,
    _dlt_load_id AS load_id
FROM {{ typed_source('deals') }}
WHERE id IS NOT NULL
