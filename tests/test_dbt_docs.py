"""README's "browse the lineage" recipe: dbt's docs site generates on a database the pipeline built, with every
mart's columns (from the database: catalog.json) and their yml descriptions and the lineage (manifest.json)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from pipeline.modeling.raw_columns import project_dir
from tests.fixtures.raw_tables import build_marts

NOW = "2024-03-06T14:00:00Z"


def test_dbt_docs_generate_on_a_built_database(raw_portal, tmp_path):
    raw_portal.owner("101", team="EMEA")
    raw_portal.contact("c1", lifecycle=[("2024-03-01T00:00:00Z", "lead"), ("2024-03-05T14:00:00Z", "marketingqualifiedlead")],
                       owners=[("2024-03-01T00:00:00Z", "101")])
    build_marts(raw_portal, NOW)
    db = raw_portal.con.path
    site = tmp_path / "site"  # README's command writes sql/target; here a private target path, nothing else differs
    done = subprocess.run([str(Path(sys.executable).with_name("dbt")), "docs", "generate", "--profiles-dir", ".",
                           "--target-path", str(site)], cwd=project_dir(), capture_output=True, text=True,
                          env={**os.environ, "HANDOFF_DB": str(Path(db).resolve())}, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (site / "index.html").exists()
    catalog = json.loads((site / "catalog.json").read_text())
    manifest = json.loads((site / "manifest.json").read_text())
    table = catalog["nodes"]["model.handoff.speed_to_lead"]
    assert table["metadata"]["schema"] == "marts" and table["metadata"]["type"] == "BASE TABLE"
    assert {"contact_id", "mql_at", "sla_status", "first_touch_at"} <= set(table["columns"])
    node = manifest["nodes"]["model.handoff.speed_to_lead"]
    assert set(node["columns"]) == set(table["columns"])  # every column the table has is described in yml ...
    assert all(c["description"] for c in node["columns"].values())  # ... with a description
    assert "model.handoff.mql_episodes" in manifest["parent_map"]["model.handoff.speed_to_lead"]  # the lineage
    assert "source.handoff.hubspot.contacts" in manifest["parent_map"]["model.handoff.contacts"]
