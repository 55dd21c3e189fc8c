"""Mutation fuzzing of energysim's inputs: the outcome table, and reproducers of what went wrong.

    python benchmarks/fuzz.py --mutations 3000 --seed 0

Case ``i`` of seed ``s`` is a structured mutation of a shipped hierarchy,
workload or mapping file, or a command line (kinds in turn), drawn from
``random.Random(f"{s}:{i}")`` by the generators of ``tests/fuzzing.py``, so a
run is the same for a seed. Cases run in at most two worker processes, each in
a scratch folder holding files the user owns; a worker caps its address space
(``--memory-gib`` above its own size) and stops a case past ``--timeout``
seconds, and the parent kills a worker that does not answer within a few more
seconds (a hang in C code) or finds it dead (a memory blow-up the limit did not
catch). Prints the table of kind x outcome, then each distinct failure
(outcome, exception, where it was raised) with its count and one reproducer.
Always exits 0: it is a report, not a test (``tests/test_fuzz.py`` is the test).
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import re
import shutil
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import asdict
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from fuzzing import (
    ACCEPTED,
    DAMAGED,
    HANG,
    KINDS,
    MEMORY,
    OUTCOMES,
    Case,
    Outcome,
    RandomChooser,
    make_case,
    run_case,
)

#: Seconds the parent waits past the case's own time limit before it kills the worker.
GRACE_SECONDS = 5.0


def case_of(seed: int, index: int) -> Case:
    """Case ``index`` of ``seed``: the same on every run."""
    return make_case(KINDS[index % len(KINDS)], RandomChooser(random.Random(f"{seed}:{index}")))


def _worker(connection: Connection, seed: int, scratch: str, seconds: float, memory_bytes: int) -> None:
    """Run the cases whose indices arrive on ``connection``; send back each outcome."""
    while True:
        index = connection.recv()
        if index is None:
            return
        folder = Path(scratch) / f"case{index}"
        outcome = run_case(case_of(seed, index), folder / "work", seconds, memory_bytes)
        shutil.rmtree(folder, ignore_errors=True)
        connection.send((index, asdict(outcome)))


class Pool:
    """Worker processes with per-case time limits: a hung or dead worker is replaced."""

    def __init__(self, workers: int, seed: int, scratch: str, seconds: float, memory_bytes: int) -> None:
        self.context = multiprocessing.get_context("fork")
        self.arguments = (seed, scratch, seconds, memory_bytes)
        self.seconds = seconds
        self.slots: list[dict[str, Any]] = [self._start() for _ in range(workers)]

    def _start(self) -> dict[str, Any]:
        parent, child = self.context.Pipe()
        process = self.context.Process(target=_worker, args=(child, *self.arguments), daemon=True)
        process.start()
        child.close()
        return {"process": process, "connection": parent, "index": None, "started": 0.0}

    def run(self, indices: list[int], seed: int, progress: int) -> dict[int, Outcome]:
        """Outcome of every case in ``indices``."""
        pending = list(reversed(indices))
        results: dict[int, Outcome] = {}
        while pending or any(slot["index"] is not None for slot in self.slots):
            for slot in self.slots:
                if slot["index"] is None and pending:
                    slot["index"], slot["started"] = pending.pop(), time.monotonic()
                    slot["connection"].send(slot["index"])
            busy = [slot for slot in self.slots if slot["index"] is not None]
            ready = wait([slot["connection"] for slot in busy], timeout=0.5)
            for position, slot in enumerate(self.slots):
                if slot["index"] is None:
                    continue
                index = slot["index"]
                if slot["connection"] in ready:
                    try:
                        done, fields = slot["connection"].recv()
                        results[done] = Outcome(**fields)
                        slot["index"] = None
                        if progress and len(results) % progress == 0:
                            print(f"  {len(results)} / {len(indices)} cases", file=sys.stderr, flush=True)
                        continue
                    except (EOFError, OSError):
                        pass
                overdue = time.monotonic() - slot["started"] > self.seconds + GRACE_SECONDS
                dead = not slot["process"].is_alive()
                if overdue or dead:
                    case = case_of(seed, index)
                    if overdue:
                        detail = f"worker killed after {self.seconds + GRACE_SECONDS:g} s"
                    else:
                        detail = f"worker died, exit code {slot['process'].exitcode}"
                    results[index] = Outcome(case.kind, HANG if overdue else MEMORY, case.describe(), detail)
                    slot["process"].kill()
                    slot["process"].join()
                    self.slots[position] = self._start()
        return results

    def close(self) -> None:
        """Stop every worker."""
        for slot in self.slots:
            slot["connection"].send(None)
            slot["process"].join(timeout=5)
            if slot["process"].is_alive():
                slot["process"].kill()


def table(outcomes: list[Outcome]) -> str:
    """Kind x outcome counts as a markdown table, with totals."""
    counts = Counter((outcome.kind, outcome.outcome) for outcome in outcomes)
    lines = ["| kind | " + " | ".join(OUTCOMES) + " | total |", "| --- " * (len(OUTCOMES) + 2) + "|"]
    for kind in [*KINDS, "all"]:
        row = [
            sum(n for (k, o), n in counts.items() if o == outcome and kind in (k, "all"))
            for outcome in OUTCOMES
        ]
        lines.append(f"| {kind} | " + " | ".join(f"{n:,}" for n in row) + f" | {sum(row):,} |")
    return "\n".join(lines)


def failure_key(outcome: Outcome) -> str:
    """What makes two failures the same bug: outcome, exception type and where it was raised."""
    if outcome.outcome == DAMAGED:
        out = re.search(r"'--out' ('[^']*')", outcome.case)
        return f"{outcome.outcome}: --out {out.group(1) if out else '?'}"
    head = outcome.detail.split(": ", 1)[0]
    head = re.sub(r"^(exit \d+, )?\d+ stderr lines", r"\1several stderr lines", head)
    return f"{outcome.outcome}: {head}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mutations", type=int, default=3000, help="number of cases (default 3000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2, choices=(1, 2))
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds before a case is a hang")
    parser.add_argument("--memory-gib", type=float, default=2.0, help="address space a case may add")
    parser.add_argument("--examples", type=int, default=3, help="reproducers shown per distinct failure")
    args = parser.parse_args(argv)

    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="energysim-fuzz-") as scratch:
        pool = Pool(args.workers, args.seed, scratch, args.timeout, int(args.memory_gib * (1 << 30)))
        try:
            results = pool.run(list(range(args.mutations)), args.seed, progress=100)
        finally:
            pool.close()
    outcomes = [results[index] for index in sorted(results)]
    wall = time.monotonic() - started

    print(f"energysim fuzz: {args.mutations:,} cases, seed {args.seed}, {wall:.0f} s wall")
    print()
    print(table(outcomes))
    groups: dict[str, list[Outcome]] = defaultdict(list)
    for outcome in outcomes:
        if outcome.outcome not in ACCEPTED:
            groups[failure_key(outcome)].append(outcome)
    print()
    print(f"{len(groups)} distinct failures (outcome: exception at innermost energysim frame):")
    for key, members in sorted(groups.items(), key=lambda item: (-len(item[1]), item[0])):
        print(f"\n{len(members):5} x {key}")
        for member in members[: args.examples]:
            first = member.detail.split(": ", 1)[-1]
            print(f"        {first[:160]}")
            print(f"        reproduce: {member.case[:400]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
