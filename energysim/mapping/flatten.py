"""Flattened variants of a mapping: C, R, S of its array level folded onto one edge (im2col).

A product of per-dimension factors fills an array edge only as far as the
factors of C, R and S allow (AlexNet conv1's 3 x 11 x 11 = 363 reduction
takes at least 16 folds of 32 rows that way, C3 R3 S3 with R and S padded to
12); flattened, 363 rows fold as 11 of 32 and one of 11.
:func:`flattened_variants` writes such variants of a mapping for the search
(:mod:`energysim.candidates`) to weigh by the same exact counts and engine as
any other; :func:`respects` says whether one keeps a constraint set, and
:mod:`energysim.mapping.im2col` when one is valid at all.
"""

from __future__ import annotations

import math

from energysim.mapping.check import fanout, systolic_edges
from energysim.mapping.constraints import Constraints
from energysim.mapping.factors import prime_factors
from energysim.mapping.im2col import OTHER_EDGE_DIMS
from energysim.model.hierarchy import Hierarchy
from energysim.model.layers import DIMENSIONS
from energysim.model.mapping import FLATTENED, IM2COL_DIMS, LevelMapping, Loop, Mapping

#: What the fold loop ``K`` counts as in a constraint's loop order: the reduction it folds.
FLATTENED_AS = "C"


def flattened_variants(
    mapping: Mapping, hierarchy: Hierarchy, bounds: dict[str, int], perfect: bool = False
) -> list[Mapping]:
    """Flattened versions of ``mapping`` that fill its array level's reduction edge with C x R x S.

    The array level is the level whose spatial loops carry C, R or S; its
    other spatial loops (G, M) keep their edge, and the reduction edge is
    the array's other one (on a systolic array, the rows or the columns
    whichever leaves the G, M loops room; else all the instances they leave).
    Its C, R, S loops and those of the levels just above it (from the
    innermost up, one level more per variant) become its im2col extents (the
    tiles of the levels in between grow by them); the rows fold over ``K``:
    ``K`` spatial ``min(edge, rows)`` (``perfect``: the largest divisor of
    the rows within the edge, no idle row) and as many folds as that takes,
    the fold loop outermost at the level. An extent is the least that covers
    the layer's ``bounds`` with the loops above kept. Variants that do not fit
    (capacity, the conditions) are the caller's to drop; this only writes
    them, and only where they use more of the edge than the mapping does.
    """
    index = next(
        (
            i
            for i, level in enumerate(mapping.levels)
            if any(loop.dim in IM2COL_DIMS and loop.factor > 1 for loop in level.spatial)
        ),
        None,
    )
    if index is None or any(level.flattens for level in mapping.levels):
        return []
    below = mapping.levels[index + 1 :]
    if any(loop.dim in IM2COL_DIMS for spec in below for loop in (*spec.temporal, *spec.spatial)):
        return []
    spatial = mapping.levels[index].spatial
    if any(loop.dim not in (*IM2COL_DIMS, *OTHER_EDGE_DIMS) for loop in spatial if loop.factor > 1):
        return []
    used = math.prod(loop.factor for loop in spatial if loop.dim in IM2COL_DIMS)
    edges = _reduction_edges(hierarchy, index, math.prod(loop.factor for loop in spatial if loop.dim in "GM"))
    variants: list[Mapping] = []
    for top in range(index, 0, -1):
        # The least extent that covers each dimension with the loops above kept: flattening
        # needs no imperfect factor of its own (S12 for S=11 would add a fold of zeros).
        extents = {
            dim: -(-bounds[dim] // math.prod(_factors(mapping.levels[:top], dim))) for dim in IM2COL_DIMS
        }
        rows = math.prod(extents.values())
        for edge in edges:
            width = _largest_divisor(rows, edge) if perfect else min(edge, rows)
            if width <= used:
                continue
            variant = _flattened(mapping, top, index, extents, width)
            if variant not in variants:
                variants.append(variant)
    return variants


def _largest_divisor(value: int, at_most: int) -> int:
    """The largest divisor of ``value`` not above ``at_most`` (from its prime factors, not a count)."""
    divisors = [1]
    for prime, power in prime_factors(value):
        divisors = [d * prime**k for d in divisors for k in range(power + 1) if d * prime**k <= at_most]
    return max(divisors)


def _reduction_edges(hierarchy: Hierarchy, index: int, other_edge: int) -> list[int]:
    """The edges the reduction may take at level ``index`` beside ``other_edge`` PEs of G, M loops.

    On a systolic array, the rows and the columns each where the other edge
    holds the G, M loops (which one a constraint allows is
    :func:`respects`' to say); else all the instances they leave.
    """
    edges = systolic_edges(hierarchy, index)
    if edges is None:
        return [fanout(hierarchy, index) // other_edge]
    rows, cols = edges
    return sorted({edge for edge, other in ((rows, cols), (cols, rows)) if other_edge <= other}, reverse=True)


def _flattened(mapping: Mapping, top: int, index: int, extents: dict[str, int], width: int) -> Mapping:
    """``mapping`` with the C, R, S loops of levels ``top .. index`` flattened over ``width`` rows."""
    rows = math.prod(extents.values())
    folds = -(-rows // width)
    levels = []
    for i, spec in enumerate(mapping.levels):
        if top <= i < index:
            levels.append(_without_crs(spec))
        elif i == index:
            rest = _without_crs(spec)
            levels.append(
                LevelMapping(
                    level=spec.level,
                    temporal=(*((Loop(FLATTENED, folds),) if folds > 1 else ()), *rest.temporal),
                    spatial=(Loop(FLATTENED, width), *rest.spatial),
                    keeps=spec.keeps,
                    im2col=tuple(Loop(dim, extents[dim]) for dim in IM2COL_DIMS if extents[dim] > 1),
                )
            )
        else:
            levels.append(spec)
    return Mapping(tuple(levels), note=mapping.note)


def _factors(levels: tuple[LevelMapping, ...], dim: str) -> list[int]:
    """The factors of ``dim`` in ``levels``' loops."""
    return [loop.factor for spec in levels for loop in (*spec.temporal, *spec.spatial) if loop.dim == dim]


def _without_crs(spec: LevelMapping) -> LevelMapping:
    """``spec`` without its C, R, S loops."""
    return LevelMapping(
        level=spec.level,
        temporal=tuple(loop for loop in spec.temporal if loop.dim not in IM2COL_DIMS),
        spatial=tuple(loop for loop in spec.spatial if loop.dim not in IM2COL_DIMS),
        keeps=spec.keeps,
    )


def respects(variant: Mapping, rules: Constraints, hierarchy: Hierarchy) -> bool:
    """True if the flattened ``variant`` keeps ``rules`` (its levels resolved to names).

    Fixed and bounded temporal factors are those of the conv view (the im2col
    extents are the level's loops over C, R, S there); in an ``order`` prefix
    the fold loop ``K`` stands for C; the edge that carries ``K`` must allow
    each of C, R, S it flattens; ``min_utilisation`` holds at the level.
    """
    index = variant.flattened_level
    if not rules.im2col or index is None:
        return rules.im2col
    names = [level.name for level in hierarchy.levels]
    conv = variant.conv_view()
    level = variant.levels[index]
    for spec in rules.levels:
        i = names.index(spec.level)
        loops = conv.levels[i].temporal
        factors = {dim: math.prod(loop.factor for loop in loops if loop.dim == dim) for dim in DIMENSIONS}
        if any(factors[dim] != value for dim, value in spec.factors.items()):
            return False
        if any(factors[dim] > value for dim, value in spec.max_factors.items()):
            return False
        if i == index and not _order_kept(level, spec.order):
            return False
    if not rules.imperfect and level.im2col_folds * level.im2col_edge != variant.im2col_rows:
        return False  # idle rows are padding
    if not _edges_kept(level, rules, hierarchy, index):
        return False
    fan = fanout(hierarchy, index)
    return level.spatial_fanout >= rules.min_utilisation * fan


def _order_kept(level: LevelMapping, order: str) -> bool:
    """The level's loops (factor above 1, ``K`` read as C) start with ``order``'s dims among them."""
    dims = [FLATTENED_AS if loop.dim == FLATTENED else loop.dim for loop in level.temporal if loop.factor > 1]
    prefix = [dim for dim in order if dim in dims]
    return dims[: len(prefix)] == prefix


def _edges_kept(level: LevelMapping, rules: Constraints, hierarchy: Hierarchy, index: int) -> bool:
    """Some way round, the edges hold ``K`` and the G, M loops within their sizes and their constraints.

    A systolic array's edge that carries ``K`` must allow each of C, R, S it
    flattens (``rows`` or ``cols`` in the level's ``spatial`` constraint),
    the other edge the G, M loops; another fan-out's ``instances`` all of them.
    """
    allowed = next((spec.spatial for spec in rules.levels if spec.level == level.level), {})
    flattened = {loop.dim for loop in level.im2col}
    others = {loop.dim for loop in level.spatial if loop.dim != FLATTENED and loop.factor > 1}
    width = level.im2col_edge
    other = math.prod(loop.factor for loop in level.spatial if loop.dim != FLATTENED)

    def carries(axis: str, dims: set[str]) -> bool:
        return axis not in allowed or dims <= set(allowed[axis])

    edges = systolic_edges(hierarchy, index)
    if edges is None:
        return carries("instances", flattened | others)
    rows, cols = edges
    return any(
        width <= size and other <= other_size and carries(axis, flattened) and carries(other_axis, others)
        for axis, size, other_axis, other_size in (("rows", rows, "cols", cols), ("cols", cols, "rows", rows))
    )
