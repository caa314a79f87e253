{#
  Incremental builds of mql_episodes and speed_to_lead, by contact (docs/metrics.md "Incremental builds").

  staging.build_marks holds, per model, the raw state it was last built from: the newest complete dlt load
  (load_id), the clock (now_at) and the policy hash. staging.episode_scope (built first in each run) lists the
  contacts whose rows may have changed since speed_to_lead's mark, and a header row (contact_id NULL) with the
  target state, or the reason only a full rebuild is right. Each incremental mart deletes its scope contacts'
  rows (pre-hook: removals need nothing more) and inserts their rows as the models compute them now; it rebuilds
  fully (deleting every row) unless its own mark is the scope's starting point and the scope was made for this
  run's clock and policy. Any doubt means a full rebuild, never a wrong row.
#}

{% macro marks_table() %}{{ return(api.Relation.create(database=this.database, schema='staging', identifier='build_marks')) }}{% endmacro %}

{% macro ensure_marks_table() %}
    CREATE TABLE IF NOT EXISTS {{ marks_table() }} (model VARCHAR PRIMARY KEY, load_id VARCHAR, now_at TIMESTAMPTZ,
                                                   policy_hash VARCHAR, build_mode VARCHAR, contacts_rebuilt BIGINT)
{% endmacro %}

{# the newest complete dlt load (dlt's contract: a load counts once recorded in _dlt_loads, with status 0), or none
   (raw tables dlt did not write: every build is then full); load_sql() renders one as SQL, current_load() both #}
{% macro newest_load() %}
    {% if not execute %}{{ return(none) }}{% endif %}
    {% set recorded = run_query("SELECT max(load_id) FROM " ~ typed_source('_dlt_loads') ~ " WHERE status = 0") %}
    {{ return(recorded[0][0]) }}
{% endmacro %}

{% macro load_sql(load) %}CAST({{ sql_text(load) if load is not none else 'NULL' }} AS VARCHAR){% endmacro %}

{% macro current_load() %}{{ load_sql(newest_load()) }}{% endmacro %}

{# one model's mark as a dict (load_id, now_at, policy_hash), or none #}
{% macro build_mark(model) %}
    {% if not execute %}{{ return(none) }}{% endif %}
    {% do run_query(ensure_marks_table()) %}
    {% set rows = run_query("SELECT load_id, CAST(now_at AS VARCHAR) AS now_at, policy_hash FROM " ~ marks_table()
                            ~ " WHERE model = '" ~ model ~ "'") %}
    {{ return({'load_id': rows[0][0], 'now_at': rows[0][1], 'policy_hash': rows[0][2]} if rows | length else none) }}
{% endmacro %}

{# 'incremental', or why this build of an episode mart must be full #}
{% macro episode_build_mode() %}
    {% if not execute %}{{ return('parse') }}{% endif %}
    {% if not is_incremental() %}{{ return('full refresh requested' if flags.FULL_REFRESH else 'first build') }}{% endif %}
    {% set header = run_query("SELECT s.full_rebuild_reason, s.base_load_id, CAST(s.base_now_at AS VARCHAR), "
                              ~ "CAST(s.target_now_at AS VARCHAR), s.policy_hash, "
                              ~ "s.policy_hash = p.policy_hash AND s.target_now_at = p.now_at "
                              ~ "FROM " ~ ref('episode_scope') ~ " AS s, (" ~ policy_row() ~ ") AS p WHERE s.contact_id IS NULL") %}
    {% if header | length == 0 %}{{ return('no scope') }}{% endif %}
    {% set h = header[0] %}
    {% if h[0] %}{{ return(h[0]) }}{% endif %}
    {% if not h[5] %}{{ return('scope made for another clock or policy') }}{% endif %}
    {% set mark = build_mark(this.identifier) %}
    {% if mark is none or mark.load_id != h[1] or mark.now_at != h[2] %}{{ return('built from another state than the scope') }}{% endif %}
    {{ return('incremental') }}
{% endmacro %}

{% macro scope_filter(column='contact_id') -%}
    {{ column }} IN (SELECT contact_id FROM {{ ref('episode_scope') }} WHERE contact_id IS NOT NULL)
{%- endmacro %}

{# pre-hook: the scope contacts' rows go (an incremental build), or every row (a full one over an existing table) #}
{% macro clear_episode_rows() %}
    {% if execute and is_incremental() %}
        {% if episode_build_mode() == 'incremental' %}
            DELETE FROM {{ this }} WHERE {{ scope_filter() }}
        {% else %}
            DELETE FROM {{ this }}
        {% endif %}
    {% endif %}
{% endmacro %}

{# post-hook: record what the model now reflects: the scope's target after an incremental build, the current
   raw state after a full one #}
{% macro record_mark(mode) %}
    {{ ensure_marks_table() }};
    {% if mode == 'incremental' %}
    INSERT OR REPLACE INTO {{ marks_table() }}
    SELECT '{{ this.identifier }}', target_load_id, target_now_at, policy_hash, 'incremental',
        (SELECT count(*) FROM {{ ref('episode_scope') }} WHERE contact_id IS NOT NULL)
    FROM {{ ref('episode_scope') }} WHERE contact_id IS NULL
    {% else %}
    INSERT OR REPLACE INTO {{ marks_table() }}
    SELECT '{{ this.identifier }}', {{ current_load() }}, p.now_at, p.policy_hash, {{ sql_text(mode) }}, NULL
    FROM ({{ policy_row() }}) AS p
    {% endif %}
{% endmacro %}

{# speed_to_lead post-hook: rows outside the scope take this run's owner teams and clock, as a full build gives #}
{% macro refresh_teams_and_clock() %}
    UPDATE {{ this }} AS s SET team = t.team
    FROM (SELECT o.owner_id, pt.team FROM (SELECT DISTINCT owner_id FROM {{ this }}) AS o
          LEFT JOIN ({{ primary_team() }}) AS pt ON pt.owner_id = o.owner_id) AS t
    WHERE t.owner_id = s.owner_id AND s.team IS DISTINCT FROM t.team;
    UPDATE {{ this }} AS s SET computed_at = p.now_at FROM ({{ policy_row() }}) AS p
    WHERE s.computed_at IS DISTINCT FROM p.now_at
{% endmacro %}
