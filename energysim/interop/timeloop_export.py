"""energysim hierarchies as Timeloop v0.3 architectures and ERTs.

The architecture is one ``subtree`` whose ``local`` list is the chain of
levels, outermost first, then the MAC: ``RF[0..167]`` names 168 instances,
``meshX`` the X extent (the PE array's columns for the MAC). Each level gets
Timeloop's attributes (``class`` DRAM, SRAM or regfile; ``depth`` rows of
``width`` = access bits; ``datawidth``; ``block-size``; ``read_bandwidth`` and
``write_bandwidth`` in words per cycle for the whole instance;
``multiple-buffering``), and its energies go into an ERT (``read``, ``write``,
``update`` = write, ``leak`` in pJ per cycle = mW / GHz; the MAC's
``compute``), priced exactly as energysim prices them: per access of one
block.

Fields Timeloop has no word for are written as ``energysim_*`` attributes,
which Timeloop ignores and :mod:`energysim.interop.timeloop_arch` reads back,
so that an export imports as the same hierarchy; those that change what
Timeloop computes are also listed as warnings (a network's transfer energy,
per-tensor partitions seen by Timeloop as one shared buffer, several MACs
per cycle per PE, a systolic array's skew, energies in MAC-units, a level
that fans out without a network, where Timeloop's default network multicasts).
"""

from __future__ import annotations

import math
from typing import Any

from energysim.interop.timeloop_arch import EXTRA
from energysim.model.base import TENSORS
from energysim.model.energy_tables import PICOJOULE
from energysim.model.hierarchy import Hierarchy, Level, PerTensorBytes

_CLASS = {"dram": "DRAM", "sram": "SRAM", "regfile": "regfile"}
_DATATYPE_BITS = {"int8": 8, "int16": 16, "int32": 32, "fp16": 16, "bf16": 16, "fp32": 32}


def _instance_name(name: str, instances: int) -> str:
    return name if instances == 1 else f"{name}[0..{instances - 1}]"


def _size_attributes(level: Level, warnings: list[str]) -> dict[str, Any]:
    size = level.size_bytes
    if size is None:
        return {}
    attributes: dict[str, Any] = {}
    total = level.total_size_bytes or 0
    rows, rest = divmod(total * 8, level.block_bits)
    attributes["depth"] = max(rows, 1)
    if isinstance(size, PerTensorBytes):
        parts = ", ".join(f"{tensor} {size.get(tensor)} B" for tensor in TENSORS if size.get(tensor))
        warnings.append(
            f"level {level.name}: per-tensor partitions ({parts}): "
            f"Timeloop sees one shared buffer of {total} bytes"
        )
        attributes.update(
            {
                f"{EXTRA}size_bytes_{tensor}": size.get(tensor)
                for tensor in TENSORS
                if size.get(tensor) is not None
            }
        )
    elif rest or rows == 0:
        attributes[f"{EXTRA}size_bytes"] = size
    return attributes


def _bandwidth_attributes(level: Level) -> dict[str, Any]:
    words = 8 / level.word_bits * level.ports
    attributes: dict[str, Any] = {
        "read_bandwidth": level.direction_bandwidth(write=False) * words,
        "write_bandwidth": level.direction_bandwidth(write=True) * words,
    }
    if level.ports != 1 or level.separate_read_write:
        attributes[f"{EXTRA}bandwidth_bytes_per_cycle"] = level.bandwidth_bytes_per_cycle
        for name in ("read_bandwidth_bytes_per_cycle", "write_bandwidth_bytes_per_cycle"):
            if getattr(level, name) is not None:
                attributes[EXTRA + name] = getattr(level, name)
    return attributes


def level_component(level: Level, warnings: list[str], cols: int, instances_below: int) -> dict[str, Any]:
    """The v0.3 ``local`` entry of one level (``instances_below``: of the next level, or the PEs)."""
    attributes: dict[str, Any] = {
        "datawidth": level.word_bits,
        "width": level.block_bits,
        "block-size": level.block_bits // level.word_bits,
        **_size_attributes(level, warnings),
        **_bandwidth_attributes(level),
        "meshX": math.gcd(level.instances, cols),
    }
    if level.double_buffered:
        attributes["multiple-buffering"] = 2
    if level.access_bits is not None and level.access_bits == level.word_bits:
        attributes[f"{EXTRA}access_bits"] = level.access_bits
    if set(level.keeps) != set(TENSORS):
        attributes[f"{EXTRA}keeps"] = " ".join(level.keeps)
    for name in ("latency_cycles", "ports", "static_power_mw"):
        if getattr(level, name) != Level.model_fields[name].default:
            attributes[EXTRA + name] = getattr(level, name)
    if level.network is None and instances_below > level.instances:
        attributes[f"{EXTRA}network"] = "none"
        warnings.append(
            f"level {level.name}: fans out with no network, so energysim does not multicast from it; "
            "Timeloop's default network does"
        )
    if level.network is not None:
        warnings.append(
            f"level {level.name}: network (multicast {level.network.multicast}, "
            f"{level.network.transfer_energy_pj:g} per word): not written for Timeloop, whose network "
            "model differs"
        )
        for key, value in level.network.model_dump().items():
            if value is not None:
                attributes[f"{EXTRA}network_{key}"] = value
    return {
        "name": _instance_name(level.name, level.instances),
        "class": _CLASS[level.kind],
        "attributes": attributes,
    }


def compute_component(hierarchy: Hierarchy, warnings: list[str]) -> dict[str, Any]:
    """The v0.3 ``local`` entry of the PE array's MACs."""
    compute = hierarchy.compute
    attributes: dict[str, Any] = {
        "datawidth": _DATATYPE_BITS[compute.datatype],
        "meshX": compute.array.cols,
        f"{EXTRA}datatype": compute.datatype,
    }
    for datatype, energy in compute.mac_energy_pj.items():
        if datatype != compute.datatype:
            attributes[f"{EXTRA}mac_energy_pj_{datatype}"] = energy
    if compute.macs_per_cycle_per_pe != 1:
        attributes[f"{EXTRA}macs_per_cycle_per_pe"] = compute.macs_per_cycle_per_pe
        warnings.append(
            f"compute: {compute.macs_per_cycle_per_pe} MACs per cycle per PE: Timeloop's MAC does one"
        )
    if compute.systolic:
        attributes[f"{EXTRA}systolic"] = True
        warnings.append("compute: systolic array: Timeloop does not model its fill and drain skew")
    if compute.static_power_mw:
        attributes[f"{EXTRA}static_power_mw"] = compute.static_power_mw
    cls = "fpmac" if compute.datatype.startswith(("fp", "bf")) else "intmac"
    return {"name": _instance_name(compute.name, compute.pes), "class": cls, "attributes": attributes}


def architecture_dict(hierarchy: Hierarchy, warnings: list[str]) -> dict[str, Any]:
    """The Timeloop v0.3 architecture of ``hierarchy``."""
    system: dict[str, Any] = {
        f"{EXTRA}clock_ghz": hierarchy.clock_ghz,
        f"{EXTRA}energy_unit": hierarchy.energy_unit,
    }
    if hierarchy.energy_table is not None:
        system[f"{EXTRA}energy_table"] = hierarchy.energy_table
    if hierarchy.description:
        system[f"{EXTRA}description"] = hierarchy.description
    if hierarchy.default_dataflow is not None:
        system[f"{EXTRA}default_dataflow"] = hierarchy.default_dataflow
    if hierarchy.energy_unit != PICOJOULE:
        warnings.append(
            f"energies are in {hierarchy.energy_unit} (multiples of one MAC), written unchanged: "
            "Timeloop will label them pJ"
        )
    cols = hierarchy.compute.array.cols
    below = [level.instances for level in hierarchy.levels[1:]] + [hierarchy.compute.pes]
    local = [
        level_component(level, warnings, cols, instances)
        for level, instances in zip(hierarchy.levels, below, strict=True)
    ]
    local.append(compute_component(hierarchy, warnings))
    return {
        "architecture": {
            "version": 0.3,
            "subtree": [{"name": hierarchy.name, "attributes": system, "local": local}],
        }
    }


def ert_dict(hierarchy: Hierarchy) -> dict[str, Any]:
    """The ERT of ``hierarchy``: energysim's per-access energies under Timeloop's action names."""
    cycle = {"global_cycle_seconds": 1e-9 / hierarchy.clock_ghz}
    tables = []
    for level in hierarchy.levels:
        actions = [
            {"name": "read", "arguments": cycle, "energy": level.read_energy_pj},
            {"name": "write", "arguments": cycle, "energy": level.write_energy_pj},
            {"name": "update", "arguments": cycle, "energy": level.write_energy_pj},
            {"name": "leak", "arguments": cycle, "energy": level.static_power_mw / hierarchy.clock_ghz},
        ]
        tables.append(
            {"name": f"{hierarchy.name}.{_instance_name(level.name, level.instances)}", "actions": actions}
        )
    compute = hierarchy.compute
    leak = compute.static_power_mw / compute.pes / hierarchy.clock_ghz
    tables.append(
        {
            "name": f"{hierarchy.name}.{_instance_name(compute.name, compute.pes)}",
            "actions": [
                {"name": "compute", "arguments": cycle, "energy": compute.energy_per_mac},
                {"name": "leak", "arguments": cycle, "energy": leak},
            ],
        }
    )
    return {"ERT": {"version": 0.3, "tables": tables}}
