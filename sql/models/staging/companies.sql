-- staging.companies: one row per company.
SELECT
    id AS company_id,
    created_at,
    updated_at,
    coalesce(archived, false) AS archived,
    name AS company_name,
    domain,
    industry,
    country,
    state,
    city,
    numberofemployees AS employees,
    annualrevenue AS annual_revenue,
    nullif(hubspot_owner_id, '') AS owner_id,
    hs_lastmodifieddate AS last_modified_at,
    _dlt_load_id AS load_id
FROM {{ typed_source('companies') }}
WHERE id IS NOT NULL
