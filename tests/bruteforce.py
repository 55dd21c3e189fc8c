"""A brute-force reference for access counting: one MAC at a time, tiles as Python sets.

This is a test oracle for :func:`energysim.analysis.accesses.count_accesses`,
written from the counting semantics in that module's docstring only, not from
its implementation. It is deliberately naive: it enumerates every time step and
every spatial point of the padded nest, builds every tile of every level
instance as an explicit set of tensor elements, and walks the steps in order,
diffing each instance's tile against the one it held before. It is meant for
tiny nests (a few thousand padded MACs).

Vocabulary (as in the spec):

* The nest is ``T_0 S_0 T_1 S_1 ... T_{L-1} S_{L-1}``, level 0 outermost.
* A *time step* is one assignment of all temporal loops (lexicographic in nest
  order); at each step every *point* (one assignment of all spatial loops)
  does one MAC.
* An *instance* of level ``i`` is an assignment of the spatial loops of levels
  above ``i``; since spatial loops are kept in nest order, that is a prefix of
  a point.
* The *tile* of tensor ``t`` held by an instance of level ``i`` at a step is
  the set of ``t``-elements touched by every MAC whose temporal indices of
  levels above ``i`` are the current step's, and whose spatial indices of
  levels above ``i`` are the instance's.

``counting="timeloop"`` walks the same nest under timeloop-model's rules as
DESIGN.md lists them, written from those bullets, not from
:mod:`energysim.analysis.timeloop_rules`:

* each instance remembers the last non-zero move of its tile (the shift of the
  tile's lowest corner, per tensor coordinate); a move equal to it, or any move
  when none is remembered, fills only the new elements and is remembered; a
  zero move fills nothing; any other move fills the whole tile and forgets;
* a parent instance reads once per group of children whose fills at a step are
  equal sets (with multicast), else once per child's element;
* every instance refills an output element it held before (there is no
  designated sibling); its first arrival starts from zero;
* padding is an element like any other (nothing is filtered out of level 0).

**im2col.** A mapping whose level ``F`` flattens C, R, S into ``K``
(:class:`~energysim.model.mapping.LevelMapping`'s ``im2col`` extents C_F, R_F,
S_F) is walked from the flattening's meaning, not from
:mod:`energysim.analysis.im2col`: the nest's ``K`` loops give each MAC an index
``k`` (mixed radix like any dimension); if ``k < C_F R_F S_F`` the MAC's
reduction indices are ``c = c_outer C_F + k // (R_F S_F)``,
``r = r_outer R_F + (k // S_F) % R_F``, ``s = s_outer S_F + k % S_F`` (``c_outer``
the index of the C loops above ``F``, which are the only C loops of the nest);
else it is an idle row of the last fold: it touches no element at all (no
weight, no input, no output: it is in no tile, reads nothing, updates nothing
and sends no result). Every fold has a real row in each column, so the column's
outputs are still touched at that step; a mapping that keeps outputs below the
flattening level (where an idle row's register would hold nothing) is refused
by the mapping check.

The timeloop mode refuses a flattened mapping, as the code does.
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from dataclasses import dataclass

from energysim.model.base import TENSORS, Tensor
from energysim.model.hierarchy import Hierarchy
from energysim.model.layers import DIMENSIONS, LoopBounds
from energysim.model.mapping import Mapping

Element = tuple[int, ...]
Instance = tuple[int, ...]
Counts = dict[tuple[str, str, str], int]
Transfers = dict[tuple[str, str], int]


@dataclass(frozen=True)
class NestLoop:
    """One loop of the whole nest, tagged with its level and kind."""

    level: int
    spatial: bool
    dim: str
    factor: int


def nest_loops(mapping: Mapping) -> list[NestLoop]:
    """Every loop of the mapping in nest order: T_0 S_0 T_1 S_1 ..."""
    result = []
    for index, level in enumerate(mapping.levels):
        result += [NestLoop(index, False, loop.dim, loop.factor) for loop in level.temporal]
        result += [NestLoop(index, True, loop.dim, loop.factor) for loop in level.spatial]
    return result


def dim_indices(loops: list[NestLoop], values: list[int]) -> dict[str, int]:
    """Each dimension's index: sum of loop index x product of the factors of later loops of that dim."""
    indices = dict.fromkeys(DIMENSIONS, 0)
    if any(loop.dim == "K" for loop in loops):  # an im2col nest: K is one more index
        indices["K"] = 0
    for position, (loop, value) in enumerate(zip(loops, values, strict=True)):
        later = math.prod(other.factor for other in loops[position + 1 :] if other.dim == loop.dim)
        indices[loop.dim] += value * later
    return indices


@dataclass(frozen=True)
class Flattening:
    """The im2col extents of the flattening level (C_F, R_F, S_F); ``rows`` = C_F R_F S_F."""

    c: int
    r: int
    s: int

    @classmethod
    def of(cls, mapping: Mapping) -> Flattening | None:
        """The mapping's flattening, or None if no level has im2col extents or ``K`` loops."""
        for level in mapping.levels:
            loops = (*level.temporal, *level.spatial)
            if level.im2col or any(loop.dim == "K" for loop in loops):
                extent = {loop.dim: loop.factor for loop in level.im2col}
                return cls(extent.get("C", 1), extent.get("R", 1), extent.get("S", 1))
        return None

    @property
    def rows(self) -> int:
        return self.c * self.r * self.s

    def unflatten(self, d: dict[str, int]) -> dict[str, int] | None:
        """The MAC's real indices from its nest indices ``d`` (with ``K``); None for an idle row."""
        k = d["K"]
        if k >= self.rows:
            return None
        real = dict(d)
        real["C"] = d["C"] * self.c + k // (self.r * self.s)
        real["R"] = d["R"] * self.r + (k // self.s) % self.r
        real["S"] = d["S"] * self.s + k % self.s
        return real


def tensor_element(tensor: Tensor, d: dict[str, int], bounds: LoopBounds) -> Element:
    """The coordinates of the element of ``tensor`` that a MAC with indices ``d`` touches."""
    if tensor == "weights":
        return (d["G"], d["M"], d["C"], d["R"], d["S"])
    if tensor == "outputs":
        return (d["G"], d["N"], d["M"], d["P"], d["Q"])
    (stride_h, stride_w), (dilation_h, dilation_w) = bounds.stride, bounds.dilation
    h = d["P"] * stride_h + d["R"] * dilation_h
    w = d["Q"] * stride_w + d["S"] * dilation_w
    return (d["N"], d["G"], d["C"], h, w)


def mac_elements(
    d: dict[str, int], bounds: LoopBounds, flattening: Flattening | None
) -> dict[Tensor, Element]:
    """The element of each tensor that the MAC with nest indices ``d`` touches (see the module docstring)."""
    if flattening is not None:
        real = flattening.unflatten(d)
        if real is None:  # an idle row touches nothing
            return {}
        d = real
    return {tensor: tensor_element(tensor, d, bounds) for tensor in TENSORS}


class BruteForce:
    """Walks one mapped layer MAC by MAC; ``run`` returns (counts, transfers)."""

    def __init__(
        self,
        mapping: Mapping,
        bounds: LoopBounds,
        hierarchy: Hierarchy,
        counting: str = "exact",
    ) -> None:
        self.timeloop = counting == "timeloop"
        self.mapping = mapping
        self.hierarchy = hierarchy
        self.names = [level.level for level in mapping.levels]
        self.depth = len(mapping.levels)
        loops = nest_loops(mapping)
        self.temporal = [loop for loop in loops if not loop.spatial]
        self.spatial = [loop for loop in loops if loop.spatial]
        # The time steps in order, and the spatial points (PEs) of the padded nest.
        self.steps = list(itertools.product(*(range(lp.factor) for lp in self.temporal)))
        self.points = list(itertools.product(*(range(lp.factor) for lp in self.spatial)))
        flattening = Flattening.of(mapping)
        if flattening is not None and self.timeloop:
            raise ValueError("the timeloop counting mode does not take an im2col (flattened) mapping")
        # How many temporal / spatial loops belong to levels above level i (i = 0 .. depth).
        self.temporal_above = [sum(1 for lp in self.temporal if lp.level < i) for i in range(self.depth + 1)]
        self.spatial_above = [sum(1 for lp in self.spatial if lp.level < i) for i in range(self.depth + 1)]

        # The element of every tensor touched by the MAC at (step index, point); an idle row of an
        # im2col fold has no entry.
        self.element: dict[Tensor, dict[tuple[int, tuple[int, ...]], Element]] = {t: {} for t in TENSORS}
        # tiles[i][t][(temporal prefix, instance)]: the tile of t at level i.
        self.tiles: list[dict[Tensor, dict[tuple[tuple[int, ...], Instance], set[Element]]]] = [
            {t: defaultdict(set) for t in TENSORS} for _ in range(self.depth)
        ]
        for step_index, step in enumerate(self.steps):
            for point in self.points:
                values = self._interleave(loops, step, point)
                d = dim_indices(loops, values)
                for tensor, element in mac_elements(d, bounds, flattening).items():
                    self.element[tensor][(step_index, point)] = element
                    for i in range(self.depth):
                        key = (step[: self.temporal_above[i]], point[: self.spatial_above[i]])
                        self.tiles[i][tensor][key].add(element)

        self.counts: Counts = defaultdict(int)
        self.transfers: Transfers = defaultdict(int)
        self.bounds = bounds

    def in_memory(self, tensor: Tensor, element: Element) -> bool:
        """False for an element that is not in memory: zero padding, or beyond a bound.

        DESIGN.md: the level that holds the whole tensor never reads a padded
        element, so level 0 neither sends nor reads one, and keeps no padded
        output. An imperfect factor pads a dimension past its bound; a
        convolution's input exists at rows ``[padding, padding + rows)`` (without
        an ``input_size``: the rows the unpadded loop bounds reach; columns alike).
        """
        if self.timeloop:  # Timeloop's problem has no padding: every element is in memory
            return True
        sizes = self.bounds.sizes
        if tensor != "inputs":
            dims = "GMCRS" if tensor == "weights" else "GNMPQ"
            return all(index < sizes[dim] for index, dim in zip(element, dims, strict=True))
        if any(index >= sizes[dim] for index, dim in zip(element[:3], "NGC", strict=True)):
            return False
        if self.bounds.input_size is None:
            (stride_h, stride_w), (dilation_h, dilation_w) = self.bounds.stride, self.bounds.dilation
            pad_h = pad_w = 0
            rows = (sizes["P"] - 1) * stride_h + (sizes["R"] - 1) * dilation_h + 1
            cols = (sizes["Q"] - 1) * stride_w + (sizes["S"] - 1) * dilation_w + 1
        else:
            (pad_h, pad_w), (rows, cols) = self.bounds.padding, self.bounds.input_size
        return pad_h <= element[3] < pad_h + rows and pad_w <= element[4] < pad_w + cols

    # -- helpers ----------------------------------------------------------------------------------

    @staticmethod
    def _interleave(loops: list[NestLoop], step: tuple[int, ...], point: tuple[int, ...]) -> list[int]:
        """The index of every loop of the nest (nest order) from a step and a point."""
        temporal_values, spatial_values = iter(step), iter(point)
        return [next(spatial_values) if lp.spatial else next(temporal_values) for lp in loops]

    def instances(self, level: int) -> list[Instance]:
        """Every instance of ``level``: each assignment of the spatial loops above it."""
        return sorted({point[: self.spatial_above[level]] for point in self.points})

    def points_below(self, level: int, instance: Instance) -> list[tuple[int, ...]]:
        """The spatial points (PEs) under one instance of ``level``."""
        return [point for point in self.points if point[: self.spatial_above[level]] == instance]

    def tile(self, level: int, tensor: Tensor, step: tuple[int, ...], instance: Instance) -> set[Element]:
        """The tile of ``tensor`` held by ``instance`` of ``level`` at ``step``.

        Always the same set object for the same key, so an unchanged tile can be
        recognised by identity.
        """
        return self.tiles[level][tensor][(step[: self.temporal_above[level]], instance)]

    def multicasts(self, upper: int, lower: int) -> bool:
        """True if every level in [upper, lower) that fans out (a spatial factor > 1) multicasts."""
        for q in range(upper, lower):
            fans_out = any(loop.factor > 1 for loop in self.mapping.levels[q].spatial)
            network = self.hierarchy.levels[q].network
            if fans_out and (network is None or not network.multicast):
                return False
        return True

    def add(self, level: int, tensor: Tensor, action: str, count: int) -> None:
        self.counts[(self.names[level], tensor, action)] += count

    def add_transfers(self, upper: int, lower: int, tensor: Tensor, count: int) -> None:
        """``count`` elements cross every network of the levels in [upper, lower)."""
        for q in range(upper, lower):
            if self.hierarchy.levels[q].network is not None:
                self.transfers[(self.names[q], tensor)] += count

    def chain(self, tensor: Tensor) -> list[int]:
        """The levels keeping ``tensor``, outermost first (level 0 keeps everything)."""
        return [i for i, level in enumerate(self.mapping.levels) if i == 0 or level.keeps_tensor(tensor)]

    # -- weights and inputs -------------------------------------------------------------------------

    def read_only(self, tensor: Tensor) -> None:
        if self.timeloop:
            self.read_only_timeloop(tensor)
            return
        chain = self.chain(tensor)
        for parent, child in itertools.pairwise(chain):
            multicast = self.multicasts(parent, child)
            held: dict[Instance, set[Element]] = {instance: set() for instance in self.instances(child)}
            for step in self.steps:
                # The new elements each child instance fills at this step, grouped by parent instance.
                new_by_parent: dict[Instance, list[set[Element]]] = defaultdict(list)
                for instance in held:
                    tile = self.tile(child, tensor, step, instance)
                    if tile is held[instance]:
                        continue  # same tile: nothing new
                    new = tile - held[instance]
                    held[instance] = tile
                    # The child is filled with its whole tile; level 0 sends only what exists (the
                    # zeros of the padding are written on arrival, not read nor sent).
                    self.add(child, tensor, "fill", len(new))
                    if parent == 0:
                        new = {element for element in new if self.in_memory(tensor, element)}
                    self.add_transfers(parent, child, tensor, len(new))
                    new_by_parent[instance[: self.spatial_above[parent]]].append(new)
                for news in new_by_parent.values():
                    reads = len(set().union(*news)) if multicast else sum(len(new) for new in news)
                    self.add(parent, tensor, "read", reads)
        self.operand_reads(chain[-1], tensor)

    def read_only_timeloop(self, tensor: Tensor) -> None:
        """Fills under the stride rule; parent reads once per group of equal fill sets (multicast)."""
        chain = self.chain(tensor)
        for parent, child in itertools.pairwise(chain):
            multicast = self.multicasts(parent, child)
            held: dict[Instance, set[Element]] = {instance: set() for instance in self.instances(child)}
            remembered: dict[Instance, tuple[int, ...] | None] = dict.fromkeys(held)
            for step in self.steps:
                fills_by_parent: dict[Instance, list[frozenset[Element]]] = defaultdict(list)
                for instance in held:
                    tile = self.tile(child, tensor, step, instance)
                    if tile is held[instance]:
                        continue
                    old = held[instance]
                    new = tile - old
                    if old:
                        move = tuple(
                            a - b for a, b in zip(lowest_corner(tile), lowest_corner(old), strict=True)
                        )
                        if any(move):
                            if remembered[instance] in (None, move):
                                remembered[instance] = move
                            else:
                                new = set(tile)  # the stride changed: the whole tile again
                                remembered[instance] = None
                    held[instance] = tile
                    self.add(child, tensor, "fill", len(new))
                    self.add_transfers(parent, child, tensor, len(new))
                    fills_by_parent[instance[: self.spatial_above[parent]]].append(frozenset(new))
                for fills in fills_by_parent.values():
                    sets = set(fills) if multicast else fills
                    self.add(parent, tensor, "read", sum(len(fill) for fill in sets))
        self.operand_reads(chain[-1], tensor)

    def operand_reads(self, level: int, tensor: Tensor) -> None:
        """MAC operand reads from the innermost level keeping ``tensor``, and their network deliveries."""
        multicast = self.multicasts(level, self.depth)
        for instance in self.instances(level):
            below = self.points_below(level, instance)
            for step_index in range(len(self.steps)):
                operands = [
                    self.element[tensor][(step_index, point)]
                    for point in below
                    if (step_index, point) in self.element[tensor]  # not an idle im2col row
                ]
                if level == 0:
                    operands = [element for element in operands if self.in_memory(tensor, element)]
                reads = len(set(operands)) if multicast else len(operands)
                self.add(level, tensor, "read", reads)
                self.add_transfers(level, self.depth, tensor, len(operands))

    # -- outputs ------------------------------------------------------------------------------------

    def designated_instances(self, level: int, parent: int) -> set[Instance]:
        """One instance per group of reduction siblings of ``level`` under ``parent`` (DESIGN.md).

        Siblings that reduce into one output under the same parent instance are the
        instances with that parent instance whose output tiles are the same set (at
        the first step, hence at every step: they differ only in what they reduce
        over). Of each group, the first instance receives the running partial sum.
        """
        groups: dict[tuple[Instance, frozenset[Element]], list[Instance]] = defaultdict(list)
        first_step = self.steps[0]
        for instance in self.instances(level):
            outputs = frozenset(self.tile(level, "outputs", first_step, instance))
            groups[(instance[: self.spatial_above[parent]], outputs)].append(instance)
        return {min(members) for members in groups.values()}

    def outputs(self) -> None:
        tensor: Tensor = "outputs"
        # The first time step at which any MAC touches each output element.
        first_step: dict[Element, int] = {}
        for (step_index, _), element in self.element[tensor].items():
            first_step[element] = min(first_step.get(element, step_index), step_index)

        chain = self.chain(tensor)
        innermost = chain[-1]
        # An output instance that starts an element from zero (a padded one in the first level below
        # level 0, which keeps no padded output; any one in a reduction sibling that is not designated)
        # holds no running sum of it: a level further in finds one only if a MAC under that instance
        # touched the element since it last entered there. The steps at which each enters and is touched:
        self.output_chain = chain
        self.entered: dict[tuple[int, Instance, Element], list[int]] = defaultdict(list)
        self.touched: dict[tuple[int, Instance, Element], list[int]] = defaultdict(list)
        self.designated: dict[int, set[Instance]] = {}
        for parent, level in itertools.pairwise(chain):
            self.designated[level] = self.designated_instances(level, parent)
            cut = self.spatial_above[level]
            for (step_index, point), element in self.element[tensor].items():
                self.touched[(level, point[:cut], element)].append(step_index)
        self.first_step_of = first_step
        parents: dict[int, int | None] = {chain[0]: None}
        parents |= {child: parent for parent, child in itertools.pairwise(chain)}
        for level in chain:
            self.output_level(level, parents[level], level == innermost, first_step)

        # MAC results sent to the innermost level keeping outputs: one per point per step (level 0
        # takes only those of outputs that exist).
        results = self.element[tensor].values()
        if innermost == 0:
            results = [element for element in results if self.in_memory(tensor, element)]
        self.add_transfers(innermost, self.depth, tensor, len(results))

    def has_value(self, level: int, instance: Instance, element: Element, step_index: int) -> bool:
        """True if ``element``'s running partial sum exists above ``level`` at ``step_index``.

        It exists once a MAC touched it, since it last entered the deepest instance
        above ``level`` that started it from zero (see :meth:`outputs`), if any.
        """
        chain = self.output_chain
        above = chain[1 : chain.index(level)]
        restarting = [c for c in above if instance[: self.spatial_above[c]] not in self.designated[c]]
        if chain[1] < level and not self.in_memory("outputs", element):
            restarting.insert(0, chain[1])
        if not restarting:
            return self.first_step_of[element] < step_index
        key = (restarting[-1], instance[: self.spatial_above[restarting[-1]]], element)
        entry = max(step for step in self.entered[key] if step <= step_index)
        return any(entry <= step < step_index for step in self.touched[key])

    def drain(self, level: int, parent: int, departing: dict[Instance, set[Element]]) -> None:
        """Elements leaving the tiles of ``level``'s instances go up to ``parent``.

        Each sending instance's elements cross the networks; the parent counts one
        update per distinct element per parent instance (siblings are reduced).
        """
        union_by_parent: dict[Instance, set[Element]] = defaultdict(set)
        for instance, elements in departing.items():
            if parent == 0:  # a padded output has no address there: it is not sent
                elements = {element for element in elements if self.in_memory("outputs", element)}
            self.add_transfers(parent, level, "outputs", len(elements))
            union_by_parent[instance[: self.spatial_above[parent]]] |= elements
        self.add(parent, "outputs", "update", sum(len(elements) for elements in union_by_parent.values()))

    def output_level(
        self, level: int, parent: int | None, innermost: bool, first_step: dict[Element, int]
    ) -> None:
        """Walks one level keeping outputs: drains, fills, and (innermost) MAC updates."""
        tensor: Tensor = "outputs"
        held: dict[Instance, set[Element]] = {instance: set() for instance in self.instances(level)}
        # Elements of the instance's tile that hold a value in their current residency
        # (filled on arrival, or written since): an update to one of those reads it first.
        valued: dict[Instance, set[Element]] = {instance: set() for instance in held}
        below = {instance: self.points_below(level, instance) for instance in held}
        designated = self.designated_instances(level, parent) if parent is not None else set()
        # Timeloop mode: every element an instance ever held, and each parent instance's fills per step.
        ever: dict[Instance, set[Element]] = {instance: set() for instance in held}
        multicast = parent is not None and self.multicasts(parent, level)
        for step_index, step in enumerate(self.steps):
            departing: dict[Instance, set[Element]] = {}
            refills: dict[Instance, list[frozenset[Element]]] = defaultdict(list)
            for instance in held:
                tile = self.tile(level, tensor, step, instance)
                if tile is not held[instance]:
                    leaving, arriving = held[instance] - tile, tile - held[instance]
                    # Output tiles never slide: a move keeps all of the tile or none of it, so
                    # timeloop-model's stride rule cannot refill an element still held.
                    assert not leaving or not (held[instance] & tile), "an output tile slid"
                    held[instance] = tile
                    departing[instance] = leaving
                    valued[instance] -= leaving
                    for element in arriving:
                        self.entered[(level, instance, element)].append(step_index)
                    if self.timeloop and parent is not None:
                        filled = arriving & ever[instance]  # every sibling gets its running sum back
                        self.add(level, tensor, "fill", len(filled))
                        self.add_transfers(parent, level, tensor, len(filled))
                        refills[instance[: self.spatial_above[parent]]].append(frozenset(filled))
                        valued[instance] |= filled
                    elif parent is not None and instance in designated:
                        filled = {e for e in arriving if self.has_value(level, instance, e, step_index)}
                        if parent == 0:  # level 0 keeps no padded output
                            filled = {e for e in filled if self.in_memory(tensor, e)}
                        self.add(level, tensor, "fill", len(filled))
                        self.add(parent, tensor, "read", len(filled))
                        self.add_transfers(parent, level, tensor, len(filled))
                        valued[instance] |= filled
                ever[instance] |= tile
                if innermost:
                    touched = {
                        self.element[tensor][(step_index, point)]
                        for point in below[instance]
                        if (step_index, point) in self.element[tensor]  # not an idle im2col row
                    }
                    if level == 0:  # the MACs write no padded output into level 0
                        touched = {e for e in touched if self.in_memory(tensor, e)}
                    self.add(level, tensor, "update", len(touched))
                    # An update of an element with a value reads it; the others are first writes.
                    self.add(level, tensor, "read", len(touched & valued[instance]))
                    valued[instance] |= touched
            if parent is not None:
                for fills in refills.values():
                    groups = set(fills) if multicast else fills
                    self.add(parent, tensor, "read", sum(len(fill) for fill in groups))
                self.drain(level, parent, departing)
        if parent is not None:
            self.drain(level, parent, held)  # at the end every tile drains

    # -- all --------------------------------------------------------------------------------------

    def run(self) -> tuple[Counts, Transfers]:
        self.read_only("weights")
        self.read_only("inputs")
        self.outputs()
        counts = {key: value for key, value in self.counts.items() if value}
        transfers = {key: value for key, value in self.transfers.items() if value}
        return counts, transfers


def lowest_corner(tile: set[Element]) -> Element:
    """The smallest coordinate of ``tile`` along each tensor coordinate."""
    return tuple(min(coordinates) for coordinates in zip(*tile, strict=True))


def brute_force_counts(
    mapping: Mapping,
    bounds: LoopBounds,
    hierarchy: Hierarchy,
    counting: str = "exact",
) -> tuple[Counts, Transfers]:
    """Access counts and network transfers of ``mapping``, by walking every MAC (zero counts omitted).

    ``counting`` is ``exact`` (an ideal buffer) or ``timeloop`` (timeloop-model's rules).
    """
    return BruteForce(mapping, bounds, hierarchy, counting).run()
