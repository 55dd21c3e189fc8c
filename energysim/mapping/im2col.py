"""When a mapping may flatten C, R and S onto one edge of the array (im2col), and flattened variants.

:mod:`energysim.analysis.im2col` counts a flattened mapping exactly under
conditions that keep every tile it computes a product of per-axis sets;
:func:`im2col_problems` states them, one message each, naming the level:

* one level flattens, and it fans out: it has one spatial ``K`` loop (an edge
  of the array) and at most one temporal ``K`` loop (the folds); no other
  level has ``K`` loops;
* C, R and S are the im2col extents there: no loop of them at that level or
  below it;
* the folds cover the flattened rows, each fold at least one of them:
  ``(folds - 1) x edge < C x R x S <= folds x edge``;
* its other spatial loops are G or M (output channels: the other edge);
* inputs reach the array from a level at or above it (not from level 0
  alone), with no spatial loops between, and no level below it keeps
  inputs (two rows of a fold may need one input at different output
  pixels: a tile below there would not be a product);
* weights reach the array through a level between 1 and it (level 0's
  padding rule is the conv view's).

:func:`flattened_variants` turns a mapping with C, R, S loops at its array
level into flattened ones that fill the array's reduction edge, for the
search to weigh (:mod:`energysim.search`).
"""

from __future__ import annotations

import math

from energysim.model.hierarchy import Hierarchy
from energysim.model.mapping import FLATTENED, IM2COL_DIMS, LevelMapping, Loop, Mapping

#: Spatial loops that may share the im2col level with ``K``: what inputs do not index, but G.
OTHER_EDGE_DIMS = frozenset("GM")


def im2col_problems(mapping: Mapping, hierarchy: Hierarchy) -> list[str]:
    """Why ``mapping``'s flattening cannot be counted exactly, one message each; [] if it flattens nothing."""
    flattening = [index for index, level in enumerate(mapping.levels) if level.flattens]
    if not flattening:
        return []
    names = [level.level for level in mapping.levels]
    if len(flattening) > 1:
        return [
            f"levels {', '.join(names[i] for i in flattening)}: only one level may flatten C, R, S (im2col)"
        ]
    index = flattening[0]
    level = mapping.levels[index]
    where = f"level {level.level} (im2col)"
    problems = _loop_problems(mapping, index, where)
    problems += _tensor_problems(mapping, hierarchy, index, where)
    return problems


def _loop_problems(mapping: Mapping, index: int, where: str) -> list[str]:
    level = mapping.levels[index]
    problems = []
    edges = [loop for loop in level.spatial if loop.dim == FLATTENED]
    folds = [loop for loop in level.temporal if loop.dim == FLATTENED]
    if len(edges) != 1 or len(folds) > 1:
        problems.append(
            f"{where}: needs one spatial K loop (the array edge), at most one temporal K loop (the folds); "
            f"it has {len(edges)} and {len(folds)}"
        )
    flattened = [loop.dim for loop in level.im2col]
    if len(set(flattened)) != len(flattened) or not set(flattened) <= set(IM2COL_DIMS):
        problems.append(f"{where}: im2col takes C, R and S, each once; it has {' '.join(flattened)}")
    for below, spec in enumerate(mapping.levels[index:], start=index):
        stray = [
            f"{loop.dim}{loop.factor}" for loop in (*spec.temporal, *spec.spatial) if loop.dim in IM2COL_DIMS
        ]
        if stray:
            problems.append(
                f"level {spec.level}: loops {' '.join(stray)} of C, R or S at or below the im2col level "
                f"{level.level}: put them in its im2col extents"
            )
        if below > index and any(loop.dim == FLATTENED for loop in (*spec.temporal, *spec.spatial)):
            problems.append(f"level {spec.level}: K loops belong to the im2col level {level.level} only")
    others = [
        f"{loop.dim}{loop.factor}" for loop in level.spatial if loop.dim not in {FLATTENED, *OTHER_EDGE_DIMS}
    ]
    if others:
        problems.append(
            f"{where}: spatial loops {' '.join(others)} beside K; the other edge may carry G and M only"
        )
    if len(edges) == 1 and len(folds) <= 1:
        rows, edge = mapping.im2col_rows, edges[0].factor
        count = folds[0].factor if folds else 1
        if not (count - 1) * edge < rows <= count * edge:
            needed = -(-rows // edge)
            problems.append(
                f"{where}: K{count} folds of K{edge} rows for C x R x S = {rows}: expected {needed} folds "
                f"(each fold holds at least one row, together all {rows})"
            )
    return problems


def _tensor_problems(mapping: Mapping, hierarchy: Hierarchy, index: int, where: str) -> list[str]:
    problems = []
    for tensor in ("weights", "inputs"):
        chain = [i for i, spec in enumerate(mapping.levels) if spec.keeps_tensor(tensor)]
        if not any(1 <= i <= index for i in chain):
            problems.append(
                f"{where}: {tensor} must be kept by a level from {mapping.levels[1].level} "
                f"to {mapping.levels[index].level} (not only by level {mapping.levels[0].level})"
            )
    inputs = [i for i, spec in enumerate(mapping.levels) if spec.keeps_tensor("inputs")]
    below = [mapping.levels[i].level for i in inputs if i > index]
    if below:
        problems.append(
            f"{where}: {', '.join(below)} keep inputs below the im2col level; "
            "flattened rows share inputs in no product shape there: bypass inputs below it"
        )
    innermost = max((i for i in inputs if i <= index), default=index)
    between = [
        f"{mapping.levels[i].level} {loop.dim}{loop.factor}"
        for i in range(innermost, len(mapping.levels))
        for loop in mapping.levels[i].spatial
        if loop.factor > 1 and (i < index or (i > index and loop.dim in "NPQ"))
    ]
    if between:
        problems.append(
            f"{where}: spatial loops {', '.join(between)} between the inputs' level and the array; "
            "the inputs of a flattened array must fan out only over its K and G, M loops"
        )
    return problems


def flattened_variants(mapping: Mapping, hierarchy: Hierarchy, edge: int) -> list[Mapping]:
    """Flattened versions of ``mapping`` that fill ``edge`` rows of its array level with C x R x S.

    The array level is the level whose spatial loops carry C, R or S. Its C,
    R, S loops (temporal and spatial) and those of the levels just above it
    (taken from the innermost up, one level more per variant) become its
    im2col extents (the tiles of the levels in between grow by them); the
    rows fold over ``K``: ``K`` spatial ``min(edge, rows)`` and
    ``ceil(rows / edge)`` folds, the fold loop outermost at the level.
    Variants that do not fit (capacity, the conditions above) are the
    caller's to drop; this only writes them.
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
    variants = []
    below = mapping.levels[index + 1 :]
    if any(loop.dim in IM2COL_DIMS for spec in below for loop in (*spec.temporal, *spec.spatial)):
        return []
    for top in range(index, 0, -1):
        extents = {
            dim: math.prod(
                loop.factor
                for spec in mapping.levels[top : index + 1]
                for loop in (*spec.temporal, *spec.spatial)
                if loop.dim == dim
            )
            for dim in IM2COL_DIMS
        }
        rows = math.prod(extents.values())
        if rows <= 1:
            continue
        levels = []
        for i, spec in enumerate(mapping.levels):
            if top <= i < index:
                levels.append(_without_crs(spec))
            elif i == index:
                width = min(edge, rows)
                folds = -(-rows // width)
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
        variant = Mapping(tuple(levels), note=mapping.note)
        if variant not in variants:
            variants.append(variant)
    return variants


def _without_crs(spec: LevelMapping) -> LevelMapping:
    """``spec`` without its C, R, S loops."""
    return LevelMapping(
        level=spec.level,
        temporal=tuple(loop for loop in spec.temporal if loop.dim not in IM2COL_DIMS),
        spatial=tuple(loop for loop in spec.spatial if loop.dim not in IM2COL_DIMS),
        keeps=spec.keeps,
    )
