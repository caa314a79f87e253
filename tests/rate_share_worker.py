"""A process calling the sandbox through ``HubSpotClient`` for ``tests/test_rate_share.py``.

    python -m tests.rate_share_worker <base_url> <token> <ledger or ''> <share> <mode> <seconds> <out.json> <contact id>

``mode``: ``hammer`` (as fast as the pacer allows: a sync's extraction) or ``handoffs`` (4 calls every 5 s: the
lane's handoffs). Prints ``ready`` once imported, then reads the start (a ``time.monotonic()`` instant shared by
both workers: one clock per host) from stdin. Writes ``{"done": [response instants], "latency": [seconds per
call], "throttled": 429s seen, "waited_s": time the pacer held calls back}``.
"""

from __future__ import annotations

import json
import sys
import time

from pipeline.hubspot.client import HubSpotClient


def main(base_url: str, token: str, ledger: str, share: str, mode: str, seconds: float, out: str,
         contact_id: str) -> None:
    client = HubSpotClient(token, base_url, limit_per_10s=40, give_up_after_s=60, rate_ledger=ledger or None,
                           rate_share=share)
    print("ready", flush=True)
    start = float(sys.stdin.readline())
    done: list[float] = []
    latency: list[float] = []
    time.sleep(max(0.0, start - time.monotonic()))
    end = start + seconds
    next_burst = start
    while time.monotonic() < end:
        if mode == "handoffs":
            time.sleep(max(0.0, next_burst - time.monotonic()))
            next_burst += 5.0
            calls = 4
        else:
            calls = 1
        for _ in range(calls):
            sent = time.monotonic()
            client.get_object("contacts", contact_id, ["email"])
            done.append(time.monotonic())
            latency.append(done[-1] - sent)
    with open(out, "w") as f:
        json.dump({"done": done, "latency": latency, "throttled": client.stats.throttled_429,
                   "waited_s": client.pacer.waited_s}, f)


if __name__ == "__main__":
    a = sys.argv[1:]
    main(a[0], a[1], a[2], a[3], a[4], float(a[5]), a[6], a[7])
