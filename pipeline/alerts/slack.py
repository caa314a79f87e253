"""Slack delivery of outbox rows via an incoming webhook (slack-sdk ``WebhookClient``), retried with back-off.

Exactly once, as far as an HTTP webhook allows: each attempt is committed (``sending``, attempts + 1) before
the POST; a definite refusal (an HTTP error status, or a connection refused before anything was sent) is
retried with exponential back-off; an ambiguous failure (timeout, connection dropped mid-request) is marked
``uncertain`` and never re-sent, so nobody gets the same alert twice.
"""

from __future__ import annotations

import socket
import time
import urllib.error
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from slack_sdk.webhook import WebhookClient

from pipeline.alerts import outbox
from pipeline.brief import slack_text


@dataclass(frozen=True)
class SendResult:
    ok: bool
    retriable: bool  # False with ok=False: the outcome is unknown (never retry)
    error: str | None = None


def _refused(err: BaseException) -> bool:
    reason = getattr(err, "reason", err)
    return isinstance(reason, ConnectionRefusedError) or isinstance(err, ConnectionRefusedError)


class SlackWebhookSender:
    """POSTs one Block Kit message; never retries by itself (the caller counts attempts)."""

    def __init__(self, webhook_url: str, timeout_s: int = 10):
        self._client = WebhookClient(webhook_url, timeout=timeout_s, retry_handlers=[])

    def send(self, text: str, blocks: list[dict]) -> SendResult:
        try:
            response = self._client.send(text=text, blocks=blocks)
        except (urllib.error.URLError, OSError) as err:
            if _refused(err):
                return SendResult(False, True, f"connection refused: {err}")
            if isinstance(err, (socket.timeout, TimeoutError)) or isinstance(getattr(err, "reason", None), TimeoutError):
                return SendResult(False, False, f"timed out waiting for Slack: {err}")
            return SendResult(False, False, f"connection failed mid-request: {err}")
        if 200 <= response.status_code < 300:
            return SendResult(True, False)
        body = (response.body or "")[:200]
        return SendResult(False, True, f"Slack answered HTTP {response.status_code}: {body}")


@dataclass
class DeliveryReport:
    delivered: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    uncertain: list[str] = field(default_factory=list)
    not_sent: list[str] = field(default_factory=list)
    attempts: int = 0

    def as_dict(self) -> dict:
        return {"delivered": len(self.delivered), "failed": len(self.failed), "uncertain": len(self.uncertain),
                "not_sent": len(self.not_sent), "attempts": self.attempts}


RETRY_HORIZON = timedelta(hours=24)


def deliver(
    con, sender: SlackWebhookSender | None, *, now: Callable[[], datetime], alert_ids: list[str] | None = None,
    attempts_per_pass: int = 5, backoff_s: float = 0.5, max_backoff_s: float = 30.0,
    sleep: Callable[[float], None] = time.sleep, retry_horizon: timedelta = RETRY_HORIZON,
) -> DeliveryReport:
    """Deliver pending/failed outbox rows (all, or ``alert_ids``): each is sent at most once.

    A refused attempt is retried after ``backoff_s``, doubling, up to ``attempts_per_pass`` in this pass; a row
    still ``failed`` is tried again by the next pass (every enforcement run ends with one) while it is younger
    than ``retry_horizon``.
    """
    report = DeliveryReport()
    for alert in outbox.due_for_delivery(con, now() - retry_horizon, alert_ids):
        if sender is None:
            outbox.mark_not_sent(con, alert, "SLACK_WEBHOOK_URL is not set: the alert is kept in ops.alerts only")
            report.not_sent.append(alert)
            continue
        delay = backoff_s
        for attempt in range(1, attempts_per_pass + 1):
            if not outbox.claim(con, alert):
                break
            row = outbox.get(con, alert)
            report.attempts += 1
            result = sender.send(slack_text(row.brief), row.blocks)
            if result.ok:
                outbox.mark_delivered(con, alert, now())
                report.delivered.append(alert)
                break
            outbox.mark_failed(con, alert, result.error or "unknown error", uncertain=not result.retriable)
            if not result.retriable:
                report.uncertain.append(alert)
                break
            if attempt == attempts_per_pass:
                report.failed.append(alert)
                break
            sleep(delay)
            delay = min(delay * 2, max_backoff_s)
    return report
