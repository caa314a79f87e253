-- staging.lifecycle_stages: the portal's lifecycle stages (internal values) with their order and role.
-- Order: the lifecyclestage property's display_order from the Properties API (hubspot.property_options) when
-- the extractor has read it, else HubSpot's standard order. Role (mql / sql / opportunity / customer): from
-- the policy's lifecycle_stages. skipped: a portal's custom stage in no role (neither ends nor opens an episode).
WITH p AS ({{ policy_row() }}),
portal AS (
    SELECT value, min(display_order) AS stage_order
    FROM {{ ref('property_options') }}
    WHERE object_type = 'contacts' AND property_name = 'lifecyclestage'
    GROUP BY value
),
standard(value, stage_order) AS {{ standard_lifecycle_stages() }},
ordered AS (
    SELECT value, stage_order FROM portal
    UNION ALL
    SELECT value, stage_order FROM standard WHERE NOT EXISTS (SELECT 1 FROM portal)
),
roles AS (
    SELECT unnest(p.mql_stages) AS value, 'mql' AS role FROM p
    UNION ALL SELECT unnest(p.sql_stages), 'sql' FROM p
    UNION ALL SELECT unnest(p.opportunity_stages), 'opportunity' FROM p
    UNION ALL SELECT unnest(p.customer_stages), 'customer' FROM p
),
stages AS (
    SELECT coalesce(o.value, r.value) AS value, o.stage_order, r.role
    FROM ordered AS o FULL OUTER JOIN roles AS r ON r.value = o.value
)
SELECT
    s.value,
    CAST(s.stage_order AS BIGINT) AS stage_order,
    s.role,
    s.value IN (SELECT value FROM standard) AS is_standard,
    s.role IS NULL AND s.value NOT IN (SELECT value FROM standard) AS skipped
FROM stages AS s
