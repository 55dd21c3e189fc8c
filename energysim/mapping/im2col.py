"""When a mapping may flatten C, R and S onto one edge of the array (im2col), and flattened variants.

:mod:`energysim.analysis.im2col` counts a flattened mapping exactly under
conditions that keep every tile it computes a product of per-axis sets;
:func:`im2col_problems` states them, one message each, naming the level:

* one level flattens, below the outermost, and it fans out: its im2col
  extents hold at least 2 rows, it has one spatial ``K`` loop (an edge of
  the array) and at most one temporal ``K`` loop (the folds); no other level
  has ``K`` loops;
* C, R and S are the im2col extents there: no loop of them at that level or
  below it;
* the folds cover the flattened rows, each fold at least one of them:
  ``(folds - 1) x edge < C x R x S <= folds x edge``;
* its other spatial loops are G or M (output channels: the other edge);
* inputs reach the array from a level at or above it, with no spatial loops
  between (from level 0 only if nothing pads them), and no level below it keeps
  inputs (two rows of a fold may need one input at different output
  pixels: a tile below there would not be a product) nor outputs (the rows
  sum into their column as they pass; idle rows hold no partial sum);
* weights reach the array through a level between 1 and it, or from level
  0 with no imperfect factor of G, M, C, R, S (level 0's padding rule is
  the conv view's, and then there is none); outputs alike (with G, N, M, P,
  Q: level 0's unpadding and the idle rows would take out the same slots).

:mod:`energysim.mapping.flatten` writes flattened variants of a mapping for
the search to weigh.
"""

from __future__ import annotations

from energysim.model.layers import LoopBounds
from energysim.model.mapping import FLATTENED, IM2COL_DIMS, Mapping

#: Spatial loops that may share the im2col level with ``K``: what inputs do not index, but G.
OTHER_EDGE_DIMS = frozenset("GM")


def im2col_problems(mapping: Mapping, bounds: LoopBounds) -> list[str]:
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
    where = f"level {names[index]} (im2col)"
    if index == 0:
        return [
            f"{where}: the outermost level holds the whole layer and cannot flatten; flatten a level below it"
        ]
    problems = _loop_problems(mapping, index, where)
    problems += _tensor_problems(mapping, bounds, index, where)
    return problems


def _loop_problems(mapping: Mapping, index: int, where: str) -> list[str]:
    level = mapping.levels[index]
    problems = []
    flattened = [loop.dim for loop in level.im2col]
    if mapping.im2col_rows < 2:
        return [
            f"{where}: K loops need im2col extents, the C, R, S of the level's tile that K flattens "
            f"(at least 2 rows), e.g. im2col: {{C: 3, R: 11, S: 11}}"
        ]
    if len(set(flattened)) != len(flattened) or not set(flattened) <= set(IM2COL_DIMS):
        problems.append(f"{where}: im2col takes C, R and S, each once; it has {' '.join(flattened)}")
    edges = [loop for loop in level.spatial if loop.dim == FLATTENED and loop.factor > 1]
    folds = [loop for loop in level.temporal if loop.dim == FLATTENED]
    if len(edges) != 1 or len(folds) > 1:
        problems.append(
            f"{where}: needs one spatial K loop (the array edge), at most one temporal K loop (the folds); "
            f"it has {len(edges)} and {len(folds)}"
        )
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


#: The dimensions whose imperfect factors pad each tensor (level 0 holds no padding).
PADDING_DIMS = {"weights": "GMCRS", "inputs": "NGCPQRS", "outputs": "GNMPQ"}


def _tensor_problems(mapping: Mapping, bounds: LoopBounds, index: int, where: str) -> list[str]:
    problems = []
    for tensor in ("weights", "inputs", "outputs"):
        chain = [i for i, spec in enumerate(mapping.levels) if spec.keeps_tensor(tensor)]
        if any(1 <= i <= index for i in chain):
            continue
        padded = [dim for dim in PADDING_DIMS[tensor] if mapping.factor(dim) > bounds.sizes[dim]]
        if tensor == "inputs" and any(bounds.padding):
            padded.append(f"the layer's zero padding {bounds.padding}")
        if not padded:
            continue  # level 0 and the array exchange only elements that exist: the GEMM view is exact
        levels = f"{mapping.levels[1].level} to {mapping.levels[index].level}"
        problems.append(
            f"{where}: {tensor} go between level {mapping.levels[0].level} and the array with no level from "
            f"{levels} keeping them, and {', '.join(padded)} pad them (level 0 holds no padding, and its "
            f"unpadding would overlap the idle rows'); keep them at a level from {levels}"
        )
    inputs = [i for i, spec in enumerate(mapping.levels) if spec.keeps_tensor("inputs")]
    below = [mapping.levels[i].level for i in inputs if i > index]
    if below:
        problems.append(
            f"{where}: {', '.join(below)} keep inputs below the im2col level; "
            "flattened rows share inputs in no product shape there: bypass inputs below it"
        )
    below = [spec.level for spec in mapping.levels[index + 1 :] if spec.keeps_tensor("outputs")]
    if below:
        problems.append(
            f"{where}: {', '.join(below)} keep outputs below the im2col level; the rows of a fold "
            "sum into their column as they pass (the idle rows of the last fold hold none): bypass "
            "outputs below it"
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
