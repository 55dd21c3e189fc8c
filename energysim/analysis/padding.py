"""What zero padding and restarted partial sums take out of the access counts, in closed form.

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

Likewise a reduction sibling that is not the designated one starts every
partial sum it receives from zero, so below it an element is refilled only
if a MAC touched it since it entered that sibling.

The planner's buckets (:mod:`energysim.analysis.accesses`) count whole tiles
and every refill, padding included: every occurrence of a tile change is
alike only then. The functions here sum, over every occurrence, the elements
that exist and the refills that happen (per axis, as progressions of tile
positions clipped to the tensor's windows: :func:`clipped_sum`), and put the
difference into the first-tile bucket, so the totals are exact while the
engine's timing still moves the whole tiles.
"""

from __future__ import annotations

import itertools
import math
from typing import TYPE_CHECKING

from energysim.analysis.intervals import (
    Intervals,
    Progression,
    Window,
    clipped_sum,
    difference,
    intersection,
)
from energysim.analysis.plan import Action
from energysim.analysis.tiles import (
    RELEVANT_DIMS,
    Axis,
    Position,
    Transition,
    axis_shift,
    axis_tile,
    axis_units,
    explicit_children,
    explicit_tile,
    overlap_after_shift,
    tensor_windows,
    tile_size,
    transitions,
    union_and_good,
    window_in_units,
)
from energysim.model.base import Tensor

if TYPE_CHECKING:  # accesses.py imports this module
    from energysim.analysis.accesses import _Planner


def padded_windows(planner: _Planner, tensor: Tensor, axes: tuple[Axis, ...]) -> tuple[Window, ...]:
    """``tensor``'s windows of existing elements on the axes the nest pads; None on the others."""
    windows = tensor_windows(tensor, planner.bounds)
    return tuple(
        window if _clips(planner, axis, window) else None for axis, window in zip(axes, windows, strict=True)
    )


def _clips(planner: _Planner, axis: Axis, window: Window) -> bool:
    """True if the nest reaches coordinates of ``axis`` outside ``window`` (padding)."""
    if window is None:
        return False
    reach = sum(coefficient * (planner.nest.extent(0, dim) - 1) for dim, coefficient in axis)
    return window[0] > 0 or reach >= window[1]


def _positions(
    planner: _Planner,
    axes: tuple[Axis, ...],
    level: int,
    change: Transition | None,
    spatial: tuple[Position, ...],
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
        for position in planner.nest.temporal_above(level):
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


def unpad_outermost(
    planner: _Planner, tensor: Tensor, axes: tuple[Axis, ...], windows: tuple[Window, ...], chain: list[int]
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
    start = planner.plan.start
    if len(chain) == 1:
        (reads, deliveries), (all_reads, all_deliveries) = (
            _operand_totals(planner, axes, window) for window in (clipped, unclipped)
        )
        planner._add(start, 0, tensor, "read", reads - all_reads)
        planner._transfers(start, 0, planner.last, tensor, deliveries - all_deliveries)
        return
    child = chain[1]
    fills, reads = _fill_totals(planner, axes, child, clipped, planner._multicasts(0, child))
    all_fills, all_reads = (
        _bucket_total(planner, (planner.names[level], tensor, action))
        for level, action in ((child, "fill"), (0, "read"))
    )
    planner._add(start, 0, tensor, "read", reads - all_reads)
    planner._transfers(start, 0, child, tensor, fills - all_fills)


def restarted_outputs(
    planner: _Planner, axes: tuple[Axis, ...], windows: tuple[Window, ...], chain: list[int]
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
    reads of padded outputs. Which refills remain: :func:`_refills_kept`.
    """
    start, relevant = planner.plan.start, RELEVANT_DIMS["outputs"]
    if len(chain) == 1:
        real = math.prod([planner.bounds.sizes[dim] for ((dim, _c),) in axes])
        missing = math.prod([planner.nest.extent(0, dim) for ((dim, _c),) in axes]) - real
        temporal = [p for p in planner.nest.positions if not p.spatial]
        revisits = math.prod([p.factor for p in temporal if p.dim not in relevant])
        planner._add(start, 0, "outputs", "update", -missing * revisits)
        planner._add(start, 0, "outputs", "read", -missing * (revisits - 1))
        slots = planner.nest.mapped_macs // (missing + real)
        planner._transfers(start, 0, planner.last, "outputs", -missing * slots)
        return
    clipped: list[Window] = [
        None if window is None else window_in_units(axis, window)
        for axis, window in zip(axes, windows, strict=True)
    ]
    # Designated instances of chain[i] by the deepest chain[j] (0 < j < i) above them whose
    # instance is a non-designated sibling: (chain[j] or None, how many of each).
    classes: list[tuple[int | None, int]] = [(None, 1)]
    for parent, level in itertools.pairwise(chain):
        placed = tuple(p for p in planner.nest.spatial_between(0, level) if p.dim in relevant)
        real_sums = _arrival_sums(planner, axes, level, clipped, placed)
        every_sums = (
            _arrival_sums(planner, axes, level, [None] * len(axes), placed) if any(clipped) else real_sums
        )
        unfilled = drained = 0
        for (change, real, alike), (_same, every, _alike) in zip(real_sums, every_sums, strict=True):
            drained += (every - real) * alike
            if change is None:
                continue
            step = change.position
            counted = _refills_kept(planner, step, None, alike)  # what the buckets refill per position
            for restart, combinations in classes:
                padded_restart = chain[1] if restart is None else restart
                unfilled += combinations * (
                    real * (counted - _refills_kept(planner, step, restart, alike))
                    + (every - real) * (counted - _refills_kept(planner, step, padded_restart, alike))
                )
        planner._add(start, level, "outputs", "fill", -unfilled)
        planner._add(start, parent, "outputs", "read", -unfilled)
        planner._transfers(start, parent, level, "outputs", -unfilled)
        if level == chain[-1]:
            planner._add(start, level, "outputs", "read", -unfilled)
        if parent == 0:  # every element that arrives leaves once: level 0 takes the real ones
            planner._add(start, 0, "outputs", "update", -drained)
            siblings = planner._irrelevant_product(planner.nest.spatial_between(0, level))
            planner._transfers(start, 0, level, "outputs", -drained * siblings)
        siblings = planner._irrelevant_product(planner.nest.spatial_between(parent, level))
        above = sum(combinations for _restart, combinations in classes)
        classes.append((level, (siblings - 1) * above))


def _refills_kept(planner: _Planner, step: Position, restart: int | None, alike: int) -> int:
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
    outer = planner.nest.temporal_above(restart)
    last_relevant = max([p.index for p in outer if p.dim in relevant], default=-1)
    if step in outer:
        return alike if step.index > last_relevant else 0
    restarts = math.prod([p.factor for p in outer if p.index < last_relevant and p.dim not in relevant])
    return alike - first_passes * restarts


def _arrival_sums(
    planner: _Planner,
    axes: tuple[Axis, ...],
    level: int,
    windows: list[Window],
    spatial: tuple[Position, ...],
) -> list[tuple[Transition | None, int, int]]:
    """Per tile change of ``level`` (None: the first tiles), the elements that arrive within ``windows``.

    Summed over the positions where the tile sits at that change's
    occurrences (``spatial`` placing the instances), with how many
    occurrences share each position (:func:`_positions`).
    """
    tiles = [axis_tile(axis, planner.nest, level) for axis in axes]
    result: list[tuple[Transition | None, int, int]] = []
    changes: list[Transition | None] = [None, *transitions(planner.nest, level)]
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
        places, offsets, alike = _positions(planner, axes, level, change, spatial)
        result.append((change, _product_difference(news, places, offsets, windows), alike))
    return result


def _bucket_total(planner: _Planner, key: tuple[str, Tensor, Action]) -> int:
    """What the first-tile and step buckets count for ``key`` over the layer."""
    steps = sum(
        bucket.counts.get(key, 0) * planner.plan.step_counts[step]
        for step, bucket in planner.plan.steps.items()
    )
    return planner.plan.start.counts.get(key, 0) + steps


def _fill_totals(
    planner: _Planner, axes: tuple[Axis, ...], child: int, windows: list[Window], multicast: bool
) -> tuple[int, int]:
    """All fills of ``child`` from level 0, and level 0's reads for them, within ``windows``."""
    spatial = planner.nest.spatial_between(0, child)
    tiles = [axis_tile(axis, planner.nest, child, spatial) for axis in axes]
    changes: list[Transition | None] = [None, *transitions(planner.nest, child)]
    fills = reads = 0
    for change in changes:
        # Fills are summed over the children; multicast reads are the union of theirs. An axis
        # without a window needs only sizes (closed forms), never explicit intervals; on an axis
        # of one dimension the children's tiles are disjoint, so their union is their sum, and
        # they are placed as progressions (like the fills), never as explicit copies.
        news: list[tuple[Intervals | int, Intervals | int]] = []
        unions: list[tuple[Intervals | int, Intervals | int]] = []
        disjoint = [window is not None and len(axis) == 1 for axis, window in zip(axes, windows, strict=True)]
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
        places, offsets, alike = _positions(planner, axes, child, change, spatial)
        fills += alike * _product_difference(news, places, offsets, windows)
        if not multicast:
            continue  # level 0 reads what it fills
        moves, moved, temporal_alike = _positions(planner, axes, child, change, ())
        moves = [place if apart else move for place, move, apart in zip(places, moves, disjoint, strict=True)]
        reads += temporal_alike * _product_difference(unions, moves, moved, windows)
    return fills, reads if multicast else fills


def _operand_totals(planner: _Planner, axes: tuple[Axis, ...], windows: list[Window]) -> tuple[int, int]:
    """MAC operand reads from level 0 over the layer, and their deliveries, within ``windows``."""
    below = planner.nest.spatial_between(0, planner.last)
    point: Intervals = ((0, 1),)
    units = [axis_units(axis) for axis in axes]
    every = [p for p in planner.nest.positions if not p.spatial]
    points: list[tuple[Intervals | int, Intervals | int]] = [(point, ()) for _ in axes]
    deliveries = _point_sum(planner, units, points, (*every, *below), windows)
    if not planner._multicasts(0, planner.last):
        return deliveries, deliveries
    # A multicast sends each distinct operand once: the union of the PEs' points. On an axis of
    # one dimension the PEs' points are distinct, placed by their loops as progressions.
    single = [len(axis) == 1 for axis in axes]
    tiles = [axis_tile(axis, planner.nest, planner.last, below) for axis in axes]
    sent: list[tuple[Intervals | int, Intervals | int]] = [
        (point, ()) if one else (explicit_children(tile, point), ())
        for tile, one in zip(tiles, single, strict=True)
    ]
    apart = [p for p in below if any(one and p.dim in unit for one, unit in zip(single, units, strict=True))]
    return _point_sum(planner, units, sent, (*every, *apart), windows), deliveries


def _point_sum(
    planner: _Planner,
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
