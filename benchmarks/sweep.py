"""Points per second of a 200-point AlexNet ``analyze`` sweep at 1 and 2 workers, and its overhead.

Run: python benchmarks/sweep.py [--points N] [--runs R] [--steady]

The sweep is eyeriss with 40 GLB sizes x 5 dataflows (every point distinct, so
every mapping search is cold). Each measurement runs in a fresh process and
times the whole ``es.sweep`` call as a user sees it (wall clock):

* ``plain``: a loop of ``es.analyze`` on the same varied hierarchies (the baseline);
* ``1 worker``: ``es.sweep(..., workers=1, out=...)``, in-process, storing every point;
* ``2 workers``: the same on a local Dask cluster of 2 processes, its start and close included;
* ``--steady``, also ``2 workers, cluster running``: ``es.sweep(..., scheduler=...)`` on a
  local cluster of 2 started (and warmed) before the clock starts: the rate once a
  cluster is up, a second figure, never the headline.

The issue's goals: 2 workers >= 1.7x the 1-worker rate on a 2-core machine, and
a per-point overhead of the 1-worker sweep over plain ``analyze`` under 10 %.

The machine is shared, so ``--runs R`` repeats the measurements R times, the
kinds interleaved (plain, 1, 2, plain, 1, 2, ...), each with the load average
when it started and the CPU seconds other processes used while it ran (the
machine's busy time from /proc/stat less this measurement's processes, its
workers included; near 0 means the run had the cores to itself). The summary
gives medians, and each run's speed-up pairs a 2-worker run with the 1-worker
run just before it. CPU: "main process" is the measured process's
(``time.process_time``: on 2 workers the scheduler, the store and the frames),
"all its processes" adds its interpreter's start, its fork server and workers.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DATAFLOWS = ["ws", "os", "is", "rs", "nlr"]
NAMES = {
    "plain": "plain analyze loop",
    "1": "sweep, 1 worker",
    "2": "sweep, 2 workers",
    "steady": "2 workers, cluster running",
}


def sizes(points: int) -> list[int]:
    """GLB sizes from 32 KiB up, 4 KiB apart: points / 5 of them."""
    return [32 * 1024 + 4096 * i for i in range(points // len(DATAFLOWS))]


def warm_cluster() -> object:
    """A local cluster of 2 single-threaded workers, energysim imported on each."""
    import importlib
    import logging

    distributed = importlib.import_module("dask.distributed")
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, dashboard_address=None, silence_logs=logging.ERROR
    )
    with distributed.Client(cluster, set_as_default=False) as client:
        client.run(importlib.import_module, "energysim.sweep.point")
    return cluster


def measure(kind: str, points: int) -> dict[str, float]:
    """Wall and CPU seconds (of this process) of one measurement, in this (fresh) process."""
    import energysim as es

    glb_sizes = sizes(points)
    cluster = warm_cluster() if kind == "steady" else None
    start, cpu = time.perf_counter(), time.process_time()
    if kind == "plain":
        base, network = es.load_hierarchy("eyeriss"), es.load_workload("alexnet")
        for size in glb_sizes:
            hierarchy = base.with_level("GLB", size_bytes=size)
            for dataflow in DATAFLOWS:
                es.analyze(network, hierarchy, dataflow)
    else:
        grid = es.Grid(["alexnet"], ["eyeriss"], DATAFLOWS, variations={"GLB.size_bytes": glb_sizes})
        where: dict[str, object] = {"workers": int(kind)} if cluster is None else {}
        if cluster is not None:
            where["scheduler"] = cluster.scheduler_address  # type: ignore[attr-defined]
        with tempfile.TemporaryDirectory() as folder:
            result = es.sweep(grid, out=Path(folder) / "sweep", **where)  # type: ignore[arg-type]
        assert result.computed == len(glb_sizes) * len(DATAFLOWS), result.computed
    figures = {"seconds": time.perf_counter() - start, "cpu_seconds": time.process_time() - cpu}
    if cluster is not None:
        cluster.close()  # type: ignore[attr-defined]
    return figures


def busy_cpu_seconds() -> float:
    """CPU seconds every process of the machine has used since boot (Linux: /proc/stat)."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle and iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def adopt_orphans() -> None:
    """Make this process the reaper of its descendants (Linux), so that the CPU of a measured
    sweep's fork server and workers, orphaned when it exits, is counted as the benchmark's."""
    import ctypes

    ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER


def reap_orphans(deadline_s: float = 10.0) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            time.sleep(0.01)


def in_fresh_process(kind: str, points: int) -> dict[str, float]:
    """One measurement in a fresh process, with the load average before it and the CPU seconds
    other processes of the machine used meanwhile (0 on an idle machine: the run was fair)."""
    import resource

    command = [sys.executable, __file__, "--measure", kind, "--points", str(points)]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    load = os.getloadavg()[0]
    busy, before = busy_cpu_seconds(), resource.getrusage(resource.RUSAGE_CHILDREN)
    output = subprocess.run(command, env=env, check=True, capture_output=True, text=True).stdout
    reap_orphans()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    ours = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    figures: dict[str, float] = json.loads(output.strip().splitlines()[-1])
    others = max(0.0, busy_cpu_seconds() - busy - ours)
    return {**figures, "load": load, "all_cpu_seconds": ours, "others_cpu_seconds": others}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=200)
    parser.add_argument("--runs", type=int, default=1, help="repeat the measurements, interleaved")
    parser.add_argument("--steady", action="store_true", help="also time a cluster already running")
    parser.add_argument("--no-plain", action="store_true", help="skip the plain loop (speed-up only)")
    parser.add_argument("--measure", choices=list(NAMES), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.points)))
        return
    points = len(sizes(args.points)) * len(DATAFLOWS)
    adopt_orphans()
    load = "{:.1f} {:.1f} {:.1f}".format(*os.getloadavg())
    print(f"AlexNet analyze sweep, eyeriss, {points} points, {os.cpu_count()} cores, load average {load}")
    kinds = [*([] if args.no_plain else ["plain"]), "1", "2", *(["steady"] if args.steady else [])]
    runs: dict[str, list[dict[str, float]]] = {kind: [] for kind in kinds}
    for run in range(args.runs):
        for kind in kinds:
            figures = in_fresh_process(kind, points)
            runs[kind].append(figures)
            wall, cpu = figures["seconds"], figures["cpu_seconds"]
            print(
                f"run {run + 1} {NAMES[kind]:<27}{wall:6.1f} s {points / wall:6.2f} points/s, "
                f"CPU: main process {cpu:5.1f} s, all its processes {figures['all_cpu_seconds']:5.1f} s, "
                f"load {figures['load']:.1f}, "
                f"others' CPU meanwhile {figures['others_cpu_seconds']:4.1f} s",
                flush=True,
            )
        one, two = runs["1"][-1]["seconds"], runs["2"][-1]["seconds"]
        print(f"run {run + 1} speed-up of 2 workers over 1: {one / two:.2f}x", flush=True)
    print("load average after: {:.1f} {:.1f} {:.1f}".format(*os.getloadavg()))
    median = {kind: {what: statistics.median(r[what] for r in runs[kind]) for what in runs[kind][0]}
              for kind in kinds}  # fmt: skip
    for kind in kinds:
        wall = median[kind]["seconds"]
        print(
            f"median {NAMES[kind]:<27}{points / wall:6.2f} points/s, CPU {median[kind]['cpu_seconds']:5.1f} s"
        )
    one, two = median["1"], median["2"]
    speed_ups = [a["seconds"] / b["seconds"] for a, b in zip(runs["1"], runs["2"], strict=True)]
    print(
        f"speed-up of 2 workers over 1 (medians): {one['seconds'] / two['seconds']:.2f}x; per run: "
        + ", ".join(f"{s:.2f}x" for s in speed_ups)
        + " (goal >= 1.7x on 2 idle cores)"
    )
    if args.steady:
        steady = one["seconds"] / median["steady"]["seconds"]
        print(f"speed-up of a running 2-worker cluster over 1 worker: {steady:.2f}x")
    for what in ("seconds", "cpu_seconds") if not args.no_plain else ():
        overhead = 100 * (one[what] / median["plain"][what] - 1)
        print(f"overhead of the 1-worker sweep over plain analyze, {what}: {overhead:+.1f} % (goal < 10 %)")


if __name__ == "__main__":
    main()
