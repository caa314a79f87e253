-- staging.owner_teams: owner -> team memberships; is_primary marks the owner's primary team.
SELECT
    owner_id,
    team_id,
    team_name,
    coalesce(is_primary, false) AS is_primary,
    _dlt_load_id AS load_id
FROM {{ typed_source('owner_teams') }}
WHERE owner_id IS NOT NULL
