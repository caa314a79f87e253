"""Which episodes the SLA sensor chases: hand-made published copy, expected run keys stated literally."""

from __future__ import annotations

from datetime import datetime, timezone

import duckdb

from pipeline.policy import load_policy
from pipeline.sla.sensor import evaluate

NOW = datetime(2026, 11, 2, 15, 0, tzinfo=timezone.utc)


def test_an_opened_deal_stops_the_ladder_like_status_does(tmp_path):
    db = tmp_path / "handoff.published.duckdb"
    con = duckdb.connect(str(db))
    con.execute("CREATE SCHEMA marts; CREATE SCHEMA hubspot")
    con.execute("""CREATE TABLE marts.speed_to_lead (mql_id VARCHAR, contact_id VARCHAR, mql_at TIMESTAMPTZ,
                   sla_minutes INTEGER, first_touch_at TIMESTAMPTZ, opportunity_at TIMESTAMPTZ)""")
    con.execute("""CREATE TABLE hubspot.contacts (id VARCHAR, lifecyclestage VARCHAR, archived BOOLEAN,
                   merged_into_id VARCHAR)""")
    # both demo requests went untouched for 90 minutes (1.5x the 60 min SLA): manager escalation due
    con.execute("""INSERT INTO marts.speed_to_lead VALUES
        ('1:1793628000000', '1', '2026-11-02 13:30:00+00', 60, NULL, NULL),
        ('2:1793628000000', '2', '2026-11-02 13:30:00+00', 60, NULL, '2026-11-02 14:00:00+00')""")
    con.execute("""INSERT INTO hubspot.contacts VALUES
        ('1', 'marketingqualifiedlead', false, NULL), ('2', 'marketingqualifiedlead', false, NULL)""")
    con.close()
    result = evaluate(None, load_policy(), NOW, db)
    assert [r.run_key for r in result.run_requests] == ["1:1793628000000:manager_escalation"]


def test_sensor_interval_from_the_environment(monkeypatch):
    import pytest

    from pipeline.errors import ConfigError
    from pipeline.sla.sensor import interval_seconds

    assert interval_seconds() == 60
    monkeypatch.setenv("HANDOFF_SENSOR_INTERVAL_SECONDS", "300")
    assert interval_seconds() == 300
    monkeypatch.setenv("HANDOFF_SENSOR_INTERVAL_SECONDS", "5m")
    with pytest.raises(ConfigError, match="HANDOFF_SENSOR_INTERVAL_SECONDS='5m' must be a whole number of seconds"):
        interval_seconds()
