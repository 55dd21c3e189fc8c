"""What a search minimises: energy, cycles, their product (EDP) or a weighted mix.

* **energy**: the exact access counts of :func:`~energysim.analysis.accesses.plan_accesses`,
  priced (:func:`~energysim.analysis.energy.price`): the dynamic energy that
  :func:`energysim.analyze` reports for the same mapping (static energy needs
  time, so it is left out of the objective).
* **cycles**: a fast analytic estimate of the engine's time, from the same plan:
  ``max(compute, each level's bytes / bandwidth) + the outermost level's latency``,
  where compute is the engine's bursts (each as long as its MACs or its busiest
  register file) plus, on a systolic array, the engine's folds times SCALE-Sim's
  skew ``2 rows + cols - 2``. Calibrated against :func:`energysim.simulate`
  (``benchmarks/mapper.py`` prints estimate / engine): on 5 searched ResNet-50
  layers each, 0.76-0.95 on eyeriss and 0.64-0.98 on tpu-like; exact (1.000) on
  compute-bound systolic layers (tests/test_mapper.py's 32x32 array). The
  estimate is optimistic where the engine's stalls on several levels add up,
  which a max of bounds cannot see; so the top candidates are re-ranked by the
  engine whenever the objective weighs cycles.
* **edp**: energy x cycles; a **mix** ``{"energy": a, "cycles": b}`` minimises
  ``energy^a x cycles^b`` (unit-free, so the weights need no scale; edp is 1, 1).
"""

from __future__ import annotations

import math
from collections.abc import Mapping as MappingOf
from dataclasses import dataclass, replace

from energysim.analysis.accesses import plan_accesses
from energysim.analysis.energy import price
from energysim.analysis.plan import AccessCounts, AccessPlan
from energysim.engine import simulate_layer
from energysim.errors import EnergySimError
from energysim.folds import fold_keys
from energysim.model.hierarchy import Hierarchy
from energysim.model.layers import LayerBase
from energysim.model.mapping import Mapping
from energysim.timing import register_limit

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
    """The analytic cycle estimate of the module docstring."""
    nest = plan.nest
    compute_unit = hierarchy.compute
    inner = nest.time_steps // plan.bursts
    burst = max(
        float(math.ceil(inner / compute_unit.macs_per_cycle_per_pe)),
        register_limit(plan, layer, hierarchy)[1],
    )
    compute = plan.bursts * burst
    if compute_unit.systolic:
        keys = fold_keys(plan, hierarchy)
        folds = 1 + sum(plan.step_counts[key] for key in keys if key is not None)
        compute += folds * (2 * compute_unit.array.rows + compute_unit.array.cols - 2)
    bound = compute
    moved: dict[str, list[float]] = {}
    for (name, tensor, action), count in counts.counts.items():
        entry = moved.setdefault(name, [0.0, 0.0])
        entry[action != "read"] += count * layer.bits(tensor) / 8
    for index, level in enumerate(hierarchy.levels):
        if index >= plan.array_level or level.name not in moved:
            continue
        read, written = moved[level.name]
        instances = max(1, nest.instances_used(index))
        if level.separate_read_write:
            cycles = max(read / level.direction_bandwidth(False), written / level.direction_bandwidth(True))
        else:
            cycles = (read + written) / level.bandwidth_bytes_per_cycle
        bound = max(bound, cycles / level.ports / instances)
    return bound + hierarchy.levels[0].latency_cycles


def engine_metrics(metrics: Metrics, mapping: Mapping, layer: LayerBase, hierarchy: Hierarchy) -> Metrics:
    """``metrics`` with the engine's cycles of ``mapping`` (a full event-driven replay)."""
    assert layer.loop_bounds is not None
    plan = plan_accesses(mapping, layer.loop_bounds, hierarchy, layer.macs)
    return replace(metrics, engine_cycles=simulate_layer(plan, layer, hierarchy).cycles)
