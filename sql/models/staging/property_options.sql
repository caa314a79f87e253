-- staging.property_options: the options of enumerated HubSpot properties (the portal's lifecycle stages with
-- their display order), read from the Properties API at each sync; no rows before the extractor reads them.
SELECT
    object_type,
    property_name,
    value,
    label,
    display_order,
    coalesce(hidden, false) AS hidden,
    _dlt_load_id AS load_id
FROM {{ typed_source('property_options') }}
WHERE value IS NOT NULL
