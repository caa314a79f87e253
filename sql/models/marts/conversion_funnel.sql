-- marts.conversion_funnel: the funnel by cohort period (month and quarter, UTC), MQL type, team and lead
-- source; 'all' rows roll a dimension up. Leads are counted in the period of the contact's first entry into
-- the `lead` stage; lead -> MQL is the share of those leads that ever became an MQL (only on mql_type = 'all'
-- rows: a lead has no MQL type; team = the contact's current owner's team);
-- the other steps use the MQL cohort (episodes whose mql_at is in the period). `*_change` = rate minus the
-- previous period's rate of the same grain (on quarter rows: quarter over quarter).
-- The benchmark columns are published inbound B2B SaaS ranges, shown beside the rates (not policy).
WITH grains(period_type, months) AS (VALUES ('month', 1), ('quarter', 3)),
utc_months AS (
    -- finest grain first (UTC month x type x team x source); the period grains and roll-ups sum these counts
    SELECT
        CAST(date_trunc('month', {{ utc_date('s.mql_at') }}) AS DATE) AS month_start,
        s.mql_type,
        coalesce(s.team, '(no team)') AS team,
        coalesce(s.lead_source, '(unknown)') AS lead_source,
        count(*) AS mqls, count(s.sql_at) AS sqls, count(s.opportunity_at) AS opportunities, count(s.customer_at) AS customers
    FROM {{ ref('speed_to_lead') }} AS s
    GROUP BY ALL
),
primary_team AS ({{ primary_team() }}),
contact_leads AS (
    -- one row per counted lead: the UTC month of its first entry into `lead`, its current owner and source,
    -- whether it ever became an MQL
    SELECT
        c.contact_id,
        CAST(date_trunc('month', {{ utc_date('fl.lead_at') }}) AS DATE) AS month_start,
        c.owner_id,
        c.lead_source,
        c.contact_id IN (SELECT contact_id FROM {{ ref('mql_episodes') }}) AS became_mql
    FROM {{ ref('contacts') }} AS c
    JOIN (SELECT contact_id, min(changed_at) AS lead_at FROM {{ ref('contact_property_history') }}
          WHERE property = 'lifecyclestage' AND value = 'lead' GROUP BY contact_id) AS fl ON fl.contact_id = c.contact_id
    WHERE NOT c.excluded
),
lead_months AS (
    -- counted per owner first (200-odd owners, not a million leads, go through the team join)
    SELECT
        l.month_start,
        coalesce(pt.team, '(no team)') AS team,
        coalesce(l.lead_source, '(unknown)') AS lead_source,
        sum(l.leads) AS leads,
        sum(l.leads_became_mql) AS leads_became_mql
    FROM (SELECT month_start, owner_id, lead_source, count(*) AS leads,
                 count(*) FILTER (WHERE became_mql) AS leads_became_mql
          FROM contact_leads
          GROUP BY ALL) AS l
    LEFT JOIN primary_team AS pt ON pt.owner_id = l.owner_id
    GROUP BY ALL
),
both_cohorts AS (
    -- the MQL and the lead cohort at the finest grain, then at each period grain; a lead has no MQL type: lead
    -- rows count only where mql_type is rolled up ('all')
    SELECT g.period_type, CAST(date_trunc(g.period_type, c.month_start) AS DATE) AS period_start, c.mql_type, c.team,
        c.lead_source, c.mqls, c.sqls, c.opportunities, c.customers, c.leads, c.leads_became_mql
    FROM (SELECT month_start, mql_type, team, lead_source, mqls, sqls, opportunities, customers,
                 NULL AS leads, NULL AS leads_became_mql
          FROM utc_months
          UNION ALL
          SELECT month_start, NULL, team, lead_source, NULL, NULL, NULL, NULL, leads, leads_became_mql
          FROM lead_months) AS c
    CROSS JOIN grains AS g
),
joined AS (
    SELECT period_type, period_start,
        CASE WHEN grouping(mql_type) = 1 THEN 'all' ELSE mql_type END AS mql_type,
        CASE WHEN grouping(team) = 1 THEN 'all' ELSE team END AS team,
        CASE WHEN grouping(lead_source) = 1 THEN 'all' ELSE lead_source END AS lead_source,
        CAST(sum(leads) AS BIGINT) AS leads,
        CAST(sum(leads_became_mql) AS BIGINT) AS leads_became_mql,
        CAST(coalesce(sum(mqls), 0) AS BIGINT) AS mqls,
        CAST(coalesce(sum(sqls), 0) AS BIGINT) AS sqls,
        CAST(coalesce(sum(opportunities), 0) AS BIGINT) AS opportunities,
        CAST(coalesce(sum(customers), 0) AS BIGINT) AS customers
    FROM both_cohorts
    GROUP BY GROUPING SETS (
        (period_type, period_start, mql_type, team, lead_source), (period_type, period_start, mql_type, team),
        (period_type, period_start, mql_type, lead_source), (period_type, period_start, team, lead_source),
        (period_type, period_start, mql_type), (period_type, period_start, team),
        (period_type, period_start, lead_source), (period_type, period_start))
    HAVING grouping(mql_type) = 1 OR mql_type IS NOT NULL  -- (no MQL-type rows of the lead cohort)
),
rated AS (
    SELECT j.*,
        CASE WHEN j.mql_type = 'all' THEN coalesce(j.leads, 0) END AS leads_or_zero,
        j.leads_became_mql / nullif(j.leads, 0) AS lead_to_mql_rate,
        j.sqls / nullif(j.mqls, 0) AS mql_to_sql_rate,
        j.opportunities / nullif(j.mqls, 0) AS mql_to_opportunity_rate,
        j.customers / nullif(j.opportunities, 0) AS opportunity_to_customer_rate
    FROM joined AS j
)
SELECT
    r.period_type,
    r.period_start,
    r.mql_type,
    r.team,
    r.lead_source,
    r.leads_or_zero AS leads,
    CASE WHEN r.mql_type = 'all' THEN coalesce(r.leads_became_mql, 0) END AS leads_became_mql,
    r.mqls,
    r.sqls,
    r.opportunities,
    r.customers,
    r.lead_to_mql_rate,
    r.mql_to_sql_rate,
    r.mql_to_opportunity_rate,
    r.opportunity_to_customer_rate,
    prev.period_start AS previous_period_start,
    r.lead_to_mql_rate - prev.lead_to_mql_rate AS lead_to_mql_rate_change,
    r.mql_to_sql_rate - prev.mql_to_sql_rate AS mql_to_sql_rate_change,
    r.mql_to_opportunity_rate - prev.mql_to_opportunity_rate AS mql_to_opportunity_rate_change,
    r.opportunity_to_customer_rate - prev.opportunity_to_customer_rate AS opportunity_to_customer_rate_change,
    CAST(0.15 AS DOUBLE) AS benchmark_lead_to_mql_low,
    CAST(0.25 AS DOUBLE) AS benchmark_lead_to_mql_high,
    CAST(0.20 AS DOUBLE) AS benchmark_mql_to_opportunity_low,
    CAST(0.35 AS DOUBLE) AS benchmark_mql_to_opportunity_high
FROM rated AS r
JOIN grains AS g ON g.period_type = r.period_type
LEFT JOIN rated AS prev
  ON prev.period_type = r.period_type AND prev.mql_type = r.mql_type AND prev.team = r.team
 AND prev.lead_source = r.lead_source
 AND prev.period_start = {{ add_months('r.period_start', '-g.months') }}
ORDER BY r.period_type, r.period_start, r.mql_type, r.team, r.lead_source
