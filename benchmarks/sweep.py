"""Points per second of a 200-point AlexNet ``analyze`` sweep at 1 and 2 workers, and its overhead.

Run: python benchmarks/sweep.py [--points N]

The sweep is eyeriss with 40 GLB sizes x 5 dataflows (every point distinct, so
every mapping search is cold). Each measurement runs in a fresh process:

* ``plain``: a loop of ``es.analyze`` on the same varied hierarchies (the baseline);
* ``1 worker``: ``es.sweep(..., workers=1, out=...)``, in-process, storing every point;
* ``2 workers``: the same on a local Dask cluster of 2 processes (its start-up included).

The issue's goals: 2 workers >= 1.7x the 1-worker rate on a 2-core machine, and
a per-point overhead of the 1-worker sweep over plain ``analyze`` under 10 %.
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

DATAFLOWS = ["ws", "os", "is", "rs", "nlr"]


def sizes(points: int) -> list[int]:
    """GLB sizes from 32 KiB up, 4 KiB apart: points / 5 of them."""
    return [32 * 1024 + 4096 * i for i in range(points // len(DATAFLOWS))]


def measure(kind: str, points: int) -> float:
    """Seconds for one measurement, in this (fresh) process."""
    import energysim as es

    glb_sizes = sizes(points)
    if kind == "plain":
        base, network = es.load_hierarchy("eyeriss"), es.load_workload("alexnet")
        start = time.perf_counter()
        for size in glb_sizes:
            hierarchy = base.with_level("GLB", size_bytes=size)
            for dataflow in DATAFLOWS:
                es.analyze(network, hierarchy, dataflow)
        return time.perf_counter() - start
    grid = es.Grid(["alexnet"], ["eyeriss"], DATAFLOWS, variations={"GLB.size_bytes": glb_sizes})
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        result = es.sweep(grid, workers=int(kind), out=Path(folder) / "sweep")
        seconds = time.perf_counter() - start
    assert result.computed == len(glb_sizes) * len(DATAFLOWS), result.computed
    return seconds


def in_fresh_process(kind: str, points: int) -> float:
    command = [sys.executable, __file__, "--measure", kind, "--points", str(points)]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    output = subprocess.run(command, env=env, check=True, capture_output=True, text=True).stdout
    return float(json.loads(output.strip().splitlines()[-1])["seconds"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=200)
    parser.add_argument("--measure", choices=["plain", "1", "2"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps({"seconds": measure(args.measure, args.points)}))
        return
    points = len(sizes(args.points)) * len(DATAFLOWS)
    print(f"AlexNet analyze sweep, eyeriss, {points} points, {os.cpu_count()} cores")
    plain = in_fresh_process("plain", points)
    one = in_fresh_process("1", points)
    two = in_fresh_process("2", points)
    print(f"{'plain analyze loop':<22}{plain:8.1f} s {points / plain:8.2f} points/s")
    print(f"{'sweep, 1 worker':<22}{one:8.1f} s {points / one:8.2f} points/s")
    print(f"{'sweep, 2 workers':<22}{two:8.1f} s {points / two:8.2f} points/s")
    print(f"speed-up of 2 workers over 1: {one / two:.2f}x (goal >= 1.7x on 2 cores)")
    overhead = 100 * (one / plain - 1)
    print(f"per-point overhead of the 1-worker sweep over plain analyze: {overhead:+.1f} % (goal < 10 %)")


if __name__ == "__main__":
    main()
