"""The access stream of a mapped layer: its steps in order, batched where the outer tiles hold.

A *step* is one iteration of the temporal loops above the array level
(:attr:`~energysim.model.hierarchy.Hierarchy.array_level`): some tiles
change (fills, drains), then the PE array computes one burst. A step is
named by the loop that stepped (its :data:`~energysim.analysis.accesses.StepKey`),
whose counts the :class:`~energysim.analysis.accesses.AccessPlan` holds.

The loops of the level just above the array change only the array's own tiles,
so all their iterations after the first form one batched :class:`Step` that
carries how many steps of each kind it stands for. The stream's length thus
grows with the tile changes of the shared levels above, not with the MACs.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache

from energysim.analysis.accesses import AccessPlan, StepKey
from energysim.analysis.tiles import RELEVANT_DIMS, Position

OUTPUT_DIMS = RELEVANT_DIMS["outputs"]


@dataclass(frozen=True)
class Step:
    """``repeat`` steps in a row: ``keys`` says how many of each kind (None: the first step).

    ``changed`` lists the levels (indices, outermost first) whose tiles change;
    the array level changes at every step.
    """

    keys: tuple[tuple[StepKey | None, int], ...]
    repeat: int
    changed: tuple[int, ...]


def _changed_levels(plan: AccessPlan, position: Position | None) -> tuple[int, ...]:
    starts = plan.nest.level_start
    levels = range(1, min(plan.array_level + 1, len(plan.names)))
    return tuple(level for level in levels if position is None or position.index < starts[level])


def _fresh(position: Position, indices: list[int], walked: tuple[Position, ...]) -> bool:
    """True if stepping ``position`` brings outputs no MAC has touched yet."""
    if position.dim not in OUTPUT_DIMS:
        return False
    for index, other in enumerate(walked):
        if other is position:
            return True
        if other.dim not in OUTPUT_DIMS and indices[index] > 0:
            return False
    return True


def _group_keys(group: tuple[Position, ...], outer_fresh: bool) -> tuple[tuple[StepKey, int], ...]:
    """Kinds of step among all iterations of ``group`` after its first, with their counts."""
    keys: list[tuple[StepKey, int]] = []
    before = relevant_before = 1
    fresh_possible = outer_fresh
    for position in group:
        total = (position.factor - 1) * before
        fresh = (
            (position.factor - 1) * relevant_before if fresh_possible and position.dim in OUTPUT_DIMS else 0
        )
        keys += [((position.index, True), fresh), ((position.index, False), total - fresh)]
        before *= position.factor
        if position.dim in OUTPUT_DIMS:
            relevant_before *= position.factor
    return tuple((key, count) for key, count in keys if count)


def steps(plan: AccessPlan) -> Iterator[Step]:
    """The steps of ``plan`` in nest order, each level-above-the-array run batched."""
    walked = plan.nest.temporal_above(plan.array_level)
    yield Step(((None, 1),), 1, _changed_levels(plan, None))
    parent = plan.array_level - 1
    group = tuple(p for p in walked if p.level == parent)
    outer = walked[: len(walked) - len(group)]
    group_steps = math.prod(p.factor for p in group) - 1
    changed = _changed_levels(plan, group[0]) if group else ()
    batched = cache(lambda outer_fresh: _group_keys(group, outer_fresh))
    indices = [0] * len(walked)
    previous: tuple[int, ...] | None = None
    for outer_indices in itertools.product(*(range(p.factor) for p in outer)):
        indices[: len(outer)] = outer_indices
        if previous is not None:
            # The loop that stepped is the outermost that changed; the ones inside it wrapped.
            position = outer[min(i for i in range(len(outer)) if outer_indices[i] != previous[i])]
            key = (position.index, _fresh(position, indices, walked))
            yield Step(((key, 1),), 1, _changed_levels(plan, position))
        previous = outer_indices
        if group_steps:
            outer_fresh = all(
                index == 0 for index, p in zip(outer_indices, outer, strict=True) if p.dim not in OUTPUT_DIMS
            )
            yield Step(batched(outer_fresh), group_steps, changed)
