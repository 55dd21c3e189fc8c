"""The access stream of a mapped layer: its steps in order, batched where the outer tiles hold.

A *step* is one iteration of the temporal loops above the array level
(:attr:`~energysim.model.hierarchy.Hierarchy.array_level`): some tiles
change (fills, drains), then the PE array computes one burst. A step is
named by the loop that stepped (its :data:`~energysim.analysis.accesses.StepKey`),
whose counts the :class:`~energysim.analysis.accesses.AccessPlan` holds.

The loops of the level just above the array change only the array's own tiles,
so all their iterations after the first form one batched :class:`Step` that
carries how many steps of each kind it stands for; and the repeats of the
innermost loop above them are alike too, so they form one more. The stream's
length thus grows with the tile changes of the shared levels above, not with
the MACs.
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

    ``changes`` gives, for each level whose tiles change (outermost first), how
    many times they change; the array level changes at every step.
    """

    keys: tuple[tuple[StepKey | None, int], ...]
    repeat: int
    changes: tuple[tuple[int, int], ...]

    @property
    def changed(self) -> tuple[int, ...]:
        """The levels whose tiles change, outermost first."""
        return tuple(level for level, _ in self.changes)

    def times(self, level: int) -> int:
        """How many times ``level``'s tile changes in this step."""
        return next((count for changed, count in self.changes if changed == level), 0)


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


def _merge(*parts: Step) -> Step:
    """One step standing for ``parts`` in a row (their counts added)."""
    keys: dict[StepKey | None, int] = {}
    changes: dict[int, int] = {}
    for part in parts:
        for key, count in part.keys:
            keys[key] = keys.get(key, 0) + count
        for level, count in part.changes:
            changes[level] = changes.get(level, 0) + count
    return Step(tuple(keys.items()), sum(part.repeat for part in parts), tuple(sorted(changes.items())))


def _scaled(step: Step, times: int) -> Step:
    return Step(
        tuple((key, count * times) for key, count in step.keys),
        step.repeat * times,
        tuple((level, count * times) for level, count in step.changes),
    )


def steps(plan: AccessPlan) -> Iterator[Step]:
    """The steps of ``plan`` in nest order, alike runs batched."""
    walked = plan.nest.temporal_above(plan.array_level)
    array = plan.array_level
    yield Step(((None, 1),), 1, tuple((level, 1) for level in _changed_levels(plan, None)))
    group = tuple(p for p in walked if p.level == array - 1)
    outer = walked[: len(walked) - len(group)]
    group_steps = math.prod(p.factor for p in group) - 1
    in_group = tuple((level, group_steps) for level in (_changed_levels(plan, group[0]) if group else ()))
    batched = cache(lambda outer_fresh: Step(_group_keys(group, outer_fresh), group_steps, in_group))

    def with_group(head: Step | None, outer_indices: tuple[int, ...]) -> Step | None:
        if not group_steps:
            return head
        fresh = all(
            index == 0 for index, p in zip(outer_indices, outer, strict=True) if p.dim not in OUTPUT_DIMS
        )
        return batched(fresh) if head is None else _merge(head, batched(fresh))

    if not outer:
        rest = with_group(None, ())
        if rest is not None:
            yield rest
        return
    indices = [0] * len(walked)
    last = outer[-1]
    previous: tuple[int, ...] | None = None
    for head_indices in itertools.product(*(range(p.factor) for p in outer[:-1])):
        first = (*head_indices, 0)
        indices[: len(outer)] = first
        if previous is not None:
            # The loop that stepped is the outermost that changed; the ones inside it wrapped.
            position = outer[min(i for i in range(len(outer)) if first[i] != previous[i])]
            key = (position.index, _fresh(position, indices, walked))
            changes = tuple((level, 1) for level in _changed_levels(plan, position))
            head = with_group(Step(((key, 1),), 1, changes), first)
        else:
            head = with_group(None, first)
        if head is not None:
            yield head
        previous = first
        if last.factor > 1:
            # The innermost outer loop's later iterations are alike: one step for all of them.
            second = (*head_indices, 1)
            indices[: len(outer)] = second
            key = (last.index, _fresh(last, indices, walked))
            changes = tuple((level, 1) for level in _changed_levels(plan, last))
            alike = with_group(Step(((key, 1),), 1, changes), second)
            assert alike is not None
            yield _scaled(alike, last.factor - 1)
            previous = (*head_indices, last.factor - 1)
