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

Zero padding does not exist in memory: the outermost level (level 0, which
holds the whole tensor) never sends or reads an element outside the tensor:
an input element outside ``[padding, padding + H) x [padding, padding + W)``,
or any element beyond a loop bound that an imperfect factor adds. Its reads,
their transfers (or the MAC operands it serves directly) count only elements
that exist; the level below is still filled with its whole tile, the zeros
written there on arrival. A padded output has no address in level 0: it is
never written there nor refilled from it, so each time it enters the first
level below it starts from zero, and levels further in are refilled with it
only if a MAC touched it since. Levels inside the chip move the zeros of a
padded tile like any other element, and padded MAC slots update on chip.

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

from energysim.analysis.intervals import (
    Intervals,
    Progression,
    Window,
    clipped_sum,
    difference,
    intersection,
)
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
    axis_units,
    distinct_offsets,
    explicit_children,
    explicit_tile,
    overlap_after_shift,
    tensor_axes,
    tensor_windows,
    tile_size,
    transitions,
    union_and_good,
    window_in_units,
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
        for parent, child in itertools.pairwise(chain):
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
        self._operand_reads(chain[-1], tensor, axes)
        windows = self._padded_windows(tensor, axes)
        if chain[0] == 0 and any(window is not None for window in windows):
            self._unpad_outermost(tensor, axes, windows, chain)

    # -- zero padding at the outermost level --------------------------------------------------------

    def _padded_windows(self, tensor: Tensor, axes: tuple[Axis, ...]) -> tuple[Window, ...]:
        """``tensor``'s windows of existing elements on the axes the nest pads; None on the others."""
        windows = tensor_windows(tensor, self.bounds)
        return tuple(
            window if self._clips(axis, window) else None for axis, window in zip(axes, windows, strict=True)
        )

    def _clips(self, axis: Axis, window: Window) -> bool:
        """True if the nest reaches coordinates of ``axis`` outside ``window`` (padding)."""
        if window is None:
            return False
        reach = sum(coefficient * (self.nest.extent(0, dim) - 1) for dim, coefficient in axis)
        return window[0] > 0 or reach >= window[1]

    def _positions(
        self, axes: tuple[Axis, ...], level: int, change: Transition | None, spatial: tuple[Position, ...]
    ) -> tuple[list[list[Progression]], list[int], int]:
        """Where ``level``'s tile sits, per axis, at the occurrences of one tile change.

        At the occurrences of ``change`` (None: the first tiles) the loops outside
        the stepping one are free, it is below its last index and the loops inside
        it at their last index (the tile before the step); every ``spatial`` loop
        is free. Per axis: the offsets as progressions and a constant, in unit
        coordinates; and how many occurrences share each offset (the loops of
        dimensions that no axis has).
        """
        units = [axis_units(axis) for axis in axes]
        progressions: list[list[Progression]] = [[] for _ in axes]
        constants = [0] * len(axes)
        alike = 1
        loops: list[tuple[Position, int, int]] = [(p, p.factor, 0) for p in spatial]
        if change is not None:
            for position in self.nest.temporal_above(level):
                if position.index < change.position.index:
                    loops.append((position, position.factor, 0))
                elif position.index == change.position.index:
                    loops.append((position, position.factor - 1, 0))
                else:
                    loops.append((position, 1, position.factor - 1))
        for position, count, fixed in loops:
            owners = [a for a, unit in enumerate(units) if position.dim in unit]
            if not owners:
                alike *= count
            for a in owners:
                step = units[a][position.dim] * position.stride
                progressions[a].append((step, count))
                constants[a] += step * fixed
        return progressions, constants, alike

    def _unpad_outermost(
        self, tensor: Tensor, axes: tuple[Axis, ...], windows: tuple[Window, ...], chain: list[int]
    ) -> None:
        """The outermost level never reads a padded element (DESIGN.md): take them out.

        The per-step buckets count whole tiles, padding included (every occurrence
        of a step is alike only then); the first-tile bucket gets the difference
        between the elements that exist, summed over every occurrence in closed
        form (:func:`clipped_sum`), and what the buckets count: the outermost
        level's reads (multicast or not) and their transfers, or its MAC operand
        reads when no inner level keeps the tensor. The level below is still
        filled with the whole padded tile: its zeros are written there (by the
        DMA's zero generator), not read from the outermost level nor sent over
        its network. The engine's timing still moves the whole tiles (its flows
        are the buckets').
        """
        clipped: list[Window] = [
            None if window is None else window_in_units(axis, window)
            for axis, window in zip(axes, windows, strict=True)
        ]
        unclipped: list[Window] = [None] * len(axes)
        start = self.plan.start
        if len(chain) == 1:
            (reads, deliveries), (all_reads, all_deliveries) = (
                self._operand_totals(axes, window) for window in (clipped, unclipped)
            )
            self._add(start, 0, tensor, "read", reads - all_reads)
            self._transfers(start, 0, self.last, tensor, deliveries - all_deliveries)
            return
        child = chain[1]
        fills, reads = self._fill_totals(axes, child, clipped, self._multicasts(0, child))
        all_fills, all_reads = (
            self._bucket_total((self.names[level], tensor, action))
            for level, action in ((child, "fill"), (0, "read"))
        )
        self._add(start, 0, tensor, "read", reads - all_reads)
        self._transfers(start, 0, child, tensor, fills - all_fills)

    def _restarted_outputs(
        self, axes: tuple[Axis, ...], windows: tuple[Window, ...], chain: list[int]
    ) -> None:
        """Partial sums that an instance starts from zero are not there to refill its children from.

        A padded output has no address in the outermost level: it is never
        written nor refilled there, so it restarts from zero whenever it enters
        the first level below level 0. A reduction sibling that is not the
        designated one restarts every element it receives. Below such an
        instance, a level is refilled with an element only if a MAC touched it
        since it entered that instance (the buckets refill whatever was ever
        touched). The first-tile bucket takes out, in closed form, the refills
        that do not happen, and level 0's updates (and their transfers) of
        padded outputs; with level 0 as the MACs' own level, its updates and
        reads of padded outputs. Which refills remain: :meth:`_refills_kept`.
        """
        start, relevant = self.plan.start, RELEVANT_DIMS["outputs"]
        if len(chain) == 1:
            real = math.prod([self.bounds.sizes[dim] for ((dim, _c),) in axes])
            missing = math.prod([self.nest.extent(0, dim) for ((dim, _c),) in axes]) - real
            temporal = [p for p in self.nest.positions if not p.spatial]
            revisits = math.prod([p.factor for p in temporal if p.dim not in relevant])
            self._add(start, 0, "outputs", "update", -missing * revisits)
            self._add(start, 0, "outputs", "read", -missing * (revisits - 1))
            slots = self.nest.mapped_macs // (missing + real)
            self._transfers(start, 0, self.last, "outputs", -missing * slots)
            return
        clipped: list[Window] = [
            None if window is None else window_in_units(axis, window)
            for axis, window in zip(axes, windows, strict=True)
        ]
        # Designated instances of chain[i] by the deepest chain[j] (0 < j < i) above them whose
        # instance is a non-designated sibling: (chain[j] or None, how many of each).
        classes: list[tuple[int | None, int]] = [(None, 1)]
        for parent, level in itertools.pairwise(chain):
            placed = tuple(p for p in self.nest.spatial_between(0, level) if p.dim in relevant)
            real_sums = self._arrival_sums(axes, level, clipped, placed)
            every_sums = (
                self._arrival_sums(axes, level, [None] * len(axes), placed) if any(clipped) else real_sums
            )
            unfilled = drained = 0
            for (change, real, alike), (_same, every, _alike) in zip(real_sums, every_sums, strict=True):
                drained += (every - real) * alike
                if change is None:
                    continue
                step = change.position
                counted = self._refills_kept(step, None, alike)  # what the buckets refill per position
                for restart, combinations in classes:
                    padded_restart = chain[1] if restart is None else restart
                    unfilled += combinations * (
                        real * (counted - self._refills_kept(step, restart, alike))
                        + (every - real) * (counted - self._refills_kept(step, padded_restart, alike))
                    )
            self._add(start, level, "outputs", "fill", -unfilled)
            self._add(start, parent, "outputs", "read", -unfilled)
            self._transfers(start, parent, level, "outputs", -unfilled)
            if level == chain[-1]:
                self._add(start, level, "outputs", "read", -unfilled)
            if parent == 0:  # every element that arrives leaves once: level 0 takes the real ones
                self._add(start, 0, "outputs", "update", -drained)
                siblings = self._irrelevant_product(self.nest.spatial_between(0, level))
                self._transfers(start, 0, level, "outputs", -drained * siblings)
            siblings = self._irrelevant_product(self.nest.spatial_between(parent, level))
            above = sum(combinations for _restart, combinations in classes)
            classes.append((level, (siblings - 1) * above))

    def _refills_kept(self, step: Position, restart: int | None, alike: int) -> int:
        """Refills, per tile position, at the steps of ``step`` below an instance of ``restart``.

        ``alike`` occurrences share each position (the irrelevant loops outside
        ``step``). Without a restarting instance: all but the first pass (``step``
        relevant: the one where every irrelevant loop outside it is at 0). Below
        one: a step of a loop above ``restart`` at or outside its innermost
        output-relevant loop moves its tile (a restart: no refill); a deeper
        step refills all but the first pass after each restart, one per index of
        the irrelevant loops outside that relevant loop.
        """
        relevant = RELEVANT_DIMS["outputs"]
        first_passes = 1 if step.dim in relevant else 0
        if restart is None:
            return alike - first_passes
        outer = self.nest.temporal_above(restart)
        last_relevant = max([p.index for p in outer if p.dim in relevant], default=-1)
        if step in outer:
            return alike if step.index > last_relevant else 0
        restarts = math.prod([p.factor for p in outer if p.index < last_relevant and p.dim not in relevant])
        return alike - first_passes * restarts

    def _arrival_sums(
        self, axes: tuple[Axis, ...], level: int, windows: list[Window], spatial: tuple[Position, ...]
    ) -> list[tuple[Transition | None, int, int]]:
        """Per tile change of ``level`` (None: the first tiles), the elements that arrive within ``windows``.

        Summed over the positions where the tile sits at that change's
        occurrences (``spatial`` placing the instances), with how many
        occurrences share each position (:meth:`_positions`).
        """
        tiles = [axis_tile(axis, self.nest, level) for axis in axes]
        result: list[tuple[Transition | None, int, int]] = []
        changes: list[Transition | None] = [None, *transitions(self.nest, level)]
        for change in changes:
            news: list[tuple[Intervals | int, Intervals | int]] = []
            for axis, tile, window in zip(axes, tiles, windows, strict=True):
                shift = axis_shift(axis, change.dim_offsets) if change else (0,) * len(axis)
                if window is None:
                    news.append((tile_size(tile), overlap_after_shift(tile, shift) if change else 0))
                elif change is None:
                    news.append((explicit_tile(tile), ()))
                else:
                    after, base = explicit_tile(tile, shift), explicit_tile(tile)
                    news.append((after, intersection(after, base)))
            places, offsets, alike = self._positions(axes, level, change, spatial)
            result.append((change, _product_difference(news, places, offsets, windows), alike))
        return result

    def _bucket_total(self, key: tuple[str, Tensor, Action]) -> int:
        """What the first-tile and step buckets count for ``key`` over the layer."""
        steps = sum(
            bucket.counts.get(key, 0) * self.plan.step_counts[step]
            for step, bucket in self.plan.steps.items()
        )
        return self.plan.start.counts.get(key, 0) + steps

    def _fill_totals(
        self, axes: tuple[Axis, ...], child: int, windows: list[Window], multicast: bool
    ) -> tuple[int, int]:
        """All fills of ``child`` from level 0, and level 0's reads for them, within ``windows``."""
        spatial = self.nest.spatial_between(0, child)
        tiles = [axis_tile(axis, self.nest, child, spatial) for axis in axes]
        changes: list[Transition | None] = [None, *transitions(self.nest, child)]
        fills = reads = 0
        for change in changes:
            # Fills are summed over the children; multicast reads are the union of theirs. An axis
            # without a window needs only sizes (closed forms), never explicit intervals; on an axis
            # of one dimension the children's tiles are disjoint, so their union is their sum, and
            # they are placed as progressions (like the fills), never as explicit copies.
            news: list[tuple[Intervals | int, Intervals | int]] = []
            unions: list[tuple[Intervals | int, Intervals | int]] = []
            disjoint = [
                window is not None and len(axis) == 1 for axis, window in zip(axes, windows, strict=True)
            ]
            for axis, tile, window in zip(axes, tiles, windows, strict=True):
                shift = axis_shift(axis, change.dim_offsets) if change else (0,) * len(axis)
                if window is None:
                    kept = overlap_after_shift(tile, shift) if change else 0
                    union, good = union_and_good(tile, shift)
                    news.append((tile_size(tile), kept))
                    unions.append((union, good if change else 0))
                    continue
                base = explicit_tile(tile)
                if change is None:
                    news.append((base, ()))
                    unions.append(news[-1] if len(axis) == 1 else (explicit_children(tile, base), ()))
                    continue
                after = explicit_tile(tile, shift)
                news.append((after, intersection(after, base)))
                if len(axis) == 1:
                    unions.append(news[-1])
                    continue
                whole = explicit_children(tile, after)
                arriving = explicit_children(tile, difference(after, base))
                unions.append((whole, difference(whole, arriving)))
            places, offsets, alike = self._positions(axes, child, change, spatial)
            fills += alike * _product_difference(news, places, offsets, windows)
            if not multicast:
                continue  # level 0 reads what it fills
            moves, moved, temporal_alike = self._positions(axes, child, change, ())
            moves = [
                place if apart else move for place, move, apart in zip(places, moves, disjoint, strict=True)
            ]
            reads += temporal_alike * _product_difference(unions, moves, moved, windows)
        return fills, reads if multicast else fills

    def _operand_totals(self, axes: tuple[Axis, ...], windows: list[Window]) -> tuple[int, int]:
        """MAC operand reads from level 0 over the layer, and their deliveries, within ``windows``."""
        below = self.nest.spatial_between(0, self.last)
        point: Intervals = ((0, 1),)
        units = [axis_units(axis) for axis in axes]
        every = [p for p in self.nest.positions if not p.spatial]
        points: list[tuple[Intervals | int, Intervals | int]] = [(point, ()) for _ in axes]
        deliveries = self._point_sum(units, points, (*every, *below), windows)
        if not self._multicasts(0, self.last):
            return deliveries, deliveries
        # A multicast sends each distinct operand once: the union of the PEs' points. On an axis of
        # one dimension the PEs' points are distinct, placed by their loops as progressions.
        single = [len(axis) == 1 for axis in axes]
        tiles = [axis_tile(axis, self.nest, self.last, below) for axis in axes]
        sent: list[tuple[Intervals | int, Intervals | int]] = [
            (point, ()) if one else (explicit_children(tile, point), ())
            for tile, one in zip(tiles, single, strict=True)
        ]
        apart = [
            p for p in below if any(one and p.dim in unit for one, unit in zip(single, units, strict=True))
        ]
        return self._point_sum(units, sent, (*every, *apart), windows), deliveries

    def _point_sum(
        self,
        units: list[dict[str, int]],
        sets: list[tuple[Intervals | int, Intervals | int]],
        loops: tuple[Position, ...],
        windows: list[Window],
    ) -> int:
        """``sets`` placed at every index of ``loops``, counted within ``windows``."""
        progressions: list[list[Progression]] = [[] for _ in units]
        alike = 1
        for position in loops:
            owners = [a for a, unit in enumerate(units) if position.dim in unit]
            if not owners:
                alike *= position.factor
            for a in owners:
                progressions[a].append((units[a][position.dim] * position.stride, position.factor))
        return alike * _product_difference(sets, progressions, [0] * len(units), windows)

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
        windows = self._padded_windows("outputs", axes)
        siblings = self._irrelevant_product(self.nest.spatial_between(0, chain[-2])) if len(chain) > 2 else 1
        if chain[0] == 0 and (siblings > 1 or any(window is not None for window in windows)):
            self._restarted_outputs(axes, windows, chain)

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


def _product_difference(
    sets: list[tuple[Intervals | int, Intervals | int]],
    progressions: list[list[Progression]],
    offsets: list[int],
    windows: list[Window],
) -> int:
    """``sum over offsets of (prod |X_a & W_a| - prod |Y_a & W_a|)`` for per-axis pairs ``(X_a, Y_a)``.

    The offsets of the axes are independent, so each product's sum is the
    product of the axes' sums. An axis without a window may give sizes
    instead of intervals.
    """
    first = second = 1
    for (whole, part), steps, offset, window in zip(sets, progressions, offsets, windows, strict=True):
        positions = math.prod(count for _step, count in steps)
        first *= whole * positions if isinstance(whole, int) else clipped_sum(whole, steps, offset, window)
        second *= part * positions if isinstance(part, int) else clipped_sum(part, steps, offset, window)
    return first - second


def plan_accesses(mapping: Mapping, bounds: LoopBounds, hierarchy: Hierarchy, macs: int) -> AccessPlan:
    """The :class:`AccessPlan` of a layer with loop ``bounds`` under ``mapping`` (already checked)."""
    planner = _Planner(mapping, bounds, hierarchy, macs)
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
