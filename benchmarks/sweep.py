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


def measure(kind: str, points: int) -> dict[str, float]:
    """Wall and CPU seconds (of this process) of one measurement, in this (fresh) process."""
    import energysim as es

    glb_sizes = sizes(points)
    start, cpu = time.perf_counter(), time.process_time()
    if kind == "plain":
        base, network = es.load_hierarchy("eyeriss"), es.load_workload("alexnet")
        for size in glb_sizes:
            hierarchy = base.with_level("GLB", size_bytes=size)
            for dataflow in DATAFLOWS:
                es.analyze(network, hierarchy, dataflow)
    else:
        grid = es.Grid(["alexnet"], ["eyeriss"], DATAFLOWS, variations={"GLB.size_bytes": glb_sizes})
        with tempfile.TemporaryDirectory() as folder:
            result = es.sweep(grid, workers=int(kind), out=Path(folder) / "sweep")
        assert result.computed == len(glb_sizes) * len(DATAFLOWS), result.computed
    return {"seconds": time.perf_counter() - start, "cpu_seconds": time.process_time() - cpu}


def in_fresh_process(kind: str, points: int) -> dict[str, float]:
    command = [sys.executable, __file__, "--measure", kind, "--points", str(points)]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    output = subprocess.run(command, env=env, check=True, capture_output=True, text=True).stdout
    figures: dict[str, float] = json.loads(output.strip().splitlines()[-1])
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=200)
    parser.add_argument("--measure", choices=["plain", "1", "2"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.points)))
        return
    points = len(sizes(args.points)) * len(DATAFLOWS)
    load = "{:.1f} {:.1f} {:.1f}".format(*os.getloadavg())
    print(f"AlexNet analyze sweep, eyeriss, {points} points, {os.cpu_count()} cores, load average {load}")
    runs = {kind: in_fresh_process(kind, points) for kind in ("plain", "1", "2")}
    names = {"plain": "plain analyze loop", "1": "sweep, 1 worker", "2": "sweep, 2 workers"}
    for kind, figures in runs.items():
        wall, cpu = figures["seconds"], figures["cpu_seconds"]
        where = "" if kind != "2" else " (this process only; the workers' not counted)"
        print(f"{names[kind]:<20}{wall:7.1f} s {points / wall:7.2f} points/s, CPU {cpu:6.1f} s{where}")
    print("load average after: {:.1f} {:.1f} {:.1f}".format(*os.getloadavg()))
    one, two, plain = runs["1"], runs["2"], runs["plain"]
    print(
        f"speed-up of 2 workers over 1: {one['seconds'] / two['seconds']:.2f}x (goal >= 1.7x on 2 idle cores)"
    )
    for what in ("seconds", "cpu_seconds"):
        overhead = 100 * (one[what] / plain[what] - 1)
        print(f"overhead of the 1-worker sweep over plain analyze, {what}: {overhead:+.1f} % (goal < 10 %)")


if __name__ == "__main__":
    main()
