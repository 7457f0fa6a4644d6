"""Benchmark gbi fits and CLs limits against pyhf (Python API and CLI) on the same files.

For each number of bins, a one-channel workspace (signal + background, staterror on the
background, 10% normsys) is built with ``gbi.workspace.build_spec`` and written to disk.
Timed, per backend/optimizer:

- ``fit``: one unconditional MLE fit (``pyhf.infer.mle.fit``), median of ``--repeat``;
- ``cls_limit``: observed + expected band CLs limits with :func:`gbi.workspace.cls.cls_limits`;
- ``pyhf_limit``: the same with ``pyhf.infer.intervals.upper_limits.upper_limit`` (toms748);
- ``pyhf fit`` / ``pyhf cls`` CLI on the same file (wall time, includes interpreter start).

Cases whose single fit exceeds ``--budget / 50`` seconds skip gbi's CLs limit, and those
above ``--budget / 200`` seconds skip pyhf's ``upper_limit`` (about 10 times slower here);
pyhf's ``upper_limit`` fails with JAX arrays in pyhf 0.7.6 (all shown as "n/a"). Each
backend/optimizer case runs in its own process, stopped after ``--case-timeout`` seconds
(shown as "> T"): the numpy backend has no gradients, so its optimizers difference the
likelihood over every staterror parameter and slow down about quadratically with the bins.
Usage::

    python benchmarks/bench_fit.py --bins 10 100 1000 --out bench.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np


def make_spec(nbins: int) -> dict[str, Any]:
    from gbi.workspace import Channel, Sample, Template, build_spec

    x = np.linspace(0.0, 1.0, nbins + 1)
    centers = 0.5 * (x[1:] + x[:-1])
    background = 20000.0 / nbins * np.exp(-2.0 * centers)
    signal = 300.0 / nbins * np.exp(-0.5 * ((centers - 0.5) / 0.1) ** 2) + 1e-3
    samples = [
        Sample("sig", Template(signal, None, x), signal=True, staterror=False),
        Sample("bkg", Template(background, background * 0.02, x), sys=0.1),
    ]
    return build_spec([Channel("SR", samples, data=0.0)], poi_bounds=(0.0, 20.0))


def timed(func: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    value = func()
    return time.perf_counter() - start, value


def bench_api(
    path: Path, backend: str, optimizer: str, repeat: int, budget: float, report: Any = None
) -> dict[str, Any]:
    """Times of one backend/optimizer; ``report(row)`` is called after each measurement."""
    report = report or (lambda row: None)
    import pyhf

    from gbi.workspace.cls import cls_limits
    from gbi.workspace.inference import pyhf_backend

    row: dict[str, Any] = {"backend": backend, "optimizer": optimizer}
    with pyhf_backend(backend, optimizer):
        ws = pyhf.Workspace(json.loads(path.read_text()))
        model = ws.model()
        data = pyhf.tensorlib.astensor(ws.data(model))
        row["first_fit"], _ = timed(lambda: pyhf.infer.mle.fit(data, model))  # incl. JIT
        report(row)
        times = [timed(lambda: pyhf.infer.mle.fit(data, model))[0] for _ in range(repeat)]
        row["fit"] = statistics.median(times)
        report(row)
        if row["fit"] * 50 > budget:
            row["cls_limit"] = row["pyhf_limit"] = None
            return row
        row["cls_limit"], limits = timed(lambda: cls_limits(data, model))
        row["exp_limit"] = limits["exp"]
        report(row)
        if row["fit"] * 200 > budget:
            row["pyhf_limit"] = None
            return row
        try:
            row["pyhf_limit"], (_, exp) = timed(
                lambda: pyhf.infer.intervals.upper_limits.upper_limit(data, model, scan=None)
            )
            row["exp_limit_pyhf"] = float(exp[2])
        except TypeError as err:  # pyhf 0.7.6 toms748_scan caches on unhashable JAX arrays
            row["pyhf_limit"], row["pyhf_limit_error"] = None, str(err)
    return row


def run_case(
    path: Path, backend: str, optimizer: str, repeat: int, budget: float, timeout: float
) -> dict[str, Any] | None:
    """:func:`bench_api` in a fresh process; None when the backend is not installed."""
    command = [sys.executable, __file__, "--case", str(path), backend, optimizer]
    command += ["--repeat", str(repeat), "--budget", str(budget)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as expired:
        # keep what was measured before the timeout; the step that ran out shows "> T"
        partial = expired.stdout or ""
        if isinstance(partial, bytes):
            partial = partial.decode()
        lines = [line for line in partial.splitlines() if line.startswith("{")]
        row = json.loads(lines[-1]) if lines else {"backend": backend, "optimizer": optimizer}
        return {**row, "timeout": timeout}
    if done.returncode == 3:
        print(f"skip {backend}: {done.stderr.strip()}", file=sys.stderr)
        return None
    if done.returncode:
        return {"backend": backend, "optimizer": optimizer, "error": done.stderr[-300:]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def bench_cli(path: Path, optimizer: str, budget: float) -> dict[str, Any]:
    pyhf_cli = str(Path(sys.executable).parent / "pyhf")
    row: dict[str, Any] = {"backend": "pyhf CLI (numpy)", "optimizer": optimizer}
    for command in ("fit", "cls"):
        try:
            row[f"cli_{command}"], _ = timed(
                lambda command=command: subprocess.run(
                    [pyhf_cli, command, str(path), "--optimizer", optimizer],
                    check=True,
                    capture_output=True,
                    timeout=budget,
                )
            )
        except subprocess.TimeoutExpired:
            row[f"cli_{command}"] = f"> {budget:.0f}"
    return row


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--bins", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--backends", nargs="+", default=["numpy", "jax"])
    parser.add_argument("--optimizers", nargs="+", default=["scipy", "minuit"])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--budget", type=float, default=600.0, help="seconds allowed per limit")
    parser.add_argument("--out", help="write the rows as JSON")
    parser.add_argument(
        "--case-timeout", type=float, default=1800.0, help="seconds per backend/optimizer case"
    )
    parser.add_argument(
        "--case", nargs=3, metavar=("WS", "BACKEND", "OPTIMIZER"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.case:
        try:
            row = bench_api(
                Path(args.case[0]),
                args.case[1],
                args.case[2],
                args.repeat,
                args.budget,
                report=lambda partial: print(json.dumps(partial), flush=True),
            )
        except ImportError as err:
            print(err, file=sys.stderr)
            return 3
        print(json.dumps(row))
        return 0
    rows = []
    folder = Path(tempfile.mkdtemp(prefix="gbi-bench-"))
    for nbins in args.bins:
        path = folder / f"ws_{nbins}.json"
        path.write_text(json.dumps(make_spec(nbins)))
        for backend in args.backends:
            for optimizer in args.optimizers:
                row = run_case(
                    path, backend, optimizer, args.repeat, args.budget, args.case_timeout
                )
                if row is None:
                    continue
                rows.append({"bins": nbins, **row})
                print(json.dumps(rows[-1]), flush=True)
        for optimizer in args.optimizers:
            rows.append({"bins": nbins, **bench_cli(path, optimizer, args.case_timeout)})
            print(json.dumps(rows[-1]), flush=True)
    print(table(rows))
    if args.out:
        Path(args.out).write_text(json.dumps(rows, indent=2) + "\n")
    return 0


def table(rows: list[dict[str, Any]]) -> str:
    def cell(value: Any) -> str:
        if isinstance(value, str):
            return value
        return "n/a" if value is None else f"{value:.3g}"

    def cells(r: dict[str, Any]) -> list[str]:
        keys = ("first_fit", "fit", "cls_limit", "pyhf_limit", "cli_fit", "cli_cls")
        if "error" in r:
            return ["error", "", "", "", "", ""]
        out = [cell(r.get(k, "")) for k in keys]
        if "timeout" in r:  # the first step not measured ran out of the case's time
            missing = [i for i, k in enumerate(keys[:4]) if k not in r]
            if missing:
                out[missing[0]] = f"> {r['timeout']:.0f} (case)"
        return out

    lines = [
        "| bins | backend | optimizer | first fit [s] | fit [s] | gbi CLs limit [s] | pyhf upper_limit [s] | pyhf fit CLI [s] | pyhf cls CLI [s] |",
        "|---:|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['bins']} | {r['backend']} | {r['optimizer']} | " + " | ".join(cells(r)) + " |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
