-- staging.account: the portal (id, time zone, UI domain).
SELECT
    portal_id,
    time_zone,
    ui_domain
FROM {{ typed_source('account') }}
