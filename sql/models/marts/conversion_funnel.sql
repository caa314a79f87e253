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
mql_rows AS (
    SELECT g.period_type,
        CASE g.period_type WHEN 'month' THEN m.month_start
             ELSE CAST(date_trunc('quarter', m.month_start) AS DATE) END AS period_start,
        m.mql_type, m.team, m.lead_source, m.mqls, m.sqls, m.opportunities, m.customers
    FROM utc_months AS m CROSS JOIN grains AS g
),
mql_counts AS (
    SELECT period_type, period_start,
        CASE WHEN grouping(mql_type) = 1 THEN 'all' ELSE mql_type END AS mql_type,
        CASE WHEN grouping(team) = 1 THEN 'all' ELSE team END AS team,
        CASE WHEN grouping(lead_source) = 1 THEN 'all' ELSE lead_source END AS lead_source,
        CAST(sum(mqls) AS BIGINT) AS mqls,
        CAST(sum(sqls) AS BIGINT) AS sqls,
        CAST(sum(opportunities) AS BIGINT) AS opportunities,
        CAST(sum(customers) AS BIGINT) AS customers
    FROM mql_rows
    GROUP BY GROUPING SETS (
        (period_type, period_start, mql_type, team, lead_source), (period_type, period_start, mql_type, team),
        (period_type, period_start, mql_type, lead_source), (period_type, period_start, team, lead_source),
        (period_type, period_start, mql_type), (period_type, period_start, team),
        (period_type, period_start, lead_source), (period_type, period_start))
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
lead_rows AS (
    SELECT g.period_type,
        CASE g.period_type WHEN 'month' THEN m.month_start
             ELSE CAST(date_trunc('quarter', m.month_start) AS DATE) END AS period_start,
        m.team, m.lead_source, m.leads, m.leads_became_mql
    FROM lead_months AS m CROSS JOIN grains AS g
),
lead_counts AS (
    SELECT period_type, period_start, 'all' AS mql_type,
        CASE WHEN grouping(team) = 1 THEN 'all' ELSE team END AS team,
        CASE WHEN grouping(lead_source) = 1 THEN 'all' ELSE lead_source END AS lead_source,
        CAST(sum(leads) AS BIGINT) AS leads,
        CAST(sum(leads_became_mql) AS BIGINT) AS leads_became_mql
    FROM lead_rows
    GROUP BY GROUPING SETS ((period_type, period_start, team, lead_source), (period_type, period_start, team),
                            (period_type, period_start, lead_source), (period_type, period_start))
),
joined AS (
    SELECT
        coalesce(m.period_type, l.period_type) AS period_type,
        coalesce(m.period_start, l.period_start) AS period_start,
        coalesce(m.mql_type, l.mql_type) AS mql_type,
        coalesce(m.team, l.team) AS team,
        coalesce(m.lead_source, l.lead_source) AS lead_source,
        l.leads,
        l.leads_became_mql,
        coalesce(m.mqls, 0) AS mqls,
        coalesce(m.sqls, 0) AS sqls,
        coalesce(m.opportunities, 0) AS opportunities,
        coalesce(m.customers, 0) AS customers
    FROM mql_counts AS m
    FULL OUTER JOIN lead_counts AS l
      ON l.period_type = m.period_type AND l.period_start = m.period_start AND l.mql_type = m.mql_type
     AND l.team = m.team AND l.lead_source = m.lead_source
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
