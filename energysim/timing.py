"""What the engine records of a layer, and how long moving bytes takes.

:class:`PortStats` (per level) and :class:`LayerTiming` (per layer) are the
engine's records, whose parts add up to the layer's cycles (see
:mod:`energysim.engine`); :func:`transfer_cycles` and :func:`inner_cycles` are
the time rules: continuous cycles, bytes over bandwidth, per port direction
where a level has separate read and write ports.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import simpy

from energysim.analysis.plan import AccessCounts, AccessPlan
from energysim.analysis.psums import mean_bits
from energysim.errors import EnergySimError
from energysim.model.hierarchy import Hierarchy, Level
from energysim.model.layers import LayerBase

#: How a level's busy cycles were found: simulated port use, or its bytes over its bandwidth.
TIMED_BY_TRANSFERS = "transfers"
TIMED_WITHIN_BURSTS = "within bursts"
#: Flow kinds that write into their upper level (the others read from it).
WRITES = ("drain", "result")
#: Longest one transfer may take (cycles): past it the total would no longer count whole cycles.
MAX_TRANSFER_CYCLES = float(1 << 53)


@dataclass
class PortStats:
    """What one instance of a level did.

    ``busy_cycles`` are port-cycles over the level's ports (its read and
    write ports together where they are separate); ``transfers`` are
    transfer operations (a batched step's transfer counts once);
    ``queue_cycles`` are the waits for a port, including those of receivers
    beyond the free ports, which a transfer serves one group after another.
    ``timed_as`` says how busy cycles were found: simulated ``transfers``, or,
    for a level inside the bursts, its bytes over its bandwidth (``within
    bursts``: no transfers, no queueing). ``stall_cycles`` are the cycles the
    array waited for this level's tiles to be filled, ``drain_wait_cycles``
    those it waited before that for their buffer to be freed by the drain of
    the tiles before them, ``stream_wait_cycles`` those its
    bursts waited for operands or results streaming over this level's ports:
    over the levels they add up to the layer's.
    """

    busy_cycles: float = 0.0
    bytes: float = 0.0
    transfers: int = 0
    queue_cycles: float = 0.0
    timed_as: str = TIMED_BY_TRANSFERS
    stall_cycles: float = 0.0
    drain_wait_cycles: float = 0.0
    stream_wait_cycles: float = 0.0


@dataclass
class LayerTiming:
    """Time of one layer and where it went, and per-level port use.

    ``cycles`` = ``compute_cycles`` + ``skew_cycles`` + ``stall_cycles``
    + ``drain_wait_cycles`` + ``stream_wait_cycles`` + ``drain_cycles`` (see
    the module docstring).
    """

    cycles: float
    compute_cycles: float
    skew_cycles: float
    stall_cycles: float
    drain_wait_cycles: float
    stream_wait_cycles: float
    drain_cycles: float
    pes_used: int
    levels: dict[str, PortStats]
    counts: AccessCounts
    events: int
    trace: list[tuple[float, float, str, str, str, float]] = field(default_factory=list)


class CountingEnvironment(simpy.Environment):
    """A SimPy environment that counts the events it processes (for benchmarks)."""

    def __init__(self) -> None:
        super().__init__()
        self.processed = 0

    def step(self) -> None:
        self.processed += 1
        super().step()


def inner_cycles(level: Level, read: float, written: float) -> float:
    """Port-cycles to read and write these bytes at one instance of ``level``."""
    if level.separate_read_write:
        return read / level.direction_bandwidth(False) + written / level.direction_bandwidth(True)
    return (read + written) / level.bandwidth_bytes_per_cycle


def port_count(level: Level) -> int:
    """All of a level's ports: its read and write ports where they are separate."""
    return level.ports * (2 if level.separate_read_write else 1)


def transfer_cycles(
    hierarchy: str,
    level: Level,
    share_bytes: float,
    bandwidth: float,
    field: str = "bandwidth_bytes_per_cycle",
) -> float:
    """Cycles to move ``share_bytes`` at ``bandwidth`` bytes per cycle (continuous); an error past 2^53.

    Time is continuous (DESIGN.md): a tiny transfer over a wide port takes a
    fraction of a cycle. Past 2^53 cycles a float no longer resolves one
    cycle (and past 1e308 it is infinite): such a time comes from a bandwidth
    no hardware has, so it is reported with the level and the field that set it.
    """
    cycles = share_bytes / bandwidth
    if not math.isfinite(cycles) or cycles > MAX_TRANSFER_CYCLES:
        raise EnergySimError(
            f"{hierarchy}: level {level.name}: moving {share_bytes:.6g} bytes at {bandwidth:.6g} bytes "
            f"per cycle takes {cycles:.6g} cycles, more than the 2^53 one transfer may take; "
            f"is its {field} right?"
        )
    return cycles


def register_limit(plan: AccessPlan, layer: LayerBase, hierarchy: Hierarchy) -> tuple[int, float]:
    """The PE-level storage that most limits a burst, and the cycles its bytes take per burst.

    Its bytes are those over its boundary below (reads by the MACs or the
    level below, updates from them), spread evenly over the bursts, per
    instance, over its bandwidth and ports (reads and writes apart where
    it has separate ports).
    """
    moved = inner_bytes(plan, layer, hierarchy, plan.totals())
    best = (plan.array_level, 0.0)
    for index, (read, written) in moved.items():
        level = hierarchy.levels[index]
        if level.separate_read_write:  # reads and writes move side by side
            once = max(read / level.direction_bandwidth(False), written / level.direction_bandwidth(True))
        else:
            once = (read + written) / level.bandwidth_bytes_per_cycle
        cycles = once / level.ports / plan.bursts
        if cycles > best[1]:
            best = (index, cycles)
    return best


def inner_bytes(
    plan: AccessPlan, layer: LayerBase, hierarchy: Hierarchy, counts: AccessCounts
) -> dict[int, tuple[float, float]]:
    """Per level at or below the array: bytes one instance reads and takes in (no fills)."""
    levels = enumerate(hierarchy.levels)
    by_name = {level.name: index for index, level in levels if index >= plan.array_level}
    moved = {index: [0.0, 0.0] for index in by_name.values()}
    for (name, tensor, action), count in counts.counts.items():
        index = by_name.get(name)
        if index is not None and action != "fill":
            bits = mean_bits(layer, counts, name, tensor, action)
            per_instance = count * bits / 8 / plan.nest.instances_used(index)
            moved[index][action == "update"] += per_instance
    return {index: (read, written) for index, (read, written) in moved.items()}
