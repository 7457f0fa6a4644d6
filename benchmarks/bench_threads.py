#!/usr/bin/env python
"""Two gbi jobs on one machine: wall time of one job alone vs two identical jobs at once.

The job is ``examples/lhco_injection_scan.py`` with small settings (one seed, the
idealized and CATHODE methods, few flow epochs) on the LHCO-style shared data, run as a
separate process. Each mode runs the job alone, then two copies side by side, and prints
both wall times and the ratio (slower of the two) / alone; ideal on a machine with as many
free cores as one job uses is 1, on a machine whose cores one job already fills it is 2.

Modes:

- ``off``: the old behaviour, every pool at every core and OpenMP's default wait policy
  (spinning idle threads; ``OMP_WAIT_POLICY`` set empty, which libgomp ignores);
- ``budget``: today's default (``--threads`` = the cores available, passive OpenMP wait);
- ``threads1``: ``--threads 1`` in each job.

The machine may be shared: run it several times and report the spread. Usage::

    python benchmarks/bench_threads.py --data ../shared/data/lhco_like --repeats 2 \\
        --json bench_threads.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MODES: dict[str, tuple[dict[str, str], list[str]]] = {
    "off": ({"OMP_WAIT_POLICY": ""}, []),
    "budget": ({}, []),
    "threads1": ({}, ["--threads", "1"]),
}


def job_command(data: Path, out: Path, extra: list[str]) -> list[str]:
    return [
        sys.executable, str(ROOT / "examples" / "lhco_injection_scan.py"),
        "--signal", str(data / "wprime_3500_500_100_000.root"),
        "--background", *map(str, sorted(data.glob("qcd_a_00[01].root"))),
        "--reference-background", *map(str, sorted(data.glob("qcd_b_00[01].root"))),
        "--n-signal", "1000", "--seeds", "1", "--methods", "idealized", "cathode",
        "--flow-epochs", "5", "--json", str(out / "scan.json"), "--out", str(out), *extra,
    ]  # fmt: skip


def run_jobs(count: int, data: Path, mode: str) -> list[float]:
    """Start ``count`` copies of the job at once; their wall times in s."""
    env_extra, extra = MODES[mode]
    env = dict(os.environ, **env_extra)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"), env.get("PYTHONPATH")]))
    with tempfile.TemporaryDirectory(prefix="bench_threads_") as tmp:
        procs = []
        for i in range(count):
            out = Path(tmp) / str(i)
            cmd = job_command(data, out, extra)
            procs.append(
                (time.perf_counter(), subprocess.Popen(cmd, env=env, stderr=subprocess.DEVNULL))
            )
        walls = []
        for start, proc in procs:
            if proc.wait() != 0:
                raise SystemExit(f"job failed ({mode}): exit {proc.returncode}")
            walls.append(time.perf_counter() - start)
    return walls


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", type=Path, required=True, help="folder of the LHCO-style files")
    p.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--json", help="write the figures here")
    args = p.parse_args(argv)
    rows: list[dict[str, Any]] = []
    for repeat in range(args.repeats):
        for mode in args.modes:  # interleaved, so that load drifts hit every mode
            alone = run_jobs(1, args.data, mode)[0]
            pair = run_jobs(2, args.data, mode)
            row = {"repeat": repeat, "mode": mode, "alone_s": alone, "pair_s": pair,
                   "ratio": max(pair) / alone, "load": os.getloadavg()[0]}  # fmt: skip
            rows.append(row)
            print(
                f"{mode:9s} repeat {repeat}: alone {alone:6.1f} s, two at once "
                f"{pair[0]:6.1f} / {pair[1]:6.1f} s, ratio {row['ratio']:.2f} "
                f"(load {row['load']:.1f})",
                flush=True,
            )
    if args.json:
        Path(args.json).write_text(json.dumps({"cpus": os.cpu_count(), "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
