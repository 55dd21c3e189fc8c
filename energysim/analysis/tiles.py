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
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from functools import lru_cache

from energysim.model.base import Tensor
from energysim.model.layers import LoopBounds
from energysim.model.mapping import Mapping

#: Which loop dimensions index each tensor (the others leave it unchanged).
RELEVANT_DIMS: dict[Tensor, frozenset[str]] = {
    "weights": frozenset("GMCRS"),
    "inputs": frozenset("NGCPQRS"),
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
        return math.prod(p.factor for p in self.spatial_between(0, level))

    @property
    def time_steps(self) -> int:
        """Iterations of all temporal loops: the steps of the whole nest."""
        return math.prod(p.factor for p in self.positions if not p.spatial)

    @property
    def padded_macs(self) -> int:
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


def axis_offset(axis: Axis, dim_offsets: dict[str, int]) -> int:
    """The shift of an axis coordinate for given shifts of the dimensions."""
    return sum(coefficient * dim_offsets.get(dim, 0) for dim, coefficient in axis)


# --- one-dimensional sets ------------------------------------------------------------------------
# A base set is ("interval", n) for {0 .. n-1} or ("points", sorted tuple) otherwise.

BaseSet = tuple[str, int | tuple[int, ...]]


def axis_base(axis: Axis, nest: Nest, level: int) -> BaseSet:
    """The set of coordinates along ``axis`` of one tile of ``level``."""
    if len(axis) == 1:
        return ("interval", nest.extent(level, axis[0][0]))
    (dim_a, coef_a), (dim_b, coef_b) = axis
    extent_a, extent_b = nest.extent(level, dim_a), nest.extent(level, dim_b)
    return _sum_set(extent_a, coef_a, extent_b, coef_b)


@lru_cache(maxsize=65536)
def _sum_set(extent_a: int, coef_a: int, extent_b: int, coef_b: int) -> BaseSet:
    points = {a * coef_a + b * coef_b for a in range(extent_a) for b in range(extent_b)}
    span = max(points) + 1
    if len(points) == span:
        return ("interval", span)
    return ("points", tuple(sorted(points)))


def child_offsets(axis: Axis, spatial: tuple[Position, ...]) -> tuple[int, ...]:
    """Distinct coordinate offsets of the spatial children along ``axis``."""
    coefficient = dict(axis)
    ranges = [
        [index * p.stride * coefficient[p.dim] for index in range(p.factor)]
        for p in spatial
        if p.dim in coefficient
    ]
    return tuple(sorted({sum(combo) for combo in itertools.product(*ranges)}))


def base_size(base: BaseSet) -> int:
    """Number of coordinates in a base set."""
    _kind, value = base
    return value if isinstance(value, int) else len(value)


@lru_cache(maxsize=262144)
def overlap_after_shift(base: BaseSet, offset: int) -> int:
    """``|B & (B + offset)|``."""
    _kind, value = base
    if isinstance(value, int):
        return max(0, value - abs(offset))
    points = set(value)
    return sum(1 for point in value if point + offset in points)


def _merged_length(intervals: list[tuple[int, int]]) -> int:
    total, current_start, current_end = 0, None, None
    for start, end in sorted(intervals):
        if current_end is None or start > current_end:
            if current_end is not None and current_start is not None:
                total += current_end - current_start
            current_start, current_end = start, end
        else:
            current_end = max(current_end, end)
    if current_end is not None and current_start is not None:
        total += current_end - current_start
    return total


@lru_cache(maxsize=262144)
def union_and_good(base: BaseSet, offsets: tuple[int, ...], shift: int) -> tuple[int, int]:
    """``(|A|, |G|)`` for children at ``offsets`` whose tiles shift by ``shift``.

    ``A = union_c (B + c + shift)`` is what the children hold after the shift;
    ``G`` is the part of ``A`` that every child needing it already held.
    """
    _kind, value = base
    if isinstance(value, int):
        length = value
        union = _merged_length([(c, c + length) for c in offsets])
        if shift == 0:
            return union, union
        if abs(shift) >= length:
            arriving = [(c + shift, c + shift + length) for c in offsets]
        elif shift > 0:
            arriving = [(c + length, c + length + shift) for c in offsets]
        else:
            arriving = [(c + shift, c) for c in offsets]
        return union, union - _merged_length(arriving)
    points = value
    new = {point + c + shift for c in offsets for point in points}
    if shift == 0:
        return len(new), len(new)
    fresh: set[int] = set()
    point_set = set(points)
    for c in offsets:
        fresh.update(point + c + shift for point in points if point + shift not in point_set)
    return len(new), len(new) - len(fresh)
