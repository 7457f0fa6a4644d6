"""Start-up time of the ``gbi`` command line: ``gbi --help`` and each ``gbi CMD --help``.

Each figure is the median wall time of ``--repeat`` fresh processes (``python -m gbi ...``,
which is what the ``gbi`` console script runs), next to ``python -c pass`` as the
baseline of the interpreter itself. Seconds, on this machine, warm file cache (one
untimed run of each first). The modules imported are those of ``PYTHONPATH``; to compare
with another revision, run the script again with ``PYTHONPATH`` pointing at its ``src``.
Usage::

    python benchmarks/bench_startup.py [--repeat 3] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

from gbi.cli import COMMANDS  # every command, in the order of gbi --help


def wall_seconds(argv: list[str], repeat: int) -> float:
    """Median wall time (s) of ``repeat`` runs of ``argv`` (after one untimed run)."""
    subprocess.run(argv, capture_output=True, check=True)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(argv, capture_output=True, check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per case [3]")
    parser.add_argument("--json", metavar="OUT", help="also write the figures as JSON")
    args = parser.parse_args()
    cases = {"python -c pass": [sys.executable, "-c", "pass"]}
    cases["gbi --help"] = [sys.executable, "-m", "gbi", "--help"]
    for name in COMMANDS:
        cases[f"gbi {name} --help"] = [sys.executable, "-m", "gbi", name, "--help"]
    figures = {}
    print(f"{'case':<24} {'seconds':>8}   (median of {args.repeat} fresh processes)")
    for label, argv in cases.items():
        figures[label] = wall_seconds(argv, args.repeat)
        print(f"{label:<24} {figures[label]:8.3f}")
    if args.json:
        with open(args.json, "w") as stream:
            json.dump(figures, stream, indent=2)


if __name__ == "__main__":
    main()
