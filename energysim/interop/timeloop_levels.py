"""A flattened Timeloop architecture as an energysim hierarchy: levels, their attributes, the PE array.

Attributes: ``depth`` rows of ``width`` bits (a level of depth x width / 8
bytes), ``datawidth`` bits per word (``word-bits`` in older files),
``block-size`` words per access (else width / datawidth), ``read_bandwidth``
and ``write_bandwidth`` in words per cycle (none: Timeloop's unlimited, here
one block a cycle, with a warning), ``multiple-buffering: 2``. The MAC's
instances make the PE array, instances / meshX rows of meshX columns, and its
class and width the datatype (``intmac`` of 8 bits: int8).

Energies come from an ERT (:mod:`energysim.interop.timeloop_ert`) when given.
Without one, the energy table ``horowitz-45nm`` prices the levels from their
kind, size and width, and a warning says so. A level that fans out to more
instances below gets Timeloop's default network: it multicasts (one read
reaches every receiver of the same data) and costs no energy of its own. Attributes named ``energysim_*``
are written by :mod:`energysim.interop.timeloop_export` for the fields Timeloop
has no word for (latency, ports, per-tensor partitions, the clock...), so that
an export reads back as the same hierarchy; Timeloop ignores them. Other
attributes no energysim field holds are listed as warnings.
"""

from __future__ import annotations

from typing import Any

from energysim.interop.timeloop_arch import EXTRA, Component, FlatArch, is_compute, storage_kind
from energysim.interop.timeloop_ert import Ert, compute_energies, level_energies
from energysim.interop.timeloop_values import Source
from energysim.model.base import TENSORS, validate_file_data
from energysim.model.hierarchy import Hierarchy
from energysim.model.limits import MAX_BANDWIDTH_BYTES_PER_CYCLE, MAX_BITS, MAX_SIZE_BYTES

DEFAULT_ENERGY_TABLE = "horowitz-45nm"
_USED = {
    "depth", "memory_depth", "width", "memory_width", "datawidth", "word-bits", "word_bits",
    "block-size", "block_size", "read_bandwidth", "write_bandwidth", "multiple-buffering",
    "multiple_buffering", "meshX", "meshY", "instances", "multiplier_width",
}  # fmt: skip
#: Attributes that reach energysim only through the ERT (Accelergy prices with them).
_ACCELERGY = {
    "technology", "type", "n_banks", "n_rdwr_ports", "n_rd_ports", "n_wr_ports", "cluster-size",
    "cluster_size", "global_cycle_seconds", "latency", "adder_width", "update_fifo_depth",
    "num_pipeline_stages", "n_rw_ports", "area_share", "power_gated_at",
}  # fmt: skip


def _attribute(component: Component, *names: str) -> Any:
    for name in names:
        if name in component.attributes:
            return component.attributes[name]
    return None


def _unlisted(source: Source, path: str, attributes: dict[str, Any], ert: bool) -> None:
    """Warn of the attributes no energysim field holds, and of Accelergy's when it does not price."""
    names = [str(name) for name in attributes if not str(name).startswith(EXTRA)]
    unknown = sorted(name for name in names if name not in _USED | _ACCELERGY)
    if unknown:
        source.warn(path, f"{', '.join(unknown)}: not modelled by energysim (ignored)")
    priced = sorted(name for name in names if name in _ACCELERGY)
    if priced and not ert:
        source.warn(
            path,
            f"{', '.join(priced)}: Accelergy prices with these; without --ert energysim uses its "
            f"{DEFAULT_ENERGY_TABLE} energy table instead",
        )


def storage_level(source: Source, component: Component, energies: dict[str, float] | None) -> dict[str, Any]:
    """The energysim level (a raw mapping, validated with the hierarchy) of a storage component."""
    path = f"{component.path}.attributes"
    kind = storage_kind(source, component)
    word_bits = source.integer(
        _attribute(component, "datawidth", "word-bits", "word_bits") or 16, f"{path}.datawidth", 1, MAX_BITS
    )
    width = _attribute(component, "width", "memory_width")
    block = _attribute(component, "block-size", "block_size")
    if width is not None:
        width = source.integer(width, f"{path}.width", 1, MAX_BITS)
    elif block is not None:
        width = word_bits * source.integer(block, f"{path}.block-size", 1, MAX_BITS)
    else:
        width = word_bits
    if width % word_bits:
        raise source.error(f"{path}.width", f"{width} bits is not a whole number of {word_bits}-bit words")
    level: dict[str, Any] = {
        "name": component.name,
        "kind": kind,
        "instances": component.instances,
        "word_bits": word_bits,
    }
    if width != word_bits or EXTRA + "access_bits" in component.attributes:
        level["access_bits"] = component.attributes.get(EXTRA + "access_bits", width)
    depth = _attribute(component, "depth", "memory_depth")
    if depth is not None:
        rows = source.integer(depth, f"{path}.depth", 1, MAX_SIZE_BYTES)
        level["size_bytes"] = -(-rows * width // 8)
    partitions = {
        tensor: component.attributes[f"{EXTRA}size_bytes_{tensor}"]
        for tensor in TENSORS
        if f"{EXTRA}size_bytes_{tensor}" in component.attributes
    }
    if partitions:
        level["size_bytes"] = partitions
    elif EXTRA + "size_bytes" in component.attributes:
        level["size_bytes"] = component.attributes[EXTRA + "size_bytes"]
    if component.keeps is not None:
        level["keeps"] = list(component.keeps)
    if EXTRA + "keeps" in component.attributes:
        level["keeps"] = str(component.attributes[EXTRA + "keeps"]).split()
    level.update(_bandwidths(source, component, word_bits, width))
    buffering = _attribute(component, "multiple-buffering", "multiple_buffering")
    if buffering is not None:
        copies = source.integer(buffering, f"{path}.multiple-buffering", 1, 2)
        level["double_buffered"] = copies == 2
    for name in ("latency_cycles", "ports", "double_buffered", "static_power_mw"):
        if EXTRA + name in component.attributes:
            level[name] = component.attributes[EXTRA + name]
    network = {
        key.removeprefix(EXTRA + "network_"): value
        for key, value in component.attributes.items()
        if str(key).startswith(EXTRA + "network_")
    }
    if network:
        level["network"] = network
    if energies is not None:
        level.update(energies)
    return level


def _bandwidths(source: Source, component: Component, word_bits: int, width: int) -> dict[str, Any]:
    """Bytes per cycle from Timeloop's words per cycle; one block a cycle when it has none (unlimited)."""
    path = f"{component.path}.attributes"
    exact = {
        name: component.attributes[EXTRA + name]
        for name in (
            "bandwidth_bytes_per_cycle",
            "read_bandwidth_bytes_per_cycle",
            "write_bandwidth_bytes_per_cycle",
        )
        if EXTRA + name in component.attributes
    }
    if "bandwidth_bytes_per_cycle" in exact:
        return exact
    read, write = (component.attributes.get(name) for name in ("read_bandwidth", "write_bandwidth"))
    limit = MAX_BANDWIDTH_BYTES_PER_CYCLE * 8 / word_bits
    read_bytes = (
        None if read is None else source.number(read, f"{path}.read_bandwidth", limit) * word_bits / 8
    )
    write_bytes = (
        None if write is None else source.number(write, f"{path}.write_bandwidth", limit) * word_bits / 8
    )
    if read_bytes is None and write_bytes is None:
        source.warn(
            path,
            f"{component.name}: no read_bandwidth (unlimited in Timeloop); energysim uses one "
            f"{width}-bit block per cycle",
        )
        return {"bandwidth_bytes_per_cycle": width / 8}
    if read_bytes is None or write_bytes is None or read_bytes == write_bytes:
        return {"bandwidth_bytes_per_cycle": read_bytes or write_bytes}
    return {
        "bandwidth_bytes_per_cycle": read_bytes,
        "read_bandwidth_bytes_per_cycle": read_bytes,
        "write_bandwidth_bytes_per_cycle": write_bytes,
    }


def build_hierarchy(source: Source, flat: FlatArch, ert: Ert | None) -> Hierarchy:
    """The hierarchy of a flattened architecture, priced by ``ert`` (else by the default energy table)."""
    clock_ghz = None if ert is None else ert.clock_ghz
    if not flat.components or not is_compute(flat.components[-1]):
        raise source.error(
            "architecture", "the innermost component must be the MAC (class intmac, fpmac, ...)"
        )
    *storage, last = flat.components
    misplaced = [component.name for component in storage if is_compute(component)]
    if misplaced:
        raise source.error(
            "architecture",
            f"arithmetic component {misplaced[0]} above storage: energysim has one PE array, innermost",
        )
    if not storage:
        raise source.error("architecture", "no storage level above the MAC")
    system = flat.system_attributes
    if ert is not None:
        unused = sorted(set(ert.tables) - {component.name for component in flat.components})
        if unused:
            ert.source.warn("ERT", f"tables for {', '.join(unused)}: no such storage or MAC (ignored)")
    for path, attributes in flat.containers:
        _unlisted(source, path, attributes, ert is not None)
    levels = []
    for component in storage:
        _unlisted(source, f"{component.path}.attributes", component.attributes, ert is not None)
        energies = None if ert is None else level_energies(component, ert, clock_ghz or 1.0)
        levels.append(storage_level(source, component, energies))
    _default_networks(levels, storage, last)
    data: dict[str, Any] = {
        "version": 1,
        "name": flat.name,
        "clock_ghz": system.get(EXTRA + "clock_ghz", clock_ghz or 1.0),
        "levels": levels,
        "compute": compute_spec(source, last, ert, clock_ghz or 1.0),
    }
    for key in ("description", "energy_unit", "energy_table", "default_dataflow"):
        if EXTRA + key in system:
            data[key] = system[EXTRA + key]
    if ert is None and "energy_table" not in data:
        data["energy_table"] = DEFAULT_ENERGY_TABLE
        source.warn(
            "architecture",
            f"no ERT given: energies come from energysim's {DEFAULT_ENERGY_TABLE} energy table",
        )
    if clock_ghz is None and EXTRA + "clock_ghz" not in system:
        source.warn(
            "architecture", "no clock in the spec (an ERT's global_cycle_seconds gives one): 1 GHz assumed"
        )
    return validate_file_data(Hierarchy, data, source.where, "hierarchy (from the Timeloop architecture)")


def _default_networks(levels: list[dict[str, Any]], storage: list[Component], mac: Component) -> None:
    """Timeloop's default network where a level fans out: multicast, no energy of its own.

    A level that an export marked ``energysim_network: none`` stays without one.
    """
    below = [component.instances for component in storage[1:]] + [mac.instances]
    for level, component, instances_below in zip(levels, storage, below, strict=True):
        marked = component.attributes.get(EXTRA + "network") == "none"
        if "network" not in level and not marked and instances_below > component.instances:
            level["network"] = {"multicast": True, "transfer_energy_pj": 0.0}


def compute_spec(source: Source, component: Component, ert: Ert | None, clock_ghz: float) -> dict[str, Any]:
    """The PE array: instances / meshX rows of meshX columns, datatype from the MAC's class and width."""
    attributes = component.attributes
    path = f"{component.path}.attributes"
    _unlisted(source, f"{component.path}.attributes", component.attributes, ert is not None)
    if component.instances % component.mesh_x:
        raise source.error(path, f"{component.instances} MACs do not fill rows of meshX = {component.mesh_x}")
    width = _attribute(component, "datawidth", "multiplier_width", "word-bits") or 16
    bits = source.integer(width, f"{path}.datawidth", 1, MAX_BITS)
    floating = "fp" in component.cls.lower()
    datatype = attributes.get(EXTRA + "datatype") or (f"fp{bits}" if floating else f"int{bits}")
    if datatype not in ("int8", "int16", "int32", "fp16", "bf16", "fp32"):
        kind = "float" if floating else "integer"
        source.warn(path, f"a {bits}-bit {kind} MAC: energysim knows 8, 16 and 32 bits; int16 assumed")
        datatype = "int16"
    spec: dict[str, Any] = {
        "name": component.name,
        "array": {"rows": component.instances // component.mesh_x, "cols": component.mesh_x},
        "datatype": datatype,
    }
    prefix = EXTRA + "mac_energy_pj_"
    energies = {
        key.removeprefix(prefix): value for key, value in attributes.items() if key.startswith(prefix)
    }
    if ert is not None:
        energies[datatype], leak_mw = compute_energies(component, ert, clock_ghz)
        if leak_mw is not None:
            spec["static_power_mw"] = leak_mw
    if energies:
        spec["mac_energy_pj"] = energies
    for name in ("macs_per_cycle_per_pe", "systolic", "static_power_mw"):
        if EXTRA + name in attributes:
            spec[name] = attributes[EXTRA + name]
    return spec
