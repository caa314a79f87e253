-- staging.contact_companies: each contact's company (docs/contracts.md, contract 6): its primary company (the
-- contact -> company association HubSpot marks primary, is_primary), else the lowest associated company id
-- (numerically when numeric). Routing, the brief and firmographics read the same rule.
SELECT
    from_id AS contact_id,
    {{ arg_min('to_id', '(NOT is_primary, TRY_CAST(to_id AS HUGEINT) IS NULL, TRY_CAST(to_id AS HUGEINT), to_id)') }} AS company_id,
    bool_or(is_primary) AS has_primary
FROM {{ ref('associations') }}
WHERE from_type = 'contacts' AND to_type = 'companies' AND to_id IS NOT NULL
GROUP BY from_id
