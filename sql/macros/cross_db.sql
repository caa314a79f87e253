{#
  The DuckDB-only functions the models use, each behind a dispatch macro: a second adapter needs only its own
  <adapter>__<name> implementations (dbt's adapter.dispatch), never a model edit.
#}
{% macro epoch_ms(instant) %}{{ return(adapter.dispatch('epoch_ms', 'handoff')(instant)) }}{% endmacro %}
{% macro duckdb__epoch_ms(instant) %}epoch_ms({{ instant }}){% endmacro %}

{% macro add_ms(instant, ms) %}{{ return(adapter.dispatch('add_ms', 'handoff')(instant, ms)) }}{% endmacro %}
{% macro duckdb__add_ms(instant, ms) %}({{ instant }} + to_milliseconds(CAST({{ ms }} AS BIGINT))){% endmacro %}

{% macro epoch_ms_to_instant(ms) %}{{ return(adapter.dispatch('epoch_ms_to_instant', 'handoff')(ms)) }}{% endmacro %}
{% macro duckdb__epoch_ms_to_instant(ms) %}timezone('UTC', make_timestamp(CAST({{ ms }} AS BIGINT) * 1000)){% endmacro %}

{% macro utc_instant(naive) %}{{ return(adapter.dispatch('utc_instant', 'handoff')(naive)) }}{% endmacro %}
{% macro duckdb__utc_instant(naive) %}timezone('UTC', {{ naive }}){% endmacro %}

{# the local calendar day of an instant in an IANA time zone #}
{% macro local_date(tz, instant) %}{{ return(adapter.dispatch('local_date', 'handoff')(tz, instant)) }}{% endmacro %}
{% macro duckdb__local_date(tz, instant) %}CAST(timezone({{ tz }}, {{ instant }}) AS DATE){% endmacro %}

{# the instant of a local wall-clock time (date + minutes) in an IANA time zone #}
{% macro local_instant(tz, day, minutes) %}{{ return(adapter.dispatch('local_instant', 'handoff')(tz, day, minutes)) }}{% endmacro %}
{% macro duckdb__local_instant(tz, day, minutes) %}timezone({{ tz }}, {{ day }} + to_minutes({{ minutes }})){% endmacro %}

{# the UTC day of an instant from epoch milliseconds (no time-zone conversion per row) #}
{% macro utc_date(instant) %}{{ return(adapter.dispatch('utc_date', 'handoff')(instant)) }}{% endmacro %}
{% macro duckdb__utc_date(instant) %}(DATE '1970-01-01' + CAST(epoch_ms({{ instant }}) // 86400000 AS INTEGER)){% endmacro %}

{% macro arg_min(value, ordering) %}{{ return(adapter.dispatch('arg_min', 'handoff')(value, ordering)) }}{% endmacro %}
{% macro duckdb__arg_min(value, ordering) %}arg_min({{ value }}, {{ ordering }}){% endmacro %}

{% macro list_has(list, value) %}{{ return(adapter.dispatch('list_has', 'handoff')(list, value)) }}{% endmacro %}
{% macro duckdb__list_has(list, value) %}list_contains({{ list }}, {{ value }}){% endmacro %}

{% macro matches_ci(text, pattern) %}{{ return(adapter.dispatch('matches_ci', 'handoff')(text, pattern)) }}{% endmacro %}
{% macro duckdb__matches_ci(text, pattern) %}regexp_matches({{ text }}, {{ pattern }}, 'i'){% endmacro %}

{% macro quantiles(column, fractions) %}{{ return(adapter.dispatch('quantiles', 'handoff')(column, fractions)) }}{% endmacro %}
{% macro duckdb__quantiles(column, fractions) %}quantile_cont({{ column }}, {{ fractions }}){% endmacro %}

{% macro days_between_series(first_day, last_day) %}{{ return(adapter.dispatch('days_between_series', 'handoff')(first_day, last_day)) }}{% endmacro %}
{% macro duckdb__days_between_series(first_day, last_day) %}generate_series(CAST({{ first_day }} AS TIMESTAMP), CAST({{ last_day }} AS TIMESTAMP), INTERVAL 1 DAY){% endmacro %}

{% macro add_months(day, months) %}{{ return(adapter.dispatch('add_months', 'handoff')(day, months)) }}{% endmacro %}
{% macro duckdb__add_months(day, months) %}CAST({{ day }} + to_months({{ months }}) AS DATE){% endmacro %}

{# the earlier of two instants, either of which may be NULL (DuckDB's least skips NULLs) #}
{% macro earliest(a, b) %}{{ return(adapter.dispatch('earliest', 'handoff')(a, b)) }}{% endmacro %}
{% macro duckdb__earliest(a, b) %}least({{ a }}, {{ b }}){% endmacro %}

{# hooks around a large internal table's write (contact_links, rewritten by every full build): its text columns
   stored without DuckDB 2.0's DICT_FSST compression, whose analysis is most of the write (6.65M rows at 1M
   contacts: 4.6 s against 1.8 s; the table twice the size on disk). A failed write leaves the setting on that
   DuckDB instance only until dbt closes it at the end of the invocation. #}
{% macro uncompressed_text(on) %}{{ return(adapter.dispatch('uncompressed_text', 'handoff')(on)) }}{% endmacro %}
{% macro default__uncompressed_text(on) %}{% endmacro %}
{% macro duckdb__uncompressed_text(on) %}{{ "SET disabled_compression_methods = 'dict_fsst'" if on else "RESET disabled_compression_methods" }}{% endmacro %}
