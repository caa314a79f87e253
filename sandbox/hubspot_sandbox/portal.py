"""The in-memory HubSpot portal: objects, owners, associations, sorted indexes, and the mutation API.

Thread-safe (one re-entrant lock). The HTTP server reads and writes through it; tests mutate it between
syncs with ``create`` / ``update`` / ``archive`` / ``merge_contacts`` / ``associate``. Write instants come
from an injectable ``clock`` (default: real UTC now).
"""

from __future__ import annotations

import bisect
import gc
import threading
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from hubspot_sandbox.api_errors import ApiError, not_found, validation_error
from hubspot_sandbox.crm_model import (
    ASSOCIATION_TYPE_IDS,
    DEFAULT_PROPERTIES,
    INLINE_ASSOCIATIONS_MAX,
    OBJECT_TYPES,
    SERVED_TYPES,
    PRIMARY_ASSOCIATION_TYPE_IDS,
    always_properties,
    association_type_name,
    created_property,
    iso_instant,
    modified_property,
    parse_instant_ms,
)
from hubspot_sandbox.crm_meta import merge_definition, pipelines_body, standard_definition
from hubspot_sandbox.object_store import ObjectStore
from hubspot_sandbox.portal_load import fill_portal
from hubspot_sandbox.snapshot import paused_gc, validate_snapshot
from hubspot_sandbox.stage_dates import STANDARD_STAGES, entered_property, exited_property, on_stage_change

FREEZE_ABOVE = 200_000  # objects
IMPLIED_HISTORY_SOURCE = "CRM_UI"


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


class Portal:
    """A HubSpot portal in memory. Build with :meth:`from_snapshot`."""

    def __init__(self, portal_info: dict, *, clock: Callable[[], datetime] | None = None):
        self.info = dict(portal_info)
        self.clock = clock or _utc_now
        self.lock = threading.RLock()
        self.stores: dict[str, ObjectStore] = {t: ObjectStore(t) for t in SERVED_TYPES}
        # HubSpot defines the stage dates of every lifecycle stage, set or not (custom stages add theirs when used)
        self.stores["contacts"].schema.update(f(s) for s in STANDARD_STAGES for f in (entered_property, exited_property))
        self.owners: dict[str, dict] = {}
        self.owner_ids: list[int] = []
        # (from_type, to_type) -> from id -> [to ids], both directions stored
        self.associations: dict[tuple[str, str], dict[str, list[str]]] = {}
        self.merged_into: dict[str, str] = {}
        # primary-labelled links (contacts/deals -> companies): (from_type, to_type) -> from id -> to id
        self.primary: dict[tuple[str, str], dict[str, str]] = {}
        self.search_lag_s = 0.0
        # type -> id -> (visible at monotonic, the object as search still sees it, or None if it did not exist)
        self._search_pending: dict[str, dict[str, tuple[float, dict | None]]] = {t: {} for t in SERVED_TYPES}
        # the snapshot's "properties" map: type -> name -> definition (over HubSpot's standard one)
        self.property_overrides: dict[str, dict[str, dict]] = {}
        # admin-configured write validation (enforced on 2026-09+ writes): type -> {"create"|"update": [names]}
        self.validation_rules: dict[str, dict[str, list[str]]] = {}

    # --- construction ---------------------------------------------------------------------------------

    @classmethod
    def from_snapshot(cls, data: dict, *, clock: Callable[[], datetime] | None = None, validate: bool = True,
                      owned: bool = False) -> Portal:
        """Build a portal from a snapshot dict (validated unless ``validate=False``).

        The dict is left unchanged unless ``owned=True``, which hands its objects over to the portal (no copies:
        half the memory for big portals; the caller must not use the dict afterwards).
        """
        if validate:
            validate_snapshot(data)
        portal = cls(data.get("portal", {}), clock=clock)
        with paused_gc():
            fill_portal(portal, data, owned=owned)
        if sum(len(s.by_id) for s in portal.stores.values()) >= FREEZE_ABOVE:
            gc.freeze()  # millions of long-lived objects: keep the cyclic GC from re-scanning them while serving
        return portal

    # --- associations -----------------------------------------------------------------------------------

    def _link(self, from_type: str, from_id: str, to_type: str, to_id: str) -> bool:
        forward = self.associations.setdefault((from_type, to_type), {}).setdefault(from_id, [])
        if to_id in forward:
            return False
        forward.append(to_id)
        backward = self.associations.setdefault((to_type, from_type), {}).setdefault(to_id, [])
        if from_id not in backward:
            backward.append(from_id)
        return True

    def _unlink(self, from_type: str, from_id: str, to_type: str, to_id: str) -> None:
        for (a, a_id, b, b_id) in ((from_type, from_id, to_type, to_id), (to_type, to_id, from_type, from_id)):
            targets = self.associations.get((a, b), {}).get(a_id)
            if targets and b_id in targets:
                targets.remove(b_id)
            if self.primary.get((a, b), {}).get(a_id) == b_id:
                del self.primary[(a, b)][a_id]

    def set_primary(self, from_type: str, from_id: str, to_type: str, to_id: str) -> None:
        """Label the link from -> to primary (contact -> company, deal -> company; one per object, as in
        HubSpot: a new primary replaces the old one, which stays as an unlabelled link). Links them if needed."""
        if (from_type, to_type) not in PRIMARY_ASSOCIATION_TYPE_IDS or from_type == "companies":
            raise ValueError(f"{from_type} -> {to_type} has no primary label")
        with self.lock:
            self._require(from_type, str(from_id))
            self._require(to_type, str(to_id))
            self._link(from_type, str(from_id), to_type, str(to_id))
            self.primary.setdefault((from_type, to_type), {})[str(from_id)] = str(to_id)

    def associated_ids(self, from_type: str, from_id: str, to_type: str) -> list[str]:
        """Live (non-archived) targets, in association order."""
        targets = self.associations.get((from_type, to_type), {}).get(from_id, ())
        store = self.stores[to_type].by_id
        return [t for t in targets if t in store and not store[t]["archived"]]

    def associate(self, from_type: str, from_id: str, to_type: str, to_id: str) -> None:
        """Associate two existing objects (both directions)."""
        with self.lock:
            self._require(from_type, str(from_id))
            self._require(to_type, str(to_id))
            self._link(from_type, str(from_id), to_type, str(to_id))

    # --- mutation API (tests and the HTTP writes) -----------------------------------------------------

    def _require(self, object_type: str, object_id: str, *, allow_archived: bool = False) -> dict:
        if object_type not in self.stores:
            raise KeyError(f"unknown object type {object_type!r}")
        obj = self.stores[object_type].by_id.get(object_id)
        if obj is None or (obj["archived"] and not allow_archived):
            raise KeyError(f"no {object_type} with id {object_id!r}")
        return obj

    def _remember_for_search(self, object_type: str, object_id: str, obj: dict | None) -> None:
        if self.search_lag_s <= 0:
            return
        pending = self._search_pending[object_type]
        visible_at = time.monotonic() + self.search_lag_s
        if object_id in pending:
            pending[object_id] = (visible_at, pending[object_id][1])
        else:
            before = None if obj is None else {**obj, "properties": dict(obj["properties"])}
            pending[object_id] = (visible_at, before)

    def search_pending(self, object_type: str) -> dict[str, dict | None]:
        """Objects whose latest writes search cannot see yet: id -> the state search still sees (None: absent)."""
        pending = self._search_pending[object_type]
        now = time.monotonic()
        for object_id in [i for i, (at, _) in pending.items() if at <= now]:
            del pending[object_id]
        return {object_id: before for object_id, (_, before) in pending.items()}

    def create(self, object_type: str, properties: dict, associations: dict[str, Iterable[str]] | None = None,
               created_at: datetime | str | None = None, *, source_type: str = "CRM_UI") -> str:
        """Create an object; returns its id. ``associations``: target type -> ids (linked both ways)."""
        with self.lock:
            store = self.stores[object_type]
            for target, target_ids in (associations or {}).items():
                for target_id in target_ids:
                    self._require(target, str(target_id))
            object_id = str(store.next_id)
            store.next_id += 1
            instant = iso_instant(created_at, self.clock)
            props = {name: (None if value is None else str(value)) for name, value in properties.items()}
            history = {
                name: [{"value": value, "timestamp": instant, "sourceType": source_type}]
                for name, value in props.items() if value is not None
            }
            props.setdefault(created_property(object_type), instant)
            props[modified_property(object_type)] = instant
            props["hs_object_id"] = object_id
            if object_type == "contacts":
                props.update(on_stage_change(None, props.get("lifecyclestage"), instant))
            obj = {"id": object_id, "createdAt": instant, "updatedAt": instant, "archived": False,
                   "properties": props, "propertiesWithHistory": history}
            store.schema.update(props)
            store.by_id[object_id] = obj
            store.index_add(obj)
            for target, target_ids in (associations or {}).items():
                for target_id in target_ids:
                    self._link(object_type, object_id, target, str(target_id))
            self._remember_for_search(object_type, object_id, None)
            return object_id

    def update(self, object_type: str, object_id: str, properties: dict, at: datetime | str | None = None,
               *, source_type: str = "CRM_UI") -> dict:
        """Set properties; each change appends history; the modified date and updatedAt move to ``at``."""
        with self.lock:
            object_id = str(object_id)
            store = self.stores[object_type]
            obj = self._require(object_type, object_id)
            instant = iso_instant(at, self.clock)
            instant_ms = parse_instant_ms(instant)
            props = obj["properties"]
            changes = {}
            for name, value in properties.items():
                new = "" if value is None else str(value)
                if props.get(name) != new and not (new == "" and props.get(name) is None):
                    changes[name] = new
            if object_type == "contacts" and "lifecyclestage" in changes:  # HubSpot's stage-entered/exited dates
                changes.update(on_stage_change(props.get("lifecyclestage"), changes["lifecyclestage"], instant))
            if not changes:
                return obj
            self._remember_for_search(object_type, object_id, obj)
            store.index_remove(obj)
            histories = obj.setdefault("propertiesWithHistory", {})
            for name, new in changes.items():
                history = list(histories.get(name) or [])  # a new list: snapshot lists stay untouched
                histories[name] = history
                if not history:
                    if props.get(name) is not None:
                        history.append({"value": props[name], "timestamp": obj["createdAt"],
                                        "sourceType": IMPLIED_HISTORY_SOURCE})
                position = 0
                while position < len(history) and (parse_instant_ms(history[position]["timestamp"]) or 0) > instant_ms:
                    position += 1
                history.insert(position, {"value": new, "timestamp": instant, "sourceType": source_type})
                props[name] = new
            store.schema.update(changes)
            obj["updatedAt"] = instant
            props[store.modified_name] = instant
            store.index_add(obj)
            return obj

    def archive(self, object_type: str, object_id: str) -> None:
        """Delete (archive) an object: gone from listing and search, present in ``archived=true`` listing."""
        with self.lock:
            object_id = str(object_id)
            store = self.stores[object_type]
            obj = self._require(object_type, object_id)
            self._remember_for_search(object_type, object_id, obj)
            store.index_remove(obj)
            obj["archived"] = True
            obj["archivedAt"] = iso_instant(None, self.clock)
            store.index_add(obj)

    def merge_contacts(self, primary_id: str, merged_id: str) -> None:
        """Merge ``merged_id`` into ``primary_id`` as HubSpot does: the merged-away contact is archived, its
        associations move to the primary, and the primary's ``hs_merged_object_ids`` lists it."""
        with self.lock:
            primary_id, merged_id = str(primary_id), str(merged_id)
            if primary_id == merged_id:
                raise ValueError("cannot merge a contact into itself")
            primary = self._require("contacts", primary_id)
            merged = self._require("contacts", merged_id)
            ids = [i for i in (primary["properties"].get("hs_merged_object_ids") or "").split(";") if i]
            ids += [merged_id] + [i for i in (merged["properties"].get("hs_merged_object_ids") or "").split(";") if i]
            for (from_type, to_type), links in list(self.associations.items()):
                if from_type != "contacts":
                    continue
                for target in list(links.get(merged_id, ())):
                    self._unlink("contacts", merged_id, to_type, target)
                    self._link("contacts", primary_id, to_type, target)
            self.archive("contacts", merged_id)
            for merged_away in ids:
                self.merged_into[merged_away] = primary_id
            self.update("contacts", primary_id, {"hs_merged_object_ids": ";".join(dict.fromkeys(ids))})

    # --- reads ----------------------------------------------------------------------------------------

    def known_properties(self, object_type: str) -> set[str]:
        return self.stores[object_type].schema

    def history(self, obj: dict, name: str) -> list[dict]:
        """History newest first; a value without history answers one entry at createdAt."""
        entries = (obj.get("propertiesWithHistory") or {}).get(name)
        if entries:
            return entries
        value = obj["properties"].get(name)
        if value is None:
            return []
        return [{"value": value, "timestamp": obj["createdAt"], "sourceType": IMPLIED_HISTORY_SOURCE}]

    def render(self, object_type: str, obj: dict, properties: list[str] | None,
               history: list[str] | None = None, associations: list[str] | None = None, link_base: str = "") -> dict:
        """The v3 JSON for one object."""
        schema = self.stores[object_type].schema
        props = obj["properties"]
        if properties:
            names = [n for n in properties if n in schema]
            names.extend(n for n in always_properties(object_type) if n not in names)
        else:
            names = DEFAULT_PROPERTIES[object_type]
        out = {"id": obj["id"], "properties": {n: props.get(n) for n in names},
               "createdAt": obj["createdAt"], "updatedAt": obj["updatedAt"], "archived": obj["archived"]}
        if obj["archived"]:
            out["archivedAt"] = obj.get("archivedAt") or obj["updatedAt"]
        if history:
            out["propertiesWithHistory"] = {n: self.history(obj, n) for n in history if n in schema}
        if associations:
            linked = {}
            for target in associations:
                entries = self._v3_association_entries(object_type, obj["id"], target,
                                                       self.associated_ids(object_type, obj["id"], target))
                if not entries:
                    continue
                block: dict = {"results": entries[:INLINE_ASSOCIATIONS_MAX]}
                if len(entries) > INLINE_ASSOCIATIONS_MAX:  # HubSpot: the rest behind a per-object cursor
                    # the link lists the object's associations (v4 shape) from the first id not yet listed
                    after = str(len({e["id"] for e in block["results"]}))
                    block["paging"] = {"next": {"after": after, "link": (
                        f"{link_base}/crm/v4/objects/{object_type}/{obj['id']}/associations/{target}?after={after}")}}
                linked[target] = block
            if linked:
                out["associations"] = linked
        return out

    def list_page(self, object_type: str, *, limit: int, after: str | None, properties: list[str] | None,
                  history: list[str] | None, associations: list[str] | None, archived: bool,
                  link_base: str = "", link_params: list[tuple[str, str]] | None = None) -> dict:
        with self.lock:
            store = self.stores[object_type]
            ids = store.archived if archived else store.active
            start = bisect.bisect_left(ids, _cursor(after)) if after else 0
            page = ids[start:start + limit]
            origin = link_base.split("/crm/")[0]
            body: dict = {"results": [self.render(object_type, store.by_id[str(i)], properties, history, associations,
                                                  origin) for i in page]}
            if start + limit < len(ids):
                cursor = str(ids[start + limit])
                body["paging"] = {"next": {"after": cursor, "link": _link(link_base, link_params, cursor)}}
            return body

    def get(self, object_type: str, object_id: str, *, archived: bool = False) -> dict | None:
        """One object as the API sees it; a merged-away contact id answers its surviving contact."""
        with self.lock:
            store = self.stores[object_type]
            obj = store.by_id.get(object_id)
            if obj is not None and obj["archived"] == archived:
                return obj
            if not archived and object_type == "contacts" and object_id in self.merged_into:
                survivor = store.by_id.get(self.merged_into[object_id])
                if survivor is not None and not survivor["archived"]:
                    return survivor
            return None

    def require_api_object(self, object_type: str, object_id: str, archived: bool = False) -> dict:
        obj = self.get(object_type, object_id, archived=archived)
        if obj is None:
            raise not_found(object_type, object_id)
        return obj

    # HubSpot's primary pairs: (from, to) -> (primary type id, reverse pair)
    _PRIMARY_PAIRS = {("contacts", "companies"): 1, ("deals", "companies"): 5}
    _PRIMARY_REVERSE = {("companies", "contacts"): 2, ("companies", "deals"): 6}

    def primary_target(self, from_type: str, from_id: str, to_type: str) -> str | None:
        """The primary company of a contact or deal, or None when no link is labelled primary (HubSpot lets an
        object have company links of the unlabelled type only, e.g. associations created through the API with
        typeId 279). The label comes from :meth:`set_primary` (the snapshot's ``primaryCompany``) or, for a
        contact, its ``associatedcompanyid`` (HubSpot keeps that property equal to the primary company)."""
        if (from_type, to_type) not in self._PRIMARY_PAIRS:
            return None
        targets = self.associated_ids(from_type, from_id, to_type)
        if not targets:
            return None
        labelled = self.primary.get((from_type, to_type), {}).get(from_id)
        if labelled in targets:
            return labelled
        if from_type == "contacts":
            stored = (self.stores["contacts"].by_id.get(from_id) or {}).get("properties", {}).get("associatedcompanyid")
            if stored and str(stored) in targets:
                return str(stored)
        return None

    def association_types(self, from_type: str, from_id: str, to_type: str, to_id: str) -> list[dict]:
        """v4 ``associationTypes`` of one link: the unlabelled HUBSPOT_DEFINED type, plus the Primary label
        (typeId 1 contact->company, 5 deal->company; 2 / 6 in reverse) when the link is primary."""
        unlabelled = {"category": "HUBSPOT_DEFINED", "typeId": ASSOCIATION_TYPE_IDS.get((from_type, to_type)),
                      "label": None}
        primary_id = self._PRIMARY_PAIRS.get((from_type, to_type))
        if primary_id is not None and self.primary_target(from_type, from_id, to_type) == to_id:
            return [{"category": "HUBSPOT_DEFINED", "typeId": primary_id, "label": "Primary"}, unlabelled]
        reverse_id = self._PRIMARY_REVERSE.get((from_type, to_type))
        if reverse_id is not None and self.primary_target(to_type, to_id, from_type) == from_id:
            return [{"category": "HUBSPOT_DEFINED", "typeId": reverse_id, "label": "Primary"}, unlabelled]
        return [unlabelled]

    def _v3_association_entries(self, from_type: str, from_id: str, to_type: str, ids: list[str]) -> list[dict]:
        """v3 inline associations: pairs with a primary label list the primary link and the unlabelled link as two
        entries (``contact_to_company`` and ``contact_to_company_unlabeled``); other pairs one entry per link."""
        name = association_type_name(from_type, to_type)
        if (from_type, to_type) not in self._PRIMARY_PAIRS and (from_type, to_type) not in self._PRIMARY_REVERSE:
            return [{"id": i, "type": name} for i in ids]
        out = []
        for i in ids:
            if len(self.association_types(from_type, from_id, to_type, i)) > 1:
                out.append({"id": i, "type": name})
            out.append({"id": i, "type": f"{name}_unlabeled"})
        return out

    def association_page(self, from_type: str, from_id: str, to_type: str, *, after: str | None, limit: int,
                         link: str) -> dict:
        """v4 list of one object's associations of a type: ``{"results": [{"toObjectId", "associationTypes"}],
        "paging"}``; ``after`` (digits: the route refuses anything else) counts the targets already listed."""
        with self.lock:
            self.require_api_object(from_type, from_id, False)  # HubSpot's 404 for an unknown object
            targets = self.associated_ids(from_type, from_id, to_type)
            start = int(after or 0)
            body: dict = {"results": [
                {"toObjectId": t, "associationTypes": self.association_types(from_type, from_id, to_type, t)}
                for t in targets[start:start + limit]]}
            if start + limit < len(targets):
                cursor = str(start + limit)
                body["paging"] = {"next": {"after": cursor, "link": f"{link}?limit={limit}&after={cursor}"}}
            return body

    def association_batch(self, from_type: str, to_type: str, ids: list[str]) -> tuple[list[dict], list[str]]:
        """v4 batch read: results for ids with associations, and the ids without any."""
        with self.lock:
            results, empty = [], []
            for object_id in ids:
                targets = self.associated_ids(from_type, object_id, to_type)
                if not targets:
                    empty.append(object_id)
                    continue
                results.append({
                    "from": {"id": object_id},
                    "to": [{"toObjectId": t, "associationTypes": self.association_types(from_type, object_id, to_type, t)}
                           for t in targets],
                })
            return results, empty

    def owners_page(self, *, limit: int, after: str | None, archived: bool, email: str | None) -> dict:
        with self.lock:
            ids = [i for i in self.owner_ids if self.owners[str(i)]["archived"] == archived
                   and (email is None or (self.owners[str(i)]["email"] or "").lower() == email.lower())]
            start = bisect.bisect_left(ids, _cursor(after)) if after else 0
            body: dict = {"results": [self.owners[str(i)] for i in ids[start:start + limit]]}
            if start + limit < len(ids):
                body["paging"] = {"next": {"after": str(ids[start + limit])}}
            return body

    def account_details(self) -> dict:
        zone_name = self.info.get("timezone") or "UTC"
        try:
            offset = datetime.now(ZoneInfo(zone_name)).utcoffset()
        except Exception:  # an unknown zone still answers, as UTC
            offset = None
        offset_ms = int(offset.total_seconds() * 1000) if offset else 0
        sign = "-" if offset_ms < 0 else "+"
        minutes = abs(offset_ms) // 60000
        return {
            "portalId": self.info.get("id"),
            "accountType": "STANDARD",
            "timeZone": zone_name,
            "companyCurrency": self.info.get("currency", "USD"),
            "additionalCurrencies": [],
            "utcOffset": f"{sign}{minutes // 60:02d}:{minutes % 60:02d}",
            "utcOffsetMilliseconds": offset_ms,
            "uiDomain": self.info.get("uiDomain", "app.hubspot.com"),
            "dataHostingLocation": self.info.get("dataHostingLocation", "na1"),
        }

    def counts(self) -> dict[str, int]:
        with self.lock:
            return {t: len(self.stores[t].active) for t in OBJECT_TYPES} | {"owners": len(self.owners)}

    # --- metadata: Properties API, pipelines -----------------------------------------------------------

    def property_definitions(self, object_type: str, *, archived: bool = False) -> list[dict]:
        """The type's property definitions as the Properties API lists them (archived ones only when asked)."""
        with self.lock:
            overrides = self.property_overrides.get(object_type, {})
            stages = self._deal_stage_options() if object_type == "deals" else None
            names = sorted(set(self.stores[object_type].schema) | set(overrides))
            out = []
            for name in names:
                standard = standard_definition(object_type, name, deal_stages=stages)
                definition = merge_definition(standard, overrides[name]) if name in overrides else standard
                if bool(definition.get("archived")) == archived:
                    out.append(definition)
            return out

    def property_definition(self, object_type: str, name: str, *, archived: bool = False) -> dict | None:
        return next((d for d in self.property_definitions(object_type, archived=archived) if d["name"] == name), None)

    def _deal_stage_options(self) -> list[tuple[str, str]]:
        pipeline = pipelines_body("deals", self._deal_stages_seen())["results"][0]
        return [(stage["id"], stage["label"]) for stage in pipeline["stages"]]

    def _deal_stages_seen(self) -> list[str]:
        seen = {o["properties"].get("dealstage") for o in self.stores["deals"].by_id.values()}
        return sorted(s for s in seen if s)

    def pipelines(self, object_type: str) -> dict:
        with self.lock:
            return pipelines_body(object_type, self._deal_stages_seen() if object_type == "deals" else [])

    def missing_required(self, object_type: str, action: str, obj_properties: dict) -> list[str]:
        """Properties the portal's validation rules require on this create/update that have no value."""
        required = (self.validation_rules.get(object_type) or {}).get(action) or []
        return [n for n in required if obj_properties.get(n) in (None, "")]


def _link(base: str, params: list[tuple[str, str]] | None, cursor: str) -> str:
    """``paging.next.link``: the request's own URL with every query parameter kept and ``after`` moved on."""
    from urllib.parse import urlencode

    kept = [(k, v) for (k, v) in (params or []) if k != "after"] + [("after", cursor)]
    return f"{base}?{urlencode(kept)}"


def _cursor(after: str) -> int:
    if not str(after).isdigit():
        raise validation_error(f"after={after!r} is not a valid paging cursor (use paging.next.after)")
    return int(after)


__all__ = ["ApiError", "ObjectStore", "Portal"]
