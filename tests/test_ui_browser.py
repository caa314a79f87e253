"""Real-browser checks in headless Chromium: the Dagster UI lists the assets, schedules and the SLA sensor, and
the offline report renders its charts with every network request blocked.

Needs /usr/bin/chromium (Debian: `apt-get install -y chromium`, which .ci/run does; another binary:
HANDOFF_CHROMIUM). Without it these tests skip and say so, except under CI=true, where they fail: CI must prove
the UI and the report render.
Screenshots go to a temp dir, or to HANDOFF_SCREENSHOTS_DIR (e.g. `docs`) to refresh the ones in docs/.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import dagster as dg
import pytest
from click.testing import CliRunner

CHROMIUM = Path(os.environ.get("HANDOFF_CHROMIUM", "/usr/bin/chromium"))
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
REPO = Path(__file__).resolve().parents[1]
# the sensors the Automation page must list: add a sensor here when you add one to the definitions
SENSORS = ("new_mql_sensor", "overdue_mql_sensor", "stale_run_sensor")

MISSING = (f"headless Chromium not found at {CHROMIUM}: `apt-get install -y chromium` (or set HANDOFF_CHROMIUM) "
           "to run the browser checks")
IN_CI = os.environ.get("CI", "").strip().lower() == "true"

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]


@pytest.fixture(scope="module", autouse=True)
def _needs_chromium():
    """Skip without Chromium on a developer's machine; under CI=true a missing browser is a failure."""
    if not CHROMIUM.exists():
        if IN_CI:
            pytest.fail(f"CI=true: {MISSING}", pytrace=False)
        pytest.skip(MISSING)


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory) -> Path:
    target = os.environ.get("HANDOFF_SCREENSHOTS_DIR", "").strip()
    path = Path(target) if target else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        chromium.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _location_status(base: str) -> str | None:
    """The code location's load status from the webserver's GraphQL API (None while it does not answer)."""
    query = b'{"query": "{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus } } } }"}'
    request = urllib.request.Request(base + "/graphql", data=query, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            entries = json.load(response)["data"]["workspaceOrError"]["locationEntries"]
    except (OSError, KeyError, TypeError, ValueError):
        return None
    return next((e["loadStatus"] for e in entries if e["name"] == "hubspot_lead_handoff"), None)


@pytest.fixture(scope="module")
def webserver(tmp_path_factory):
    """dagster-webserver on pipeline/definitions.py (workspace.yaml), a free port and a temp DAGSTER_HOME."""
    home = tmp_path_factory.mktemp("dagster_home")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("HUBSPOT_ACCESS_TOKEN", "HANDOFF_SCHEDULES")}
    env.update(DAGSTER_HOME=str(home), HANDOFF_DB=str(home / "handoff.duckdb"), DAGSTER_DISABLE_TELEMETRY="1")
    log = (home / "webserver.log").open("w")
    proc = subprocess.Popen(
        [str(Path(sys.executable).with_name("dagster-webserver")), "-w", "workspace.yaml", "-h", "127.0.0.1",
         "-p", str(port)],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    status = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"dagster-webserver exited early: {(home / 'webserver.log').read_text()[-2000:]}")
        status = _location_status(base)
        if status == "LOADED":
            break
        time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail(f"the code location did not load within 180 s (last status {status})")
    yield base
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


from playwright.sync_api import TimeoutError as PlaywrightTimeout  # noqa: E402


def _open(context, url: str, *, first: bool = False):
    page = context.new_page()
    page.goto(url)
    page.wait_for_load_state("networkidle")
    skip = page.get_by_role("button", name="Skip")
    try:  # the first-visit community / newsletter dialog; dismissed once per browser context
        skip.first.click(timeout=3_000 if first else 500)
    except PlaywrightTimeout:
        pass
    return page


def test_dagster_ui_lists_assets_schedules_and_sensor(browser, webserver, screenshots):
    from pipeline.definitions import defs

    graph = defs.resolve_asset_graph()
    keys = [k for k in graph.get_all_asset_keys() if graph.get(k).is_materializable]
    groups = {graph.get(k).group_name for k in keys}
    assert dg.AssetKey(["reports", "handoff_report"]) in keys

    # tall enough that the virtualised asset list renders every row
    context = browser.new_context(viewport={"width": 1400, "height": 400 + 90 * len(keys)})
    page = _open(context, webserver + "/assets", first=True)
    page.get_by_text("Never materialized").first.wait_for(timeout=90_000)
    body = page.inner_text("body")
    missing = [k.to_user_string() for k in keys if " / ".join(k.path) not in body]
    assert missing == [], f"assets not listed in the UI: {missing}"
    assert all(group in body for group in groups), groups

    page.set_viewport_size({"width": 1400, "height": 900})
    page = _open(context, webserver + "/automation")
    page.set_viewport_size({"width": 1400, "height": 720})
    sensors = sorted(sensor.name for sensor in defs.sensors)
    assert sensors == sorted(SENSORS), "a sensor was added or removed: update SENSORS"
    page.get_by_text(SENSORS[0]).first.wait_for(timeout=60_000)
    page.get_by_text("02:30 AM UTC").first.wait_for(timeout=30_000)  # schedule details load after the list
    body = page.inner_text("body")
    for name in ("hourly_sync_schedule", "nightly_reconcile_schedule", *SENSORS):
        assert name in body, name
    assert "Every hour" in body and "02:30 AM UTC" in body
    page.screenshot(path=str(screenshots / "dagster-automation.png"))

    page = _open(context, webserver + "/locations/hubspot_lead_handoff/asset-groups/marts")
    page.set_viewport_size({"width": 1400, "height": 900})
    page.get_by_text("speed_to_lead").first.wait_for(timeout=60_000)
    page.wait_for_timeout(1_500)  # the graph lays itself out
    page.screenshot(path=str(screenshots / "dagster-marts-lineage.png"))
    context.close()


def test_report_renders_charts_offline(browser, tmp_path, monkeypatch, screenshots):
    from pipeline.cli import cli
    from tests.fixtures.report_db import NOW, build_db

    monkeypatch.setenv("HANDOFF_NOW", NOW)
    build_db(tmp_path / "handoff.published.duckdb")
    out = tmp_path / "report.html"
    assert CliRunner().invoke(cli, ["report", "--out", str(out), "--quiet"]).exit_code == 0

    page = browser.new_page(viewport={"width": 1200, "height": 900})
    remote, errors = [], []
    page.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file:")
               else (remote.append(route.request.url), route.abort()))
    page.on("pageerror", lambda err: errors.append(str(err)))
    page.goto(out.as_uri())
    page.wait_for_function("document.body.dataset.chartsRendered || document.body.dataset.chartsError",
                           timeout=30_000)
    assert page.evaluate("document.body.dataset.chartsError") is None
    assert page.evaluate("document.body.dataset.chartsRendered") == "4"
    # each chart drew its marks: the trend's 3 cells, 3 reps' boxes and ticks, 5 conversion bars, the funnel
    assert page.locator("#chart-sla-trend svg .mark-rect.role-mark path").count() == 3  # week x team cells
    assert page.locator("#chart-response-by-rep svg .mark-rect.role-mark path").count() == 6  # boxes + median ticks
    assert page.locator("#chart-conversion-by-response svg .mark-rect.role-mark path").count() == 5
    assert page.locator("#chart-funnel-by-quarter svg .mark-line.role-mark path").count() == 4  # one per step
    assert page.locator("#chart-funnel-by-quarter svg .mark-rect.role-mark path").count() == 2  # benchmark bands
    assert remote == [] and errors == []
    page.screenshot(path=str(screenshots / "report.png"), full_page=True)
