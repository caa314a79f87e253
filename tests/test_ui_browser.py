"""Real-browser checks in headless Chromium: the Dagster UI shows a real `hourly_sync` run (the asset graph,
the `marts/speed_to_lead` materialization and each of its checks with its result), lists the schedules and every
sensor, and the offline report renders its charts with every network request blocked.

The run is the job the hourly schedule targets, executed on the sandbox's small portal (tests/fixtures/sandbox.py)
into a persistent DAGSTER_HOME that the webserver then reads. Names (assets, checks, sensors, schedules) come from
the Definitions, so the test follows them when they change.

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
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest
from click.testing import CliRunner
from pipeline.workspace import LOCATIONS

CHROMIUM = Path(os.environ.get("HANDOFF_CHROMIUM", "/usr/bin/chromium"))
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
REPO = Path(__file__).resolve().parents[1]
SPEED_TO_LEAD = dg.AssetKey(["marts", "speed_to_lead"])
# episodes in marts/speed_to_lead for the small portal: ada (contact 1) and erin (contact 5), its two MQLs
SMALL_PORTAL_EPISODES = 2

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
    """Both code locations' load status from the webserver's GraphQL API: LOADED once both are (None while it
    does not answer)."""
    query = b'{"query": "{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus } } } }"}'
    request = urllib.request.Request(base + "/graphql", data=query, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            entries = json.load(response)["data"]["workspaceOrError"]["locationEntries"]
    except (OSError, KeyError, TypeError, ValueError):
        return None
    status = {e["name"]: e["loadStatus"] for e in entries}
    wanted = [status.get(name) for name, _module in LOCATIONS]
    return "LOADED" if wanted == ["LOADED"] * len(LOCATIONS) else str(wanted)


@dataclass(frozen=True)
class HourlyRun:
    home: Path  # the persistent DAGSTER_HOME the run was recorded in (the webserver reads it)
    run_id: str
    check_results: dict[dg.AssetCheckKey, bool]  # what the run's check evaluations said


@pytest.fixture(scope="module")
def hourly_run(tmp_path_factory) -> HourlyRun:
    """The job the hourly schedule targets, run once for real on the small sandbox portal, recorded in a
    persistent DAGSTER_HOME set up as `handoff run` sets it up (the project's dagster.yaml). Tests ask for it
    (through ``webserver``) before ``browser``: the run must not start inside Playwright's event loop."""
    from hubspot_sandbox.portal import Portal
    from hubspot_sandbox.ratelimit import RateLimits
    from hubspot_sandbox.server import run_in_thread

    from pipeline.definitions import build_definitions
    from pipeline.runner import ensure_dagster_home
    from pipeline.settings import temporary_env
    from tests.fixtures.sandbox import SANDBOX_TOKEN, small_portal_snapshot

    home = tmp_path_factory.mktemp("dagster_home")
    snapshot = small_portal_snapshot()
    with run_in_thread(Portal.from_snapshot(snapshot), token=SANDBOX_TOKEN, limits=RateLimits.unlimited()) as sandbox:
        env: dict[str, str | None] = {
            "DAGSTER_HOME": str(home), "HANDOFF_DB": str(home / "handoff.duckdb"), "DAGSTER_DISABLE_TELEMETRY": "1",
            "HUBSPOT_API_BASE": sandbox.base_url, "HUBSPOT_ACCESS_TOKEN": sandbox.token,
            "HANDOFF_NOW": snapshot["portal"]["now"], "HANDOFF_POLICY": None, "SLACK_WEBHOOK_URL": None,
        }
        with temporary_env(env):
            ensure_dagster_home()
            defs = build_definitions()  # resources from this environment: the sandbox, this run's database
            schedule = next(s for s in defs.schedules if s.name == "hourly_sync_schedule")
            job = defs.resolve_job_def(schedule.job_name)
            with dg.DagsterInstance.get() as instance:
                result = job.execute_in_process(instance=instance, raise_on_error=False)
    failed = [event.step_key for event in result.all_events if event.is_step_failure]
    assert result.success, f"the {schedule.job_name} run failed at {failed}"
    checks = {dg.AssetCheckKey(e.asset_key, e.check_name): e.passed for e in result.get_asset_check_evaluations()}
    return HourlyRun(home=home, run_id=result.run_id, check_results=checks)


@pytest.fixture(scope="module")
def webserver(hourly_run):
    """dagster-webserver on pipeline/definitions.py (workspace.yaml), a free port and the hourly run's DAGSTER_HOME."""
    home = hourly_run.home
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("HUBSPOT_ACCESS_TOKEN", "HUBSPOT_API_BASE",
                                                            "HANDOFF_SCHEDULES")}
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


def test_dagster_ui_lists_assets_schedules_and_sensors(webserver, browser, screenshots):
    from pipeline.definitions import defs
    from pipeline.lane_definitions import defs as lane_defs

    graph = defs.resolve_asset_graph()
    keys = [k for k in graph.get_all_asset_keys() if graph.get(k).is_materializable]
    groups = {graph.get(k).group_name for k in keys}
    assert dg.AssetKey(["reports", "handoff_report"]) in keys and SPEED_TO_LEAD in keys

    # tall enough that the virtualised asset list renders every row
    context = browser.new_context(viewport={"width": 1400, "height": 400 + 90 * len(keys)})
    page = _open(context, webserver + "/assets", first=True)
    page.get_by_text(" / ".join(SPEED_TO_LEAD.path)).first.wait_for(timeout=90_000)
    body = page.inner_text("body")
    missing = [k.to_user_string() for k in keys if " / ".join(k.path) not in body]
    assert missing == [], f"assets not listed in the UI: {missing}"
    assert all(group in body for group in groups), groups

    page.set_viewport_size({"width": 1400, "height": 900})
    page = _open(context, webserver + "/automation")
    page.set_viewport_size({"width": 1400, "height": 720})
    sensors = sorted(sensor.name for sensor in (*defs.sensors, *lane_defs.sensors))  # both code locations
    schedules = sorted(schedule.name for schedule in defs.schedules)
    assert "new_mql_sensor" in sensors and "stale_run_sensor" in sensors and len(sensors) >= 3, sensors
    page.get_by_text(sensors[0]).first.wait_for(timeout=60_000)
    page.get_by_text("02:30 AM UTC").first.wait_for(timeout=30_000)  # schedule details load after the list
    body = page.inner_text("body")
    missing = [name for name in (*schedules, *sensors) if name not in body]
    assert missing == [], f"schedules or sensors not listed on the Automation page: {missing}"
    assert "Every hour" in body and "02:30 AM UTC" in body  # the default crons, 0 * * * * and 30 2 * * *
    page.screenshot(path=str(screenshots / "dagster-automation.png"))
    context.close()


def test_dagster_ui_shows_speed_to_lead_materialization_and_checks(hourly_run, webserver, browser, screenshots):
    """The hourly run's materialization of marts/speed_to_lead (run id, row count) and each of its checks,
    by the name and description the definitions give it, with the result the run recorded: passed."""
    from pipeline.definitions import defs

    graph = defs.resolve_asset_graph()
    check_keys = sorted((k for k in graph.asset_check_keys if k.asset_key == SPEED_TO_LEAD), key=lambda k: k.name)
    assert check_keys, "marts/speed_to_lead has no asset checks in the definitions"
    # the run evaluated every check, and every one passed on the small portal's clean data
    assert {k.name: hourly_run.check_results.get(k) for k in check_keys} == {k.name: True for k in check_keys}
    asset_path = webserver + "/assets/" + "/".join(SPEED_TO_LEAD.path)
    context = browser.new_context(viewport={"width": 1400, "height": 1000})

    # the asset graph: every marts node, speed_to_lead's with all its checks passed
    marts = sorted(k.path[-1] for k in graph.get_all_asset_keys()
                   if graph.get(k).is_materializable and graph.get(k).group_name == "marts")
    page = _open(context, webserver + "/locations/hubspot_lead_handoff/asset-groups/marts/lineage", first=True)
    page.set_viewport_size({"width": 1400, "height": 2200})  # the group's graph with its upstream staging models
    page.get_by_text(f"{len(check_keys)} / {len(check_keys)} Passed").first.wait_for(timeout=60_000)
    page.wait_for_timeout(1_500)  # the graph lays itself out
    page.screenshot(path=str(screenshots / "dagster-marts-lineage.png"))
    body = page.inner_text("body")
    assert [name for name in marts if name not in body] == [], marts
    page.set_viewport_size({"width": 1400, "height": 1000})

    # the materialization event: this run, and the mart's two episodes
    page = _open(context, asset_path + "?view=events")
    page.get_by_text(f"Materialized in run {hourly_run.run_id[:8]}").first.wait_for(timeout=60_000)
    row_count = page.locator("tr", has_text="dagster/row_count").first.inner_text().split()
    assert row_count == ["dagster/row_count", str(SMALL_PORTAL_EPISODES)], row_count
    assert "marts.speed_to_lead" in page.locator("tr", has_text="dagster/table_name").first.inner_text()

    # the checks tab: one row per check with its status, and each check's own page says Passed
    page = _open(context, asset_path + "?view=checks")
    page.get_by_text(f"Checks ({len(check_keys)})").first.wait_for(timeout=60_000)
    for key in check_keys:
        row = page.locator(f'[title="{key.name}"]').first
        assert row.locator("xpath=following-sibling::span[1]").inner_text() == "Succeeded", key.name
        row.click()  # the check's own page opens beside the list: its description says it is this one's
        description = graph.get_check_spec(key).description
        assert description, key.name
        page.get_by_text(description, exact=True).first.wait_for(timeout=30_000)
        text = page.inner_text("body")
        assert "This is a blocking asset check." in text, key.name
        assert "Evaluation result\nPassed" in text, (key.name, text[-1500:])
    page.screenshot(path=str(screenshots / "dagster-speed-to-lead-checks.png"))
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
