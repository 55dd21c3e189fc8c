"""Checks that a mapping fits a layer and a hierarchy, with messages that say why not.

A mapping must name the hierarchy's levels in order; its factors must multiply
to at least each loop bound; each level may keep only tensors the hardware
level can hold (the outermost keeps all); spatial loops may not use more
instances than the level fans out to, and on a systolic array they must also
put one dimension group on the rows and another on the columns, each within
its edge (:func:`array_fit_problem`); and every kept tile must fit its level
(twice over where the level is double-buffered). A level that holds partial
sums sizes its output tile at the layer's ``psum_bits``, one that only ever
holds finished outputs at the output precision
(:func:`~energysim.analysis.psums.holds_partial_sums`). All problems are
collected and raised together as one :class:`~energysim.errors.EnergySimError`.
"""

from __future__ import annotations

import math

from energysim.analysis.psums import holds_partial_sums
from energysim.analysis.tiles import Nest, window_size
from energysim.errors import EnergySimError
from energysim.mapping.im2col import im2col_problems
from energysim.model.base import TENSORS, Tensor
from energysim.model.hierarchy import Hierarchy, Level
from energysim.model.layers import DIMENSIONS, LayerBase, LoopBounds
from energysim.model.limits import MAX_DIMENSION, MAX_LAYER_MACS
from energysim.model.mapping import FLATTENED, Loop, Mapping


def fanout(hierarchy: Hierarchy, level_index: int) -> int:
    """Instances below one instance of level ``level_index`` (PEs for the innermost)."""
    levels = hierarchy.levels
    below = levels[level_index + 1].instances if level_index + 1 < len(levels) else hierarchy.compute.pes
    return below // levels[level_index].instances


def systolic_edges(hierarchy: Hierarchy, level_index: int) -> tuple[int, int] | None:
    """The array's (rows, cols) if level ``level_index`` fans out onto a 2-D systolic array, else None.

    That is the one level whose single instance fans out to every PE (as the
    engine and the mapper read the array: :mod:`energysim.folds`,
    :mod:`energysim.mapping.mapspace`). A fan-out shared by several levels, a
    1-D array, or a non-systolic array keeps only the total-count rule.
    """
    compute = hierarchy.compute
    rows, cols = compute.array.rows, compute.array.cols
    if not compute.systolic or rows == 1 or cols == 1:
        return None
    if hierarchy.levels[level_index].instances != 1 or fanout(hierarchy, level_index) != compute.pes:
        return None
    return rows, cols


#: Dimension groups of a systolic array's edges: the reduction (C, R, S), output channels (G, M)
#: and output pixels (N, P, Q). Each edge carries one group, rows and columns different ones.
DIM_GROUPS: tuple[str, ...] = ("CRS", "GM", "NPQ")
GROUP_OF: dict[str, str] = {dim: group for group in DIM_GROUPS for dim in group} | {FLATTENED: "CRS"}


def array_fit_problem(level: Level, spatial: tuple[Loop, ...], edges: tuple[int, int]) -> str | None:
    """Why spatial loops onto a systolic array do not fit it, or None.

    A systolic array moves data only along its rows and columns, one hop a
    cycle, so what an edge may carry follows from what flows along the other.
    On a weight-stationary array partial sums flow down a column and sum
    everything in it: the rows may differ only by reduction indices (C, R,
    S), and a column, summed whole, cannot also hold several output channels
    or pixels. Inputs flow along a row to every column: the columns may
    differ only by what inputs do not index (M; G rides with M, as in the
    mapper's space, though a grouped layer's inputs do differ per group: an
    approximation left as the space has it). The other stationary
    tensors give the other pairs (SCALE-Sim: os rows P, Q (N) x columns M;
    is rows C, R, S x columns P, Q (N)), and a mapping may lay any of them
    either way round. So the rule is general, not tied to the hierarchy's
    ``default_dataflow``: that names the builder a user gets by default, not
    a wiring the other dataflows (or the mapper, whose space is the same,
    :mod:`energysim.mapping.mapspace`) could not use. The spatial loops with
    a factor above 1 (a factor 1 unrolls nothing) must therefore come from at
    most two of :data:`DIM_GROUPS`, one per edge, each group's product within
    its edge (``rows`` for the rows, ``cols`` for the columns). Their total
    alone can fit when this does not (C3 M65 P6 R7 S7 is 57,330 PEs of
    65,536). A non-systolic array (Eyeriss' 12 x 14 with a network that
    delivers to any PE) keeps only the total count: nothing there, engine
    included, reads which PE a loop lands on.
    """
    rows, cols = edges
    loops_of: dict[str, list[Loop]] = {}
    for loop in spatial:
        group = GROUP_OF.get(loop.dim)  # another dimension is reported by structure_problems
        if group is not None and loop.factor > 1:
            loops_of.setdefault(group, []).append(loop)
    products = {group: math.prod(loop.factor for loop in loops) for group, loops in loops_of.items()}
    if len(products) <= 2 and _fits(list(products.values()), rows, cols):
        return None
    loops = " x ".join(f"{loop.dim}{loop.factor}" for loop in spatial)
    listing = ", ".join(
        f"{group} {' x '.join(f'{loop.dim}{loop.factor}' for loop in group_loops)} = {products[group]}"
        for group, group_loops in loops_of.items()
    )
    instead = _what_fits(products, rows, cols)
    if len(products) > 2:
        return (
            f"level {level.name}: spatial loops {loops} put {len(products)} dimension groups on the "
            f"{rows} x {cols} systolic array ({listing}): each edge carries one group (CRS the reduction, "
            f"GM output channels, NPQ output pixels), rows and columns different ones; {instead}"
        )
    return (
        f"level {level.name}: spatial loops {loops} do not split over the {rows} x {cols} systolic "
        f"array: each edge carries one dimension group ({listing}), and they fit neither way round "
        f"({rows} rows, {cols} columns); {instead}"
    )


def _fits(products: list[int], rows: int, cols: int) -> bool:
    """True if the groups' products (at most two) go one per edge within the edges, either way round."""
    first, second = [*products, 1, 1][:2]
    return (first <= rows and second <= cols) or (second <= rows and first <= cols)


def _what_fits(products: dict[str, int], rows: int, cols: int) -> str:
    """The largest layout of at most two of the groups that fits, as advice for the message."""
    best: tuple[int, str, str] | None = None
    for on_rows in (*products, ""):
        for on_cols in (*products, ""):
            same = on_rows == on_cols != ""
            if same or products.get(on_rows, 1) > rows or products.get(on_cols, 1) > cols:
                continue
            used = products.get(on_rows, 1) * products.get(on_cols, 1)
            if best is None or used > best[0]:
                best = (used, on_rows, on_cols)
    assert best is not None  # nothing on either edge always fits
    used, on_rows, on_cols = best
    if used == 1:
        return f"no group fits an edge: make each at most {max(rows, cols)}, the rest temporal"
    kept = [
        f"{group} ({products[group]}) on the {edge}"
        for group, edge in ((on_rows, "rows"), (on_cols, "columns"))
        if group
    ]
    rest = [group for group in products if group not in (on_rows, on_cols)]
    return f"{' and '.join(kept)} would fit, with the loops of {', '.join(rest)} temporal"


def tile_extents(nest: Nest, level_index: int) -> dict[str, int]:
    """Extent of every loop dimension in one tile of level ``level_index``."""
    return {dim: nest.extent(level_index, dim) for dim in DIMENSIONS}


def elements_of_tile(bounds: LoopBounds, extents: dict[str, int], tensor: Tensor) -> int:
    """Elements of ``tensor`` in a tile with the given dimension extents (padding included)."""
    if tensor == "weights":
        return extents["G"] * extents["M"] * extents["C"] * extents["R"] * extents["S"]
    if tensor == "outputs":
        return extents["G"] * extents["N"] * extents["M"] * extents["P"] * extents["Q"]
    (stride_h, stride_w), (dilation_h, dilation_w) = bounds.stride, bounds.dilation
    rows = window_size(stride_h, extents["P"], dilation_h, extents["R"])
    cols = window_size(stride_w, extents["Q"], dilation_w, extents["S"])
    return extents["N"] * extents["G"] * extents["C"] * rows * cols


def tile_elements(nest: Nest, bounds: LoopBounds, level_index: int, tensor: Tensor) -> int:
    """Elements of ``tensor`` in one tile of level ``level_index`` (padding included)."""
    return elements_of_tile(bounds, tile_extents(nest, level_index), tensor)


def bytes_of(elements: int, bits: int) -> int:
    """Whole bytes that ``elements`` of ``bits`` each occupy (exact integers, no float)."""
    return -(-elements * bits // 8)


def tile_bytes(nest: Nest, layer: LayerBase, level_index: int, tensor: Tensor) -> int:
    """Bytes of one tile of ``tensor`` at a level, at the layer's precision (outputs: finished)."""
    assert layer.loop_bounds is not None
    return bytes_of(tile_elements(nest, layer.loop_bounds, level_index, tensor), layer.bits(tensor))


def level_capacity_problems(
    level: Level,
    keeps: tuple[Tensor, ...],
    layer: LayerBase,
    extents: dict[str, int],
    outputs_bits: int | None = None,
) -> list[str]:
    """Tiles with the given extents that do not fit ``level`` (keeping ``keeps``), one message each.

    Output elements are ``outputs_bits`` wide; by default the wider of a
    partial sum and an output (a caller without the whole nest cannot tell which).
    """
    bounds = layer.loop_bounds
    assert bounds is not None
    if level.unbounded:
        return []
    copies = 2 if level.double_buffered else 1
    buffering = " (double-buffered)" if copies == 2 else ""
    if outputs_bits is None:
        outputs_bits = max(layer.psum_width, layer.bits("outputs"))
    widths = {tensor: outputs_bits if tensor == "outputs" else layer.bits(tensor) for tensor in keeps}
    needed = {
        tensor: copies * bytes_of(elements_of_tile(bounds, extents, tensor), widths[tensor])
        for tensor in keeps
    }
    if isinstance(level.size_bytes, int):
        total = sum(needed.values())
        if total <= level.size_bytes:
            return []
        parts = ", ".join(f"{tensor} {size} B" for tensor, size in needed.items())
        return [
            f"level {level.name}: tiles need {total} bytes{buffering} ({parts}), "
            f"the level has {level.size_bytes}"
        ]
    problems = []
    for tensor, size in needed.items():
        available = level.capacity_bytes(tensor) or 0
        if size > available:
            problems.append(
                f"level {level.name}, tensor {tensor}: tile needs {size} bytes{buffering}, "
                f"the level has {available} for {tensor}"
            )
    return problems


def capacity_problems(mapping: Mapping, layer: LayerBase, hierarchy: Hierarchy, nest: Nest) -> list[str]:
    """Tiles that do not fit their level, one message each (an im2col level's tile is its conv view's)."""
    if mapping.flattened_level is not None and layer.loop_bounds is not None:
        nest = Nest(mapping.conv_view(), layer.loop_bounds)
    problems = []
    chain = [index for index, spec in enumerate(mapping.levels) if spec.keeps_tensor("outputs")]
    for index, (level, spec) in enumerate(zip(hierarchy.levels, mapping.levels, strict=True)):
        psums = index in chain and holds_partial_sums(nest, chain, index)
        bits = layer.psum_width if psums else layer.bits("outputs")
        problems += level_capacity_problems(level, spec.keeps, layer, tile_extents(nest, index), bits)
    return problems


def size_problems(mapping: Mapping) -> list[str]:
    """Factors and padded nests too large to count exactly (limits.py), naming the level."""
    problems = []
    for spec in mapping.levels:
        for loop in (*spec.temporal, *spec.spatial, *spec.im2col):
            if loop.factor > MAX_DIMENSION:
                problems.append(
                    f"level {spec.level}: loop {loop.dim}{loop.factor} is too large: a factor may be at "
                    f"most {MAX_DIMENSION} (2^31, limits.MAX_DIMENSION)"
                )
    mapped_macs = math.prod(
        loop.factor for spec in mapping.levels for loop in (*spec.temporal, *spec.spatial)
    )
    if not problems and mapped_macs > MAX_LAYER_MACS:
        per_level = {
            spec.level: math.prod(loop.factor for loop in (*spec.temporal, *spec.spatial))
            for spec in mapping.levels
        }
        largest = max(per_level, key=lambda name: per_level[name])
        problems.append(
            f"too large: the mapping's factors multiply to {mapped_macs} MAC slots (the loop nest padded "
            f"by the mapping), more than {MAX_LAYER_MACS} (2^53, limits.MAX_LAYER_MACS); level {largest} "
            f"alone multiplies to {per_level[largest]}"
        )
    return problems


def structure_problems(mapping: Mapping, layer: LayerBase, hierarchy: Hierarchy) -> list[str]:
    """Problems of level names, factors, kept tensors and spatial fan-out."""
    names = [level.name for level in hierarchy.levels]
    given = [level.level for level in mapping.levels]
    if given != names:
        return [
            f"levels: the mapping names {given}, the hierarchy {hierarchy.name} has {names} (outermost first)"
        ]
    problems = size_problems(mapping)
    bounds = layer.loop_bounds
    assert bounds is not None
    for dim in DIMENSIONS:
        product = mapping.factor(dim)
        if product < bounds.sizes[dim]:
            problems.append(
                f"{dim}: factors multiply to {product}, the layer {layer.name} needs {bounds.sizes[dim]}"
            )
    for index, (level, spec) in enumerate(zip(hierarchy.levels, mapping.levels, strict=True)):
        for loop in (*spec.temporal, *spec.spatial):
            if loop.dim not in (*DIMENSIONS, FLATTENED) or loop.factor < 1:
                problems.append(
                    f"level {level.name}: loop {loop.dim}{loop.factor}: expected a dimension of "
                    f"{''.join(DIMENSIONS)} (or K, with im2col) and a factor >= 1"
                )
        extra = [tensor for tensor in spec.keeps if tensor not in level.keeps]
        if extra:
            problems.append(
                f"level {level.name}: keeps {', '.join(extra)}, which the hardware level cannot hold "
                f"(it holds {', '.join(level.keeps)})"
            )
        if index == 0 and set(spec.keeps) != set(TENSORS):
            problems.append(f"level {level.name}: the outermost level must keep every tensor")
        available = fanout(hierarchy, index)
        if spec.spatial_fanout > available:
            loops = " x ".join(f"{loop.dim}{loop.factor}" for loop in spec.spatial)
            problems.append(
                f"level {level.name}: spatial loops {loops} need {spec.spatial_fanout} instances below, "
                f"there are {available}"
            )
        edges = systolic_edges(hierarchy, index)
        if edges is not None and spec.spatial_fanout <= available:
            problem = array_fit_problem(level, spec.spatial, edges)
            if problem is not None:
                problems.append(problem)
    return problems + im2col_problems(mapping, bounds)


def check_mapping(mapping: Mapping, layer: LayerBase, hierarchy: Hierarchy, source: str = "mapping") -> Nest:
    """Raise one EnergySimError listing every way ``mapping`` does not fit; else its nest."""
    bounds = layer.loop_bounds
    if bounds is None:
        raise EnergySimError(f"{source}: layer {layer.name} has no MACs to map")
    problems = structure_problems(mapping, layer, hierarchy)
    nest = Nest(mapping, bounds)
    if not problems:
        problems = capacity_problems(mapping, layer, hierarchy, nest)
    if problems:
        listing = "\n".join(f"  - {problem}" for problem in problems)
        raise EnergySimError(f"{source}: layer {layer.name} does not fit {hierarchy.name}:\n{listing}")
    return nest
