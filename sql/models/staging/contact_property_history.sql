-- staging.contact_property_history: one row per history entry of a tracked contact property.
-- hubspot_position: the entry's index in HubSpot's newest-first list (0 = newest), the tie-break for
-- entries with the same changed_at. `value` keeps '' for a cleared property (a cleared lifecycle stage is how a contact re-enters MQL).
SELECT
    contact_id,
    property,
    coalesce(value, '') AS value,
    changed_at,
    source_type,
    position AS hubspot_position,
    _dlt_load_id AS load_id
FROM {{ typed_source('contact_property_history') }}
WHERE contact_id IS NOT NULL AND changed_at IS NOT NULL
