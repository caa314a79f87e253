"""The models' step says where its time went, each on its own line of the run's log: dbt's own start-up
(import, parse, the invocation up to its first node) beside the nodes and the models' own build time, and the
Great Expectations checks beside GX's import (issue #16: a mart on demand is its build time plus a few seconds)."""

from __future__ import annotations

import re
import time

import dagster as dg

from assets.models import GX_BY_KEY, materialize_models
from pipeline.modeling import dbt_run
from pipeline.modeling.project import target_path
from tests.fixtures.raw_tables import ReleasableConnection

NOW = "2024-03-06T14:00:00Z"
DBT_LINE = re.compile(r"dbt start-up (?P<startup>[\d.]+)s \(import (?P<imp>[\d.]+)s, parse (?P<parse>[\d.]+)s, "
                      r"invocation to first node (?P<invoke>[\d.]+)s\); nodes (?P<nodes>[\d.]+)s, of which the "
                      r"models' own build (?P<models>[\d.]+)s; dbt call (?P<call>[\d.]+)s$")
GX_LINE = re.compile(r"great expectations: (?P<n>\d+) checks in (?P<checks>[\d.]+)s "
                     r"\(GX's import and context before them (?P<load>[\d.]+)s\)$")
BUILT = re.compile(r"dbt: (?P<key>\S+) built in (?P<s>[\d.]+)s$")


def _run_log(raw_portal, monkeypatch) -> tuple[list[str], str, float]:
    p = raw_portal
    p.owner("101", team="EMEA")
    p.contact("c1", lifecycle=[("2024-03-01T00:00:00Z", "lead"), ("2024-03-05T14:00:00Z", "marketingqualifiedlead")],
              owners=[("2024-03-01T00:00:00Z", "101")])
    p.complete_load()
    assert isinstance(p.con, ReleasableConnection)
    path = p.con.path
    p.con.release()
    monkeypatch.setenv("HANDOFF_NOW", NOW)
    # this process parses again (an earlier test in this worker may have parsed for a database of the same name)
    monkeypatch.setattr(dbt_run, "_MANIFESTS", {})
    started = time.time()
    with dg.DagsterInstance.ephemeral() as instance:
        result = materialize_models(path, instance=instance)
        assert result.success
        return [e.user_message for e in instance.all_logs(result.run_id) if e.dagster_event is None], path, started


def test_the_step_logs_dbt_start_up_and_the_checks_on_their_own_lines(raw_portal, monkeypatch):
    lines, path, started = _run_log(raw_portal, monkeypatch)
    dbt = [m.groupdict() for line in lines if (m := DBT_LINE.match(line))]
    assert len(dbt) == 1, lines
    t = {k: float(v) for k, v in dbt[0].items()}
    # start-up is its parts; start-up and the nodes fit in the whole call (2-decimal rounding)
    assert abs(t["startup"] - (t["imp"] + t["parse"] + t["invoke"])) <= 0.02
    assert t["startup"] + t["nodes"] <= t["call"] + 0.02
    assert t["startup"] > 0 and t["nodes"] > 0
    # the models' own build is the sum of the per-model lines, and part of the nodes' span
    per_model = [float(m["s"]) for line in lines if (m := BUILT.match(line))]
    assert per_model and abs(t["models"] - sum(per_model)) <= 0.01 * len(per_model) + 0.01
    assert t["models"] <= t["nodes"] + 0.02  # one dbt thread (sql/profiles.yml): the models run one after another
    gx = [m.groupdict() for line in lines if (m := GX_LINE.match(line))]
    assert len(gx) == 1 and int(gx[0]["n"]) == len(GX_BY_KEY), lines
    # the step's parse writes no manifest.json (--no-write-json): the build does, beside the partial parse
    target = target_path(path)
    assert (target / "partial_parse.msgpack").exists()
    assert (target / "manifest.json").stat().st_mtime >= started - 1
