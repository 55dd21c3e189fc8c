"""The roofline model: is an operator limited by arithmetic or by memory?

An operator does ``flops`` operations (two per MAC) and must move at least its
compulsory bytes to and from the outermost level (DRAM): every weight and
input read once, every output written once. Its arithmetic intensity is
FLOP per byte. The machine's balance (ops:byte) is peak FLOP/s over DRAM
bytes/s. An operator whose intensity is below the balance is memory bound;
its attainable throughput is ``min(peak, intensity x bandwidth)``.

This is the ideal (DRAM) roofline of the lecture: perfect overlap and perfect
on-chip reuse. The simulator later shows how far a real mapping falls short.

Like every other function, :func:`roofline` and :func:`roofline_table` take
shipped names or paths as well as objects: ``roofline("alexnet/fc6", "v100")``,
``roofline("fc6", "v100", workload="alexnet")``, or ``roofline("fc6", "v100")``
when exactly one shipped workload has a layer of that name.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import pandas as pd

from energysim.errors import EnergySimError
from energysim.model.files import shipped_names
from energysim.model.hierarchy import Hierarchy
from energysim.model.layers import LayerBase
from energysim.model.loading import load_hierarchy, load_workload
from energysim.model.workload import Network

HierarchyLike = str | Path | Hierarchy
NetworkLike = str | Path | Network


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


def find_layer(layer: LayerBase | str, workload: NetworkLike | None = None) -> LayerBase:
    """A layer object; a name is looked up in ``workload``, in ``"workload/layer"``, or,
    with neither, in the shipped workloads (it must then be in exactly one)."""
    if isinstance(layer, LayerBase):
        if workload is not None:
            raise EnergySimError(
                f"layer {layer.name!r} is a layer object; workload= is only for a layer name"
            )
        return layer
    if not isinstance(layer, str) or not layer:
        raise EnergySimError(f"expected a layer, a layer name or 'workload/layer', got {layer!r}")
    if workload is None and "/" in layer:
        workload, layer = layer.rsplit("/", 1)
    if workload is not None:
        network = load_workload(workload)
        if layer not in network.layer_names:
            raise EnergySimError(
                f"no layer {layer!r} in {network.name}; its layers: {', '.join(network.layer_names)}"
            )
        return network[layer]
    holders = [name for name in shipped_names("workloads") if layer in load_workload(name).layer_names]
    if len(holders) == 1:
        return load_workload(holders[0])[layer]
    if holders:
        choices = ", ".join(f"{name}/{layer}" for name in holders)
        raise EnergySimError(f"layer {layer!r} is in several shipped workloads; name one: {choices}")
    raise EnergySimError(
        f"no shipped workload has a layer {layer!r}; give workload= (a name or a file), or 'workload/layer'"
    )


def roofline(
    layer: LayerBase | str, hierarchy: HierarchyLike, workload: NetworkLike | None = None
) -> RooflinePoint:
    """Place ``layer`` on the DRAM roofline of ``hierarchy``.

    ``layer`` is a layer object, ``"workload/layer"``, or a layer name (of
    ``workload``, or of the one shipped workload that has it); ``hierarchy`` a
    shipped name, a path or a :class:`Hierarchy`.
    """
    layer = find_layer(layer, workload)
    hierarchy = load_hierarchy(hierarchy)
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


def roofline_table(network: NetworkLike, hierarchy: HierarchyLike) -> pd.DataFrame:
    """One row per layer of ``network`` (a name, a path or a :class:`Network`): the fields
    of :class:`RooflinePoint` and ``time_s``."""
    network = load_workload(network)
    hierarchy = load_hierarchy(hierarchy)
    rows = []
    for layer in network.layers:
        point = roofline(layer, hierarchy)
        rows.append({**asdict(point), "time_s": point.time_s})
    return pd.DataFrame(rows)
