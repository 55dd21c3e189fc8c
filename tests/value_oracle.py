"""A value-level oracle: run a mapped loop nest on real numbers and count what it does.

Written from DESIGN.md's "Counting semantics" (the ``exact`` mode) and the mapping
data model only, without reading the analytic counter or the brute-force walker, so
that it cannot share their assumptions. It executes the schedule

    T_0 S_0 T_1 S_1 ... T_{L-1} S_{L-1} MAC

with every level instance holding real values keyed by tensor coordinates:

* An instance of level ``i`` is named by the indices of the spatial loops above it;
  its tile is the data touched by the loops of levels ``i`` and below for the current
  indices of the temporal loops above it. When those change, the elements that leave
  are dropped (weights, inputs) or drained up (outputs), and the elements that arrive
  are filled from the nearest ancestor instance that keeps the tensor.
* A fill reads its source once per distinct element and copy: a fan-out whose network
  multicasts sends one copy to all its instances, one that does not (or has no network)
  sends each its own (:meth:`Run.copies`). The outermost level holds the whole tensors; padding
  (convolution padding, imperfect factors) does not exist there, so it never reads a
  padded element nor keeps a padded output, while inner levels move those zeros.
* MACs (padded slots too: issued, gated) read weights and inputs from the innermost
  level that keeps them, and update outputs there: products landing on one output
  element of one instance are merged by an adder tree and written once; a write onto a
  real partial sum reads it first (reads = updates - first writes).
* Output tiles: of the siblings that reduce into one element under the same parent
  instance (differing only in the C, R, S indices of the spatial loops between the
  parent and the level), one designated sibling is filled with the parent's running
  partial sum, the others start from zero; their drains are merged and written to the
  parent as one update. ``planted_bug=True`` chooses the designated sibling over every
  spatial loop above the level instead (issue 10's bug), to show the value check
  catches it.

:func:`run` returns the outputs the schedule computed and its counts per
(level, tensor, action); :func:`reference_outputs` is numpy's direct computation.
Everything is small (a few thousand MACs at most): this is a test oracle, not a tool.

**im2col.** A level ``F`` may flatten C, R, S (its ``im2col`` extents C_F, R_F,
S_F) into ``K``, written from the flattening's meaning, not from
:mod:`energysim.analysis.im2col`: a MAC's ``K`` index ``k`` (mixed radix over
the nest's ``K`` loops, like any dimension) is, if ``k < C_F R_F S_F``, the
reduction ``c = c_outer C_F + k // (R_F S_F)``, ``r = r_outer R_F + (k // S_F) % R_F``,
``s = s_outer S_F + k % S_F`` (``c_outer``: the index of the C loops above ``F``,
the nest's only C loops); otherwise it is an idle row of the last fold and
touches nothing (no weight, no input, no output; the mapping check refuses
outputs kept below the flattening level, where that would lose a sum).
The tiles of such a nest are not boxes of loop indices, so they are the elements
its MACs touch, enumerated MAC by MAC (:func:`_touched_tiles`).
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from energysim.model.hierarchy import Hierarchy
from energysim.model.layers import DIMENSIONS
from energysim.model.mapping import Loop, Mapping

Element = tuple[int, ...]
Instance = tuple[int, ...]  # the indices of the spatial loops above a level, flattened
Prefix = tuple[tuple[int, ...], ...]  # the same, per level
Tiles = dict[str, set[Element]]
Counts = Counter[tuple[str, str, str]]
TENSORS = ("weights", "inputs", "outputs")
REDUCTION_DIMS = frozenset({"C", "R", "S", "K"})  # K: the flattened reduction of an im2col level
#: The nest's loop dimensions: the layer's and an im2col level's flattened index K.
NEST_DIMS = (*DIMENSIONS, "K")


@dataclass(frozen=True)
class Problem:
    """A layer's real shapes: loop bounds, stride, dilation, padding and real input extent."""

    sizes: dict[str, int]
    stride: tuple[int, int] = (1, 1)
    dilation: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    input_hw: tuple[int, int] = (1, 1)

    @classmethod
    def of(cls, layer: Any) -> Problem:
        """The problem of an energysim conv, fc or matmul layer."""
        bounds = layer.bounds
        padding = getattr(layer, "padding", 0)
        pads = (padding, padding) if isinstance(padding, int) else tuple(padding)
        return cls(dict(bounds.sizes), bounds.stride, bounds.dilation, pads, layer.input_rows_cols)


def random_operands(problem: Problem, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Small integer weights [G,M,C,R,S] and inputs [N,G,C,H,W]: exact arithmetic."""
    rng = np.random.default_rng(seed)
    z = problem.sizes
    weights = rng.integers(-3, 4, size=(z["G"], z["M"], z["C"], z["R"], z["S"]), dtype=np.int64)
    inputs = rng.integers(-3, 4, size=(z["N"], z["G"], z["C"], *problem.input_hw), dtype=np.int64)
    return weights, inputs


def reference_outputs(problem: Problem, weights: np.ndarray, inputs: np.ndarray) -> np.ndarray:
    """Outputs [N,G,M,P,Q] by a direct convolution with numpy (padding by np.pad)."""
    z, (sh, sw), (dh, dw), (ph, pw) = problem.sizes, problem.stride, problem.dilation, problem.padding
    padded = np.pad(inputs, ((0, 0), (0, 0), (0, 0), (ph, ph), (pw, pw)))
    out = np.zeros((z["N"], z["G"], z["M"], z["P"], z["Q"]), dtype=np.int64)
    for r, s in itertools.product(range(z["R"]), range(z["S"])):
        rows = padded[:, :, :, r * dh : r * dh + sh * (z["P"] - 1) + 1 : sh, :]
        window = rows[:, :, :, :, s * dw : s * dw + sw * (z["Q"] - 1) + 1 : sw]
        out += np.einsum("gmc,ngcpq->ngmpq", weights[:, :, :, r, s], window)
    return out


# --- the nest -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Nest:
    """The loops in nest order with, for each, the stride of its index in its dimension."""

    temporal: tuple[tuple[Loop, ...], ...]
    spatial: tuple[tuple[Loop, ...], ...]
    weight: dict[tuple[str, int, int], int]  # (kind, level, position) -> index stride
    extent: tuple[dict[str, int], ...]  # per level: extent of each dim in its tile

    @classmethod
    def of(cls, mapping: Mapping) -> Nest:
        temporal = tuple(level.temporal for level in mapping.levels)
        spatial = tuple(level.spatial for level in mapping.levels)
        order = [
            (kind, index, position, loop)
            for index in range(len(mapping.levels))
            for kind, group in (("t", temporal[index]), ("s", spatial[index]))
            for position, loop in enumerate(group)
        ]
        weight: dict[tuple[str, int, int], int] = {}
        inner = dict.fromkeys(NEST_DIMS, 1)
        for kind, index, position, loop in reversed(order):
            weight[(kind, index, position)] = inner[loop.dim]
            inner[loop.dim] *= loop.factor
        extent = []
        for index in range(len(mapping.levels)):
            below = [loop for kind, i, _, loop in order if i >= index]
            extent.append({d: math.prod(lp.factor for lp in below if lp.dim == d) for d in NEST_DIMS})
        return cls(temporal, spatial, weight, tuple(extent))

    def base(self, kind: str, level: int, indices: tuple[int, ...]) -> dict[str, int]:
        """Offset of each dimension contributed by the loops ``kind`` of ``level`` at ``indices``."""
        loops = self.temporal[level] if kind == "t" else self.spatial[level]
        offset = dict.fromkeys(NEST_DIMS, 0)
        for position, (loop, index) in enumerate(zip(loops, indices, strict=True)):
            offset[loop.dim] += index * self.weight[(kind, level, position)]
        return offset


def _ranges(loops: tuple[Loop, ...]) -> list[tuple[int, ...]]:
    return list(itertools.product(*(range(loop.factor) for loop in loops)))


def _add(*offsets: dict[str, int]) -> dict[str, int]:
    return {d: sum(o[d] for o in offsets) for d in NEST_DIMS}


def tile_elements(problem: Problem, low: dict[str, int], extent: dict[str, int], tensor: str) -> set[Element]:
    """Coordinates of ``tensor`` touched by the loop box ``[low, low + extent)``.

    Inputs are keyed in padded-input coordinates (row = p * stride + r * dilation).
    """
    rng = {d: range(low[d], low[d] + extent[d]) for d in DIMENSIONS}
    if tensor == "weights":
        return set(itertools.product(rng["G"], rng["M"], rng["C"], rng["R"], rng["S"]))
    if tensor == "outputs":
        return set(itertools.product(rng["N"], rng["G"], rng["M"], rng["P"], rng["Q"]))
    (sh, sw), (dh, dw) = problem.stride, problem.dilation
    rows = {p * sh + r * dh for p in rng["P"] for r in rng["R"]}
    cols = {q * sw + s * dw for q in rng["Q"] for s in rng["S"]}
    return set(itertools.product(rng["N"], rng["G"], rng["C"], sorted(rows), sorted(cols)))


def is_padding(problem: Problem, tensor: str, element: Element) -> bool:
    """True for an element that does not exist in memory (conv padding or imperfect factors)."""
    z = problem.sizes
    if tensor == "weights":
        return any(i >= z[d] for i, d in zip(element, "GMCRS", strict=True))
    if tensor == "outputs":
        return any(i >= z[d] for i, d in zip(element, "NGMPQ", strict=True))
    n, g, c, row, col = element
    (ph, pw), (h, w) = problem.padding, problem.input_hw
    return n >= z["N"] or g >= z["G"] or c >= z["C"] or not (ph <= row < ph + h and pw <= col < pw + w)


@dataclass(frozen=True)
class Im2col:
    """The extents C_F, R_F, S_F an im2col level flattens into ``K``; ``rows`` = C_F R_F S_F."""

    c: int
    r: int
    s: int

    @classmethod
    def of(cls, mapping: Mapping) -> Im2col | None:
        """The flattening of ``mapping`` (its level with im2col extents or ``K`` loops), or None."""
        for level in mapping.levels:
            if level.im2col or any(loop.dim == "K" for loop in (*level.temporal, *level.spatial)):
                extent = {loop.dim: loop.factor for loop in level.im2col}
                return cls(extent.get("C", 1), extent.get("R", 1), extent.get("S", 1))
        return None

    def real(self, i: dict[str, int]) -> dict[str, int] | None:
        """A MAC's C, R, S from its ``K`` index and the outer C, R, S loops; None: an idle row."""
        k, rows = i["K"], self.c * self.r * self.s
        if k >= rows:
            return None
        c_in, r_in, s_in = k // (self.r * self.s), (k // self.s) % self.r, k % self.s
        return i | {"C": i["C"] * self.c + c_in, "R": i["R"] * self.r + r_in, "S": i["S"] * self.s + s_in}


def mac_elements(problem: Problem, im2col: Im2col | None, i: dict[str, int]) -> dict[str, Element] | None:
    """The weight, input and output a MAC with nest indices ``i`` touches.

    An idle im2col row touches nothing (None).
    """
    if im2col is not None:
        real = im2col.real(i)
        if real is None:
            return None
        i = real
    (sh, sw), (dh, dw) = problem.stride, problem.dilation
    return {
        "weights": (i["G"], i["M"], i["C"], i["R"], i["S"]),
        "inputs": (i["N"], i["G"], i["C"], i["P"] * sh + i["R"] * dh, i["Q"] * sw + i["S"] * dw),
        "outputs": (i["N"], i["G"], i["M"], i["P"], i["Q"]),
    }


# --- the machine state ----------------------------------------------------------------------------


@dataclass
class Run:
    """State and counts of one execution."""

    problem: Problem
    hierarchy: Hierarchy
    mapping: Mapping
    weights: np.ndarray
    inputs: np.ndarray
    planted_bug: bool = False
    nest: Nest = field(init=False)
    im2col: Im2col | None = field(init=False)
    counts: Counts = field(default_factory=Counter)
    # (level, instance) -> tensor -> element -> value; an output's None: no real partial sum yet
    held: dict[tuple[int, Instance], dict[str, dict[Element, int | None]]] = field(default_factory=dict)
    # (level, instance) -> the tile it moves to now (None at the end: everything leaves)
    next_tiles: dict[tuple[int, Instance], Tiles | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.nest = Nest.of(self.mapping)
        self.im2col = Im2col.of(self.mapping)
        self.names = [level.level for level in self.mapping.levels]
        self.held[(0, ())] = {tensor: {} for tensor in TENSORS}

    def keeps(self, level: int, tensor: str) -> bool:
        return level == 0 or self.mapping.levels[level].keeps_tensor(tensor)

    def ancestor(self, level: int, tensor: str) -> int:
        """The nearest level above ``level`` that keeps ``tensor``: its source and its parent."""
        return max(a for a in range(level) if self.keeps(a, tensor))

    def innermost(self, tensor: str) -> int:
        """The level the MACs read ``tensor`` from (or update it in)."""
        return max(a for a in range(len(self.names)) if self.keeps(a, tensor))

    def copies(self, source: int, level: int, receiver: Prefix) -> tuple[int, ...]:
        """Which copy a receiver needs: its spatial indices at the fan-outs that do not multicast.

        A network that multicasts sends one copy to all the instances it fans out to; one
        that does not, or a level without a network (point-to-point links), sends each its
        own. Receivers of one element that agree on every non-multicasting fan-out between
        the source and them share one read at the source.
        """
        by_name = {lv.name: lv for lv in self.hierarchy.levels}
        parts: list[int] = []
        for index in range(source, level):
            network = by_name[self.names[index]].network
            if network is None or not network.multicast:
                parts += receiver[index]
        return tuple(parts)

    def outer_value(self, tensor: str, element: Element) -> int:
        """An operand at the outermost level: the real tensors; padding is a zero from nowhere."""
        if is_padding(self.problem, tensor, element):
            return 0
        if tensor == "weights":
            return int(self.weights[element])
        n, g, c, row, col = element
        ph, pw = self.problem.padding
        return int(self.inputs[n, g, c, row - ph, col - pw])

    def read_source(self, level: int, instance: Instance, tensor: str, element: Element) -> int | None:
        """Value of ``element`` at an instance (the outermost level reads the real tensors)."""
        if level == 0 and tensor != "outputs":
            return self.outer_value(tensor, element)
        return self.held[(level, instance)][tensor].get(element)

    def count(self, level: int, tensor: str, action: str) -> None:
        self.counts[(self.names[level], tensor, action)] += 1

    def count_read(self, level: int, tensor: str, element: Element) -> None:
        """A read at ``level``; the outermost level never reads a padded element."""
        if level == 0 and is_padding(self.problem, tensor, element):
            return
        self.count(level, tensor, "read")

    def write_output(self, level: int, instance: Instance, element: Element, value: int) -> None:
        """An update: a padded output does not exist at the outermost level, so it is dropped there."""
        if level == 0 and is_padding(self.problem, "outputs", element):
            return
        self.held[(level, instance)]["outputs"][element] = value
        self.count(level, "outputs", "update")


def _spatial_prefixes(nest: Nest, level: int) -> list[Prefix]:
    """Every instance of ``level``: the indices of the spatial loops of the levels above it."""
    return list(itertools.product(*(_ranges(nest.spatial[k]) for k in range(level))))


def _flat(parts: Prefix) -> Instance:
    return tuple(i for part in parts for i in part)


def run(
    problem: Problem,
    hierarchy: Hierarchy,
    mapping: Mapping,
    weights: np.ndarray,
    inputs: np.ndarray,
    planted_bug: bool = False,
) -> tuple[np.ndarray, Counts]:
    """Execute ``mapping`` on real numbers: the outputs it computed and its access counts."""
    state = Run(problem, hierarchy, mapping, weights, inputs, planted_bug)
    nest, levels = state.nest, len(mapping.levels)
    steps = [_ranges(nest.temporal[k]) for k in range(levels)]
    previous: Prefix | None = None
    for temporal in itertools.product(*steps):
        changed = 0 if previous is None else next(k for k in range(levels) if temporal[k] != previous[k]) + 1
        _transition(state, temporal, changed)
        _macs(state, temporal)
        previous = temporal
    _transition(state, None, 1)
    return _final_outputs(state), state.counts


def _tile_low(state: Run, temporal: Prefix, spatial: Prefix) -> dict[str, int]:
    """The first index of every dimension in the tile of the instance ``spatial`` at ``temporal``."""
    offsets = [state.nest.base("t", k, temporal[k]) for k in range(len(spatial))]
    offsets += [state.nest.base("s", k, spatial[k]) for k in range(len(spatial))]
    return _add(*offsets) if offsets else dict.fromkeys(NEST_DIMS, 0)


def _transition(state: Run, temporal: Prefix | None, changed: int) -> None:
    """Levels ``changed`` and below get new tiles (None: the end, every tile leaves)."""
    levels = len(state.mapping.levels)
    for level in range(levels - 1, changed - 1, -1):  # drains, innermost first
        if level == 0:
            continue
        for prefix in _spatial_prefixes(state.nest, level):
            new = None
            if temporal is not None and state.im2col is not None:
                new = _touched_tiles(state, temporal, prefix)
            elif temporal is not None:
                low, extent = _tile_low(state, temporal, prefix), state.nest.extent[level]
                new = {tensor: tile_elements(state.problem, low, extent, tensor) for tensor in TENSORS}
            state.next_tiles[(level, _flat(prefix))] = new
        _drain(state, level)
    if temporal is None:
        return
    for level in range(max(changed, 1), levels):  # fills, outermost first
        _fill(state, level)


def _touched_tiles(state: Run, temporal: Prefix, spatial: Prefix) -> Tiles:
    """The tiles of the instance ``spatial`` at ``temporal``: what the MACs under it touch (im2col).

    Every index of the loops of its level and below, MAC by MAC; an idle row touches nothing.
    """
    nest, level, levels = state.nest, len(spatial), len(state.mapping.levels)
    low = _tile_low(state, temporal, spatial)
    inner = [(kind, k) for k in range(level, levels) for kind in ("t", "s")]
    groups = [_ranges(nest.temporal[k] if kind == "t" else nest.spatial[k]) for kind, k in inner]
    tiles: Tiles = {tensor: set() for tensor in TENSORS}
    for indices in itertools.product(*groups):
        i = _add(low, *(nest.base(kind, k, index) for (kind, k), index in zip(inner, indices, strict=True)))
        elements = mac_elements(state.problem, state.im2col, i)
        for tensor, element in (elements or {}).items():
            tiles[tensor].add(element)
    return tiles


def _drain(state: Run, level: int) -> None:
    """Drop what leaves each instance; outputs leaving are merged and written to the parent."""
    parent = state.ancestor(level, "outputs") if state.keeps(level, "outputs") else None
    merged: dict[tuple[Instance, Element], int] = {}
    for (at, instance), new in state.next_tiles.items():
        if at != level:
            continue
        held = state.held.setdefault((level, instance), {tensor: {} for tensor in TENSORS})
        for tensor in TENSORS:
            keep = set() if new is None else new[tensor]
            for element in [e for e in held[tensor] if e not in keep]:
                value = held[tensor].pop(element)
                if tensor == "outputs" and parent is not None and value is not None:
                    key = (instance[: _instance_length(state, parent)], element)
                    merged[key] = merged.get(key, 0) + value
    for (parent_instance, element), value in merged.items():
        assert parent is not None
        state.write_output(parent, parent_instance, element, value)


def _instance_length(state: Run, level: int) -> int:
    return sum(len(state.nest.spatial[k]) for k in range(level))


def _designated(state: Run, level: int, parent: int, prefix: Prefix) -> bool:
    """The sibling that receives the parent's running partial sum: zero reduction indices."""
    first = 0 if state.planted_bug else parent
    for k in range(first, level):
        for loop, index in zip(state.nest.spatial[k], prefix[k], strict=True):
            if loop.dim in REDUCTION_DIMS and index:
                return False
    return True


def _fill(state: Run, level: int) -> None:
    """Fill each instance of ``level`` with the new elements of its tile, from the nearest keeper above."""
    for tensor in TENSORS:
        if not state.keeps(level, tensor):
            continue
        source = state.ancestor(level, tensor)
        cut = _instance_length(state, source)
        sent: set[tuple[Instance, Element, tuple[int, ...]]] = set()
        for prefix in _spatial_prefixes(state.nest, level):
            instance = _flat(prefix)
            held = state.held[(level, instance)][tensor]
            tiles = state.next_tiles[(level, instance)]
            assert tiles is not None
            for element in sorted(tiles[tensor]):
                if element in held:
                    continue
                value = state.read_source(source, instance[:cut], tensor, element)
                if tensor == "outputs" and (value is None or not _designated(state, level, source, prefix)):
                    held[element] = None  # starts from zero, nothing moves
                    continue
                held[element] = value
                state.count(level, tensor, "fill")
                sent.add((instance[:cut], element, state.copies(source, level, prefix)))
        for _, element, _ in sent:
            state.count_read(source, tensor, element)


def _macs(state: Run, temporal: Prefix) -> None:
    """One MAC per PE: operands read at their innermost keeping level, products merged per output."""
    nest, problem, levels = state.nest, state.problem, len(state.mapping.levels)
    low_t = _add(*(nest.base("t", k, temporal[k]) for k in range(levels)))
    reads: dict[str, set[tuple[Instance, Element, tuple[int, ...]]]] = {"weights": set(), "inputs": set()}
    products: dict[tuple[Instance, Element], int] = {}
    where = {tensor: state.innermost(tensor) for tensor in TENSORS}
    for prefix in _spatial_prefixes(nest, levels):
        i = _add(low_t, *(nest.base("s", k, prefix[k]) for k in range(levels)))
        elements = mac_elements(problem, state.im2col, i)
        if elements is None:  # an idle row of an im2col fold ("none"): no operand, no product
            continue
        flat = _flat(prefix)
        key = (flat[: _instance_length(state, where["outputs"])], elements["outputs"])
        if "weights" not in elements:  # an idle row passing its column's partial sum: a zero product
            products[key] = products.get(key, 0)
            continue
        values = []
        for tensor in ("weights", "inputs"):
            element = elements[tensor]
            instance = flat[: _instance_length(state, where[tensor])]
            value = state.read_source(where[tensor], instance, tensor, element)
            assert value is not None, f"{tensor} {element} not held at {state.names[where[tensor]]}"
            values.append(value)
            reads[tensor].add((instance, element, state.copies(where[tensor], levels, prefix)))
        products[key] = products.get(key, 0) + values[0] * values[1]
    for tensor, demands in reads.items():
        for _, element, _ in demands:
            state.count_read(where[tensor], tensor, element)
    level = where["outputs"]
    for (instance, element), value in products.items():
        running = state.held[(level, instance)]["outputs"].get(element)
        if running is not None:
            state.count_read(level, "outputs", element)
        state.write_output(level, instance, element, (running or 0) + value)


def _final_outputs(state: Run) -> np.ndarray:
    z = state.problem.sizes
    out = np.zeros((z["N"], z["G"], z["M"], z["P"], z["Q"]), dtype=np.int64)
    for element, value in state.held[(0, ())]["outputs"].items():
        if not is_padding(state.problem, "outputs", element) and value is not None:
            out[element] = value
    return out
