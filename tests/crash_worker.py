"""A real process that holds a Dagster run (and its ``duckdb_write`` slot) until told to let go.

``python tests/crash_worker.py DAGSTER_HOME READY_FILE RELEASE_FILE [TAGS_JSON]``: runs a one-op job in
process against the persistent instance, tagged like ``handoff run``'s runs (pipeline.recovery.process_tags,
overridden by TAGS_JSON); the op writes the run id to READY_FILE, then waits for RELEASE_FILE to exist.
"""

import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import dagster as dg  # noqa: E402

from pipeline.recovery import process_tags  # noqa: E402


@dg.op(pool="duckdb_write")
def hold_the_pool(context: dg.OpExecutionContext) -> None:
    Path(os.environ["CRASH_WORKER_READY"]).write_text(context.run_id)
    release = Path(os.environ["CRASH_WORKER_RELEASE"])
    while not release.exists():
        time.sleep(0.1)


@dg.job
def pool_holder() -> None:
    hold_the_pool()


if __name__ == "__main__":
    home, ready, release = sys.argv[1:4]
    extra = json.loads(sys.argv[4]) if len(sys.argv) > 4 else {}
    os.environ.update({"DAGSTER_HOME": home, "CRASH_WORKER_READY": ready, "CRASH_WORKER_RELEASE": release})
    with dg.DagsterInstance.get() as instance:
        instance.event_log_storage.set_concurrency_slots("duckdb_write", 1)
        pool_holder.execute_in_process(instance=instance, tags={**process_tags(), **extra})
