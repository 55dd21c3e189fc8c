"""The access stream of a mapped layer: its steps in order, batched where identical.

A *step* is one iteration of the temporal loops above the array level
(:attr:`~energysim.model.hierarchy.Hierarchy.array_level`): some tiles
change (fills, drains), then the PE array computes one burst. Each step is
named by the loop that stepped (its :data:`~energysim.analysis.accesses.StepKey`),
whose counts the :class:`~energysim.analysis.accesses.AccessPlan` holds.

Steps are produced lazily, and the steps of the innermost walked loop after
its first one are identical (only the array's own tile changes), so they come
as one batched :class:`Step` with ``repeat``: the stream's length grows with
the number of tile changes of the outer levels, not with the number of MACs.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass

from energysim.analysis.accesses import AccessPlan, StepKey
from energysim.analysis.tiles import RELEVANT_DIMS, Position


@dataclass(frozen=True)
class Step:
    """``repeat`` identical steps; ``key`` is None for the very first one.

    ``changed`` lists the levels (indices, outermost first) whose tiles change
    at this step; the array level changes at every step.
    """

    key: StepKey | None
    repeat: int
    changed: tuple[int, ...]


def _changed_levels(plan: AccessPlan, position: Position | None) -> tuple[int, ...]:
    starts = plan.nest.level_start
    levels = range(1, min(plan.array_level + 1, len(plan.names)))
    return tuple(level for level in levels if position is None or position.index < starts[level])


def _fresh(position: Position, indices: list[int], walked: tuple[Position, ...]) -> bool:
    """True if stepping ``position`` brings outputs no MAC has touched yet."""
    if position.dim not in RELEVANT_DIMS["outputs"]:
        return False
    for index, other in enumerate(walked):
        if other is position:
            return True
        if other.dim not in RELEVANT_DIMS["outputs"] and indices[index] > 0:
            return False
    return True


def steps(plan: AccessPlan) -> Iterator[Step]:
    """The steps of ``plan`` in nest order, the innermost loop's repeats batched."""
    walked = plan.nest.temporal_above(plan.array_level)
    yield Step(None, 1, _changed_levels(plan, None))
    if not walked:
        return
    outer, inner = walked[:-1], walked[-1]
    inner_changed = _changed_levels(plan, inner)
    indices = [0] * len(walked)
    previous: tuple[int, ...] | None = None
    for outer_indices in itertools.product(*(range(p.factor) for p in outer)):
        indices[: len(outer)] = outer_indices
        indices[-1] = 0
        if previous is not None:
            # The loop that stepped is the outermost that changed; the ones inside it wrapped.
            stepped = min(i for i in range(len(outer)) if outer_indices[i] != previous[i])
            position = outer[stepped]
            key = (position.index, _fresh(position, indices, walked))
            yield Step(key, 1, _changed_levels(plan, position))
        previous = outer_indices
        if inner.factor > 1:
            indices[-1] = 1
            yield Step((inner.index, _fresh(inner, indices, walked)), inner.factor - 1, inner_changed)
