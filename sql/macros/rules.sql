{#
  The product's rules, each stated once (docs/contracts.md). Python users are held to them by tests:
  pipeline/touch_rules.py (explain, the live re-check) by tests/test_touch_rules.py, which runs the same cases
  through these models.
#}

{# Touch rules: the engagements that are outreach attempts, with their touch time, as
   (type_rank, object_id, occurred_at, owner_id); type_rank is the same-instant tie-break (call < email <
   meeting < communication) and indexes touch_type(). A meeting counts at the earlier of when it was booked or
   logged (hs_createdate) and when it takes place (hs_timestamp), unless its outcome is excluded by the policy.
   The clock rule (occurred_at <= now) is applied by speed_to_lead. #}
{% macro counted_touches() %}
    SELECT 1 AS type_rank, engagement_id AS object_id, occurred_at, owner_id
    FROM {{ ref('calls') }}
    WHERE NOT archived AND direction = 'OUTBOUND'
    UNION ALL
    SELECT 2, engagement_id, occurred_at, owner_id
    FROM {{ ref('emails') }}
    WHERE NOT archived AND direction IN ('EMAIL', 'FORWARDED_EMAIL')
      AND coalesce(status, 'SENT') NOT IN ('BOUNCED', 'FAILED', 'SCHEDULED')
    UNION ALL
    SELECT 3, m.engagement_id, {{ earliest('m.booked_at', 'm.occurred_at') }}, m.owner_id
    FROM {{ ref('meetings') }} AS m, ({{ policy_row() }}) AS p
    WHERE NOT m.archived AND NOT {{ list_has('p.meeting_outcomes_excluded', "coalesce(m.outcome, '')") }}
    UNION ALL
    SELECT 4, engagement_id, occurred_at, owner_id
    FROM {{ ref('communications') }}
    WHERE NOT archived AND channel IN ('SMS', 'WHATS_APP', 'LINKEDIN_MESSAGE') AND coalesce(logged_from, 'CRM') = 'CRM'
{% endmacro %}

{% macro touch_type(rank) -%}
    (['call', 'email', 'meeting', 'communication'])[{{ rank }}]
{%- endmacro %}

{# Response-time buckets of speed_to_lead_impact: half-open on minutes_to_first_touch; no touch = never. #}
{% macro response_bucket(minutes) -%}
    CASE
        WHEN {{ minutes }} IS NULL THEN 'never'
        WHEN {{ minutes }} < 5 THEN '<5 min'
        WHEN {{ minutes }} < 60 THEN '5-60 min'
        WHEN {{ minutes }} < 240 THEN '1-4 h'
        WHEN {{ minutes }} < 1440 THEN '4-24 h'
        ELSE '>24 h'
    END
{%- endmacro %}

{% macro response_buckets() -%}
    (VALUES ('<5 min', 1), ('5-60 min', 2), ('1-4 h', 3), ('4-24 h', 4), ('>24 h', 5), ('never', 6))
{%- endmacro %}

{# An owner's team: the primary team, else the first team by name. #}
{% macro primary_team() %}
    SELECT owner_id, {{ arg_min('team_name', '(NOT is_primary, team_name)') }} AS team
    FROM {{ ref('owner_teams') }} WHERE team_name IS NOT NULL GROUP BY owner_id
{% endmacro %}

{# HubSpot's standard lifecycle stages in their standard order (DOMAIN.md), as (value, stage_order); stated once in
   pipeline/policy.py STANDARD_LIFECYCLE_STAGES and read from the policy row. The portal's own order comes from
   hubspot.property_options when the extractor has read it (models/intermediate/lifecycle_stages.sql). #}
{% macro standard_lifecycle_stages() -%}
    (SELECT unnest(standard_stages) AS value, generate_subscripts(standard_stages, 1) AS stage_order
     FROM {{ source('parameters', 'policy') }})
{%- endmacro %}
