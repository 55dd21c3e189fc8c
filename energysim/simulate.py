"""``simulate()``: the analysis plus time, from replaying every layer through the engine.

Layers run one after another (each starts when the previous one has drained).
A layer with MACs is replayed by :mod:`energysim.engine`, which charges the
same counts as :func:`energysim.analyze` and adds its cycles, the busy time
and queueing of every level and the compute and stall time of the PEs. A
layer without MACs streams through the outermost level: its time is the
longer of moving its bytes and doing its operations on the whole array (the
array stalls for the rest). Either way a layer's ``cycles`` are exactly its
``compute_cycles + skew_cycles + stall_cycles + drain_wait_cycles + stream_wait_cycles +
drain_cycles``
(:class:`~energysim.timing.LayerTiming`). Static energy is each level's and
the array's leakage power times the time.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from energysim.analysis.energy import NO_TENSOR, access_row, compute_static_energy_pj, level_static_energy_pj
from energysim.analysis.plan import AccessCounts
from energysim.analysis.tiles import Nest
from energysim.analysis.timeloop_rules import Counting, check_counting, plan_for
from energysim.engine import simulate_layer
from energysim.model.hierarchy import Hierarchy
from energysim.model.layers import LayerBase
from energysim.model.mapping import Mapping
from energysim.model.workload import Network
from energysim.prepare import DEFAULT_DATAFLOW, MappingLike, WorkloadLike, evaluate, resolve_inputs, result_of
from energysim.result import ACCESS_COLUMNS, STATIC_ACTION, Result
from energysim.search import search_objective, searched_mappings
from energysim.timing import LayerTiming, transfer_cycles

#: Called after each layer with (layers done, layers in all, layer name).
Progress = Callable[[int, int, str], None]
TRACE_COLUMNS = ["time_cycles", "duration_cycles", "layer", "level", "tensor", "action", "bytes"]
TIMING_COLUMNS = [
    "layer",
    "level",
    "instances",
    "ports",
    "busy_cycles",
    "utilisation",
    "bytes",
    "transfers",
    "queue_cycles",
    "timed_as",
    "stall_cycles",
    "drain_wait_cycles",
    "stream_wait_cycles",
]
#: The parts of a layer's cycles, in the layer summary; they add up to ``cycles``.
TIME_PARTS = [
    "compute_cycles",
    "skew_cycles",
    "stall_cycles",
    "drain_wait_cycles",
    "stream_wait_cycles",
    "drain_cycles",
]
#: One row per group of PEs that spent every layer alike (PEs first_pe .. last_pe); cycles per PE.
PE_COLUMNS = ["first_pe", "last_pe", "pe_count", "compute_cycles", "stall_cycles", "idle_cycles"]


class _Recorder:
    """Runs the engine per layer and keeps what the result needs besides counts."""

    def __init__(
        self, trace: bool, total: int, progress: Progress | None, counting: Counting = "exact"
    ) -> None:
        self.counting = counting
        self.tracing = trace
        self.total = total
        self.progress = progress
        self.done = 0
        self.timings: dict[str, LayerTiming] = {}
        self.trace_rows: list[list[Any]] = []

    def _tick(self, name: str) -> None:
        self.done += 1
        if self.progress is not None:
            self.progress(self.done, self.total, name)

    def mapped(
        self, layer: LayerBase, mapping: Mapping, machine: Hierarchy
    ) -> tuple[AccessCounts, dict[str, Any]]:
        assert layer.loop_bounds is not None
        plan = plan_for(mapping, layer.loop_bounds, machine, layer.macs, self.counting)
        timing = simulate_layer(plan, layer, machine, trace=self.tracing)
        self.timings[layer.name] = timing
        self.trace_rows += [[time, duration, layer.name, *rest] for time, duration, *rest in timing.trace]
        self._tick(layer.name)
        return timing.counts, {
            "cycles": timing.cycles,
            "compute_cycles": timing.compute_cycles,
            "skew_cycles": timing.skew_cycles,
            "drain_wait_cycles": timing.drain_wait_cycles,
            "stall_cycles": timing.stall_cycles,
            "stream_wait_cycles": timing.stream_wait_cycles,
            "drain_cycles": timing.drain_cycles,
            "pes_used": timing.pes_used,
            "events": timing.events,
        }

    def streamed(self, layer: LayerBase, machine: Hierarchy) -> dict[str, Any]:
        outer = machine.outermost
        bandwidth = machine.total_bandwidth_bytes_per_cycle(outer)
        moving = (
            transfer_cycles(machine.name, outer, layer.compulsory_bytes, bandwidth) + outer.latency_cycles
        )
        computing = math.ceil(layer.flops / machine.peak_macs_per_cycle)
        cycles = float(max(moving, computing))
        self._tick(layer.name)
        if self.tracing:
            self.trace_rows.append(
                [0.0, cycles, layer.name, outer.name, "all", "stream", float(layer.compulsory_bytes)]
            )
        return {
            "cycles": cycles,
            "compute_cycles": float(computing),
            "skew_cycles": 0.0,
            "drain_wait_cycles": 0.0,
            "stall_cycles": cycles - computing,
            "stream_wait_cycles": 0.0,
            "drain_cycles": 0.0,
            "pes_used": machine.compute.pes,
            "events": 0,
        }


def _static_rows(
    summary: pd.DataFrame, machine: Hierarchy, network: Network, used: dict[str, Mapping], counting: Counting
) -> list[dict[str, Any]]:
    """Leakage of every level and of the array, per layer (power-gated ones: the used instances only).

    Under ``counting="timeloop"`` every level leaks only for the instances the
    mapping uses, as timeloop-model charges it (DESIGN, counting modes).
    """
    gated = True if counting == "timeloop" else None
    rows = []
    for layer, cycles, pes_used in zip(summary["layer"], summary["cycles"], summary["pes_used"], strict=True):
        bounds, mapping = network[layer].loop_bounds, used.get(layer)
        nest = Nest(mapping, bounds) if mapping is not None and bounds is not None else None
        sources = [
            (
                level.name,
                level.static_power_mw,
                level_static_energy_pj(
                    level,
                    nest.instances_used(index) if nest else level.instances,
                    cycles,
                    machine.clock_hz,
                    gated,
                ),
            )
            for index, level in enumerate(machine.levels)
        ]
        compute = machine.compute
        sources.append(
            (
                compute.name,
                compute.static_power_mw,
                compute_static_energy_pj(compute, int(pes_used), cycles, machine.clock_hz, gated),
            )
        )
        for name, power_mw, energy_pj in sources:
            if power_mw > 0:
                rows.append(access_row(layer, name, NO_TENSOR, STATIC_ACTION, int(cycles), 0, energy_pj))
    return rows


def _timing_frame(recorder: _Recorder, machine: Hierarchy, used: dict[str, Mapping]) -> pd.DataFrame:
    rows = []
    for layer, timing in recorder.timings.items():
        for level in machine.levels:
            stats = timing.levels[level.name]
            rows.append(
                [
                    layer,
                    level.name,
                    level.instances,
                    level.ports,
                    stats.busy_cycles,
                    stats.busy_cycles / timing.cycles if timing.cycles else 0.0,
                    stats.bytes,
                    stats.transfers,
                    stats.queue_cycles,
                    stats.timed_as,
                    stats.stall_cycles,
                    stats.drain_wait_cycles,
                    stats.stream_wait_cycles,
                ]
            )
    return pd.DataFrame(rows, columns=TIMING_COLUMNS)


def _pe_frame(summary: pd.DataFrame, machine: Hierarchy) -> pd.DataFrame:
    """Per group of alike PEs, cycles of one PE summed over layers (see :data:`PE_COLUMNS`).

    A layer uses the first ``pes_used`` PEs: they compute or stall (for a
    tile's data or its buffer's drain), and idle through the rest of the
    layer's cycles (skew, stream wait, drain); the others
    idle throughout. PEs that no layer tells apart form one group, so the
    frame has a row per distinct ``pes_used`` (and one for the PEs none uses),
    however many PEs there are.
    """
    pes = machine.compute.pes
    used = np.minimum(summary["pes_used"].to_numpy(dtype=np.int64), pes)
    order = np.argsort(used, kind="stable")
    used = used[order]
    cycles, computing, stalling, drain_waiting = (
        summary[column].to_numpy(dtype=float)[order]
        for column in ("cycles", "compute_cycles", "stall_cycles", "drain_wait_cycles")
    )
    # A PE waiting for a tile stalls, whether the tile waits for its data or its buffer's drain.
    stalling = stalling + drain_waiting
    rest = np.maximum(0.0, cycles - computing - stalling)

    def after(values: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        """Sums of ``values`` over the layers from each index on (one more entry: 0)."""
        return np.concatenate((np.cumsum(values[::-1])[::-1], [0.0]))

    compute_after, stall_after, rest_after = after(computing), after(stalling), after(rest)
    cycles_before = np.concatenate(([0.0], np.cumsum(cycles)))
    bounds = np.unique(np.concatenate(([0, pes], used)))
    rows = []
    for first, end in itertools.pairwise(bounds):
        # Layers from `active` on use PE `first` (and the whole group); those before leave it idle.
        active = int(np.searchsorted(used, first, side="right"))
        idle = rest_after[active] + cycles_before[active]
        rows.append(
            [int(first), int(end) - 1, int(end - first), compute_after[active], stall_after[active], idle]
        )
    return pd.DataFrame(rows, columns=PE_COLUMNS)


def simulate(
    workload: WorkloadLike,
    hierarchy: str | Path | Hierarchy,
    dataflow: str | None = DEFAULT_DATAFLOW,
    mapping: MappingLike | None = None,
    layers: Sequence[str] | None = None,
    trace: bool = False,
    progress: Progress | None = None,
    counting: Counting = "exact",
) -> Result:
    """Replay ``workload`` on ``hierarchy`` through the event-driven engine.

    Takes the arguments of :func:`energysim.analyze`, plus ``trace`` (keep one
    row per transfer and burst in ``result.trace``) and ``progress`` (called
    after each layer; the library itself never prints). ``counting`` is as
    in :func:`energysim.analyze`: the engine charges the same counts.
    """
    objective = search_objective(mapping)
    if objective is not None:  # the mapper's best mapping of every layer for that objective
        mapping = searched_mappings(workload, hierarchy, layers, objective)
    mode = check_counting(counting)
    network, machine, chosen, used_dataflow = resolve_inputs(workload, hierarchy, dataflow, mapping, layers)
    recorder = _Recorder(trace, len(chosen), progress, mode)
    accesses, summary, used = evaluate(network, machine, chosen, recorder.mapped, recorder.streamed)
    static = _static_rows(summary, machine, network, used, mode)
    if static:
        accesses = pd.concat([accesses, pd.DataFrame(static, columns=ACCESS_COLUMNS)], ignore_index=True)
    return dataclasses.replace(
        result_of(network, machine, used_dataflow, used, accesses, summary),
        cycles=float(summary["cycles"].sum()),
        timing=_timing_frame(recorder, machine, used),
        pes=_pe_frame(summary, machine),
        trace=pd.DataFrame(recorder.trace_rows, columns=TRACE_COLUMNS) if trace else None,
    )
