"""The frames of a sweep: points, layers and levels, each with the points' axis values as columns.

* ``points``: one row per point: ``energy`` (in ``energy_unit``: pJ, or
  MAC-units for a hierarchy normalised to a MAC), ``macs``, ``energy_per_mac``,
  ``cycles`` (simulated; empty for ``analyze``), ``bound_cycles`` (the roofline
  lower bound, see :mod:`energysim.sweep.point`), ``edp`` (energy x cycles, in
  ``energy_unit`` x cycles; empty for ``analyze``), ``dram_share`` (the
  outermost level's share of the energy, its network excluded),
  ``utilisation`` (the layers' loop-nest MACs over the MAC slots their
  mappings issue) and, simulated, ``array_utilisation`` (MACs over cycles x
  the array's peak). A point that raised an :class:`EnergySimError` has its
  message in ``error`` and no numbers.
* ``layers``: one row per point x layer, the columns of ``Result.layers``
  plus ``bound_cycles``; points with an error have none.
* ``levels``: one row per point x layer x level, its ``energy``.

Rows are in point order (a grid's expansion order), then the workload's layer
order, then the order of the result's levels.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from energysim.sweep.grid import Point, Task, point_columns
from energysim.sweep.point import ERROR

#: Columns of the point table that are per level, not per layer.
_LEVEL_COLUMNS = ["level", "level_energy"]
#: Columns the point table carries for the summary only.
_HELPER_COLUMNS = ["peak_macs_per_cycle", "outermost_level", ERROR]
SUMMARY_COLUMNS = [
    "energy",
    "energy_unit",
    "macs",
    "energy_per_mac",
    "cycles",
    "bound_cycles",
    "edp",
    "dram_share",
    "utilisation",
    "array_utilisation",
]


@dataclass(frozen=True)
class SweepResult:
    """The frames of a sweep (see the module docstring), how many points ran this time, the
    sweep folder (None without ``out``), and the columns that tell points apart (``axes``)."""

    points: pd.DataFrame
    layers: pd.DataFrame
    levels: pd.DataFrame
    computed: int = 0
    folder: Path | None = None
    axes: tuple[str, ...] = ()


def _summary(table: pd.DataFrame, mode: str) -> dict[str, Any]:
    layers = table.drop_duplicates("layer")
    energy = float(layers["energy"].sum())
    macs = int(layers["macs"].sum())
    outer = table["outermost_level"].iloc[0]
    dram = float(table.loc[table["level"] == outer, "level_energy"].sum())
    cycles = float(layers["cycles"].sum()) if mode == "simulate" else float("nan")
    mapped = float(layers["mapped_macs"].sum())
    peak = float(table["peak_macs_per_cycle"].iloc[0])
    return {
        "energy": energy,
        "energy_unit": str(table["energy_unit"].iloc[0]),
        "macs": macs,
        "energy_per_mac": energy / macs if macs else float("nan"),
        "cycles": cycles,
        "bound_cycles": float(layers["bound_cycles"].sum()),
        "edp": energy * cycles,
        "dram_share": dram / energy if energy else float("nan"),
        "utilisation": float(layers["nest_macs"].sum()) / mapped if mapped else float("nan"),
        "array_utilisation": float(layers["nest_macs"].sum()) / (cycles * peak)
        if cycles > 0
        else float("nan"),
    }


def _with_identity(identity: dict[str, Any], frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.reset_index(drop=True)
    for position, (column, value) in enumerate(identity.items()):
        frame.insert(position, column, value)
    return frame


def assemble(
    points: list[Point],
    tasks: dict[int, Task],
    tables: dict[int, pd.DataFrame],
    errors: dict[int, str],
    mode: str,
) -> SweepResult:
    """The three frames, in point order, from each point's table (or its error)."""
    summaries, layer_frames, level_frames = [], [], []
    for index, point in enumerate(points):
        task = tasks.get(index)
        identity = point_columns(index, point, task)
        table = tables.get(index)
        error = errors.get(index) or (str(table[ERROR].iloc[0]) if table is not None else "")
        if table is None or error:
            summaries.append({**identity, **dict.fromkeys(SUMMARY_COLUMNS, np.nan), ERROR: error})
            continue
        summaries.append({**identity, **_summary(table, mode), ERROR: ""})
        layer_columns = [c for c in table.columns if c not in _LEVEL_COLUMNS + _HELPER_COLUMNS]
        layer_frames.append(_with_identity(identity, table.drop_duplicates("layer")[layer_columns]))
        levels = table.loc[table["level"].notna(), ["layer", "level", "level_energy", "energy_unit"]]
        level_frames.append(_with_identity(identity, levels.rename(columns={"level_energy": "energy"})))
    summary = pd.DataFrame(summaries)
    summary["energy_unit"] = summary["energy_unit"].astype(object)
    summary["macs"] = summary["macs"].astype("Int64")  # whole numbers; empty for a point with an error
    layers = pd.concat(layer_frames, ignore_index=True) if layer_frames else pd.DataFrame()
    levels = pd.concat(level_frames, ignore_index=True) if level_frames else pd.DataFrame()
    return SweepResult(summary, layers, levels)
