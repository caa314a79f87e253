"""``handoff sandbox``: serve a HubSpot portal on localhost, or generate a portal snapshot."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import click

from pipeline.errors import ConfigError, HandoffError
from pipeline.settings import redact


@click.group()
def sandbox() -> None:
    """Serve or generate an offline HubSpot portal (the sandbox)."""


@sandbox.command()
@click.option("--snapshot", type=click.Path(dir_okay=False, path_type=Path),
              help="Portal snapshot to serve (DOMAIN.md format, e.g. from `handoff sandbox generate`).")
@click.option("--contacts", type=click.IntRange(min=1), help="Generate a portal of this many contacts instead.")
@click.option("--seed", type=int, default=7, show_default=True, help="Seed of the generated portal.")
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True, help="Port (0 = any free port).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--token", default="sandbox-token", show_default=True, help="Bearer token clients must send.")
@click.option("--faults", "faults_spec", metavar="SPEC",
              help='Inject faults, e.g. "429=0.05,500=0.02,502=0.02,slow=0.02:1.5,drop=0.01,seed=7".')
@click.option("--rate-limit", "rate_limit", default="190", show_default=True, metavar="SPEC",
              help="Requests per rolling 10 s, optionally ',search=N,daily=N'; 'off' disables the limits.")
@click.option("--search-lag", type=click.FloatRange(min=0), default=0.0, show_default=True,
              help="Seconds before a write becomes visible to search.")
@click.option("--scopes", "scopes_spec", metavar="LIST",
              help="The token's granted scopes, comma-separated (default: all), e.g. "
                   "'crm.objects.contacts.read,crm.objects.owners.read'; others answer 403 MISSING_SCOPES.")
def serve(snapshot: Path | None, contacts: int | None, seed: int, port: int, host: str, token: str,
          faults_spec: str | None, rate_limit: str, search_lag: float, scopes_spec: str | None) -> None:
    """Serve a HubSpot CRM API on localhost until Ctrl-C.

    Point the pipeline (or any HubSpot client) at it with the printed `export` line.
    """
    from hubspot_sandbox.faults import parse_faults
    from hubspot_sandbox.portal import Portal
    from hubspot_sandbox.ratelimit import RateLimits
    from hubspot_sandbox.server import run_in_thread

    if snapshot and contacts:
        raise ConfigError("give either --snapshot FILE or --contacts N --seed S, not both")
    if not snapshot and not contacts:
        raise ConfigError("nothing to serve: give --snapshot FILE, or --contacts N [--seed S] to generate a portal")
    limits = RateLimits.parse(rate_limit)
    faults = parse_faults(faults_spec)
    started = time.perf_counter()
    if snapshot:
        from hubspot_sandbox.snapshot import load_snapshot

        data = load_snapshot(snapshot)
        source = f"snapshot {snapshot}"
    else:
        generate_portal = _generator("generate_portal")
        data, _truth = generate_portal(contacts, seed)
        source = f"generated portal ({contacts:,} contacts, seed {seed})"
    portal = Portal.from_snapshot(data, validate=not snapshot, owned=True)
    del data
    scopes = {p.strip() for p in scopes_spec.split(",") if p.strip()} if scopes_spec else None
    handle = run_in_thread(portal, port=port, host=host, token=token, limits=limits, faults=faults,
                           search_lag_s=search_lag, scopes=scopes)
    counts = portal.counts()
    engagements = sum(counts[t] for t in ("calls", "emails", "meetings", "notes", "tasks", "communications"))
    click.echo(f"sandbox: serving {source}: portal {portal.info.get('id')}, {counts['contacts']:,} contacts, "
               f"{counts['companies']:,} companies, {counts['deals']:,} deals, {engagements:,} engagements, "
               f"{counts['owners']} owners (ready in {time.perf_counter() - started:.1f}s)")
    click.echo(f"base URL: {handle.base_url}")
    click.echo(f"token:    {token}")
    limits_text = "off" if not limits.enabled else (
        f"{limits.per_ten_seconds}/10s, search {limits.search_per_second}/s, daily {limits.daily:,}")
    click.echo(f"limits:   {limits_text}; faults: {faults_spec or 'none'}; search lag: {search_lag:g}s; "
               f"scopes: {', '.join(sorted(scopes)) if scopes else 'all'}")
    click.echo(f"stats:    {handle.base_url}/_sandbox/stats")
    click.echo(f"export HUBSPOT_API_BASE={handle.base_url} HUBSPOT_ACCESS_TOKEN={token}")
    click.echo("serving until Ctrl-C", err=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        handle.stop()
        click.echo("sandbox: stopped", err=True)


@sandbox.command()
@click.option("--contacts", type=click.IntRange(min=1), required=True, help="Number of contacts.")
@click.option("--seed", type=int, required=True, help="Random seed (same seed, same portal).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Snapshot file to write; the ground truth goes beside it as <stem>.truth.json.")
@click.option("--custom-stages", is_flag=True,
              help="Add three custom lifecycle stages (numeric internal values) the portal's contacts pass "
                   "through; the snapshot carries the lifecyclestage definition (docs/generator.md).")
def generate(contacts: int, seed: int, out: Path, custom_stages: bool) -> None:
    """Write a realistic, deterministic portal snapshot and its ground truth."""
    write_portal = _generator("write_portal")
    started = time.perf_counter()
    result = write_portal(contacts=contacts, seed=seed, out=out, now=None, progress=True,
                          custom_stages=custom_stages)
    counts = getattr(result, "counts", None) or {}
    summary = ", ".join(f"{v:,} {k}" for k, v in counts.items() if isinstance(v, int))
    click.echo(f"wrote {result.snapshot_path} ({summary}) in {time.perf_counter() - started:.1f}s")
    click.echo(f"ground truth: {result.truth_path}")


def _generator(name: str):
    try:
        from hubspot_sandbox import generator
    except ImportError as err:
        raise HandoffError(f"the portal generator is not available ({redact(str(err))}); serve a --snapshot instead") from None
    return getattr(generator, name)
