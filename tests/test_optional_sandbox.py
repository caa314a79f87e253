"""The sandbox is an optional part: a plain install of the pipeline has none of it and needs none of it.

A plain install is imitated by a ``sitecustomize`` that makes ``hubspot_sandbox``, FastAPI and uvicorn
unimportable in the ``handoff`` process and every process it starts; the wheel itself is built and read.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from hubspot_sandbox.generator import generate_portal
from hubspot_sandbox.portal import Portal
from hubspot_sandbox.ratelimit import RateLimits
from hubspot_sandbox.server import run_in_thread

pytestmark = pytest.mark.xdist_group("end_to_end")

REPO = Path(__file__).resolve().parents[1]
BLOCKER = '''
import importlib.abc, sys
class _NotInstalled(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("hubspot_sandbox", "fastapi", "uvicorn"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None
sys.meta_path.insert(0, _NotInstalled())
'''


def _plain_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    site = tmp_path / "plain_site"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(BLOCKER)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUBSPOT_", "HANDOFF_", "SLACK_"))}
    env.update(PYTHONPATH=str(site), HANDOFF_DB=str(tmp_path / "data" / "handoff.duckdb"),
               DAGSTER_HOME=str(tmp_path / "dagster"), **extra)
    return env


def _handoff(args: list[str], env: dict[str, str], cwd: Path, timeout: int = 420) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipeline.cli", *args], env=env, capture_output=True, text=True,
                          timeout=timeout, cwd=cwd)


def test_the_blocker_really_hides_the_sandbox(tmp_path):
    probe = subprocess.run([sys.executable, "-c", "import hubspot_sandbox"], env=_plain_env(tmp_path),
                           capture_output=True, text=True)
    assert probe.returncode == 1
    assert "No module named 'hubspot_sandbox'" in probe.stderr


@pytest.mark.parametrize("args", [["run"], ["sandbox", "generate", "--contacts", "10", "--seed", "1", "--out", "p.json"],
                                  ["routing", "test", "--snapshot", "p.json"]])
def test_asking_for_the_sandbox_without_it_is_one_line(tmp_path, args):
    done = _handoff(args, _plain_env(tmp_path), tmp_path, timeout=120)
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert lines == [
        "error: the embedded HubSpot sandbox is not installed (it is the optional `sandbox` extra): "
        "pip install 'hubspot-lead-handoff[sandbox]' (make demo / make test install it), "
        "or set HUBSPOT_ACCESS_TOKEN to use a real portal"
    ]


def test_a_plain_install_runs_against_a_token(tmp_path):
    data, _truth = generate_portal(contacts=150, seed=5)
    portal_now = data["portal"]["now"]
    with run_in_thread(Portal.from_snapshot(data), token="plain-install-token",
                       limits=RateLimits.unlimited()) as handle:
        env = _plain_env(tmp_path, HUBSPOT_ACCESS_TOKEN=handle.token, HUBSPOT_API_BASE=handle.base_url,
                         HANDOFF_NOW=portal_now)
        done = _handoff(["run"], env, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "not installed" not in done.stdout + done.stderr
    assert "plain-install-token" not in done.stdout + done.stderr
    assert (tmp_path / "data" / "handoff.published.duckdb").exists()


def test_the_wheel_leaves_the_sandbox_out(tmp_path):
    uv = shutil.which("uv") or str(REPO / ".uv-bootstrap/bin/uv")  # make installs with one or the other
    subprocess.run([uv, "build", "--wheel", "-q", "-o", str(tmp_path), str(REPO)], check=True, timeout=300)
    (wheel,) = tmp_path.glob("hubspot_lead_handoff-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        metadata = zf.read(next(n for n in names if n.endswith("/METADATA"))).decode()
    assert not [n for n in names if n.startswith("hubspot_sandbox/")]
    assert "pipeline/sandbox_import.py" in names
    requires = [line for line in metadata.splitlines() if line.startswith("Requires-Dist:")]
    assert "Requires-Dist: hubspot-sandbox; extra == 'sandbox'" in requires
    assert not [r for r in requires if "fastapi" in r or "uvicorn" in r]


def test_the_installed_code_imports_no_private_dagster_module():
    """Private Dagster modules (``dagster._core`` and the like) change without notice between releases."""
    import ast

    offenders = []
    for package in ("pipeline", "assets"):
        for path in sorted((REPO / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
                names = ([node.module or ""] if isinstance(node, ast.ImportFrom)
                         else [alias.name for alias in node.names] if isinstance(node, ast.Import) else [])
                offenders += [f"{path.relative_to(REPO)}: {name}" for name in names
                              if name.startswith("dagster") and any(part.startswith("_") for part in name.split("."))]
    assert offenders == []
