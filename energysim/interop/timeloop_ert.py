"""Accelergy's energy reference table (ERT): per-action energies of each component.

An ERT lists, per component (``system.PE[0..255].pe_spad``, matched by its last
name), the energy of each action in pJ: ``read``, ``write``, ``update`` and
``leak`` of a storage, ``compute`` (or ``mac_random``) of a MAC. An energy is
per access of one block, as energysim prices it. An action given for several
argument variants takes the largest (a warning lists it); ``update`` unlike
``write`` is a warning (energysim prices updates as writes); ``leak`` (pJ per
cycle) becomes static power, mW = pJ per cycle x GHz. ``global_cycle_seconds``
in the actions' arguments gives the clock.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from energysim.interop.timeloop_arch import EXTRA, Component
from energysim.interop.timeloop_values import Source
from energysim.model.limits import MAX_ENERGY_PJ

_TRAILING_RANGE = re.compile(r"\[\d{1,12}\.\.\d{1,12}\]$")
_COMPUTE_ACTIONS = ("compute", "mac_random", "multiply_accumulate", "mac")


@dataclass(frozen=True)
class Ert:
    """An ERT file: component name -> action -> energy (pJ), the clock it states (GHz, if any), its source."""

    tables: dict[str, dict[str, float]]
    clock_ghz: float | None
    source: Source


def _energy(ert: Ert, table: dict[str, float], action: str, component: Component) -> float:
    if action not in table:
        raise ert.source.error(
            f"ERT {component.name}", f"no {action!r} action (actions: {', '.join(sorted(table))})"
        )
    return table[action]


def _table(component: Component, ert: Ert) -> dict[str, float]:
    if component.name not in ert.tables:
        raise ert.source.error(
            "ERT", f"no table for component {component.name} (tables: {', '.join(sorted(ert.tables))})"
        )
    return ert.tables[component.name]


def level_energies(component: Component, ert: Ert, clock_ghz: float) -> dict[str, float]:
    """read, write energies and leakage of a storage component from its ERT table."""
    table = _table(component, ert)
    read, write = _energy(ert, table, "read", component), _energy(ert, table, "write", component)
    update = table.get("update", write)
    if update != write:
        ert.source.warn(
            f"ERT {component.name}",
            f"update energy {update:g} differs from write {write:g}: energysim prices updates as writes",
        )
    energies = {"read_energy_pj": read, "write_energy_pj": write}
    leak = table.get("leak", 0.0)
    if leak and EXTRA + "static_power_mw" not in component.attributes:
        energies["static_power_mw"] = leak * clock_ghz  # pJ per cycle x cycles per ns = mW
    return energies


def compute_energies(component: Component, ert: Ert, clock_ghz: float) -> tuple[float, float | None]:
    """The MAC's energy (pJ) and the whole array's leakage (mW), None when it has none."""
    table = _table(component, ert)
    action = next((name for name in _COMPUTE_ACTIONS if name in table), None)
    if action is None:
        raise ert.source.error(
            f"ERT {component.name}",
            f"no compute action ({', '.join(_COMPUTE_ACTIONS)}); actions: {', '.join(sorted(table))}",
        )
    leak = table.get("leak", 0.0)
    return table[action], (leak * clock_ghz * component.instances if leak else None)


def read_ert(source: Source, data: Any) -> Ert:
    """An ERT file: its tables by component name, and the clock its cycle time states, if any."""
    top = source.mapping(data, "file")
    ert = source.mapping(top.get("ERT"), "ERT")
    tables: dict[str, dict[str, float]] = {}
    cycle_seconds: float | None = None
    for index, raw in enumerate(source.sequence(ert.get("tables"), "ERT.tables")):
        path = f"ERT.tables[{index}]"
        table = source.mapping(raw, path)
        full = source.name(table.get("name"), f"{path}.name")
        name = _TRAILING_RANGE.sub("", full).rsplit(".", 1)[-1]  # "sys.PE[0..3].RF[0..1]" -> "RF"
        if name in tables:
            raise source.error(f"{path}.name", f"a second table for component {name}")
        actions: dict[str, list[float]] = {}
        for number, raw_action in enumerate(source.sequence(table.get("actions"), f"{path}.actions")):
            where = f"{path}.actions[{number}]"
            action = source.mapping(raw_action, where)
            energy = source.number(action.get("energy"), f"{where}.energy", MAX_ENERGY_PJ)
            actions.setdefault(source.name(action.get("name"), f"{where}.name"), []).append(energy)
            arguments = action.get("arguments")
            if isinstance(arguments, dict) and "global_cycle_seconds" in arguments:
                cycle_seconds = source.number(
                    arguments["global_cycle_seconds"], f"{where}.arguments.global_cycle_seconds", 1.0
                )
        for action_name, energies in actions.items():
            if len(set(energies)) > 1:
                source.warn(
                    path,
                    f"{name}.{action_name}: {len(energies)} argument variants; energysim takes the largest, "
                    f"{max(energies):g} pJ",
                )
        tables[name] = {action_name: max(energies) for action_name, energies in actions.items()}
    return Ert(tables, None if not cycle_seconds else 1e-9 / cycle_seconds, source)
