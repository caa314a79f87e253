-- staging.owners: HubSpot owners (one row per owner id), typed and renamed.
SELECT
    id AS owner_id,
    email,
    first_name,
    last_name,
    nullif(trim(concat_ws(' ', first_name, last_name)), '') AS owner_name,
    user_id,
    coalesce(archived, false) AS archived,
    _dlt_load_id AS load_id
FROM {{ typed_source('owners') }}
WHERE id IS NOT NULL
