{#
  policy_row(): the one row of this run's policy values and clock, staging.policy, written from the policy file
  and pipeline.settings.now() (HANDOFF_NOW) by pipeline/modeling/policy_table.py right before every dbt
  invocation (Dagster's model step, or `python -m pipeline.modeling.policy_table` by hand). Every model reads
  policy values and "now" from here, never from a constant.
#}
{% macro policy_row() -%}
    SELECT * FROM {{ source('parameters', 'policy') }}
{%- endmacro %}

{% macro sql_text(value) -%}
    '{{ value | string | replace("'", "''") }}'
{%- endmacro %}
