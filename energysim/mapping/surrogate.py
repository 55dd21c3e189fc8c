"""A fast approximate cost of a mapspace point, to choose which points get the exact count.

Timeloop's classic rules, per level and tensor, in a few dozen integer
operations instead of the exact analysis' tile geometry:

* a child level refills its whole tile of a tensor every time a temporal loop
  above it steps, except the innermost loops above it that do not index the
  tensor (a stationary tile is not refetched); sliding-window halos are not
  credited, so input traffic is over-estimated where windows overlap;
* the parent reads each fill once per multicast group (children that differ
  only in spatial indices the tensor ignores share one read);
* partial sums drain up on every refill and come back for all but the first
  visit; the MACs read an operand per step and instance, per distinct PE
  operand where the networks multicast;
* cycles: the temporal steps (plus a systolic fold's skew per refill of the
  per-PE stationary tile), or the busiest level's bytes over its bandwidth.

It ranks candidates only: every mapping the search returns is scored by the
exact model (:mod:`energysim.objectives`).
"""

from __future__ import annotations

import itertools
import math

from energysim.analysis.tiles import RELEVANT_DIMS
from energysim.mapping.mapspace import DIM_INDEX, Point, Space
from energysim.model.base import TENSORS, Tensor
from energysim.model.layers import DIMENSIONS


def _elements(tensor: Tensor, extent: list[int], stride: tuple[int, int], dilation: tuple[int, int]) -> int:
    g, n, m, c, p, q, r, s = (extent[DIM_INDEX[d]] for d in DIMENSIONS)
    if tensor == "weights":
        return g * m * c * r * s
    if tensor == "outputs":
        return g * n * m * p * q
    rows = (p - 1) * stride[0] + (r - 1) * dilation[0] + 1
    cols = (q - 1) * stride[1] + (s - 1) * dilation[1] + 1
    return n * g * c * min(rows, p * r) * min(cols, q * s)


class Surrogate:
    """Approximate (energy, cycles) of points of one space (see the module docstring)."""

    def __init__(self, space: Space) -> None:
        self.space = space
        hierarchy, layer = space.hierarchy, space.layer
        assert layer.loop_bounds is not None
        self.stride, self.dilation = layer.loop_bounds.stride, layer.loop_bounds.dilation
        self.levels = hierarchy.levels
        self.bits = {t: layer.bits(t) for t in TENSORS}
        self.per_elements = {
            (i, t): 1.0 / max(1, level.block_bits // self.bits[t])
            if self.bits[t] <= level.block_bits
            else float(-(-self.bits[t] // level.block_bits))
            for i, level in enumerate(self.levels)
            for t in TENSORS
        }
        self.multicast = [level.network is None or level.network.multicast for level in self.levels]
        self.transfer = [level.network.transfer_energy_pj if level.network else 0.0 for level in self.levels]
        self.mac_energy = hierarchy.compute.energy_per_mac
        self.macs = layer.macs
        compute = hierarchy.compute
        self.skew = 2 * compute.array.rows + compute.array.cols - 2 if compute.systolic else 0
        self.macs_per_cycle = compute.macs_per_cycle_per_pe
        self.array_level = hierarchy.array_level

    def cost(self, point: Point) -> tuple[float, float]:
        """``(energy, cycles)``, both approximate."""
        space = self.space
        count = space.levels
        temporal = [list(point.factors[i]) for i in range(count)]
        spatial = [[1] * len(DIMENSIONS) for _ in range(count)]
        for k in space.spatial_slots:
            level = space.slots[k].level
            for d, factor in enumerate(point.factors[k]):
                spatial[level][d] *= factor
        extent = [[1] * len(DIMENSIONS) for _ in range(count + 1)]
        for i in range(count - 1, -1, -1):
            extent[i] = [extent[i + 1][d] * temporal[i][d] * spatial[i][d] for d in range(len(DIMENSIONS))]
        instances = [1] * (count + 1)
        for i in range(count):
            instances[i + 1] = instances[i] * math.prod(spatial[i])
        steps = math.prod(math.prod(row) for row in temporal)
        energy = self.macs * self.mac_energy
        moved = [0.0] * count
        folds = 1.0
        for tensor in TENSORS:
            relevant = RELEVANT_DIMS[tensor]
            chain = [i for i in range(count) if tensor in point.keeps[i]]
            bits = self.bits[tensor]
            for parent, child in itertools.pairwise(chain):
                loops = [(d, temporal[i][DIM_INDEX[d]]) for i in range(child) for d in point.orders[i]]
                k = len(loops)
                while k and loops[k - 1][0] not in relevant:
                    k -= 1
                refetch = math.prod(f for _, f in loops[:k])
                first = math.prod(f for d, f in loops[:k] if d in relevant)
                tile = _elements(tensor, extent[child], self.stride, self.dilation) * instances[child]
                between = range(parent, child)
                shared = math.prod(
                    spatial[i][d]
                    for i in between
                    for d in range(len(DIMENSIONS))
                    if DIMENSIONS[d] not in relevant
                )
                group = shared if all(self.multicast[i] for i in between) else 1
                fills = tile * refetch
                if tensor == "outputs":
                    back = fills - tile * first
                    energy += self._write(parent, tensor, fills / shared) + self._write(child, tensor, back)
                    energy += self._read(parent, tensor, back)
                    moved[parent] += (fills / shared + back) * bits / 8
                    moved[child] += (fills + back) * bits / 8
                else:
                    energy += self._write(child, tensor, fills) + self._read(parent, tensor, fills / group)
                    moved[parent] += fills / group * bits / 8
                    moved[child] += fills * bits / 8
                    if self.skew and child == self.array_level:
                        folds = max(folds, float(refetch))
                energy += sum(self.transfer[i] for i in between) * fills
            if not chain:
                continue
            inner = chain[-1]
            below = range(inner, count)
            pes = math.prod(math.prod(spatial[i]) for i in below)
            distinct = math.prod(
                spatial[i][d] for i in below for d in range(len(DIMENSIONS)) if DIMENSIONS[d] in relevant
            )
            per_step = distinct if all(self.multicast[i] for i in below) else pes
            reads = steps * instances[inner] * (distinct if tensor == "outputs" else per_step)
            if tensor == "outputs":
                energy += self._write(inner, tensor, reads)
            energy += self._read(inner, tensor, reads)
            energy += sum(self.transfer[i] for i in below) * steps * instances[inner] * pes
            moved[inner] += reads * bits / 8
        cycles = steps / self.macs_per_cycle + folds * self.skew
        for i, storage in enumerate(self.levels):
            if i < self.array_level and moved[i]:
                share = moved[i] / max(1, instances[i])
                cycles = max(cycles, share / (storage.bandwidth_bytes_per_cycle * storage.ports))
        return energy, cycles + self.levels[0].latency_cycles

    def _read(self, level: int, tensor: Tensor, elements: float) -> float:
        return elements * self.per_elements[(level, tensor)] * self.levels[level].read_energy_pj

    def _write(self, level: int, tensor: Tensor, elements: float) -> float:
        return elements * self.per_elements[(level, tensor)] * self.levels[level].write_energy_pj
