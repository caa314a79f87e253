{#
  typed_source(table): a subquery over source('hubspot', table) with every column models/sources.yml pins for it
  (its meta.columns), cast to its pinned type, plus _dlt_load_id. dlt creates a column only once it has seen a
  value and may type timestamps as TIMESTAMPTZ, naive TIMESTAMP, text or epoch milliseconds: a column dlt has not
  created reads as a typed NULL, a table it has not created as no rows (the one missing-column rule of the
  project; pipeline/modeling/raw_columns.py says the same for the Python readers, held to it by tests/test_staging.py).
#}
{% macro typed_source(table) -%}
    {%- set relation = source('hubspot', table) -%}
    {%- set pinned = graph.sources['source.handoff.hubspot.' ~ table].meta.columns.split(',') if execute else [] -%}
    {%- set existing = adapter.get_relation(relation.database, relation.schema, relation.identifier) if execute else none -%}
    {%- set present = {} -%}
    {%- if existing is not none -%}
        {%- for column in adapter.get_columns_in_relation(existing) -%}
            {%- do present.update({column.name: column.dtype | upper}) -%}
        {%- endfor -%}
    {%- endif -%}
    (SELECT
    {%- for column in pinned %}{% set name, kind = column.split() %}
        {{ typed_column(name, kind, present.get(name)) }} AS "{{ name }}",
    {%- endfor %}
        {{ '_dlt_load_id' if '_dlt_load_id' in present else 'CAST(NULL AS VARCHAR)' }} AS _dlt_load_id
    {% if existing is not none %}FROM {{ relation }}{% else %}WHERE false{% endif %})
{%- endmacro %}

{% macro sql_type(kind) -%}
    {{ {'text': 'VARCHAR', 'ts': 'TIMESTAMPTZ', 'bool': 'BOOLEAN', 'bigint': 'BIGINT', 'double': 'DOUBLE'}[kind] }}
{%- endmacro %}

{% macro typed_column(name, kind, raw_type) -%}
    {%- set col = '"' ~ name ~ '"' -%}
    {%- set numeric = raw_type is not none and raw_type.startswith(('DOUBLE', 'FLOAT', 'REAL', 'DECIMAL')) -%}
    {%- set integer = raw_type in ('BIGINT', 'INTEGER', 'HUGEINT', 'SMALLINT', 'TINYINT', 'UBIGINT', 'UINTEGER') -%}
    {%- if raw_type is none -%} CAST(NULL AS {{ sql_type(kind) }})
    {%- elif kind == 'text' -%}
        {%- if numeric -%} CAST(CAST({{ col }} AS HUGEINT) AS VARCHAR)
        {%- elif raw_type == 'VARCHAR' -%} {{ col }}
        {%- else -%} CAST({{ col }} AS VARCHAR) {%- endif -%}
    {%- elif kind == 'ts' -%}
        {%- if raw_type == 'TIMESTAMP WITH TIME ZONE' -%} {{ col }}
        {%- elif raw_type.startswith('TIMESTAMP') or raw_type == 'DATE' -%} {{ utc_instant('CAST(' ~ col ~ ' AS TIMESTAMP)') }}
        {%- elif integer or numeric -%} {{ epoch_ms_to_instant(col) }}
        {%- else -%} CASE WHEN regexp_full_match({{ col }}, '-?[0-9]{11,}') THEN {{ epoch_ms_to_instant(col) }}
                          ELSE try_cast({{ col }} AS TIMESTAMPTZ) END
        {%- endif -%}
    {%- elif kind == 'bool' -%}
        {%- if raw_type == 'BOOLEAN' -%} {{ col }}
        {%- elif raw_type == 'VARCHAR' -%} lower({{ col }}) IN ('true', 't', '1', 'yes')
        {%- else -%} try_cast({{ col }} AS BOOLEAN) {%- endif -%}
    {%- else -%} try_cast({{ col }} AS {{ sql_type(kind) }})
    {%- endif -%}
{%- endmacro %}

{# the columns every engagement's staging model starts with (read from its typed_source) #}
{% macro engagement_columns() -%}
    id AS engagement_id, hs_timestamp AS occurred_at, coalesce(archived, false) AS archived,
    nullif(hubspot_owner_id, '') AS owner_id
{%- endmacro %}
