"""Generate a realistic, deterministic HubSpot portal snapshot and its ground truth.

    snapshot, truth = generate_portal(contacts=500, seed=7)            # in memory (tests, small portals)
    result = write_portal(100_000, seed=1, out=Path("portal.json"))   # streamed to disk (big portals)
    result.snapshot_path, result.truth_path, result.counts

Same (contacts, seed, now) -> the same bytes. ``now`` defaults to ``DEFAULT_NOW`` (2026-11-02T15:00:00.000Z,
a Monday) and is written as ``portal.now``. See docs/generator.md for what a portal holds and the truth format.
"""

from __future__ import annotations

import os
import random
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import orjson

from pipeline.errors import ConfigError, HandoffError
from pipeline.policy import load_policy
from hubspot_sandbox.gen_activity import ENGAGEMENT_TYPES, ActivityLog
from hubspot_sandbox.gen_clock import DEFAULT_NOW, MS_DAY, iso, to_ms
from hubspot_sandbox.gen_companies import build_companies
from hubspot_sandbox.gen_contact import ContactBuilder
from hubspot_sandbox.gen_roster import build_roster
from hubspot_sandbox.gen_scenarios import Spec, next_spec
from hubspot_sandbox.gen_stages import properties_map
from hubspot_sandbox.gen_truth import TruthBook

PORTAL_ID = 4815162
STREAMED_SECTIONS = ("contacts", "deals", *ENGAGEMENT_TYPES)
MAX_CONTACTS = 5_000_000

__all__ = ["DEFAULT_NOW", "WriteResult", "generate_portal", "truth_path_for", "write_portal"]


@dataclass(frozen=True)
class WriteResult:
    snapshot_path: Path
    truth_path: Path
    counts: dict


def truth_path_for(snapshot_path: Path) -> Path:
    """``<stem>.truth.json`` beside the snapshot."""
    return snapshot_path.with_name(snapshot_path.stem + ".truth.json")


def _check_args(contacts: object, seed: object, now: datetime | None, custom_stages: object = False) -> int:
    if not isinstance(custom_stages, bool):
        raise ConfigError(f"custom_stages must be true or false (got {custom_stages!r})")
    if isinstance(contacts, bool) or not isinstance(contacts, int) or not 1 <= contacts <= MAX_CONTACTS:
        raise ConfigError(f"contacts must be a whole number from 1 to {MAX_CONTACTS:,} (got {contacts!r})")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ConfigError(f"seed must be a whole number (got {seed!r})")
    if now is not None and not isinstance(now, datetime):
        raise ConfigError(f"now must be a datetime (got {now!r})")
    return to_ms(now or DEFAULT_NOW)


def _build(contacts: int, seed: int, now_ms: int, sink: Callable[[str, dict], None],
           tick: Callable[[int], None] | None = None, custom_stages: bool = False,
           ) -> tuple[dict, list[dict], list[dict], dict]:
    """Build everything, streaming contacts/deals/engagements to ``sink``; returns
    (portal, owners, companies, truth)."""
    rng = random.Random(seed)
    extra_rng = random.Random(seed * 1_000_003 + 17)  # the later features' own stream (ContactBuilder)
    policy = load_policy(None)
    roster = build_roster()
    companies, company_objects = build_companies(rng, contacts, roster, now_ms)
    activity = ActivityLog(sink, now_ms, extra_rng)
    builder = ContactBuilder(
        rng, now_ms, roster, companies, activity,
        emit_contact=lambda obj: sink("contacts", obj), emit_deal=lambda obj: sink("deals", obj),
        policy=policy, extra_rng=extra_rng, custom_stages=custom_stages,
    )
    book = TruthBook(now_ms, roster, policy)
    made = index = 0
    while made < contacts:
        spec = next_spec(rng, index)
        index += 1
        if spec.kind == "merged" and contacts - made < 2:
            spec = Spec("lead")
        for record in builder.build(spec):
            book.add(record)
            made += 1
        if tick is not None:
            tick(made)
    owners = roster.owner_objects(now_ms - 900 * MS_DAY)
    counts = {
        "owners": len(owners),
        "owners_archived": sum(o["archived"] for o in owners),
        "companies": len(company_objects),
        "contacts": made,
        "deals": builder.deals,
        **activity.counts,
        "engagements": sum(activity.counts.values()),
        "touches": activity.touches,
        **builder.company_features,
        **builder.stage_features,
    }
    distractors = {**activity.distractors, "deals": builder.deal_distractors}
    portal = {"id": PORTAL_ID, "timezone": "America/New_York", "now": iso(now_ms)}
    return portal, owners, company_objects, book.result(counts, distractors)


def generate_portal(contacts: int, seed: int, now: datetime | None = None,
                    custom_stages: bool = False) -> tuple[dict, dict]:
    """(snapshot dict in DOMAIN.md's format, truth dict) built in memory. ``custom_stages``: the portal adds three
    custom lifecycle stages (gen_stages.py) and its snapshot carries the ``properties`` map."""
    now_ms = _check_args(contacts, seed, now, custom_stages)
    sections: dict[str, list[dict]] = {name: [] for name in STREAMED_SECTIONS}
    portal, owners, companies, truth = _build(contacts, seed, now_ms, lambda name, obj: sections[name].append(obj),
                                              custom_stages=custom_stages)
    snapshot = {"portal": portal}
    if custom_stages:
        snapshot["properties"] = properties_map(True)
    snapshot.update({"owners": owners, "companies": companies})
    snapshot.update(sections)
    return snapshot, truth


@contextmanager
def _progress_bar(enabled: bool, total: int) -> Iterator[Callable[[int], None] | None]:
    if not enabled:
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("generating portal"), BarColumn(), MofNCompleteColumn(), TextColumn("contacts"),
                  TimeElapsedColumn(), console=Console(stderr=True), transient=False) as bar:
        task = bar.add_task("contacts", total=total)
        last = [0]

        def tick(done: int) -> None:
            if done - last[0] >= 500 or done == total:
                bar.update(task, completed=done)
                last[0] = done

        yield tick


def write_portal(contacts: int, seed: int, out: Path, now: datetime | None = None,
                 progress: bool = False, custom_stages: bool = False) -> WriteResult:
    """Stream a portal snapshot to ``out`` and its truth to ``<stem>.truth.json`` beside it."""
    now_ms = _check_args(contacts, seed, now, custom_stages)
    out = Path(out)
    truth_path = truth_path_for(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=".generate-", dir=out.parent) as scratch:
            with ExitStack() as stack:
                files = {name: stack.enter_context(open(Path(scratch) / f"{name}.part", "wb", buffering=1 << 20))
                         for name in STREAMED_SECTIONS}
                written = dict.fromkeys(STREAMED_SECTIONS, 0)
                dumps = orjson.dumps

                def sink(name: str, obj: dict) -> None:
                    handle = files[name]
                    if written[name]:
                        handle.write(b",")
                    handle.write(dumps(obj))
                    written[name] += 1

                with _progress_bar(progress, contacts) as tick:
                    portal, owners, companies, truth = _build(contacts, seed, now_ms, sink, tick, custom_stages)
            staged = Path(scratch) / "snapshot.json"
            with open(staged, "wb", buffering=1 << 20) as target:
                target.write(b'{"portal":' + orjson.dumps(portal))
                if custom_stages:
                    target.write(b',"properties":' + orjson.dumps(properties_map(True)))
                target.write(b',"owners":' + orjson.dumps(owners))
                target.write(b',"companies":' + orjson.dumps(companies))
                for name in STREAMED_SECTIONS:
                    target.write(b',"' + name.encode() + b'":[')
                    with open(Path(scratch) / f"{name}.part", "rb") as part:
                        shutil.copyfileobj(part, target, 1 << 22)
                    target.write(b"]")
                target.write(b"}")
            staged_truth = Path(scratch) / "truth.json"
            staged_truth.write_bytes(orjson.dumps(truth))
            os.replace(staged, out)
            os.replace(staged_truth, truth_path)
    except HandoffError:
        raise
    except OSError as err:
        raise ConfigError(f"cannot write the portal to {out}: {err.strerror or err}") from None
    return WriteResult(out, truth_path, truth["counts"])
