"""Run every benchmark suite and print one table (also written to bench/results/latest.json).

    python -m bench            # all suites at full size (slow: large portals)
    python -m bench --quick    # small sizes, for a smoke check
    python -m bench extraction # only suites whose module name contains the word
"""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import sys
import time
from pathlib import Path

import bench
from bench.results import Result


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("only", nargs="*", help="run suites whose name contains any of these words")
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke check)")
    args = parser.parse_args()
    names = sorted(m.name for m in pkgutil.iter_modules(bench.__path__) if m.name.startswith("bench_"))
    if args.only:
        names = [n for n in names if any(word in n for word in args.only)]
    results: list[Result] = []
    for name in names:
        started = time.perf_counter()
        print(f"== {name} ...", flush=True)
        module = importlib.import_module(f"bench.{name}")
        results.extend(module.main(quick=args.quick))
        print(f"   done in {time.perf_counter() - started:.1f}s", flush=True)
    print()
    print(f"{'suite':<12} {'measure':<62} {'value':>10}  {'target':<10} ok")
    for r in results:
        ok = {True: "yes", False: "NO", None: "-"}[r.passed]
        print(f"{r.suite:<12} {r.name:<62} {r.value:>10.3f}  {r.target:<10} {ok}")
        if r.detail:
            print(f"{'':<12}   {r.detail}")
    out = Path("bench/results")
    out.mkdir(parents=True, exist_ok=True)
    (out / "latest.json").write_text(json.dumps([r.as_dict() for r in results], indent=2))
    return 0 if all(r.passed is not False for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
