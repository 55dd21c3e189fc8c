"""The result of an analysis or a simulation: tidy frames that explain themselves.

``accesses`` has one row per layer x level x tensor x action: ``count``
(elements), ``accesses`` (blocks, after rounding to the level's access width),
``energy`` and ``energy_unit``. Levels are the hierarchy's levels, their
networks (``"GLB network"``, action ``transfer``) and the compute (tensor
``none``, action ``mac``, or ``op`` for operators without MACs). ``layers``
has one row per layer: its ``energy`` and ``energy_unit``, and its MACs told
apart: ``macs`` (the layer's, bias adds included), ``nest_macs`` (its loop
nest's, no bias), ``mapped_macs`` (the MAC slots the mapping issues, padding
included) and ``utilisation`` = ``nest_macs / mapped_macs``. The result also
carries its inputs (workload, hierarchy, dataflow, mappings) and the package
version, so a saved result can be traced.

Units are facts: every energy is in ``energy_unit``, the hierarchy's unit:
``"pJ"``, or ``"MAC-units"`` (multiples of one MAC) for a hierarchy normalised
to a MAC such as ``eyeriss``. Properties are therefore unit-neutral
(``total_energy``, ``energy_per_mac``, ...); the old ``*_pj`` names are gone,
since on ``eyeriss`` they would have called MAC-units picojoules. Results in
different units never mix (:func:`require_one_unit`); convert explicitly with
:meth:`Result.in_pj`.

A simulated result adds time: ``cycles``, and per layer ``compute_cycles``
(the MACs), ``skew_cycles`` (a systolic array's preload and skew, per fold),
``stall_cycles`` (waiting for tiles), ``drain_wait_cycles`` (waiting for a
buffer that the previous tile's drain frees), ``stream_wait_cycles`` (bursts
waiting for operands streamed from a level above, or for the PEs' own
storage's bandwidth) and ``drain_cycles`` (after the last burst), which add
up to the layer's ``cycles``; ``timing`` (per layer x
level: the instances, busy cycles, utilisation, bytes moved and queueing
delay of one instance, all instances of a level moving in lockstep, and the
layer's stall, drain wait and stream wait cycles spent on that level;
``timed_as`` says whether the level's transfers were simulated or, at and
below the PEs' own storage, timed as bytes over bandwidth within the bursts);
``pes`` (one row per group of PEs that every layer treats alike:
``first_pe``, ``last_pe``, ``pe_count``, and the compute, stall and idle
cycles of one PE of the group); static energy as rows of action ``static``;
and, on request, ``trace`` (one row per transfer and compute burst).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pydantic

from energysim.errors import EnergySimError
from energysim.model.energy_tables import PICOJOULE
from energysim.model.hierarchy import Hierarchy
from energysim.model.limits import MAX_ENERGY_PJ
from energysim.model.mapping import Mapping
from energysim.model.workload import Network
from energysim.output_folder import Writer, finite_or_none, strict_json, write_folder

#: Columns of the priced rows (the frame adds ``energy_unit``).
ACCESS_COLUMNS = ["layer", "level", "tensor", "action", "count", "accesses", "energy"]
COMPUTE_ACTIONS = ("mac", "op")
MOVEMENT_ACTIONS = ("read", "fill", "update", "transfer")
STATIC_ACTION = "static"
#: Columns of :meth:`Result.to_frame` that say which inputs a row belongs to.
IDENTITY_COLUMNS = ["workload", "hierarchy", "energy_table", "dataflow"]
#: Renamed properties: the old pJ-claiming name and the unit-neutral one.
RENAMED = {
    "total_energy_pj": "total_energy",
    "energy_per_mac_pj": "energy_per_mac",
    "compute_energy_pj": "compute_energy",
    "data_movement_energy_pj": "data_movement_energy",
    "static_energy_pj": "static_energy",
}
_FRAMES = ("accesses", "layers", "timing", "pes", "trace")


@dataclass(frozen=True, eq=False)
class Result:
    """Where the energy of a workload goes, per layer, level, tensor and action.

    Two results are equal (``==``) when their inputs, their version and every
    number of their frames are identical; a result is not hashable.
    """

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

    __hash__ = None  # type: ignore[assignment]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Result):
            return NotImplemented
        for field in dataclasses.fields(self):
            mine, theirs = getattr(self, field.name), getattr(other, field.name)
            if field.name in _FRAMES:
                if (mine is None) != (theirs is None) or (mine is not None and not mine.equals(theirs)):
                    return False
            elif mine != theirs and not (_is_nan(mine) and _is_nan(theirs)):
                return False
        return True

    def __repr__(self) -> str:
        energy = f"{self.total_energy:.4g} {self.energy_unit}"
        cycles = "" if self.cycles is None else f", {self.cycles:.4g} cycles"
        dataflow = self.dataflow or "given mapping"
        return (
            f"<Result {self.workload.name} on {self.hierarchy.name}, {dataflow}, "
            f"{len(self.layers)} layers: {energy}{cycles}>"
        )

    def __getattr__(self, name: str) -> Any:
        # Only called when normal lookup fails: explain the renamed pJ properties.
        if name in RENAMED:
            raise AttributeError(
                f"Result.{name} was renamed {RENAMED[name]}: its unit is result.energy_unit "
                f"(pJ, or MAC-units on a hierarchy normalised to a MAC); "
                "result.in_pj(pj_per_mac=...) converts MAC-units to pJ"
            )
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    @property
    def energy_unit(self) -> str:
        """The unit of every energy of this result: ``"pJ"`` or ``"MAC-units"``."""
        return self.hierarchy.energy_unit

    @property
    def seconds(self) -> float | None:
        """Simulated time in seconds (None for an analysis without time)."""
        return None if self.cycles is None else self.cycles / self.hierarchy.clock_hz

    @property
    def macs(self) -> int:
        """MACs of the analysed layers."""
        return int(self.layers["macs"].sum())

    def _energy_of(self, actions: Iterable[str] | None = None) -> float:
        rows = self.accesses
        if actions is not None:
            rows = rows[rows["action"].isin(tuple(actions))]
        return float(rows["energy"].sum())

    @property
    def total_energy(self) -> float:
        """All energy (data movement, compute and leakage), in :attr:`energy_unit`."""
        return self._energy_of()

    @property
    def compute_energy(self) -> float:
        """Energy of the MACs (and operations of layers without MACs), in :attr:`energy_unit`."""
        return self._energy_of(COMPUTE_ACTIONS)

    @property
    def data_movement_energy(self) -> float:
        """Energy of reads, fills, updates and network transfers, in :attr:`energy_unit`."""
        return self._energy_of(MOVEMENT_ACTIONS)

    @property
    def static_energy(self) -> float:
        """Leakage: static power times simulated time (0 without time), in :attr:`energy_unit`."""
        return self._energy_of((STATIC_ACTION,))

    @property
    def energy_per_mac(self) -> float:
        """Total energy over MACs, in :attr:`energy_unit` (NaN without MACs)."""
        return self.total_energy / self.macs if self.macs else float("nan")

    def level_order(self) -> list[str]:
        """Level names outermost first, each followed by its network, then the compute."""
        order = []
        for level in self.hierarchy.levels:
            order += [level.name, f"{level.name} network"]
        return [*order, self.hierarchy.compute.name]

    def energy_by_level(self) -> pd.Series:
        """Energy per level (networks and compute as their own entries), outermost first,
        in :attr:`energy_unit` (also the series' name)."""
        totals = self.accesses.groupby("level", sort=False)["energy"].sum()
        totals = totals.reindex([name for name in self.level_order() if name in totals.index])
        return totals.rename(f"energy ({self.energy_unit})")

    def energy_by_tensor(self) -> pd.Series:
        """Energy per tensor (``none`` for the compute), in :attr:`energy_unit`."""
        totals = self.accesses.groupby("tensor", sort=True)["energy"].sum()
        return totals.rename(f"energy ({self.energy_unit})")

    def count(self, level: str, tensor: str, action: str, layer: str | None = None) -> int:
        """Elements of one (level, tensor, action), over all layers or one."""
        rows = self.accesses
        selected = (rows["level"] == level) & (rows["tensor"] == tensor) & (rows["action"] == action)
        if layer is not None:
            selected &= rows["layer"] == layer
        return int(rows.loc[selected, "count"].sum())

    def dram_accesses(self) -> int:
        """Elements read from and written to the outermost level (DRAM), all tensors: elements,
        not the block accesses that the ``accesses`` column counts (one access moves a block of
        the level's ``block_bits``, several elements)."""
        rows = self.accesses
        outer = rows["level"] == self.hierarchy.outermost.name
        return int(rows.loc[outer, "count"].sum())

    def in_pj(self, pj_per_mac: float | None = None) -> Result:
        """This result in picojoules.

        A result already in pJ is returned as is (``pj_per_mac`` must then be
        left out). A result in MAC-units needs ``pj_per_mac``, the picojoules of
        one MAC of the array's datatype on *your* technology: there is no
        default, because Eyeriss' table (ISCA 2016) is normalised and gives no
        pJ. For an order of magnitude, ``horowitz-45nm`` prices a 16-bit integer
        MAC at 0.84 pJ in 45 nm. Every energy (and the hierarchy's per-access
        energies) is multiplied by it; the hierarchy's unit becomes pJ.
        """
        if self.energy_unit == PICOJOULE:
            if pj_per_mac is not None:
                raise EnergySimError(f"in_pj: the result is already in pJ; pj_per_mac={pj_per_mac} not used")
            return self
        if pj_per_mac is None or not _positive_finite(pj_per_mac):
            raise EnergySimError(
                f"in_pj: this result is in {self.energy_unit}; give pj_per_mac, a finite positive "
                f"number of pJ per MAC (got {pj_per_mac!r})"
            )
        scale = float(pj_per_mac)
        hierarchy = _hierarchy_in_pj(self.hierarchy, scale, pj_per_mac)
        accesses, layers = self.accesses.copy(), self.layers.copy()
        for frame in (accesses, layers):
            frame["energy"] = frame["energy"] * scale
            frame["energy_unit"] = PICOJOULE
        return dataclasses.replace(self, hierarchy=hierarchy, accesses=accesses, layers=layers)

    def to_frame(self) -> pd.DataFrame:
        """One long, tidy frame: a row per layer x level x tensor x action, with the
        workload, hierarchy, energy table and dataflow that produced it, and the unit."""
        identity = {
            "workload": self.workload.name,
            "hierarchy": self.hierarchy.name,
            "energy_table": self.hierarchy.energy_table,
            "dataflow": self.dataflow,
        }
        frame = self.accesses.copy()
        for position, (column, value) in enumerate(identity.items()):
            frame.insert(position, column, value)
        return frame.reset_index(drop=True)

    def summary(self) -> dict[str, Any]:
        """The headline numbers, as plain Python values (NaN and infinities as None)."""
        summary: dict[str, Any] = finite_or_none(
            {
                "workload": self.workload.name,
                "hierarchy": self.hierarchy.name,
                "energy_table": self.hierarchy.energy_table,
                "dataflow": self.dataflow,
                "layers": len(self.layers),
                "macs": self.macs,
                "energy_unit": self.energy_unit,
                "total_energy": self.total_energy,
                "energy_per_mac": self.energy_per_mac,
                "data_movement_energy": self.data_movement_energy,
                "compute_energy": self.compute_energy,
                "static_energy": self.static_energy,
                "cycles": self.cycles,
                "seconds": self.seconds,
                "energy_by_level": {str(k): float(v) for k, v in self.energy_by_level().items()},
                "energysim_version": self.energysim_version,
            }
        )
        return summary

    def to_json(self) -> str:
        """Strict JSON (no NaN or Infinity: they become ``null``, and a ``note`` says why):
        the summary, the layers and the accesses, keys sorted, so equal results give equal text."""
        data = {
            **self.summary(),
            "layers_table": self.layers.to_dict(orient="records"),
            "accesses_table": self.accesses.to_dict(orient="records"),
        }
        return strict_json(data)

    def csv_frames(self) -> dict[str, pd.DataFrame]:
        """The CSV files of a result, file name -> frame: the one definition of what
        :meth:`to_csv` and ``energysim run --out`` write of it.

        ``accesses.csv`` (:meth:`to_frame`), ``layers.csv`` and, when simulated,
        ``timing.csv`` and ``pes.csv``.
        """
        frames = {"accesses.csv": self.to_frame(), "layers.csv": self.layers}
        if self.timing is not None:
            frames["timing.csv"] = self.timing
        if self.pes is not None:
            frames["pes.csv"] = self.pes
        return frames

    def to_csv(self, out: str | Path, force: bool = False) -> Path:
        """Write :meth:`csv_frames` and ``summary.json`` (:meth:`summary` as strict JSON)
        into the folder ``out``; return its absolute path.

        The folder is written all or nothing, under the same rule as
        ``energysim run --out``: a new folder, or (with ``force=True``) one that
        holds only a previous energysim output.
        """
        writers: list[Writer] = [csv_file(name, frame) for name, frame in self.csv_frames().items()]
        writers.append(json_file("summary.json", self.summary()))
        return write_folder(out, writers, force)


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """How energysim writes every CSV: no index, ``\\n`` line ends, floats as their shortest
    exact repr, so the bytes are stable and the values lossless."""
    frame.to_csv(path, index=False, lineterminator="\n")


def csv_file(name: str, frame: pd.DataFrame) -> Writer:
    """A writer of ``frame`` as the CSV file ``name`` of a folder (see :func:`write_csv`)."""
    return lambda folder: write_csv(frame, folder / name)


def json_file(name: str, data: Any) -> Writer:
    """A writer of ``data`` as the strict JSON file ``name`` of a folder (see :func:`strict_json`)."""
    return lambda folder: (folder / name).write_text(strict_json(data) + "\n", encoding="utf-8")


def require_one_unit(results: Iterable[Result], what: str = "these results") -> str:
    """The one energy unit of ``results``; an error if they mix units (or are empty)."""
    units: dict[str, list[str]] = {}
    for result in results:
        units.setdefault(result.energy_unit, []).append(result.hierarchy.name)
    if len(units) == 1:
        return next(iter(units))
    if not units:
        raise EnergySimError(f"{what}: no results to combine")
    listed = "; ".join(f"{unit}: {', '.join(dict.fromkeys(names))}" for unit, names in units.items())
    raise EnergySimError(
        f"{what} mix energy units ({listed}); convert with result.in_pj(pj_per_mac=...) first"
    )


def concat_frames(results: Iterable[Result]) -> pd.DataFrame:
    """The :meth:`Result.to_frame` of several results in one frame (one unit, or an error)."""
    results = list(results)
    require_one_unit(results, "concat_frames")
    return pd.concat([result.to_frame() for result in results], ignore_index=True)


def _hierarchy_in_pj(hierarchy: Hierarchy, scale: float, given: object) -> Hierarchy:
    """``hierarchy`` with every per-access and per-MAC energy times ``scale``, in pJ;
    an error naming ``pj_per_mac`` and its range if an energy leaves the schema's range."""

    def scaled(value: Any, key: str = "") -> Any:
        if isinstance(value, dict):
            return {k: scaled(v, k) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [scaled(v, key) for v in value]
        if key.endswith("_energy_pj") and isinstance(value, int | float):
            return value * scale
        return value

    data = hierarchy.model_dump()
    data = scaled(data)
    data["compute"]["mac_energy_pj"] = {k: v * scale for k, v in data["compute"]["mac_energy_pj"].items()}
    data.update(energy_table=None, energy_unit=PICOJOULE)
    largest = _largest_energy(hierarchy.model_dump())
    try:
        return Hierarchy.model_validate(data)
    except pydantic.ValidationError as exc:
        limit = f"at most {MAX_ENERGY_PJ / largest:.6g}" if largest > 0 else "finite"
        raise EnergySimError(
            f"in_pj: pj_per_mac={given!r} is out of range: it must be positive and {limit}, "
            f"so that every energy of {hierarchy.name} (the largest {largest:g} {hierarchy.energy_unit}) "
            f"stays within {MAX_ENERGY_PJ:g} pJ per access"
        ) from exc


def _largest_energy(data: Any, key: str = "") -> float:
    """The largest ``*_energy_pj`` value in a dumped hierarchy (0 if none)."""
    if isinstance(data, dict):
        inner = (key if key.endswith("_energy_pj") else str(k) for k in data)  # mac_energy_pj: {type: pJ}
        return max((_largest_energy(v, k) for v, k in zip(data.values(), inner, strict=True)), default=0.0)
    if isinstance(data, list | tuple):
        return max((_largest_energy(v, key) for v in data), default=0.0)
    if key.endswith("_energy_pj") and isinstance(data, int | float):
        return float(data)
    return 0.0


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


def _positive_finite(value: Any) -> bool:
    return (
        isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and value > 0
    )
