"""What a search minimises: energy, cycles, their product (EDP) or a weighted mix.

* **energy**: the exact access counts of :func:`~energysim.analysis.accesses.plan_accesses`,
  priced (:func:`~energysim.analysis.energy.price`): the dynamic energy that
  :func:`energysim.analyze` reports for the same mapping (static energy needs
  time, so it is left out of the objective).
* **cycles**: a fast analytic estimate of the engine's time, from the same
  plan, following the engine's rules in closed form over the plan's step
  kinds (no event replay; :class:`_Timing` lists them): transfers grouped and
  spread over ports as the engine does, bursts as long as their MACs, PE
  storage or operand streams, a systolic fold's skew per fold, fills into
  single-buffered levels added to the compute, double-buffered ones bounded
  by each level's port time, and the first fills, each level's latency once
  and the last drains exposed. Calibrated against the engine
  (``python benchmarks/mapper.py --calibrate``: AlexNet and ResNet-50 on
  eyeriss, tpu-like and edge-npu, the five dataflows' and the three
  searches' mappings, 1,488 in all): estimate / engine 0.80-1.12, median
  1.000, 95 % within 10 % (before: 0.52-1.76, 53 %; 94 % before im2col). Small layers fit less
  well (LeNet-5, ``--networks lenet5``: 0.77-1.62, 69 % within 10 %), where a
  few hundred cycles of latency and first fills weigh most. It misses most
  where transfers queue behind each other on one port (tpu-like's DRAM
  feeding the weight FIFO and the unified buffer at once, first come first
  served): it errs either way, so whenever the objective weighs cycles the
  best candidates are re-ranked by the engine (:mod:`energysim.search`).
* **edp**: energy x cycles; a **mix** ``{"energy": a, "cycles": b}`` minimises
  ``energy^a x cycles^b`` (unit-free, so the weights need no scale; edp is 1, 1).
"""

from __future__ import annotations

import math
from collections.abc import Mapping as MappingOf
from dataclasses import dataclass, replace

from energysim.analysis.accesses import plan_accesses
from energysim.analysis.energy import price
from energysim.analysis.plan import AccessCounts, AccessPlan, Flow
from energysim.analysis.psums import flow_bits
from energysim.drains import output_pieces
from energysim.engine import simulate_layer
from energysim.errors import EnergySimError
from energysim.folds import fold_keys
from energysim.model.hierarchy import Hierarchy
from energysim.model.layers import LayerBase
from energysim.model.mapping import Mapping
from energysim.timing import WRITES, register_limit
from energysim.transfers import MAX_PORTS_PER_TRANSFER

#: Objectives by name, as weights of (energy, cycles) in ``energy^a x cycles^b``.
OBJECTIVES: dict[str, tuple[float, float]] = {"energy": (1.0, 0.0), "cycles": (0.0, 1.0), "edp": (1.0, 1.0)}

Objective = str | MappingOf[str, float]


@dataclass(frozen=True)
class Metrics:
    """Energy (the hierarchy's unit), estimated cycles, and the engine's cycles once re-ranked."""

    energy: float
    cycles: float
    pes_used: int
    mapped_macs: int
    engine_cycles: float | None = None

    @property
    def best_cycles(self) -> float:
        """The engine's cycles where known, else the estimate."""
        return self.engine_cycles if self.engine_cycles is not None else self.cycles


def objective_weights(objective: Objective) -> tuple[float, float]:
    """``(a, b)`` of ``energy^a x cycles^b`` for a name or a weight dict; an error for anything else."""
    if isinstance(objective, str):
        try:
            return OBJECTIVES[objective.lower()]
        except KeyError:
            raise EnergySimError(
                f"objective: unknown {objective!r}; expected one of {', '.join(OBJECTIVES)} "
                "or weights such as {'energy': 1, 'cycles': 2}"
            ) from None
    unknown = [key for key in objective if key not in ("energy", "cycles")]
    weights = (float(objective.get("energy", 0.0)), float(objective.get("cycles", 0.0)))
    if unknown or any(not math.isfinite(w) or w < 0 for w in weights) or sum(weights) == 0:
        raise EnergySimError(
            f"objective: weights {dict(objective)} must be energy and/or cycles, finite, >= 0, not all 0"
        )
    return weights


def score(metrics: Metrics, weights: tuple[float, float], engine: bool = False) -> float:
    """``log(energy^a x cycles^b)``: lower is better (logs keep huge products finite)."""
    cycles = metrics.best_cycles if engine else metrics.cycles
    a, b = weights
    value = 0.0
    if a:
        value += a * math.log(max(metrics.energy, 1e-300))
    if b:
        value += b * math.log(max(cycles, 1e-300))
    return value


def evaluate(mapping: Mapping, layer: LayerBase, hierarchy: Hierarchy) -> Metrics:
    """Exact energy and estimated cycles of a checked ``mapping``."""
    assert layer.loop_bounds is not None
    plan = plan_accesses(mapping, layer.loop_bounds, hierarchy, layer.macs)
    counts = plan.totals()
    energy = float(sum(row["energy"] for row in price(counts, layer, hierarchy)))
    cycles = estimate_cycles(plan, counts, layer, hierarchy)
    return Metrics(energy, cycles, plan.nest.instances_used(plan.nest.levels), plan.nest.mapped_macs)


def estimate_cycles(plan: AccessPlan, counts: AccessCounts, layer: LayerBase, hierarchy: Hierarchy) -> float:
    """The analytic cycle estimate of the module docstring (see :class:`_Timing`)."""
    return _Timing(plan, counts, layer, hierarchy).cycles()


#: Transfer times of one step kind: by (lower level, flow kind, upper level).
Times = dict[tuple[int, str, int], float]


class _Timing:
    """The engine's time rules (:mod:`energysim.engine`) in closed form, over the plan's step kinds.

    * A transfer: the flows of one kind between two levels in a step move
      together over the upper level's ports (as many as its receivers use, at
      most :data:`~energysim.transfers.MAX_PORTS_PER_TRANSFER`), at the
      direction's bandwidth, slower where the network is narrower.
    * A burst lasts as long as its MACs, its busiest PE storage, or the
      operands and results streaming over a level above during it; a
      systolic fold adds its skew.
    * Fills into a single-buffered level wait for the tile before it to be
      done, so they add to the compute; the engine moves alike steps as one
      batch, so the upper levels' shares go side by side (the slowest counts).
      Fills into double-buffered levels overlap the compute: each upper
      level's port time bounds the layer instead.
    * A single-buffered level's outputs: the last of a drain's pieces
      (:func:`~energysim.drains.output_pieces`) waits at each tile change.
    * Exposed once: the first tiles' wait (an upper level serves them one
      after another, so a tile's first data waits for the fills queued before
      it, and its steps cannot outrun its arrival), the latency of each level
      they are read from (reads are pipelined: once per chain), and after the
      last burst the last piece of each level's drain, level after level.
    """

    def __init__(
        self, plan: AccessPlan, counts: AccessCounts, layer: LayerBase, hierarchy: Hierarchy
    ) -> None:
        self.plan, self.counts, self.layer, self.hierarchy = plan, counts, layer, hierarchy
        self.levels = hierarchy.levels
        self.array = plan.array_level
        self.ports: dict[int, float] = {}

    def _times(self, flows: list[Flow]) -> Times:
        """Port cycles of each transfer of ``flows`` (one step), as the engine groups them."""
        groups: dict[tuple[int, str, int, bool], list[float]] = {}
        nest = self.plan.nest
        for flow in flows:
            if flow.upper >= self.array:
                continue
            write = self.levels[flow.upper].separate_read_write and flow.kind in WRITES
            group = groups.setdefault((flow.lower, flow.kind, flow.upper, write), [0.0, 1.0])
            bits = flow_bits(self.layer, self.counts, self.plan.names, flow)
            group[0] += flow.elements / nest.instances_used(flow.upper) * bits / 8
            group[1] = max(group[1], flow.receivers)
        times: Times = {}
        for (lower, kind, upper, write), (moved, receivers) in groups.items():
            level = self.levels[upper]
            ports = min(max(1, min(int(receivers), MAX_PORTS_PER_TRANSFER)), level.ports)
            bandwidth = level.direction_bandwidth(write)
            network = level.network
            if network is not None and network.bandwidth_bytes_per_cycle is not None:
                bandwidth = min(bandwidth, network.bandwidth_bytes_per_cycle)
            times[(lower, kind, upper)] = times.get((lower, kind, upper), 0.0) + moved / ports / bandwidth
        return times

    def _charge(self, times: Times, count: float) -> None:
        """Add ``count`` steps' transfers to each upper level's port time (reads, writes apart if apart)."""
        for (_, _, upper), cycles in times.items():
            share = 2 if self.levels[upper].separate_read_write else 1
            self.ports[upper] = self.ports.get(upper, 0.0) + count * cycles / share

    def _waits(self, lower: int) -> bool:
        """Fills into ``lower`` wait for its previous tile: the array level or any single-buffered one."""
        return lower == self.array or not self.levels[lower].double_buffered

    def cycles(self) -> float:
        plan, levels, array = self.plan, self.levels, self.array
        compute_unit = self.hierarchy.compute
        inner = plan.nest.time_steps // plan.bursts
        streams = self._times([f for f in plan.burst.flows if f.kind in ("operand", "result")])
        burst = max(
            float(math.ceil(inner / compute_unit.macs_per_cycle_per_pe)),
            register_limit(plan, self.layer, self.hierarchy)[1],
            *streams.values(),
        )
        self._charge(streams, plan.bursts)
        skew = 2 * compute_unit.array.rows + compute_unit.array.cols - 2 if compute_unit.systolic else 0
        folds = fold_keys(plan, self.hierarchy) if skew else frozenset()
        pieces = output_pieces(plan)
        start = self._times(plan.start.flows)
        self._charge(start, 1)
        compute = burst + skew  # the first step: the first fold
        waiting: dict[int, float] = {}  # per upper level, fills that wait for a tile to be done
        steps: list[tuple[int, bool, Times]] = [(1, False, start)]
        for key, bucket in plan.steps.items():
            count = plan.step_counts[key]
            if count:
                times = self._times(bucket.flows)
                self._charge(times, count)
                steps.append((count, True, times))
                compute += count * (burst + (skew if key in folds else 0))
        for count, later, times in steps:
            for (lower, kind, upper), cycles in times.items():
                if kind == "fill" and self._waits(lower):
                    waiting[upper] = waiting.get(upper, 0.0) + count * cycles
                elif kind == "drain" and later and lower < array and not levels[lower].double_buffered:
                    compute += count * cycles / pieces[lower][0]
        single = array < len(levels) and not levels[array].double_buffered
        slowest_fill = max(waiting.values(), default=0.0)
        busy = compute + slowest_fill if single else max(compute, slowest_fill)
        # The first tiles of the levels above the array. The array starts on their first data,
        # but an upper level serves its first fills one after another, outer level first: a
        # tile's first data waits for the fills before it, and the steps using the tile cannot
        # outrun its arrival (what its fill takes beyond its life, the compute over its tiles).
        tiles = dict.fromkeys(range(len(levels)), 1)
        for key, bucket in plan.steps.items():
            for lower in {flow.lower for flow in bucket.flows if flow.kind == "fill"}:
                tiles[lower] += plan.step_counts[key]
        queued: dict[int, float] = {}
        exposed = 0.0
        for (lower, kind, upper), cycles in sorted(start.items()):
            if kind == "fill":  # the array's own tiles: their whole fill waits (slowest_fill)
                before = queued.get(upper, 0.0)
                queued[upper] = before + cycles
                tail = queued[upper] - compute / tiles[lower] if lower < array else 0.0
                exposed = max(exposed, before, tail)
        end = self._times(plan.end.flows)
        self._charge(end, 1)
        last = sum(cycles / pieces[lower][0] for (lower, kind, _), cycles in end.items() if kind == "drain")
        read_from = {flow.upper for flow in plan.start.flows if flow.upper < array}
        latency = sum(levels[upper].latency_cycles for upper in read_from)
        # The first tiles delay the compute; the port times already hold them.
        busy += exposed
        return max(busy, *self.ports.values()) + last + latency


def engine_metrics(metrics: Metrics, mapping: Mapping, layer: LayerBase, hierarchy: Hierarchy) -> Metrics:
    """``metrics`` with the engine's cycles of ``mapping`` (a full event-driven replay)."""
    assert layer.loop_bounds is not None
    plan = plan_accesses(mapping, layer.loop_bounds, hierarchy, layer.macs)
    return replace(metrics, engine_cycles=simulate_layer(plan, layer, hierarchy).cycles)
