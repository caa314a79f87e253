"""The dlt source: HubSpot CRM -> the raw tables of docs/contracts.md, incrementally.

Two hidden parent resources read the API once per run and fan out to one transformer per table
(dlt evaluates a parent once and forks its items to every selected transformer):

- ``owner_pages`` -> ``owners``, ``owner_teams``
- ``crm_pages``   -> ``contacts`` ... ``communications``, ``contact_property_history``, ``associations``
- ``account`` stands alone.

Per object type, the first run lists everything with its associations inline (``associations=``; objects
with more than 100 links of a type are batch-read for that type); later runs search on the modified date
from the cursor (see :mod:`pipeline.hubspot.cursor`) and, for contacts, batch-read the changed ids with their
property history (50 per call). Associations of the objects a later run loads are batch-read (v4). The
reconcile mode also lists archived objects and loads them with ``archived = true`` (search never returns
them). ``property_options`` (the ``lifecyclestage`` options) is read from the Properties API every run.
Cursors live in dlt source state, which dlt stores in the destination (``_dlt_pipeline_state``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal

import dlt

from pipeline.errors import HubSpotApiError
from pipeline.hubspot.client import ASSOCIATION_BATCH_SIZE, HubSpotClient, batch_read_size
from pipeline.hubspot.cursor import Cursor, CursorTracker, search_changed
from pipeline.hubspot.properties import (
    ASSOCIATIONS,
    HISTORY_PROPERTIES,
    OBJECT_TYPES,
    OPTION_PROPERTIES,
    PROPERTIES,
    modified_property,
)
from pipeline.hubspot.rows import (
    ACCOUNT_COLUMNS,
    ASSOCIATION_COLUMNS,
    HISTORY_COLUMNS,
    OWNER_COLUMNS,
    OWNER_TEAM_COLUMNS,
    PROPERTY_OPTION_COLUMNS,
    account_row,
    association_rows,
    history_rows,
    inline_links,
    instant_ms,
    iso_from_ms,
    object_columns,
    object_row,
    owner_row,
    owner_team_rows,
    property_option_rows,
)

Mode = Literal["sync", "full", "reconcile", "reconcile_only"]
DEFAULT_LAG_S = 120.0
MERGE_DELETE_INSERT = {"disposition": "merge", "strategy": "delete-insert"}


@dataclass
class TypeReport:
    """What one run did for one object type (becomes the asset's metadata)."""

    method: str = ""  # "full" | "incremental" | "skipped"
    objects: int = 0
    archived: int = 0
    unchanged_skipped: int = 0
    cursor_before: str | None = None
    cursor_after: str | None = None
    seconds: float = 0.0


@dataclass
class RunReport:
    types: dict[str, TypeReport] = field(default_factory=dict)
    owners: int = 0

    def for_type(self, object_type: str) -> TypeReport:
        return self.types.setdefault(object_type, TypeReport())


@dlt.source(name="hubspot", max_table_nesting=0)
def hubspot_source(
    client: HubSpotClient,
    object_types: Sequence[str] = OBJECT_TYPES,
    mode: Mode = "sync",
    tables: Sequence[str] | None = None,
    lag_s: float = DEFAULT_LAG_S,
    report: RunReport | None = None,
):
    """HubSpot CRM for the lead-handoff metrics. ``mode``: sync (full first, then incremental), full, reconcile
    (sync + archived listings), reconcile_only (archived listings alone).

    ``tables``: the tables this run loads (None = all). Associations are only read when their table is
    loaded, and a type's cursor only advances when every table it feeds was loaded (else a later full
    run would miss the changes for the tables left out).
    """
    report = report if report is not None else RunReport()
    types = [t for t in OBJECT_TYPES if t in set(object_types)]
    loaded = set(tables) if tables is not None else None
    links = loaded is None or "associations" in loaded

    def covers_everything(object_type: str) -> bool:
        if loaded is None:
            return True
        needed = {object_type} | ({"contact_property_history"} if object_type == "contacts" else set())
        if ASSOCIATIONS.get(object_type):
            needed.add("associations")
        return needed <= loaded

    @dlt.resource(selected=False)
    def owner_pages() -> Iterator[dict]:
        for archived in (False, True):
            after = None
            while True:
                owners, after = client.owners_page(archived=archived, after=after)
                report.owners += len(owners)
                if owners:
                    yield {"owners": owners}
                if not after:
                    break

    @dlt.transformer(data_from=owner_pages, name="owners", write_disposition="merge", primary_key="id",
                     columns=OWNER_COLUMNS)
    def owners(page: dict) -> Iterator[list[dict]]:
        yield [owner_row(o) for o in page["owners"]]

    @dlt.transformer(data_from=owner_pages, name="owner_teams", write_disposition=MERGE_DELETE_INSERT,
                     primary_key=("owner_id", "team_id"), merge_key="owner_id", columns=OWNER_TEAM_COLUMNS)
    def owner_teams(page: dict) -> Iterator[list[dict]]:
        rows = []
        for owner in page["owners"]:
            teams = owner_team_rows(owner)
            # an owner with no team left still needs its old rows cleared: a tombstone carries its key
            rows.extend(teams or [{"owner_id": str(owner["id"]), "team_id": "", "team_name": None,
                                   "is_primary": False, "deleted": True}])
        yield rows

    @dlt.resource(name="account", write_disposition="replace", columns=ACCOUNT_COLUMNS)
    def account() -> Iterator[dict]:
        yield account_row(client.account_details())

    @dlt.resource(name="property_options", write_disposition="replace", columns=PROPERTY_OPTION_COLUMNS)
    def property_options() -> Iterator[list[dict]]:
        rows = []
        for object_type, name in OPTION_PROPERTIES:
            rows.extend(property_option_rows(object_type, client.get_property(object_type, name)))
        yield rows

    @dlt.resource(selected=False)
    def crm_pages() -> Iterator[dict]:
        cursors = dlt.current.source_state().setdefault("cursors", {})
        for object_type in types:
            started = time.monotonic()
            type_report = report.for_type(object_type)
            previous = Cursor.from_state(cursors.get(object_type))
            tracker = CursorTracker(previous, int(lag_s * 1000))
            type_report.cursor_before = iso_from_ms(previous.max_seen_ms) if previous else None
            if mode == "reconcile_only":  # archived listings only; the cursors stay where they are
                type_report.method = "reconcile_only"
                yield from _archived(client, object_type, type_report, links)
                type_report.cursor_after = type_report.cursor_before
                type_report.seconds = round(time.monotonic() - started, 3)
                continue
            if previous is None or mode == "full":
                type_report.method = "full"
                yield from _full_load(client, object_type, tracker, type_report, links)
            else:
                type_report.method = "incremental"
                yield from _incremental(client, object_type, previous, tracker, type_report, lag_s, links)
            if mode == "reconcile":
                yield from _archived(client, object_type, type_report, links)
            cursor = tracker.next_cursor(previous)
            if covers_everything(object_type):
                cursors[object_type] = cursor.to_state()
            else:
                cursor = previous or Cursor()
            type_report.cursor_after = iso_from_ms(cursor.max_seen_ms) if cursor.max_seen_ms is not None else None
            type_report.seconds = round(time.monotonic() - started, 3)

    def object_transformer(object_type: str):
        def rows(page: dict) -> Iterator[list[dict]]:
            if page.get("type") == object_type and "objects" in page:
                yield [object_row(object_type, o, archived=page["archived"] or None) for o in page["objects"]]

        return dlt.transformer(
            rows, data_from=crm_pages, name=object_type, write_disposition="merge", primary_key="id",
            columns=object_columns(object_type),
        )

    @dlt.transformer(data_from=crm_pages, name="contact_property_history", write_disposition=MERGE_DELETE_INSERT,
                     primary_key=("contact_id", "property", "changed_at", "value"), merge_key="contact_id",
                     columns=HISTORY_COLUMNS)
    def contact_property_history(page: dict) -> Iterator[list[dict]]:
        # only pages read with history replace a contact's history (archived listings carry none)
        if page.get("type") == "contacts" and "objects" in page and page.get("with_history"):
            rows = []
            for contact in page["objects"]:
                rows.extend(history_rows(contact))
            if rows:
                yield rows

    @dlt.transformer(data_from=crm_pages, name="associations", write_disposition=MERGE_DELETE_INSERT,
                     primary_key=("from_type", "from_id", "to_type", "to_id"),
                     merge_key=("from_type", "from_id", "to_type"), columns=ASSOCIATION_COLUMNS)
    def associations(page: dict) -> Iterator[list[dict]]:
        if "association_rows" in page and page["association_rows"]:
            yield page["association_rows"]

    resources = [owner_pages, owners, owner_teams, account, property_options, crm_pages]
    resources.extend(object_transformer(t) for t in OBJECT_TYPES)
    resources.extend([contact_property_history, associations])
    return resources


# ------------------------------------------------------------------------------------------ per-type reads
def _read_properties(object_type: str) -> list[str]:
    return list(PROPERTIES[object_type])


def _history(object_type: str) -> list[str] | None:
    return list(HISTORY_PROPERTIES) if object_type == "contacts" else None


def check_properties(client: HubSpotClient, object_type: str) -> None:
    """Fail with one line naming a property this portal lacks (reads silently ignore unknown names).

    One Properties API call per type (``GET /crm/properties/{version}/{type}``): no search quota used.
    """
    missing = client.missing_properties(object_type, PROPERTIES[object_type])
    if missing:
        raise HubSpotApiError(
            f"this HubSpot portal has no {object_type} propert{'ies' if len(missing) > 1 else 'y'} "
            + ", ".join(repr(m) for m in missing)
            + " (read by the pipeline): restore or create it in HubSpot (Settings > Properties, object "
            f"{object_type}), or check that the token is for the right portal"
        )


def _full_load(client: HubSpotClient, object_type: str, tracker: CursorTracker, type_report: TypeReport,
               links: bool):
    """Every live object, listed with its associations inline; objects whose inline links are incomplete (more
    than 100 of a type: HubSpot's per-object cursor) or of a type we cannot translate are batch-read (v4)."""
    check_properties(client, object_type)
    prop = modified_property(object_type)
    targets = list(ASSOCIATIONS.get(object_type, ())) if links else []
    overflow: dict[str, list[str]] = {to_type: [] for to_type in targets}
    for page in client.iter_list(object_type, _read_properties(object_type),
                                 properties_with_history=_history(object_type), associations=targets or None):
        for obj in page:
            tracker.see(str(obj["id"]), instant_ms((obj.get("properties") or {}).get(prop)))
        type_report.objects += len(page)
        if not page:
            continue
        yield _objects_page(object_type, page)
        for to_type in targets:
            complete: dict[str, dict[str, list[dict]]] = {}
            for obj in page:
                found = inline_links(object_type, to_type, obj)
                if found is None:
                    overflow[to_type].append(str(obj["id"]))
                else:
                    complete[str(obj["id"])] = found
            yield {"type": object_type, "association_rows": association_rows(object_type, to_type, complete)}
            if len(overflow[to_type]) >= ASSOCIATION_BATCH_SIZE:
                yield from _association_pages(client, object_type, overflow[to_type], links, [to_type])
                overflow[to_type] = []
    for to_type, ids in overflow.items():
        if ids:
            yield from _association_pages(client, object_type, ids, links, [to_type])


def _incremental(client, object_type, previous: Cursor, tracker: CursorTracker, type_report: TypeReport, lag_s,
                 links: bool):
    prop = modified_property(object_type)
    since = previous.search_from_ms(int(lag_s * 1000))
    # contacts are re-read by batch (with history), so the search only needs the cursor property
    search_properties = [prop] if object_type == "contacts" else _read_properties(object_type)
    changed: list[dict] = []
    pending: list[str] = []
    for results in search_changed(client, object_type, search_properties, since):
        for obj in results:
            modified = instant_ms((obj.get("properties") or {}).get(prop))
            tracker.see(str(obj["id"]), modified)
            if previous.is_known(str(obj["id"]), modified):
                type_report.unchanged_skipped += 1
            else:
                changed.append(obj)
        # contacts: batch-read with history in full batches (the client's limit: 50 ids with history);
        # other types: the search results are the data
        size = batch_read_size(_history(object_type))
        while changed and (object_type != "contacts" or len(changed) >= size):
            chunk, changed = changed[:size], changed[size:]
            yield from _changed_page(client, object_type, chunk, type_report, pending, links)
            if len(pending) >= ASSOCIATION_BATCH_SIZE:
                yield from _association_pages(client, object_type, pending, links)
                pending.clear()
    if changed:
        yield from _changed_page(client, object_type, changed, type_report, pending, links)
    if pending:
        yield from _association_pages(client, object_type, pending, links)


def _changed_page(client, object_type: str, objects: list[dict], type_report: TypeReport, pending: list[str],
                  links: bool):
    if object_type == "contacts":
        objects = client.batch_read(object_type, [o["id"] for o in objects], _read_properties(object_type),
                                    _history(object_type))
    type_report.objects += len(objects)
    pending.extend(str(o["id"]) for o in objects)
    yield _objects_page(object_type, objects)
    if object_type == "contacts" and links:
        yield from _merge_followups(client, objects)


def _merge_followups(client: HubSpotClient, contacts: list[dict]) -> Iterator[dict]:
    """A merge moves the merged-away contact's deals and engagements to the survivor without touching their
    modified dates: re-read those objects' contact associations so no row still points at the merged id."""
    survivors = [str(c["id"]) for c in contacts if (c.get("properties") or {}).get("hs_merged_object_ids")]
    if not survivors:
        return
    for object_type, targets in ASSOCIATIONS.items():
        if "contacts" not in targets:
            continue
        linked = client.associated_ids("contacts", survivors, object_type)
        ids = list(dict.fromkeys(i for found in linked.values() for i in found))
        for start in range(0, len(ids), ASSOCIATION_BATCH_SIZE):
            batch = ids[start : start + ASSOCIATION_BATCH_SIZE]
            rows = association_rows(object_type, "contacts", client.association_links(object_type, batch, "contacts"))
            yield {"type": object_type, "association_rows": rows}


def _archived(client: HubSpotClient, object_type: str, type_report: TypeReport, links: bool):
    pending: list[str] = []
    for page in client.iter_list(object_type, _read_properties(object_type), archived=True):
        if page:
            type_report.archived += len(page)
            yield {"type": object_type, "objects": page, "archived": True, "with_history": False}
            pending.extend(str(o["id"]) for o in page)
        if len(pending) >= ASSOCIATION_BATCH_SIZE:
            yield from _association_pages(client, object_type, pending, links)
            pending = []
    if pending:
        yield from _association_pages(client, object_type, pending, links)


def _objects_page(object_type: str, objects: list[dict]) -> dict:
    return {"type": object_type, "objects": objects, "archived": False,
            "with_history": object_type == "contacts"}


def _association_pages(client: HubSpotClient, object_type: str, ids: list[str], links: bool,
                       to_types: Sequence[str] | None = None) -> Iterator[dict]:
    """v4 batch reads (with association types) of these objects' links, per stored direction."""
    if not links:
        return
    for to_type in ASSOCIATIONS.get(object_type, ()) if to_types is None else to_types:
        targets = client.association_links(object_type, ids, to_type)
        yield {"type": object_type, "association_rows": association_rows(object_type, to_type, targets)}
