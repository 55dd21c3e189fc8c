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
  into one of the *reduction siblings* (instances that differ only in spatial
  indices of dimensions that do not index outputs: C, R, S), the one whose such
  indices are all zero. The others start from zero. At the end every tile
  drains. Drains of reduction siblings are summed on the way up, so a parent
  counts one update per distinct element (the drained value is the running sum:
  an update overwrites, it does not read).
* At the innermost level ``k`` keeping outputs, the MACs **update**: every step,
  each instance takes one update per distinct output of the PEs below it
  (their products are reduced first). Each update but the first of an element
  in a residency that started from zero reads the old value: **reads** there =
  updates - first writes. At any level, output reads also serve the fills of
  the level below. (The read of a drained value at the sender is not counted,
  as in DESIGN.md's example.)

Network transfers: every element delivered to one receiving instance (fills,
MAC operands) or sent up by one instance (drains, MAC results), counted once
at each network it crosses between the two levels. MACs: the layer's; the
padded nest's extra MACs are issued but gated.
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from dataclasses import dataclass, field

from energysim.analysis.tiles import (
    RELEVANT_DIMS,
    Nest,
    Position,
    axis_base,
    axis_offset,
    base_size,
    child_offsets,
    overlap_after_shift,
    tensor_axes,
    transitions,
    union_and_good,
)
from energysim.model.base import TENSORS, Tensor
from energysim.model.hierarchy import Hierarchy
from energysim.model.layers import LoopBounds
from energysim.model.mapping import Mapping

Action = str  # "read" | "fill" | "update"


@dataclass
class AccessCounts:
    """Element counts of one layer under one mapping, before any pricing.

    ``counts[(level, tensor, action)]`` are elements moved; ``transfers[(level,
    tensor)]`` are deliveries over the network below ``level``.
    """

    counts: dict[tuple[str, Tensor, Action], int] = field(default_factory=lambda: defaultdict(int))
    transfers: dict[tuple[str, Tensor], int] = field(default_factory=lambda: defaultdict(int))
    macs: int = 0
    padded_macs: int = 0
    time_steps: int = 0

    def get(self, level: str, tensor: Tensor, action: Action) -> int:
        """The count of one (level, tensor, action); 0 if none."""
        return self.counts.get((level, tensor, action), 0)


@dataclass(frozen=True)
class _Residency:
    """Per-instance output residencies of one level: all arrivals, and those from zero."""

    instances: int
    designated: int
    arrivals: int
    fresh: int


def _product(values: list[int]) -> int:
    return math.prod(values)


class _Counter:
    """Counts one mapped layer; one method per tensor kind."""

    def __init__(self, mapping: Mapping, bounds: LoopBounds, hierarchy: Hierarchy) -> None:
        self.mapping = mapping
        self.bounds = bounds
        self.hierarchy = hierarchy
        self.nest = Nest(mapping, bounds)
        self.names = [level.level for level in mapping.levels]
        self.result = AccessCounts(time_steps=self.nest.time_steps, padded_macs=self.nest.padded_macs)

    # -- helpers ----------------------------------------------------------------------------------

    def _fanning_levels(self, upper: int, lower: int) -> set[int]:
        return {p.level for p in self.nest.spatial_between(upper, lower)}

    def _multicasts(self, upper: int, lower: int) -> bool:
        """True if every level between that fans out has a multicast network."""
        for index in self._fanning_levels(upper, lower):
            network = self.hierarchy.levels[index].network
            if network is None or not network.multicast:
                return False
        return True

    def _add_transfers(self, upper: int, lower: int, tensor: Tensor, count: int) -> None:
        for index in range(upper, lower):
            if self.hierarchy.levels[index].network is not None and count:
                self.result.transfers[(self.names[index], tensor)] += count

    def _add(self, level: int, tensor: Tensor, action: Action, count: int) -> None:
        if count:
            self.result.counts[(self.names[level], tensor, action)] += count

    def _chain(self, tensor: Tensor) -> list[int]:
        return [index for index, level in enumerate(self.mapping.levels) if level.keeps_tensor(tensor)]

    # -- weights and inputs -----------------------------------------------------------------------

    def read_only(self, tensor: Tensor) -> None:
        axes = tensor_axes(tensor, self.bounds)
        chain = self._chain(tensor)
        for parent, child in itertools.pairwise(chain):
            bases = [axis_base(axis, self.nest, child) for axis in axes]
            size = _product([base_size(base) for base in bases])
            changes = transitions(self.nest, child)
            shifts = [[axis_offset(axis, change.dim_offsets) for axis in axes] for change in changes]
            new_per_change = [
                size - _product([overlap_after_shift(base, o) for base, o in zip(bases, shift, strict=True)])
                for shift in shifts
            ]
            per_instance = size + sum(c.count * new for c, new in zip(changes, new_per_change, strict=True))
            fills = per_instance * self.nest.instances_used(child)
            self._add(child, tensor, "fill", fills)
            self._add_transfers(parent, child, tensor, fills)
            if self._multicasts(parent, child):
                spatial = self.nest.spatial_between(parent, child)
                offsets = [child_offsets(axis, spatial) for axis in axes]
                distinct = _product([union_and_good(b, c, 0)[0] for b, c in zip(bases, offsets, strict=True)])
                for change, shift in zip(changes, shifts, strict=True):
                    pairs = [union_and_good(b, c, o) for b, c, o in zip(bases, offsets, shift, strict=True)]
                    new = _product([a for a, _ in pairs]) - _product([g for _, g in pairs])
                    distinct += change.count * new
                self._add(parent, tensor, "read", distinct * self.nest.instances_used(parent))
            else:
                self._add(parent, tensor, "read", fills)
        self._operand_reads(chain[-1], tensor, axes)

    def _operand_reads(
        self, level: int, tensor: Tensor, axes: tuple[tuple[tuple[str, int], ...], ...]
    ) -> None:
        below = self.nest.spatial_between(level, len(self.names))
        pes = _product([p.factor for p in below])
        per_step = (
            _product([len(child_offsets(axis, below)) for axis in axes])
            if self._multicasts(level, len(self.names))
            else pes
        )
        steps = self.nest.time_steps * self.nest.instances_used(level)
        self._add(level, tensor, "read", steps * per_step)
        self._add_transfers(level, len(self.names), tensor, steps * pes)

    # -- outputs ------------------------------------------------------------------------------------

    def _irrelevant_product(self, positions: tuple[Position, ...]) -> int:
        return _product([p.factor for p in positions if p.dim not in RELEVANT_DIMS["outputs"]])

    def outputs(self) -> None:
        axes = tensor_axes("outputs", self.bounds)
        chain = self._chain("outputs")
        last = len(self.names)
        residency: dict[int, _Residency] = {}
        for level in chain:
            bases = [axis_base(axis, self.nest, level) for axis in axes]
            size = _product([base_size(base) for base in bases])
            arrivals = fresh = size
            relevant_outer = 1
            for change in transitions(self.nest, level):
                shift = [axis_offset(axis, change.dim_offsets) for axis in axes]
                new = size - _product([overlap_after_shift(b, o) for b, o in zip(bases, shift, strict=True)])
                arrivals += change.count * new
                position = change.position
                if position.dim in RELEVANT_DIMS["outputs"]:
                    fresh += (position.factor - 1) * relevant_outer * new
                    relevant_outer *= position.factor
            instances = self.nest.instances_used(level)
            designated = instances // self._irrelevant_product(self.nest.spatial_between(0, level))
            residency[level] = _Residency(instances, designated, arrivals, fresh)
            first_writes = designated * fresh + (instances - designated) * arrivals
            if level == chain[-1]:
                below = self.nest.spatial_between(level, last)
                distinct = _product([p.factor for p in below if p.dim in RELEVANT_DIMS["outputs"]])
                updates = self.nest.time_steps * instances * distinct
                self._add(level, "outputs", "update", updates)
                self._add(level, "outputs", "read", updates - first_writes)
                everyone = self.nest.time_steps * instances * _product([p.factor for p in below])
                self._add_transfers(level, last, "outputs", everyone)
        for parent, child in itertools.pairwise(chain):
            state = residency[child]
            fills = state.designated * (state.arrivals - state.fresh)
            drains = state.instances * state.arrivals
            reduced = drains // self._irrelevant_product(self.nest.spatial_between(parent, child))
            self._add(child, "outputs", "fill", fills)
            self._add(parent, "outputs", "read", fills)
            self._add(parent, "outputs", "update", reduced)
            self._add_transfers(parent, child, "outputs", fills + drains)


def count_accesses(mapping: Mapping, bounds: LoopBounds, hierarchy: Hierarchy, macs: int) -> AccessCounts:
    """Exact element counts of a layer with loop ``bounds`` under ``mapping``.

    ``macs`` is the layer's own MAC count (the padded nest may issue more).
    The mapping must already be checked against the hierarchy.
    """
    counter = _Counter(mapping, bounds, hierarchy)
    for tensor in TENSORS:
        if tensor == "outputs":
            counter.outputs()
        else:
            counter.read_only(tensor)
    counter.result.macs = macs
    return counter.result
