-- staging.associations: directed links (engagement -> contact, contact -> company, deal -> contact/company).
SELECT
    from_type,
    from_id,
    to_type,
    to_id,
    _dlt_load_id AS load_id
FROM {{ raw('associations') }}
WHERE from_id IS NOT NULL AND to_id IS NOT NULL
