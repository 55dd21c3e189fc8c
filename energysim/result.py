"""The result of an analysis (and, later, a simulation): tidy frames that explain themselves.

``accesses`` has one row per layer x level x tensor x action: ``count``
(elements), ``accesses`` (blocks, after rounding to the level's access width)
and ``energy_pj``. Levels are the hierarchy's levels, their networks
(``"GLB network"``, action ``transfer``) and the compute (tensor ``none``,
action ``mac``, or ``op`` for operators without MACs). ``layers`` has one row
per layer. The result also carries its inputs (workload, hierarchy, dataflow,
mappings) and the package version, so a saved result can be traced.

A simulated result adds time: ``cycles``; ``timing`` (per layer x level: the
instances, busy cycles, utilisation, bytes moved and queueing delay of one
instance, all instances of a level moving in lockstep); ``pes`` (per PE:
compute, stall and idle cycles); static energy as rows of action ``static``;
and, on request, ``trace`` (one row per transfer and compute burst).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from energysim.model.hierarchy import Hierarchy
from energysim.model.mapping import Mapping
from energysim.model.workload import Network

ACCESS_COLUMNS = ["layer", "level", "tensor", "action", "count", "accesses", "energy_pj"]
COMPUTE_ACTIONS = ("mac", "op")
MOVEMENT_ACTIONS = ("read", "fill", "update", "transfer")
STATIC_ACTION = "static"


@dataclass(frozen=True)
class Result:
    """Where the energy of a workload goes, per layer, level, tensor and action."""

    workload: Network
    hierarchy: Hierarchy
    dataflow: str | None
    mapping: dict[str, Mapping]
    accesses: pd.DataFrame
    layers: pd.DataFrame
    energysim_version: str
    cycles: float | None = None
    timing: pd.DataFrame | None = None
    pes: pd.DataFrame | None = None
    trace: pd.DataFrame | None = None

    @property
    def seconds(self) -> float | None:
        """Simulated time in seconds (None for an analysis without time)."""
        return None if self.cycles is None else self.cycles / self.hierarchy.clock_hz

    @property
    def static_energy_pj(self) -> float:
        """Leakage: static power times simulated time (0 without time)."""
        static = self.accesses["action"] == STATIC_ACTION
        return float(self.accesses.loc[static, "energy_pj"].sum())

    @property
    def macs(self) -> int:
        """MACs of the analysed layers."""
        return int(self.layers["macs"].sum())

    @property
    def total_energy_pj(self) -> float:
        """All energy: data movement and compute."""
        return float(self.accesses["energy_pj"].sum())

    @property
    def compute_energy_pj(self) -> float:
        """Energy of the MACs (and operations of layers without MACs)."""
        compute = self.accesses["action"].isin(COMPUTE_ACTIONS)
        return float(self.accesses.loc[compute, "energy_pj"].sum())

    @property
    def data_movement_energy_pj(self) -> float:
        """Energy of reads, fills, updates and network transfers."""
        moving = self.accesses["action"].isin(MOVEMENT_ACTIONS)
        return float(self.accesses.loc[moving, "energy_pj"].sum())

    @property
    def energy_per_mac_pj(self) -> float:
        """Total energy over MACs."""
        return self.total_energy_pj / self.macs if self.macs else float("nan")

    def level_order(self) -> list[str]:
        """Level names outermost first, each followed by its network, then the compute."""
        order = []
        for level in self.hierarchy.levels:
            order += [level.name, f"{level.name} network"]
        return [*order, self.hierarchy.compute.name]

    def energy_by_level(self) -> pd.Series:
        """Energy per level (networks and compute as their own entries), outermost first."""
        totals = self.accesses.groupby("level", sort=False)["energy_pj"].sum()
        return totals.reindex([name for name in self.level_order() if name in totals.index])

    def energy_by_tensor(self) -> pd.Series:
        """Energy per tensor (``none`` for the compute)."""
        return self.accesses.groupby("tensor", sort=True)["energy_pj"].sum()

    def count(self, level: str, tensor: str, action: str, layer: str | None = None) -> int:
        """Elements of one (level, tensor, action), over all layers or one."""
        rows = self.accesses
        selected = (rows["level"] == level) & (rows["tensor"] == tensor) & (rows["action"] == action)
        if layer is not None:
            selected &= rows["layer"] == layer
        return int(rows.loc[selected, "count"].sum())

    def dram_accesses(self) -> int:
        """Element reads and writes at the outermost level (DRAM), all tensors."""
        rows = self.accesses
        outer = rows["level"] == self.hierarchy.outermost.name
        return int(rows.loc[outer, "count"].sum())
