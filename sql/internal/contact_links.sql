-- staging._contact_links (internal): every engagement/deal -> contact link (calls, emails, meetings,
-- communications, deals), integer-keyed so the marts and the incremental scope look links up cheaply.
-- family: pipeline.modeling.link_keys.FAMILY_CODES; object_key / contact_key: the ids as BIGINT, with the
-- text kept in object_id / contact_id only for ids that are not canonical integers (NULL for HubSpot's ids).
-- Full builds read every link; incremental syncs (runner.sync_links) re-read the links of the objects that
-- changed since the table's watermark (listed in the temp table _changed_objects).
SELECT
    {{ family_code('a.from_type') }} AS family,
    {{ key('a.from_id') }} AS object_key,
    {{ key('a.to_id') }} AS contact_key,
    CASE WHEN {{ key('a.from_id') }} < 0 THEN a.from_id END AS object_id,
    CASE WHEN {{ key('a.to_id') }} < 0 THEN a.to_id END AS contact_id
FROM staging.associations AS a
{% if incremental %}JOIN _changed_objects AS c ON c.family = a.from_type AND c.object_id = a.from_id{% endif %}
WHERE a.to_type = 'contacts' AND a.from_type IN ({% for f in family %}'{{ f }}'{{ ", " if not loop.last }}{% endfor %})
