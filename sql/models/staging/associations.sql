-- staging.associations: directed links (engagement -> contact, contact -> company, deal -> contact/company).
-- to_id NULL: the marker row of an object whose links of that type were all cleared (raw to_id ''), kept under
-- the load that cleared them (docs/contracts.md); readers of links skip it, incremental bookkeeping reads it.
SELECT
    from_type,
    from_id,
    to_type,
    nullif(to_id, '') AS to_id,
    coalesce(is_primary, false) AS is_primary,
    association_types,
    _dlt_load_id AS load_id
FROM {{ typed_source('associations') }}
WHERE from_id IS NOT NULL
