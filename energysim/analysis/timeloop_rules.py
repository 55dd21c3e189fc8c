"""The ``timeloop`` counting mode: timeloop-model's rules for reuse, multicast and reduction.

DESIGN.md ("Counting semantics") names two modes. ``exact`` (the default,
:mod:`energysim.analysis.accesses`) counts an ideal buffer. ``timeloop``
reproduces the counts of ``timeloop-model`` for the same architecture, problem
and mapping, so that a user can cross-check a paper or migrate; it differs
from ``exact`` by these rules, each of them from Timeloop's source (NVlabs/timeloop,
``src/loop-analysis/nest-analysis.cpp``, ``src/loop-analysis/tiling.cpp``,
``src/workload/shape-models/operation-space.cpp``,
``src/loop-analysis/point-set-aahr.cpp``):

* **Sliding-window reuse only while the stride holds.** ``NestAnalysis::ComputeDeltas``
  computes each level's fill (the *delta*) with
  ``OperationSpace::SaveAndSubtractIfSameStride``: the tile's translation from
  its previous position (``AxisAlignedHyperRectangle::GetTranslation``, the
  shift of its lowest corner in tensor coordinates) is compared with the last
  one recorded. A zero translation (a stationary tile) subtracts and records
  nothing; a translation equal to the record, or any translation when there is
  no record, subtracts (only new elements are filled) and is recorded; any other
  translation (a wrap-around of an inner loop, a step of another loop) fills the
  whole tile and clears the record (the comment there: hardware pattern
  generators "may be unable to generate complicated patterns arising from
  residuals", so the residual state is discarded "if the tile shape changes the
  magnitude or direction of its stride"). :func:`stride_outcomes` runs that
  record over the odometer of the loops above a level in closed form.
* **Multicast only for identical data.**
  ``NestAnalysis::ComputeAccurateMulticastedAccesses`` groups the deltas of the
  spatial children that are *equal* (``OperationSpace::CheckEquality``); each
  group costs one read at the parent. Children whose tiles overlap without being
  equal (Eyeriss' shifted input rows) are each read their whole delta. Children
  with equal tiles always have equal deltas, and equal deltas of two children
  mean equal tiles, so the groups are the distinct child tile positions.
* **Every reduction sibling is filled with the previous partial sum.**
  ``ComputeReadUpdateReductionAccesses_Legacy`` (``tiling.cpp``, first-read
  elision on) gives a read-write tensor ``fills = parent_access_share -
  partition_size`` per instance: every arrival of an output element into an
  instance's tile is filled except its first (the instance's partition); there
  is no designated sibling starting from zero. ``reads = content_accesses -
  partition_size`` likewise: an update reads the old value except on an
  element's first touch by that instance.
* **Zero padding is not special.** Timeloop's problem has no padding: the
  padded input is a tensor in memory, and DRAM reads its zeros like any element.
* Block rounding per instance, and leakage only for the instances the mapping
  uses (``src/model/buffer.cpp``, ``ComputeVectorAccesses``: ``ceil(per-instance
  count / block size)`` times the utilised instances), are pricing rules, not
  counts: this mode sets ``plan.block_rounding = "per_instance"``, which
  :func:`energysim.analysis.energy.price` reads, and ``simulate`` charges
  leakage for the used instances only (its ``gated`` option). Timeloop rounds
  each instance's total per action, not each tile transfer, and so does this mode.

What ``timeloop-model`` does and this mode does not: by default it extrapolates
each temporal loop from its first two iterations (``gExtrapolateUniformTemporal``;
``TIMELOOP_DISABLE_TEMPORAL_EXTRAPOLATION=1`` turns it off), so the stride rule
there sees inner loops wrap from their second index; our counts are those of the
full walk, i.e. of timeloop-model with extrapolation off. Its tiles are
axis-aligned boxes (a strided input window with gaps counts its gaps), imperfect
factors leave residual tiles (we pad the nest), and link transfers between
neighbouring PEs are not modelled.
"""

from __future__ import annotations

import itertools
import math
from typing import Literal, get_args

from energysim.analysis.accesses import _Planner, plan_accesses
from energysim.analysis.intervals import Window
from energysim.analysis.plan import AccessCounts, AccessPlan
from energysim.analysis.tiles import (
    Axis,
    Transition,
    axis_shift,
    distinct_offsets,
    overlap_after_shift,
    tensor_axes,
    transitions,
)
from energysim.errors import EnergySimError
from energysim.model.base import TENSORS, Tensor
from energysim.model.hierarchy import Hierarchy
from energysim.model.layers import LoopBounds
from energysim.model.mapping import Mapping

#: How accesses are counted: an ideal buffer (``exact``) or timeloop-model's rules (``timeloop``).
Counting = Literal["exact", "timeloop"]
COUNTING_MODES: tuple[str, ...] = get_args(Counting)

#: A tile's translation in tensor coordinates, one entry per axis; None: no translation recorded.
Move = tuple[int, ...]
Record = Move | None


def check_counting(value: object) -> Counting:
    """``value`` as a counting mode, or an error naming the valid ones."""
    if value == "exact":
        return "exact"
    if value == "timeloop":
        return "timeloop"
    raise EnergySimError(f"counting: expected one of {', '.join(COUNTING_MODES)}, got {value!r}")


# --- the stride record over the odometer of the loops above a level ------------------------------


def _record_step(record: Record, move: Move) -> tuple[Record, bool]:
    """One tile move under ``SaveAndSubtractIfSameStride``: the new record, and whether it reuses."""
    if not any(move):
        return record, True  # stationary: subtract, keep the record
    if record is None or record == move:
        return move, True
    return None, False  # the stride changed: whole tile, record cleared


class _Odometer:
    """Runs the stride record over every iteration of loops ``factors`` (outer to inner).

    ``moves[k]`` is the tile's translation when loop ``k`` steps and the loops
    inside it wrap. The record has at most ``len(moves) + 1`` values, so each
    loop's iterations repeat a cycle of at most that many record values: the
    cost follows the number of loops, never their factors.
    """

    def __init__(self, factors: list[int], moves: list[Move]) -> None:
        self.factors = factors
        self.moves = moves
        self.memo: dict[tuple[int, Record], tuple[Record, list[list[int]]]] = {}

    def zero(self) -> list[list[int]]:
        return [[0, 0] for _ in self.factors]

    def run(self, loop: int, record: Record) -> tuple[Record, list[list[int]]]:
        """All iterations of loops ``loop ..``: the final record and [reused, refilled] per loop."""
        key = (loop, record)
        if key in self.memo:
            return self.memo[key]
        if loop == len(self.factors):
            return record, self.zero()
        record, counts = self.run(loop + 1, record)
        counts = [list(pair) for pair in counts]
        history: list[list[list[int]]] = []  # counts of the steps so far, cumulated
        seen: dict[Record, int] = {}
        steps = self.factors[loop] - 1
        done = 0
        running = self.zero()
        while done < steps:
            if record in seen:  # a cycle: jump over its whole repetitions, then finish it
                first = seen[record]
                period = done - first
                base = history[first - 1] if first else self.zero()
                cycle = _minus(running, base)
                repeats, rest = divmod(steps - done, period)
                tail = _minus(history[first + rest - 1], base) if rest else self.zero()
                running = _plus(_plus(running, _times(cycle, repeats)), tail)
                record = self._state_after(loop, record, rest)
                break
            seen[record] = done
            record, step_counts = self._one_step(loop, record)
            running = _plus(running, step_counts)
            history.append(running)
            done += 1
        result = (record, _plus(counts, running))
        self.memo[key] = result
        return result

    def _one_step(self, loop: int, record: Record) -> tuple[Record, list[list[int]]]:
        record, reused = _record_step(record, self.moves[loop])
        counts = self.zero()
        counts[loop][0 if reused else 1] += 1
        record, inner = self.run(loop + 1, record)
        return record, _plus(counts, inner)

    def _state_after(self, loop: int, record: Record, steps: int) -> Record:
        for _ in range(steps):  # fewer than the cycle's length
            record, _counts = self._one_step(loop, record)
        return record


def _plus(first: list[list[int]], second: list[list[int]]) -> list[list[int]]:
    return [[a + b for a, b in zip(x, y, strict=True)] for x, y in zip(first, second, strict=True)]


def _minus(first: list[list[int]], second: list[list[int]]) -> list[list[int]]:
    return [[a - b for a, b in zip(x, y, strict=True)] for x, y in zip(first, second, strict=True)]


def _times(counts: list[list[int]], times: int) -> list[list[int]]:
    return [[a * times for a in pair] for pair in counts]


def stride_outcomes(factors: list[int], moves: list[Move]) -> list[tuple[int, int]]:
    """Per loop above a level (outer to inner): its steps that reuse, and those that refill.

    ``factors`` are the loops' trip counts; ``moves[k]`` the tile's translation
    when loop ``k`` steps (the loops inside it wrap). The first tile is not a
    step. Timeloop's rule (``SaveAndSubtractIfSameStride``, see the module
    docstring): a step reuses if its move is zero, or equals the recorded move,
    or none is recorded; otherwise it refills the whole tile and clears the
    record. Reused + refilled of loop ``k`` = ``(factors[k] - 1) x`` the
    iterations of the loops outside it.
    """
    _record, counts = _Odometer(factors, moves).run(0, None)
    return [(reused, refilled) for reused, refilled in counts]


# --- the planner of the timeloop mode ------------------------------------------------------------


def tile_move(axes: tuple[Axis, ...], dim_offsets: dict[str, int]) -> Move:
    """The shift of a tile's lowest corner in tensor coordinates when the dimensions shift."""
    return tuple(sum(coefficient * dim_offsets.get(dim, 0) for dim, coefficient in axis) for axis in axes)


class TimeloopPlanner(_Planner):
    """The :class:`~energysim.analysis.accesses._Planner` with timeloop-model's rules (module docstring)."""

    def read_only(self, tensor: Tensor) -> None:
        """Fills of weights and inputs: the stride rule, and multicast only of identical tiles."""
        axes = tensor_axes(tensor, self.bounds)
        chain = self._chain(tensor)
        for parent, child in itertools.pairwise(chain):
            tiles, size = self._tiles(axes, child, self.nest.spatial_between(parent, child))
            instances, parents = self.nest.instances_used(child), self.nest.instances_used(parent)
            multicast = self._multicasts(parent, child)
            # Children at one tile position hold equal tiles, hence equal deltas: one group each.
            groups = parents * math.prod([distinct_offsets(tile) for tile in tiles])
            self._fill(self.plan.start, parent, child, tensor, size * instances, size * groups, multicast)
            changes = transitions(self.nest, child)
            outcomes = stride_outcomes(
                [change.position.factor for change in changes],
                [tile_move(axes, change.dim_offsets) for change in changes],
            )
            for change, (_reused, refilled) in zip(changes, outcomes, strict=True):
                shift = [axis_shift(axis, change.dim_offsets) for axis in axes]
                kept = math.prod([overlap_after_shift(t, o) for t, o in zip(tiles, shift, strict=True)])
                new = size - kept
                for bucket in self._step_buckets(change):
                    self._fill(bucket, parent, child, tensor, new * instances, new * groups, multicast)
                if refilled and kept:
                    extra = refilled * kept
                    self._refill(change, parent, child, tensor, extra, (instances, groups), multicast)
        self._operand_reads(chain[-1], tensor, axes)

    def _refill(
        self,
        change: Transition,
        parent: int,
        child: int,
        tensor: Tensor,
        elements: int,
        receivers: tuple[int, int],
        multicast: bool,
    ) -> None:
        """Steps that refill the whole tile: what they move beyond the new elements, ``elements`` per child.

        The step buckets charge every occurrence of a step alike (new elements
        only); the refills of the elements a child still held go to the
        first-tile bucket's counts, so that the totals and the engine's counts
        are exact; the engine's timing moves them spread over the step's
        occurrences (their average, as flows of the step buckets).
        """
        instances, groups = receivers
        fills, reads = elements * instances, elements * (groups if multicast else instances)
        start = self.plan.start
        self._add(start, child, tensor, "fill", fills)
        self._add(start, parent, tensor, "read", reads)
        self._transfers(start, parent, child, tensor, fills)
        for bucket in self._step_buckets(change):
            self._flow(bucket, parent, child, tensor, "fill", reads // change.count)

    def _restarted_outputs(
        self, axes: tuple[Axis, ...], windows: tuple[Window, ...], chain: list[int]
    ) -> None:
        """Nothing restarts from zero here: every reduction sibling is refilled with its running sum,
        and Timeloop's problem has no padding (every output of the nest has an address)."""

    def _output_fills(
        self, parent: int | None, level: int, designated: int, instances: int, new: int
    ) -> tuple[int, int]:
        """Every instance refills its revisited partial sums; the parent reads one per identical group."""
        if parent is None or not self._multicasts(parent, level):
            return instances * new, instances * new
        return instances * new, designated * new


def plan_for(
    mapping: Mapping, bounds: LoopBounds, hierarchy: Hierarchy, macs: int, counting: Counting = "exact"
) -> AccessPlan:
    """The access plan of a mapped layer under ``counting`` (see :data:`Counting`)."""
    if check_counting(counting) == "exact":
        return plan_accesses(mapping, bounds, hierarchy, macs)
    if mapping.flattened_level is not None:
        raise EnergySimError(
            f"counting='timeloop': level {mapping.levels[mapping.flattened_level].level} flattens C, R, S "
            "(im2col), which timeloop-model has no rules for; count it with counting='exact'"
        )
    planner = TimeloopPlanner(mapping, bounds, hierarchy, macs)
    planner.plan.outermost_outputs = None  # no padding: every output of the nest has an address
    for tensor in TENSORS:
        if tensor == "outputs":
            planner.outputs()
        else:
            planner.read_only(tensor)
    planner.plan.block_rounding = "per_instance"  # buffer.cpp: ceil(per-instance count / block size)
    return planner.plan


def counts_for(
    mapping: Mapping, bounds: LoopBounds, hierarchy: Hierarchy, macs: int, counting: Counting = "exact"
) -> AccessCounts:
    """Element counts of a mapped layer under ``counting`` (the mapping already checked)."""
    return plan_for(mapping, bounds, hierarchy, macs, counting).totals()
