"""Preparing layers for a facade: inputs loaded, mappings chosen, counts priced into frames.

:func:`energysim.analyze` and :func:`energysim.simulate` share all of this and
differ only in how they count a mapped layer (a closed form, or the engine).
Layers without MACs stream their compulsory traffic through the outermost
level: each input and weight read once, each output written once, each
operation priced as one MAC.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from collections.abc import Mapping as MappingOf
from pathlib import Path
from typing import Any

import pandas as pd

from energysim._version import __version__
from energysim.analysis.energy import NO_TENSOR, access_row, accesses_for, price
from energysim.analysis.plan import AccessCounts
from energysim.errors import EnergySimError
from energysim.mapping.check import check_mapping, elements_of_tile
from energysim.mapping.dataflows import build_mapping, get_dataflow
from energysim.mapping.files import read_mapping_file
from energysim.model.base import TENSORS
from energysim.model.files import resolve, shipped_dir
from energysim.model.hierarchy import Hierarchy
from energysim.model.layers import LayerBase
from energysim.model.loading import load_hierarchy, load_workload
from energysim.model.mapping import Mapping
from energysim.model.workload import Network
from energysim.result import ACCESS_COLUMNS, Result

WorkloadLike = str | Path | Network | LayerBase
MappingLike = Mapping | str | Path | MappingOf[str, Mapping]


def as_network(workload: WorkloadLike) -> Network:
    """A network from a shipped name, a path, a Network, or a single layer."""
    if isinstance(workload, LayerBase):
        return Network.model_validate(
            {"version": 1, "name": workload.name, "layers": [workload.model_dump()]}
        )
    return load_workload(workload)


def _mappings_by_layer(
    mapping: MappingLike | None, network: Network, selected: Sequence[LayerBase], hierarchy: Hierarchy
) -> tuple[dict[str, Mapping], str]:
    """The given mappings by layer name, and where they came from (for messages).

    A mapping that names no layer is for the one selected layer with MACs.
    """
    if mapping is None:
        return {}, "mapping"
    mac_layers = [layer.name for layer in selected if layer.loop_bounds is not None]
    if isinstance(mapping, str | Path):
        found = read_mapping_file(mapping, hierarchy)  # one mapping, or several (energysim search --out)
        loaded = found.pop(None, None)
        if loaded is None:
            return {name: mapped for name, mapped in found.items() if name is not None}, str(mapping)
        if len(mac_layers) != 1:
            raise EnergySimError(
                f"{mapping}: the mapping names no layer, and {len(mac_layers)} selected layers of "
                f"{network.name} have MACs; add 'layer: NAME' to the file, or select one layer"
            )
        return {mac_layers[0]: loaded}, str(mapping)
    if isinstance(mapping, Mapping):
        if len(mac_layers) != 1:
            raise EnergySimError(
                f"one mapping given for {len(mac_layers)} selected layers of {network.name} with MACs; "
                "give a dict of layer name to mapping, or select one layer"
            )
        return {mac_layers[0]: mapping}, "mapping"
    return dict(mapping), "mapping"


def _check_mapped_layers(given: dict[str, Mapping], network: Network, source: str) -> None:
    """Every layer a mapping names must exist and have MACs to map."""
    for name in given:
        if name not in network.layer_names:
            raise EnergySimError(
                f"{source}: maps layer {name!r}, which is not in {network.name} "
                f"(its layers: {', '.join(network.layer_names)})"
            )
        if network[name].loop_bounds is None:
            raise EnergySimError(f"{source}: maps layer {name!r}, which has no MACs to map")


def _streamed_rows(layer: LayerBase, hierarchy: Hierarchy) -> list[dict[str, Any]]:
    """Compulsory traffic of a layer without MACs, through the outermost level."""
    outer = hierarchy.outermost
    rows = []
    for tensor in TENSORS:
        elements = layer.elements(tensor)
        if not elements:
            continue
        action = "update" if tensor == "outputs" else "read"
        accesses = accesses_for(outer, layer.bits(tensor), elements)
        energy = accesses * (outer.write_energy_pj if action == "update" else outer.read_energy_pj)
        rows.append(access_row(layer.name, outer.name, tensor, action, elements, accesses, energy))
    if layer.flops:
        energy = layer.flops * hierarchy.compute.energy_per_mac
        rows.append(
            access_row(layer.name, hierarchy.compute.name, NO_TENSOR, "op", layer.flops, layer.flops, energy)
        )
    return rows


#: What a facade does with one mapped layer: its counts, and extra summary columns.
LayerCounter = Callable[[LayerBase, Mapping, Hierarchy], tuple[AccessCounts, dict[str, Any]]]
#: What a facade does with one layer without MACs: extra summary columns.
StreamedLayer = Callable[[LayerBase, Hierarchy], dict[str, Any]]


#: The ``dataflow`` argument that means "the hierarchy's ``default_dataflow``, else rs".
DEFAULT_DATAFLOW = "default"


def resolve_inputs(
    workload: WorkloadLike,
    hierarchy: str | Path | Hierarchy,
    dataflow: str | None,
    mapping: MappingLike | None,
    layers: Sequence[str] | None,
) -> tuple[Network, Hierarchy, list[tuple[LayerBase, Mapping | None]], str | None]:
    """Load the inputs and choose (and check) a mapping for every selected layer with MACs.

    The last item is the dataflow if it built at least one of those mappings, else None.
    """
    network = as_network(workload)
    machine = load_hierarchy(hierarchy)
    if isinstance(layers, str):
        layers = [layers]
    if layers is not None and not layers:
        raise EnergySimError(f"layers: an empty selection; name at least one layer of {network.name}")
    unknown = [name for name in layers or () if name not in network.layer_names]
    if unknown:
        names = ", ".join(network.layer_names)
        raise EnergySimError(
            f"no layer {', '.join(map(repr, unknown))} in {network.name}; its layers: {names}"
        )
    # A layer named twice is analysed once (a result has one row per layer).
    selected = list(network.layers) if layers is None else [network[name] for name in dict.fromkeys(layers)]
    given, source = _mappings_by_layer(mapping, network, selected, machine)
    _check_mapped_layers(given, network, source)
    if isinstance(mapping, str | Path):
        unused = [name for name in given if name not in {layer.name for layer in selected}]
        if unused:  # a mapping file given for a layer that is not run would be silently ignored
            chosen_names = ", ".join(layer.name for layer in selected)
            raise EnergySimError(
                f"{source}: maps layer {unused[0]!r}, which is not among the selected layers "
                f"({chosen_names}); select it, or leave the mapping out"
            )
    if dataflow == DEFAULT_DATAFLOW:
        dataflow = machine.default_dataflow or "rs"
    if dataflow is not None:
        get_dataflow(dataflow)
    chosen: list[tuple[LayerBase, Mapping | None]] = []
    built = False
    for layer in selected:
        if layer.loop_bounds is None:
            chosen.append((layer, None))
        elif layer.name in given:
            check_mapping(given[layer.name], layer, machine, source=source)
            chosen.append((layer, given[layer.name]))
        elif dataflow is None:
            raise EnergySimError(f"no mapping for layer {layer.name} and no dataflow to build one")
        else:
            chosen.append((layer, _built_mapping(layer, machine, dataflow, hierarchy)))
            built = True
    return network, machine, chosen, dataflow if built else None


def _built_mapping(
    layer: LayerBase, machine: Hierarchy, dataflow: str, given: str | Path | Hierarchy
) -> Mapping:
    """The dataflow's mapping of ``layer``; when none fits a user's hierarchy file, the error names it."""
    try:
        return build_mapping(layer, machine, dataflow)
    except EnergySimError as exc:
        if isinstance(given, Hierarchy) or str(given) in str(exc):
            raise
        path = resolve(given, "hierarchies")
        if path.parent == shipped_dir("hierarchies"):
            raise  # a shipped hierarchy: its name in the message says which
        raise EnergySimError(f"{given}: {exc}") from exc


def evaluate(
    network: Network,
    machine: Hierarchy,
    chosen: list[tuple[LayerBase, Mapping | None]],
    count_layer: LayerCounter,
    stream_layer: StreamedLayer,
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Mapping]]:
    """Counts, priced rows and a summary row for every layer: ``(accesses, layers, mappings)``."""
    rows: list[dict[str, Any]] = []
    layer_rows: list[dict[str, Any]] = []
    used: dict[str, Mapping] = {}
    for layer, layer_mapping in chosen:
        bounds = layer.loop_bounds
        if bounds is None or layer_mapping is None:
            rows += _streamed_rows(layer, machine)
            layer_rows.append(
                {**_layer_row(layer, 0, 0, layer.elements("outputs")), **stream_layer(layer, machine)}
            )
            continue
        used[layer.name] = layer_mapping
        counts, extra = count_layer(layer, layer_mapping, machine)
        rows += price(counts, layer, machine)
        output_elements = elements_of_tile(bounds, bounds.sizes, "outputs")  # DRAM keeps no padded one
        layer_rows.append({**_layer_row(layer, bounds.macs, counts.mapped_macs, output_elements), **extra})
    accesses = pd.DataFrame(rows, columns=ACCESS_COLUMNS)
    summary = pd.DataFrame(layer_rows)
    outer = machine.outermost.name
    writes = accesses[
        (accesses["level"] == outer) & (accesses["tensor"] == "outputs") & (accesses["action"] == "update")
    ]
    summary["dram_output_writes"] = (
        summary["layer"].map(writes.groupby("layer")["count"].sum()).fillna(0).astype("int64")
    )
    summary["psum_spills"] = (summary["dram_output_writes"] - summary["output_elements"]).clip(lower=0)
    return accesses, summary, used


def result_of(
    network: Network,
    machine: Hierarchy,
    dataflow: str | None,
    used: dict[str, Mapping],
    accesses: pd.DataFrame,
    summary: pd.DataFrame,
) -> Result:
    """The result of the counted layers (a simulation adds its time with ``dataclasses.replace``)."""
    add_layer_energy(accesses, summary, machine.energy_unit)
    return Result(
        workload=network,
        hierarchy=machine,
        dataflow=dataflow,
        mapping=used,
        accesses=accesses,
        layers=summary,
        energysim_version=__version__,
    )


def add_layer_energy(accesses: pd.DataFrame, summary: pd.DataFrame, unit: str) -> None:
    """The ``energy`` column of the layer summary, from the access rows, and both frames' unit."""
    energy = accesses.groupby("layer", sort=False)["energy"].sum()
    summary["energy"] = summary["layer"].map(energy).fillna(0.0)
    accesses["energy_unit"] = unit
    summary["energy_unit"] = unit


def _layer_row(layer: LayerBase, nest_macs: int, mapped_macs: int, output_elements: int) -> dict[str, Any]:
    """Summary of one layer, its MACs counted three ways so that each column says what it counts.

    ``macs`` is the layer's (bias adds included), ``nest_macs`` the loop nest's
    (no bias adds), ``mapped_macs`` the MAC slots the mapping issues (the nest
    padded to the mapping's factors, gated slots included); ``utilisation`` is
    ``nest_macs / mapped_macs``, the share of issued slots that do real work.
    """
    return {
        "layer": layer.name,
        "type": getattr(layer, "type", ""),
        "macs": layer.macs,
        "nest_macs": nest_macs,
        "mapped_macs": mapped_macs,
        "utilisation": nest_macs / mapped_macs if mapped_macs else float("nan"),
        "output_elements": output_elements,
    }
