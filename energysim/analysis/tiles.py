"""Geometry of a mapped loop nest: tiles, their shifts, and what spatial children share.

Every tensor is a product of *axes*; an axis is a linear function of loop
dimensions. Weights are ``g m c r s``; outputs ``g n m p q``; inputs
``n g c h w`` with ``h = p * stride + r * dilation`` (and ``w`` alike). A tile is
then a product of one set per axis, so sizes, overlaps and unions of tiles
factor into one-dimensional questions, answered here exactly:

* ``|B|`` and ``|B & (B + o)|``: how much of a tile survives a shift ``o``
  (a sliding convolution window keeps most of its inputs);
* ``|A|`` with ``A = union_c (B + c + o)``: the distinct data of all spatial
  children ``c`` after the shift (what a multicast must send at least once);
* ``|G|`` with ``G = {v in A : every child that needs v already holds it}``.

With ``A`` and ``G`` per axis, the distinct new data that a parent must read
for all its children at one step is ``prod|A| - prod|G|`` (the product structure of
the children makes that exact; see :mod:`energysim.analysis.accesses`).

None of these enumerates indices: one-dimensional axes are closed forms, and
an input axis is either a product of two of them or a short list of intervals
(see "one axis of a tile" below). The cost follows the number of loops, not
their factors: a factor of 2^31 costs what a factor of 2 does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

from energysim.analysis.intervals import (
    Intervals,
    Progression,
    Window,
    difference,
    intersection_size,
    shifted,
    sum_measure,
    sum_with,
)
from energysim.model.base import Tensor
from energysim.model.layers import LoopBounds
from energysim.model.mapping import Mapping

#: Which loop dimensions index each tensor (the others leave it unchanged).
#: ``K``, the flattened C x R x S of an im2col level, indexes weights and inputs.
RELEVANT_DIMS: dict[Tensor, frozenset[str]] = {
    "weights": frozenset("GMCRSK"),
    "inputs": frozenset("NGCPQRSK"),
    "outputs": frozenset("GNMPQ"),
}

#: An axis: the (dim, coefficient) terms whose sum is the coordinate.
Axis = tuple[tuple[str, int], ...]


def tensor_axes(tensor: Tensor, bounds: LoopBounds) -> tuple[Axis, ...]:
    """The axes of ``tensor`` as linear functions of the loop dimensions."""
    if tensor == "weights":
        return tuple(((dim, 1),) for dim in "GMCRS")
    if tensor == "outputs":
        return tuple(((dim, 1),) for dim in "GNMPQ")
    (stride_h, stride_w), (dilation_h, dilation_w) = bounds.stride, bounds.dilation
    return (
        (("N", 1),),
        (("G", 1),),
        (("C", 1),),
        (("P", stride_h), ("R", dilation_h)),
        (("Q", stride_w), ("S", dilation_w)),
    )


@dataclass(frozen=True)
class Position:
    """One loop of the flattened nest, with the stride of its index in its dimension."""

    level: int
    spatial: bool
    dim: str
    factor: int
    stride: int
    index: int


class Nest:
    """The flattened nest ``T_0 S_0 T_1 S_1 ... T_{L-1} S_{L-1}`` of a mapping."""

    def __init__(self, mapping: Mapping, bounds: LoopBounds) -> None:
        self.bounds = bounds
        self.levels = len(mapping.levels)
        raw: list[tuple[int, bool, str, int]] = []
        self.level_start: list[int] = []
        for index, level in enumerate(mapping.levels):
            self.level_start.append(len(raw))
            raw += [(index, False, loop.dim, loop.factor) for loop in level.temporal if loop.factor > 1]
            raw += [(index, True, loop.dim, loop.factor) for loop in level.spatial if loop.factor > 1]
        self.level_start.append(len(raw))
        inner_product: dict[str, int] = {}
        positions: list[Position] = []
        for index, (level_index, spatial, dim, factor) in reversed(list(enumerate(raw))):
            stride = inner_product.get(dim, 1)
            positions.append(Position(level_index, spatial, dim, factor, stride, index))
            inner_product[dim] = stride * factor
        self.positions: tuple[Position, ...] = tuple(reversed(positions))
        self._instances = [1]
        for level_index in range(self.levels):
            fanout = math.prod(p.factor for p in self.positions if p.spatial and p.level == level_index)
            self._instances.append(self._instances[-1] * fanout)

    def extent(self, level: int, dim: str) -> int:
        """Extent of ``dim`` in the tile of ``level`` (its loops and all inside them)."""
        return math.prod(p.factor for p in self.positions[self.level_start[level] :] if p.dim == dim)

    def steps_above(self, level: int) -> int:
        """Iterations of the temporal loops outside ``level``'s tile."""
        return math.prod(p.factor for p in self.temporal_above(level))

    def temporal_above(self, level: int) -> tuple[Position, ...]:
        """Temporal loops outside ``level``'s tile, outer to inner (they change its tile)."""
        return tuple(p for p in self.positions[: self.level_start[level]] if not p.spatial)

    def spatial_between(self, upper: int, lower: int) -> tuple[Position, ...]:
        """Spatial loops of levels ``upper .. lower - 1``: the fan-out from one to the other."""
        return tuple(p for p in self.positions if p.spatial and upper <= p.level < lower)

    def instances_used(self, level: int) -> int:
        """Instances of ``level`` that the mapping uses."""
        return self._instances[min(level, self.levels)]

    @property
    def time_steps(self) -> int:
        """Iterations of all temporal loops: the steps of the whole nest."""
        return math.prod(p.factor for p in self.positions if not p.spatial)

    @property
    def mapped_macs(self) -> int:
        """MACs of the padded nest (every point, padding included)."""
        return math.prod(p.factor for p in self.positions)


@dataclass(frozen=True)
class Transition:
    """The tile change when temporal loop ``position`` steps and the loops inside it wrap.

    ``count`` is how often that happens per instance; ``dim_offsets`` is the
    resulting shift of the tile in every dimension.
    """

    position: Position
    count: int
    dim_offsets: dict[str, int]


def transitions(nest: Nest, level: int) -> list[Transition]:
    """The kinds of tile change a level instance sees, with their counts (one per loop above)."""
    above = nest.temporal_above(level)
    result = []
    outer_iterations = 1
    for index, position in enumerate(above):
        offsets = {position.dim: position.stride}
        for inner in above[index + 1 :]:
            offsets[inner.dim] = offsets.get(inner.dim, 0) - (inner.factor - 1) * inner.stride
        result.append(Transition(position, (position.factor - 1) * outer_iterations, offsets))
        outer_iterations *= position.factor
    return result


# --- one axis of a tile and of its spatial children ---------------------------------------------
# An axis is one or two terms ``coefficient x index``. A term's tile covers the indices
# ``[0, extent)``; the spatial loops of its dimension place the children at index offsets
# ``sum_k i_k * stride_k`` (``i_k < factor_k``). Each stride is the product of the factors of
# the loops inside it, the tile's extent included, so the offsets are a mixed-radix number:
# all distinct and at least ``extent`` apart. That makes one-term axes closed forms, and a
# two-term axis (an input row ``p * stride + r * dilation``) a product of two one-term axes
# wherever the map ``(p, r) -> p * stride + r * dilation`` is one-to-one on the points
# involved. Only the rest (sliding windows, irregular stride and dilation) is computed on
# explicit sorted intervals, built progression by progression, so that a window sliding by
# one over a billion rows is still one interval.


@dataclass(frozen=True)
class Term:
    """One dimension of an axis: the tile's extent in it and the children's spatial loops.

    ``digits`` holds ``(stride, factor)`` per spatial loop of the dimension, in
    index units of the dimension (not yet multiplied by ``coefficient``).
    """

    coefficient: int
    extent: int
    digits: tuple[tuple[int, int], ...] = ()

    @property
    def children(self) -> int:
        """Distinct child offsets along this dimension."""
        return math.prod(factor for _stride, factor in self.digits)

    @property
    def reach(self) -> int:
        """Largest index that some child's tile covers (the first tile starts at 0)."""
        return self.extent - 1 + sum((factor - 1) * stride for stride, factor in self.digits)


#: One axis of a tile of one level, with the spatial children below a parent.
AxisTile = tuple[Term, ...]


def axis_tile(axis: Axis, nest: Nest, level: int, spatial: tuple[Position, ...] = ()) -> AxisTile:
    """The tile of ``level`` along ``axis``, with the children that ``spatial`` places."""
    return tuple(
        Term(
            coefficient,
            nest.extent(level, dim),
            tuple((p.stride, p.factor) for p in spatial if p.dim == dim),
        )
        for dim, coefficient in axis
    )


def axis_shift(axis: Axis, dim_offsets: dict[str, int]) -> tuple[int, ...]:
    """The shift of each term's index when the dimensions shift by ``dim_offsets``."""
    return tuple(dim_offsets.get(dim, 0) for dim, _coefficient in axis)


def tile_size(tile: AxisTile) -> int:
    """``|B|``: coordinates of one tile along the axis."""
    if len(tile) == 1:
        return tile[0].extent
    first, second = _two_terms(tile)
    return window_size(first.coefficient, first.extent, second.coefficient, second.extent)


def window_size(step_a: int, extent_a: int, step_b: int, extent_b: int) -> int:
    """``|{step_a x p + step_b x r : p < extent_a, r < extent_b}|``, in constant time.

    With the steps divided by their gcd, two index pairs give one coordinate
    exactly when they differ by a multiple of ``(step_b, -step_a)``; counting
    each coordinate at its pair of least ``p`` leaves
    ``extent_a x extent_b - max(0, extent_a - step_b) x max(0, extent_b - step_a)``.
    """
    unit = math.gcd(step_a, step_b)
    step_a, step_b = step_a // unit, step_b // unit
    return extent_a * extent_b - max(0, extent_a - step_b) * max(0, extent_b - step_a)


@lru_cache(maxsize=262144)
def overlap_after_shift(tile: AxisTile, shift: tuple[int, ...]) -> int:
    """``|B & (B + o)|``: how much of a tile survives a shift of its indices by ``shift``."""
    if not any(shift):
        return tile_size(tile)
    if _separable(tile, shift, children=False):
        return math.prod(max(0, term.extent - abs(move)) for term, move in zip(tile, shift, strict=True))
    base, offset = _explicit_base(tile), _coordinate(tile, shift)
    return intersection_size(base, shifted(base, offset))


@lru_cache(maxsize=262144)
def union_and_good(tile: AxisTile, shift: tuple[int, ...]) -> tuple[int, int]:
    """``(|A|, |G|)`` for the children of ``tile`` whose tiles shift by ``shift``.

    ``A = union_c (B + c + o)`` is what the children hold after the shift;
    ``G`` is the part of ``A`` that every child needing it already held.
    """
    if not any(shift) and not any(term.digits for term in tile):
        return tile_size(tile), tile_size(tile)
    if _separable(tile, shift, children=True):
        union = good = 1
        for term, move in zip(tile, shift, strict=True):
            held = term.extent * term.children
            union *= held
            good *= held - min(abs(move), term.extent) * term.children
        return union, good
    base, offset = _explicit_base(tile), _coordinate(tile, shift)
    places = _child_progressions(tile)
    union = sum_measure(base, places)
    arriving = difference(shifted(base, offset), base)
    return union, union - sum_measure(arriving, places)


def distinct_offsets(tile: AxisTile) -> int:
    """Distinct coordinates at which the children's tiles start (``|C|``)."""
    return union_and_good(tuple(Term(t.coefficient, 1, t.digits) for t in tile), (0,) * len(tile))[0]


def _two_terms(tile: AxisTile) -> tuple[Term, Term]:
    if len(tile) != 2:
        raise ValueError(f"an axis has one or two terms, not {len(tile)}")
    return tile[0], tile[1]


def _separable(tile: AxisTile, shift: tuple[int, ...], children: bool) -> bool:
    """True if ``(p, r) -> a p + b r`` is one-to-one on every point involved.

    Two index pairs meet only if they differ by ``k (b, -a)`` (``a``, ``b``
    divided by their gcd, ``k != 0``): never if the pairs involved span fewer
    than ``b`` values of ``p`` or fewer than ``a`` of ``r``. Then each set is
    the product of its one-dimensional parts, and every count a product.
    """
    if len(tile) == 1:
        return True
    first, second = _two_terms(tile)
    unit = math.gcd(first.coefficient, second.coefficient)
    widths = [
        (term.reach if children else term.extent - 1) + abs(move)
        for term, move in zip(tile, shift, strict=True)
    ]
    return widths[0] < second.coefficient // unit or widths[1] < first.coefficient // unit


# --- a tile's axis as explicit sorted intervals (only where its two terms overlap) ----------------


def _units(tile: AxisTile) -> list[int]:
    """The terms' coefficients divided by their gcd (counts do not change)."""
    unit = math.gcd(*(term.coefficient for term in tile))
    return [term.coefficient // unit for term in tile]


def _coordinate(tile: AxisTile, shift: tuple[int, ...]) -> int:
    return sum(step * move for step, move in zip(_units(tile), shift, strict=True))


def _explicit_base(tile: AxisTile) -> Intervals:
    """``B`` as sorted disjoint intervals."""
    steps = _units(tile)
    return sum_with(((0, 1),), [(step, term.extent) for step, term in zip(steps, tile, strict=True)])


def _child_progressions(tile: AxisTile) -> list[Progression]:
    steps = _units(tile)
    return [
        (step * stride, factor)
        for step, term in zip(steps, tile, strict=True)
        for stride, factor in term.digits
        if factor > 1
    ]


# --- the part of a tensor that exists in memory (zero padding does not) ---------------------------


def tensor_windows(tensor: Tensor, bounds: LoopBounds) -> tuple[Window, ...]:
    """Per axis of ``tensor``, the coordinates that exist in memory (DESIGN: padding does not).

    An axis of one dimension exists at ``[0, bound)``: an imperfect factor that
    pads the nest beyond the bound adds elements that are not in memory. Input
    rows exist at ``[padding, padding + rows)`` of the nest's row coordinate
    ``p * stride + r * dilation``; everything else of the nest is zero padding, as
    are rows beyond the input that an imperfect factor adds. A layer without an
    ``input_size`` has the rows its unpadded nest reaches (columns alike).
    """
    sizes = bounds.sizes
    if tensor != "inputs":
        return tuple((0, sizes[dim]) for ((dim, _coefficient),) in tensor_axes(tensor, bounds))
    if bounds.input_size is None:
        (stride_h, stride_w), (dilation_h, dilation_w) = bounds.stride, bounds.dilation
        rows = (sizes["P"] - 1) * stride_h + (sizes["R"] - 1) * dilation_h + 1
        cols = (sizes["Q"] - 1) * stride_w + (sizes["S"] - 1) * dilation_w + 1
        (pad_h, pad_w) = (0, 0)
    else:
        (pad_h, pad_w), (rows, cols) = bounds.padding, bounds.input_size
    return (
        (0, sizes["N"]),
        (0, sizes["G"]),
        (0, sizes["C"]),
        (pad_h, pad_h + rows),
        (pad_w, pad_w + cols),
    )


def axis_units(axis: Axis) -> dict[str, int]:
    """Each dimension's coefficient in the axis's unit coordinates (divided by their gcd)."""
    unit = math.gcd(*(coefficient for _dim, coefficient in axis))
    return {dim: coefficient // unit for dim, coefficient in axis}


def window_in_units(axis: Axis, window: tuple[int, int]) -> tuple[int, int]:
    """``window`` in the axis's unit coordinates (the coordinates that are multiples of the gcd)."""
    unit = math.gcd(*(coefficient for _dim, coefficient in axis))
    low, high = window
    return -(-low // unit), -(-high // unit)


def explicit_tile(tile: AxisTile, shift: tuple[int, ...] = ()) -> Intervals:
    """``B + o`` as sorted intervals in unit coordinates (``o`` from ``shift``; none: ``B``)."""
    base = _explicit_base(tile)
    return shifted(base, _coordinate(tile, shift)) if shift else base


def explicit_children(tile: AxisTile, intervals: Intervals) -> Intervals:
    """``intervals`` placed at every child of ``tile`` (their union), in unit coordinates."""
    return sum_with(intervals, _child_progressions(tile))
