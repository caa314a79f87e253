"""The outbox and Slack delivery against a local capture server: one row per (mql_id, step), Block Kit posts,
retries with back-off on 500s, refused connections retried, ambiguous failures never re-sent."""

from __future__ import annotations

import socket
from datetime import datetime, timedelta, timezone

import duckdb
import pytest

from pipeline.alerts import outbox
from pipeline.alerts.slack import SlackWebhookSender, deliver
from pipeline.sla.ops_tables import ensure_ops_tables
from tests.fixtures.enforcement import SlackCapture

NOW = datetime(2026, 11, 2, 15, 0, tzinfo=timezone.utc)
BRIEF = {"title": "SLA missed: no outreach yet", "contact": {"name": "Dana Demo", "company": "Acme Inc"},
         "sla": {"due_at": "2026-11-02T13:00:00.000Z"}, "link": "https://app.hubspot.com/contacts/1/record/0-1/7"}
BLOCKS = [{"type": "section", "text": {"type": "mrkdwn", "text": "hello"}},
          {"type": "context", "elements": [{"type": "mrkdwn", "text": "MQL `7:1` · step `manager_escalation`"}]}]


@pytest.fixture
def con(tmp_path):
    connection = duckdb.connect(str(tmp_path / "lane.duckdb"))  # catalog "lane": ops.* and lane.ops.* both resolve
    ensure_ops_tables(connection)
    yield connection
    connection.close()


@pytest.fixture
def slack():
    capture = SlackCapture().start()
    yield capture
    capture.stop()


def _enqueue(con, mql_id="7:1", step="manager_escalation", created=NOW) -> bool:
    return outbox.enqueue(con, mql_id=mql_id, step=step, contact_id="7", recipient="na.manager@sandbox.example",
                          recipient_owner_id=None, brief=BRIEF, blocks=BLOCKS, now=created)


def _row(con, alert="7:1:manager_escalation"):
    return con.execute("SELECT status, attempts, last_error FROM ops.alerts WHERE alert_id = ?", [alert]).fetchone()


def test_outbox_keeps_one_row_per_episode_and_step(con):
    assert _enqueue(con) is True
    assert _enqueue(con) is False
    assert _enqueue(con, step="reassignment") is True
    assert con.execute("SELECT alert_id, status, attempts FROM ops.alerts ORDER BY 1").fetchall() == [
        ("7:1:manager_escalation", "pending", 0), ("7:1:reassignment", "pending", 0)]
    with pytest.raises(duckdb.ConstraintException):
        con.execute("INSERT INTO ops.alerts (alert_id, mql_id, step, contact_id, brief, blocks, status, created_at) "
                    "VALUES ('other', '7:1', 'reassignment', '7', '{}', '[]', 'pending', now())")


def test_delivery_posts_block_kit_once(con, slack):
    _enqueue(con)
    report = deliver(con, SlackWebhookSender(slack.url), now=lambda: NOW)
    assert report.as_dict() == {"delivered": 1, "failed": 0, "uncertain": 0, "not_sent": 0, "attempts": 1}
    assert slack.posts == [{"text": "SLA missed: no outreach yet: Dana Demo (Acme Inc), SLA due "
                                    "2026-11-02T13:00:00.000Z. https://app.hubspot.com/contacts/1/record/0-1/7",
                            "blocks": BLOCKS}]
    assert _row(con) == ("delivered", 1, None)
    deliver(con, SlackWebhookSender(slack.url), now=lambda: NOW)  # a second pass finds nothing to send
    assert len(slack.posts) == 1


def test_500s_are_retried_with_doubling_backoff_until_accepted(con, slack):
    slack.fail_first = 3
    _enqueue(con)
    waits: list[float] = []
    report = deliver(con, SlackWebhookSender(slack.url), now=lambda: NOW, backoff_s=0.5, sleep=waits.append)
    assert waits == [0.5, 1.0, 2.0]
    assert report.delivered == ["7:1:manager_escalation"] and report.attempts == 4
    assert _row(con) == ("delivered", 4, None) and len(slack.posts) == 1


def test_failed_alerts_older_than_the_retry_horizon_are_left_alone(con, slack):
    slack.fail_first = 100
    _enqueue(con, created=NOW - timedelta(hours=30))
    report = deliver(con, SlackWebhookSender(slack.url), now=lambda: NOW, sleep=lambda s: None)
    assert report.attempts == 0 and _row(con) == ("pending", 0, None)


def test_refused_connection_is_retried_but_a_timeout_is_never_resent(con):
    free = socket.socket()
    free.bind(("127.0.0.1", 0))
    port = free.getsockname()[1]
    free.close()  # nothing listens: connection refused, nothing was sent
    _enqueue(con)
    report = deliver(con, SlackWebhookSender(f"http://127.0.0.1:{port}/hook"), now=lambda: NOW,
                     attempts_per_pass=2, sleep=lambda s: None)
    status, attempts, error = _row(con)
    assert (status, attempts) == ("failed", 2) and error.startswith("connection refused")
    assert report.failed == ["7:1:manager_escalation"]

    silent = socket.socket()  # accepts the POST but never answers: Slack may have it
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)
    try:
        _enqueue(con, mql_id="8:1")
        sender = SlackWebhookSender(f"http://127.0.0.1:{silent.getsockname()[1]}/hook", timeout_s=1)
        report = deliver(con, sender, now=lambda: NOW, alert_ids=["8:1:manager_escalation"], sleep=lambda s: None)
    finally:
        silent.close()
    assert report.uncertain == ["8:1:manager_escalation"]
    status, attempts, error = _row(con, "8:1:manager_escalation")
    assert (status, attempts) == ("uncertain", 1) and error.startswith("timed out waiting for Slack")
    assert outbox.due_for_delivery(con, NOW - timedelta(days=1), ["8:1:manager_escalation"]) == []


def test_without_a_webhook_the_alert_stays_in_the_outbox(con):
    _enqueue(con)
    report = deliver(con, None, now=lambda: NOW)
    assert report.not_sent == ["7:1:manager_escalation"]
    assert _row(con) == ("not_sent", 0, "SLACK_WEBHOOK_URL is not set: the alert is kept in ops.alerts only")
