"""Generator benchmark: a 100,000-contact (~1M engagement) portal within a couple of minutes and 2 GiB.

Each run happens in a child process watched with psutil (peak RSS of the child). The baseline, measured in
the same run the same way, streams as many minimal dicts as the portal has objects to a file with orjson:
the floor of any Python generator that writes that many JSON objects.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path


from bench.child import run_python
from bench.results import Result

FULL_CONTACTS = 100_000
QUICK_CONTACTS = 5_000
TIME_BUDGET_S = 180.0  # "a couple of minutes" at full size
STARTUP_S = 5.0  # interpreter + imports, so the quick budget stays meaningful on a busy machine
MEMORY_BUDGET = 2 * 1024**3

_GENERATE = """
import json, sys
from pathlib import Path
from hubspot_sandbox.generator import write_portal
result = write_portal(int(sys.argv[1]), 1, Path(sys.argv[2]))
print(json.dumps(result.counts))
"""

_BASELINE = """
import sys, orjson
n = int(sys.argv[1])
with open(sys.argv[2], "wb", buffering=1 << 20) as f:
    f.write(b"[")
    for i in range(n):
        if i:
            f.write(b",")
        f.write(orjson.dumps({"id": str(i), "properties": {"hs_timestamp": "2026-11-02T15:00:00.000Z"}}))
    f.write(b"]")
print("{}")
"""


def _run(code: str, *args: str) -> tuple[float, int, str]:
    """(seconds, peak RSS bytes, stdout) of ``python -c code args`` in a child process."""
    run = run_python(code, *args)
    return run.seconds, run.peak_rss, run.stdout


def main(quick: bool) -> list[Result]:
    contacts = QUICK_CONTACTS if quick else FULL_CONTACTS
    budget = STARTUP_S + TIME_BUDGET_S * contacts / FULL_CONTACTS
    with tempfile.TemporaryDirectory(prefix="bench-generator-") as scratch:
        out = Path(scratch) / "portal.json"
        gen_s, gen_peak, stdout = _run(_GENERATE, str(contacts), str(out))
        counts = json.loads(stdout.strip().splitlines()[-1])
        size = out.stat().st_size
        objects = counts["contacts"] + counts["companies"] + counts["deals"] + counts["engagements"]
        base_s, base_peak, _ = _run(_BASELINE, str(objects), str(Path(scratch) / "baseline.json"))
    engagements = counts["engagements"]
    return [
        Result("generator", f"generate {contacts:,} contacts: seconds", gen_s, f"<= {budget:.0f}", gen_s <= budget,
               f"{engagements:,} engagements, {objects:,} objects, {size / 1e6:.0f} MB snapshot"),
        Result("generator", "generate time / orjson dump of as many minimal dicts", gen_s / base_s, "info", None,
               f"{gen_s:.1f}s / {base_s:.1f}s ({objects:,} dicts)"),
        Result("generator", "generator peak RSS / 2 GiB", gen_peak / MEMORY_BUDGET, "<= 1.0",
               gen_peak <= MEMORY_BUDGET, f"{gen_peak / 2**20:.0f} MiB (baseline child {base_peak / 2**20:.0f} MiB)"),
        Result("generator", "engagements per contact", engagements / contacts, "8-12",
               8 <= engagements / contacts <= 12, f"{engagements:,} / {contacts:,} (~1M at 100k contacts)"),
    ]


if __name__ == "__main__":
    for result in main(quick="--quick" in sys.argv):
        print(result)
