{# Models land in exactly the schema they name (`staging`, `marts`): the analyst contract's table names. #}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {{ custom_schema_name if custom_schema_name else target.schema }}
{%- endmacro %}
