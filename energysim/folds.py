"""Systolic folds: which steps of a mapped layer change the tile that stays in the PEs.

A systolic array pays a fold's preload and skew (SCALE-Sim's model) whenever
a new stationary tile must cross it. Which tensor is stationary follows from
the mapping, not from a dataflow's name: of the tensors that stay in the
PEs across a burst, the one whose tile changes least often.
"""

from __future__ import annotations

from energysim.analysis.plan import AccessPlan, StepKey
from energysim.analysis.tiles import RELEVANT_DIMS
from energysim.model.hierarchy import Hierarchy


def pe_levels(hierarchy: Hierarchy) -> list[int]:
    """The levels inside the PEs: one instance per PE (the array level and any above it)."""
    pes = hierarchy.compute.pes
    levels = hierarchy.levels
    return [index for index in range(1, len(levels)) if levels[index].instances == pes]


def stationary(plan: AccessPlan, hierarchy: Hierarchy) -> list[tuple[int, str]]:
    """The (per-PE level, tensor) pairs whose tile stays in the PEs across a burst.

    A tensor kept at a per-PE level stays there across a burst if no
    temporal loop inside the burst (of the array level or below) above
    that level indexes it.
    """
    nest = plan.nest
    # The first tiles fill every level keeping weights or inputs; the last drains empty every
    # level keeping outputs.
    kept = [(f.lower, f.tensor) for f in (*plan.start.flows, *plan.end.flows)]
    stationary: list[tuple[int, str]] = []
    for index in pe_levels(hierarchy):
        moving = {
            p.dim
            for p in nest.positions
            if not p.spatial and plan.array_level <= p.level < index and p.factor > 1
        }
        stationary += [
            (lower, tensor)
            for lower, tensor in kept
            if lower == index and not moving & set(RELEVANT_DIMS[tensor])
        ]
    return stationary


def fold_keys(plan: AccessPlan, hierarchy: Hierarchy) -> frozenset[StepKey | None]:
    """The step kinds that start a systolic fold: they change the array's stationary tile.

    The stationary tensor is the one of those staying in the PEs across a
    burst whose tile there changes least often (a per-PE output register
    below a weight register changes with every output: the weights are
    what stays). The layer's first step always starts a fold. Whatever
    stays (weights, inputs or outputs), a new stationary tile must cross
    the array: that is the fold's preload and skew.
    """
    best: tuple[int, set[StepKey | None]] | None = None
    for level, tensor in stationary(plan, hierarchy):
        keys: set[StepKey | None] = {
            key
            for key, bucket in plan.steps.items()
            if any(
                flow.lower == level and flow.tensor == tensor and flow.kind in ("fill", "drain")
                for flow in bucket.flows
            )
        }
        changes = sum(plan.step_counts[key] for key in keys if key is not None)
        if best is None or changes < best[0]:
            best = (changes, keys)
    return frozenset({None, *(best[1] if best else ())})
