"""The roofline model: is an operator limited by arithmetic or by memory?

An operator does ``flops`` operations (two per MAC) and must move at least its
compulsory bytes to and from the outermost level (DRAM): every weight and
input read once, every output written once. Its arithmetic intensity is
FLOP per byte. The machine's balance (ops:byte) is peak FLOP/s over DRAM
bytes/s. An operator whose intensity is below the balance is memory bound;
its attainable throughput is ``min(peak, intensity x bandwidth)``.

This is the ideal (DRAM) roofline of the lecture: perfect overlap and perfect
on-chip reuse. The simulator later shows how far a real mapping falls short.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

import pandas as pd

from energysim.model.hierarchy import Hierarchy
from energysim.model.layers import LayerBase
from energysim.model.workload import Network


@dataclass(frozen=True)
class RooflinePoint:
    """Where one operator sits on a machine's roofline."""

    layer: str
    flops: int
    dram_bytes: int
    arithmetic_intensity: float
    machine_ops_per_byte: float
    peak_flops_per_s: float
    dram_bandwidth_bytes_per_s: float
    attainable_flops_per_s: float
    bound: Literal["compute", "memory"]

    @property
    def time_s(self) -> float:
        """Lower bound on run time: the slower of computing and moving the bytes."""
        return max(self.flops / self.peak_flops_per_s, self.dram_bytes / self.dram_bandwidth_bytes_per_s)


def dram_bandwidth_bytes_per_s(hierarchy: Hierarchy) -> float:
    """Bandwidth of the outermost level, all instances together, in bytes/s."""
    return hierarchy.total_bandwidth_bytes_per_cycle(hierarchy.outermost) * hierarchy.clock_hz


def machine_ops_per_byte(hierarchy: Hierarchy) -> float:
    """The machine's balance: peak FLOP/s over DRAM bytes/s."""
    return hierarchy.peak_flops_per_s / dram_bandwidth_bytes_per_s(hierarchy)


def roofline(layer: LayerBase, hierarchy: Hierarchy) -> RooflinePoint:
    """Place ``layer`` on the DRAM roofline of ``hierarchy``."""
    bandwidth = dram_bandwidth_bytes_per_s(hierarchy)
    balance = machine_ops_per_byte(hierarchy)
    dram_bytes = layer.compulsory_bytes
    intensity = layer.flops / dram_bytes
    return RooflinePoint(
        layer=layer.name,
        flops=layer.flops,
        dram_bytes=dram_bytes,
        arithmetic_intensity=intensity,
        machine_ops_per_byte=balance,
        peak_flops_per_s=hierarchy.peak_flops_per_s,
        dram_bandwidth_bytes_per_s=bandwidth,
        attainable_flops_per_s=min(hierarchy.peak_flops_per_s, intensity * bandwidth),
        bound="compute" if intensity >= balance else "memory",
    )


def roofline_table(network: Network, hierarchy: Hierarchy) -> pd.DataFrame:
    """One row per layer of ``network``: the fields of :class:`RooflinePoint` and ``time_s``."""
    rows = []
    for layer in network.layers:
        point = roofline(layer, hierarchy)
        rows.append({**asdict(point), "time_s": point.time_s})
    return pd.DataFrame(rows)
