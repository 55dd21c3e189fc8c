"""The access stream of a mapped layer: its steps in order, batched where the outer tiles hold.

A *step* is one iteration of the temporal loops above the array level
(:attr:`~energysim.model.hierarchy.Hierarchy.array_level`): some tiles
change (fills, drains), then the PE array computes one burst. A step is
named by the loop that stepped (its :data:`~energysim.analysis.plan.StepKey`),
whose counts the :class:`~energysim.analysis.plan.AccessPlan` holds.

The loops of the level just above the array change only the array's own tiles,
so all their iterations after the first form one batched :class:`Step` that
carries how many steps of each kind it stands for; and the repeats of the
innermost loop above them are alike too, so they form one more. The stream's
length thus grows with the tile changes of the shared levels above, not with
the MACs.

Those tile changes can still be many (a layer a billion rows tall, a padding
of a million): past :data:`MAX_SIMULATED_STEPS`, the later, alike iterations
of the outer loops are batched too (DESIGN.md: identical steady-state steps
may be batched). The stream is built from its nested repeats, so its cost is
that of the steps it yields and the number of loops, never a loop's bound.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache, cached_property

from energysim.analysis.plan import AccessPlan, StepKey
from energysim.analysis.tiles import RELEVANT_DIMS, Position

OUTPUT_DIMS = RELEVANT_DIMS["outputs"]
#: Most steps simulated per layer; beyond it, alike steps of the outer loops are batched.
#: Above the 6,217 of the largest shipped layer (VGG-16 conv4_3, WS on eyeriss), so every
#: shipped network is simulated step by step; about 30 SimPy events a step, a few seconds.
MAX_SIMULATED_STEPS = 1 << 13


@dataclass(frozen=True)
class Step:
    """``repeat`` steps in a row: ``keys`` says how many of each kind (None: the first step).

    ``changes`` gives, for each level whose tiles change (outermost first), how
    many times they change; the array level changes at every step.
    """

    keys: tuple[tuple[StepKey | None, int], ...]
    repeat: int
    changes: tuple[tuple[int, int], ...]

    @cached_property
    def changed(self) -> tuple[int, ...]:
        """The levels whose tiles change, outermost first."""
        return tuple(level for level, _ in self.changes)

    @cached_property
    def _times(self) -> dict[int, int]:
        return dict(self.changes)

    def times(self, level: int) -> int:
        """How many times ``level``'s tile changes in this step (0: it does not change)."""
        return self._times.get(level, 0)


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


#: A head step's cause: the key of the loop that stepped (None: the layer's first tiles).
Entry = StepKey | None


class _Stream:
    """The steps of one plan as nested repeats, expanded in full or batched to a budget.

    The loops above the array (outside the batched group of the level just
    above it) are ``outer``; all but the last are *head* loops. The steps of
    head loops ``d ..`` for one iteration of the loops outside them form a
    *block*: the block of ``d + 1`` entered by the same cause, then
    ``factor - 1`` alike blocks of ``d + 1`` entered by loop ``d`` stepping.
    ``fresh`` says whether every loop outside that does not index outputs is
    at its first iteration (so the outputs a step brings in are new).
    """

    def __init__(self, plan: AccessPlan) -> None:
        self.plan = plan
        walked = plan.nest.temporal_above(plan.array_level)
        group = tuple(p for p in walked if p.level == plan.array_level - 1)
        self.outer = walked[: len(walked) - len(group)]
        self.by_index = {p.index: p for p in self.outer}
        self.group_steps = math.prod(p.factor for p in group) - 1
        in_group = (
            tuple((level, self.group_steps) for level in _changed_levels(plan, group[0])) if group else ()
        )
        self.batched = cache(
            lambda outer_fresh: Step(_group_keys(group, outer_fresh), self.group_steps, in_group)
        )
        self.collapsed = cache(self._collapsed)
        self.length = cache(self._length)
        self.base = cache(self._base)

    def first(self) -> Step:
        """The layer's first tiles: every level below the outermost is filled."""
        return Step(((None, 1),), 1, tuple((level, 1) for level in _changed_levels(self.plan, None)))

    def _stepped(self, position: Position, key_fresh: bool, group_fresh: bool) -> Step:
        """One step caused by ``position`` stepping, with the group's batch if there is one."""
        changes = tuple((level, 1) for level in _changed_levels(self.plan, position))
        step = Step((((position.index, key_fresh), 1),), 1, changes)
        return _merge(step, self.batched(group_fresh)) if self.group_steps else step

    def _base(self, entry: Entry, fresh: bool) -> tuple[Step, ...]:
        """The steps of the last outer loop: its first iteration, then the alike rest batched."""
        result = []
        if entry is not None:
            result.append(self._stepped(self.by_index[entry[0]], entry[1], fresh))
        elif self.group_steps:
            result.append(self.batched(fresh))
        last = self.outer[-1]
        if last.factor > 1:
            alike_fresh = fresh and last.dim in OUTPUT_DIMS
            result.append(_scaled(self._stepped(last, alike_fresh, alike_fresh), last.factor - 1))
        return tuple(result)

    def _inner(self, depth: int, fresh: bool) -> tuple[Entry, bool]:
        """The cause and freshness of the blocks after the first in head loop ``depth``."""
        position = self.outer[depth]
        relevant = position.dim in OUTPUT_DIMS
        return (position.index, relevant and fresh), relevant and fresh

    def _length(self, depth: int, entered: bool) -> int:
        """Steps in a block of head loop ``depth`` (entered by a loop stepping, or not)."""
        if depth == len(self.outer) - 1:
            return int(entered or self.group_steps > 0) + int(self.outer[-1].factor > 1)
        rest = self.length(depth + 1, True)
        return self.length(depth + 1, entered) + (self.outer[depth].factor - 1) * rest

    def full(self, depth: int, entry: Entry, fresh: bool) -> Iterator[Step]:
        """Every step of a block, in nest order."""
        if depth == len(self.outer) - 1:
            yield from self.base(entry, fresh)
            return
        yield from self.full(depth + 1, entry, fresh)
        inner_entry, inner_fresh = self._inner(depth, fresh)
        for _ in range(self.outer[depth].factor - 1):
            yield from self.full(depth + 1, inner_entry, inner_fresh)

    def _collapsed(self, depth: int, entry: Entry, fresh: bool) -> Step | None:
        """A whole block as one batched step (None for a block without steps)."""
        if depth == len(self.outer) - 1:
            ends = self.base(entry, fresh)
            return _merge(*ends) if ends else None
        first = self.collapsed(depth + 1, entry, fresh)
        rest = self.collapsed(depth + 1, *self._inner(depth, fresh))
        repeats = self.outer[depth].factor - 1
        parts = [part for part in (first, _scaled(rest, repeats) if rest and repeats else None) if part]
        return _merge(*parts) if parts else None

    def expand(self, depth: int, entry: Entry, fresh: bool, budget: int) -> list[Step]:
        """A block in at most ``budget`` steps (at least one if it has any).

        Within budget, every step; else the first inner block in half the
        budget, as many alike inner blocks in full as fit, and the rest of
        them as one batched step.
        """
        if self.length(depth, entry is not None) <= budget:
            return list(self.full(depth, entry, fresh))
        if budget < 3:
            block = self.collapsed(depth, entry, fresh)
            return [block] if block else []
        result = self.expand(depth + 1, entry, fresh, budget // 2)
        left = budget - len(result)
        inner_entry, inner_fresh = self._inner(depth, fresh)
        repeats = self.outer[depth].factor - 1
        copies = min(repeats, (left - 1) // self.length(depth + 1, True))
        for _ in range(copies):
            result += self.full(depth + 1, inner_entry, inner_fresh)
        if copies == 0:
            result += self.expand(depth + 1, inner_entry, inner_fresh, left - 1)
            copies = 1
        rest = self.collapsed(depth + 1, inner_entry, inner_fresh)
        if copies < repeats and rest is not None:
            result.append(_scaled(rest, repeats - copies))
        return result


def count_steps(plan: AccessPlan) -> int:
    """Steps of ``plan`` before any batching beyond the stream's own (see :func:`steps`)."""
    stream = _Stream(plan)
    if not stream.outer:
        return 1 + int(stream.group_steps > 0)
    return 1 + stream.length(0, False)


def steps(plan: AccessPlan, budget: int = MAX_SIMULATED_STEPS) -> list[Step]:
    """The steps of ``plan`` in nest order, alike runs batched, at most ``budget`` of them.

    A layer whose stream has more steps than ``budget`` keeps its first
    iterations of every loop step by step and batches the later, alike ones
    of the outermost loops, as it batches the innermost ones anyway: the
    counts stay exact, and the number of simulated steps (so of SimPy
    events) is bounded whatever the loop bounds are.
    """
    stream = _Stream(plan)
    if not stream.outer:
        return [stream.first(), *([stream.batched(True)] if stream.group_steps else [])]
    return [stream.first(), *stream.expand(0, None, True, max(1, budget - 1))]
