"""Exact access counts of a mapping: reads, fills and updates per level and tensor.

Counting semantics (Timeloop's, as in DESIGN.md); "element" means one value of
one tensor, counted per level instance and summed over instances.

Time. The temporal loops of all levels, in nest order, define the time steps;
at each step every point of the spatial loops does one MAC of the padded nest.
An *instance* of level ``i`` is one choice of the spatial indices of levels
above it. Its *tile* of tensor ``t`` at a step is the set of ``t``'s elements
touched by all MACs whose indices of the temporal loops above ``i`` equal the
current ones (and whose spatial indices above ``i`` are the instance's).

Weights and inputs, at a level ``i`` keeping ``t`` below the outermost:

* **fill**: each time the tile changes, the elements of the new tile that the
  old one did not hold (the first tile is filled whole). Stationary tiles cost
  nothing; a sliding window fills only its new edge.
* **read** at the parent ``p`` (the nearest outer level keeping ``t``): for each
  step at which children of one parent instance fill, the distinct elements
  they fill (the union over those children) if every level from ``p`` to
  ``i - 1`` that fans out has a multicast network; else the sum of the fills.
* **read** by the MACs, at the innermost level ``j`` keeping ``t``: every step,
  each instance of ``j`` reads the distinct operands needed by the PEs below
  it (one read per PE without multicast). There is no operand reuse inside a
  MAC unit: reuse needs a storage level.

Outputs (partial sums), at a level ``i`` keeping them:

* When the tile changes, elements leaving it are **drained** to the parent,
  where they count as **updates**; elements entering it are **filled** (read
  from the parent) only if some MAC touched them at an earlier step, and only
  into one of the *reduction siblings* (instances under the same parent
  instance that differ only in spatial indices, between the parent and the
  level, of dimensions that do not index outputs: C, R, S), the one whose such
  indices are all zero. The others start from zero, so below one of them an
  element is refilled only if a MAC touched it since it entered that sibling
  (likewise below the first level under level 0 for a padded output: see
  below). At the end every tile drains. Drains of reduction siblings are summed on the way up, so a parent
  counts one update per distinct element (the drained value is the running sum:
  an update overwrites, it does not read).
* At the innermost level ``k`` keeping outputs, the MACs **update**: every step,
  each instance takes one update per distinct output of the PEs below it
  (their products are reduced first). Each update but the first of an element
  in a residency that started from zero reads the old value: **reads** there =
  updates - first writes. At any level, output reads also serve the fills of
  the level below. (The read of a drained value at the sender is not counted,
  as in DESIGN.md's example.)

Zero padding does not exist in memory: level 0 never reads, sends or writes
an element outside the tensor (padding, or beyond a loop bound that an
imperfect factor adds), so a padded output restarts from zero in the first
level below it; levels inside the chip move and update padded elements like
any other. The plan's buckets (last paragraph) count whole tiles and every
refill; :mod:`energysim.analysis.padding` takes out, in closed form, what
padding and restarted partial sums do not move (details there).

Network transfers: every element delivered to one receiving instance (fills,
MAC operands) or sent up by one instance (drains, MAC results), counted once
at each network it crosses between the two levels. MACs: the layer's; the
padded nest's extra MACs are issued but gated.

Every count is a sum of identical contributions: the first tiles (``start``),
each kind of tile change (one per temporal loop above the array, ``steps``,
split by whether the outputs it brings in are new), each compute burst of the
array (``burst``) and the last drains (``end``). :class:`AccessPlan` keeps
them apart, with how often each occurs; :func:`count_accesses` adds them up
and the simulation engine replays them in order, so both charge the same counts.
"""

from __future__ import annotations

import itertools
import math

from energysim.analysis.im2col import plan_flattened
from energysim.analysis.intervals import Window
from energysim.analysis.padding import padded_windows, restarted_outputs, unpad_outermost
from energysim.analysis.plan import (
    AccessCounts,
    AccessPlan,
    Action,
    Bucket,
    Flow,
    step_multiplicities,
)
from energysim.analysis.tiles import (
    RELEVANT_DIMS,
    Axis,
    AxisTile,
    Nest,
    Position,
    Transition,
    axis_shift,
    axis_tile,
    distinct_offsets,
    overlap_after_shift,
    tensor_axes,
    tile_size,
    transitions,
    union_and_good,
)
from energysim.model.base import TENSORS, Tensor
from energysim.model.hierarchy import Hierarchy
from energysim.model.layers import LoopBounds
from energysim.model.mapping import Mapping


class _Planner:
    """Builds the :class:`AccessPlan` of one mapped layer; one method per tensor kind."""

    def __init__(self, mapping: Mapping, bounds: LoopBounds, hierarchy: Hierarchy, macs: int) -> None:
        self.mapping = mapping
        self.bounds = bounds
        self.hierarchy = hierarchy
        self.nest = Nest(mapping, bounds)
        self.names = [level.level for level in mapping.levels]
        self.last = len(self.names)
        array_level = min(hierarchy.array_level, self.last)
        self.bursts = self.nest.steps_above(array_level)
        self.plan = AccessPlan(
            nest=self.nest,
            names=self.names,
            array_level=array_level,
            start=Bucket(),
            steps={key: Bucket() for key in step_multiplicities(self.nest, array_level)},
            step_counts=step_multiplicities(self.nest, array_level),
            burst=Bucket(),
            bursts=self.bursts,
            end=Bucket(),
            macs=macs,
            # DESIGN: padding has no address in level 0, which so receives only real outputs.
            outermost_outputs=math.prod([bounds.sizes[dim] for dim in RELEVANT_DIMS["outputs"]]),
        )

    # -- helpers ----------------------------------------------------------------------------------

    def _multicasts(self, upper: int, lower: int) -> bool:
        """True if every level between that fans out has a multicast network."""
        for index in {p.level for p in self.nest.spatial_between(upper, lower)}:
            network = self.hierarchy.levels[index].network
            if network is None or not network.multicast:
                return False
        return True

    def _add(self, bucket: Bucket, level: int, tensor: Tensor, action: Action, count: int) -> None:
        if count:
            bucket.counts[(self.names[level], tensor, action)] += count

    def _transfers(self, bucket: Bucket, upper: int, lower: int, tensor: Tensor, count: int) -> None:
        for index in range(upper, lower):
            if self.hierarchy.levels[index].network is not None and count:
                bucket.transfers[(self.names[index], tensor)] += count

    def _flow(self, bucket: Bucket, upper: int, lower: int, tensor: Tensor, kind: str, elements: int) -> None:
        if elements:
            receivers = (
                self.nest.instances_used(lower) // self.nest.instances_used(upper)
                if lower < self.last
                else (math.prod([p.factor for p in self.nest.spatial_between(upper, self.last)]))
            )
            bucket.flows.append(Flow(upper, lower, tensor, kind, elements, receivers))

    def _step_buckets(self, change: Transition) -> list[Bucket]:
        """Both buckets of a loop step (new and revisited outputs): read-only data is alike in both."""
        return [self.plan.steps[(change.position.index, fresh)] for fresh in (True, False)]

    def _chain(self, tensor: Tensor) -> list[int]:
        return [index for index, level in enumerate(self.mapping.levels) if level.keeps_tensor(tensor)]

    def _tiles(
        self, axes: tuple[Axis, ...], level: int, spatial: tuple[Position, ...] = ()
    ) -> tuple[list[AxisTile], int]:
        """Per-axis tiles of ``level`` (with the children ``spatial`` places), and the tile's size."""
        tiles = [axis_tile(axis, self.nest, level, spatial) for axis in axes]
        return tiles, math.prod([tile_size(tile) for tile in tiles])

    # -- weights and inputs -----------------------------------------------------------------------

    def read_only(self, tensor: Tensor) -> None:
        axes = tensor_axes(tensor, self.bounds)
        chain = self._chain(tensor)
        self.read_only_links(tensor, axes, list(itertools.pairwise(chain)))
        self._operand_reads(chain[-1], tensor, axes)
        self.unpad(tensor, axes, chain)

    def unpad(self, tensor: Tensor, axes: tuple[Axis, ...], chain: list[int]) -> None:
        """Take out of level 0's reads the padded elements it never holds (see padding.py)."""
        windows = padded_windows(self, tensor, axes)
        if chain[0] == 0 and any(window is not None for window in windows):
            unpad_outermost(self, tensor, axes, windows, chain)

    def read_only_links(self, tensor: Tensor, axes: tuple[Axis, ...], links: list[tuple[int, int]]) -> None:
        """Fills of ``tensor`` (weights or inputs) down each (parent, child) link, and the parents' reads."""
        for parent, child in links:
            tiles, size = self._tiles(axes, child, self.nest.spatial_between(parent, child))
            instances, parents = self.nest.instances_used(child), self.nest.instances_used(parent)
            multicast = self._multicasts(parent, child)
            first_distinct = math.prod([union_and_good(tile, (0,) * len(tile))[0] for tile in tiles])
            self._fill(
                self.plan.start, parent, child, tensor, size * instances, first_distinct * parents, multicast
            )
            for change in transitions(self.nest, child):
                shift = [axis_shift(axis, change.dim_offsets) for axis in axes]
                kept = math.prod([overlap_after_shift(t, o) for t, o in zip(tiles, shift, strict=True)])
                pairs = [union_and_good(t, o) for t, o in zip(tiles, shift, strict=True)]
                distinct = math.prod([a for a, _ in pairs]) - math.prod([g for _, g in pairs])
                for bucket in self._step_buckets(change):
                    self._fill(
                        bucket,
                        parent,
                        child,
                        tensor,
                        (size - kept) * instances,
                        distinct * parents,
                        multicast,
                    )

    def _fill(
        self,
        bucket: Bucket,
        parent: int,
        child: int,
        tensor: Tensor,
        fills: int,
        distinct: int,
        multicast: bool,
    ) -> None:
        reads = distinct if multicast else fills
        self._add(bucket, child, tensor, "fill", fills)
        self._add(bucket, parent, tensor, "read", reads)
        self._transfers(bucket, parent, child, tensor, fills)
        self._flow(bucket, parent, child, tensor, "fill", reads)

    def _per_burst(self, total: int) -> int:
        return total // self.bursts

    def _operand_reads(self, level: int, tensor: Tensor, axes: tuple[Axis, ...]) -> None:
        below = self.nest.spatial_between(level, self.last)
        pes = math.prod([p.factor for p in below])
        distinct = math.prod(
            [distinct_offsets(axis_tile(axis, self.nest, self.last, below)) for axis in axes]
        )
        per_step = distinct if self._multicasts(level, self.last) else pes
        steps = self.nest.time_steps * self.nest.instances_used(level)
        burst = self.plan.burst
        reads = self._per_burst(steps * per_step)
        self._add(burst, level, tensor, "read", reads)
        self._transfers(burst, level, self.last, tensor, self._per_burst(steps * pes))
        self._flow(burst, level, self.last, tensor, "operand", reads)

    # -- outputs ------------------------------------------------------------------------------------

    def _irrelevant_product(self, positions: tuple[Position, ...]) -> int:
        return math.prod([p.factor for p in positions if p.dim not in RELEVANT_DIMS["outputs"]])

    def outputs(self) -> None:
        axes = tensor_axes("outputs", self.bounds)
        chain = self._chain("outputs")
        innermost = chain[-1]
        for position, level in enumerate(chain):
            parent = chain[position - 1] if position else None
            tiles, size = self._tiles(axes, level)
            instances = self.nest.instances_used(level)
            # Reduction siblings share one parent instance: only the fan-out between the parent and
            # this level makes siblings (siblings under different parent instances each have their
            # own parent copy, so each has a designated one that receives the running sum).
            reduce = (
                self._irrelevant_product(self.nest.spatial_between(parent, level))
                if parent is not None
                else 1
            )
            designated = instances // reduce
            if level == innermost:
                self._add(self.plan.start, level, "outputs", "read", -instances * size)
            if parent is not None:
                self._drain(self.plan.end, parent, level, instances * size, reduce)
            for change in transitions(self.nest, level):
                shift = [axis_shift(axis, change.dim_offsets) for axis in axes]
                new = size - math.prod([overlap_after_shift(t, o) for t, o in zip(tiles, shift, strict=True)])
                for fresh in (True, False):
                    bucket = self.plan.steps[(change.position.index, fresh)]
                    filled, served = (
                        (0, 0) if fresh else self._output_fills(parent, level, designated, instances, new)
                    )
                    if level == innermost:
                        self._add(bucket, level, "outputs", "read", -(instances * new - filled))
                    if parent is not None:
                        self._drain(bucket, parent, level, instances * new, reduce)
                        self._add(bucket, level, "outputs", "fill", filled)
                        self._add(bucket, parent, "outputs", "read", served)
                        self._transfers(bucket, parent, level, "outputs", filled)
                        self._flow(bucket, parent, level, "outputs", "fill", served)
        below = self.nest.spatial_between(innermost, self.last)
        distinct = math.prod([p.factor for p in below if p.dim in RELEVANT_DIMS["outputs"]])
        steps = self.nest.time_steps * self.nest.instances_used(innermost)
        updates = self._per_burst(steps * distinct)
        self._add(self.plan.burst, innermost, "outputs", "update", updates)
        self._add(self.plan.burst, innermost, "outputs", "read", updates)
        everyone = self._per_burst(steps * math.prod([p.factor for p in below]))
        self._transfers(self.plan.burst, innermost, self.last, "outputs", everyone)
        self._flow(self.plan.burst, innermost, self.last, "outputs", "result", updates)
        windows = padded_windows(self, "outputs", axes)
        siblings = self._irrelevant_product(self.nest.spatial_between(0, chain[-2])) if len(chain) > 2 else 1
        if chain[0] == 0 and (siblings > 1 or any(window is not None for window in windows)):
            self._restarted_outputs(axes, windows, chain)

    def _restarted_outputs(
        self, axes: tuple[Axis, ...], windows: tuple[Window, ...], chain: list[int]
    ) -> None:
        """Take out the refills and level 0's writes that partial sums restarted from zero do not make.

        See :func:`~energysim.analysis.padding.restarted_outputs`; the
        ``timeloop`` mode overrides this (nothing restarts there).
        """
        restarted_outputs(self, axes, windows, chain)

    def _output_fills(
        self, parent: int | None, level: int, designated: int, instances: int, new: int
    ) -> tuple[int, int]:
        """Revisited partial sums entering ``level``: (fills there, reads at the parent).

        Only the designated sibling of each reduction group is filled; the
        others start from zero (the ``timeloop`` mode overrides this).
        """
        return designated * new, designated * new

    def _drain(self, bucket: Bucket, parent: int, child: int, drained: int, reduce: int) -> None:
        self._add(bucket, parent, "outputs", "update", drained // reduce)
        self._transfers(bucket, parent, child, "outputs", drained)
        self._flow(bucket, parent, child, "outputs", "drain", drained // reduce)


def plan_accesses(mapping: Mapping, bounds: LoopBounds, hierarchy: Hierarchy, macs: int) -> AccessPlan:
    """The :class:`AccessPlan` of a layer with loop ``bounds`` under ``mapping`` (already checked)."""
    planner = _Planner(mapping, bounds, hierarchy, macs)
    if mapping.flattened_level is not None:
        conv = _Planner(mapping.conv_view(), bounds, hierarchy, macs)
        plan_flattened(planner, conv, _Planner(mapping, bounds, hierarchy, macs))
        return planner.plan
    for tensor in TENSORS:
        if tensor == "outputs":
            planner.outputs()
        else:
            planner.read_only(tensor)
    return planner.plan


def count_accesses(mapping: Mapping, bounds: LoopBounds, hierarchy: Hierarchy, macs: int) -> AccessCounts:
    """Exact element counts of a layer with loop ``bounds`` under ``mapping``.

    ``macs`` is the layer's own MAC count (the padded nest may issue more).
    The mapping must already be checked against the hierarchy.
    """
    return plan_accesses(mapping, bounds, hierarchy, macs).totals()
