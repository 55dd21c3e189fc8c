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


def _summaries(table: pd.DataFrame, layers: pd.DataFrame, mode: str) -> pd.DataFrame:
    """The summary columns of every point that ran, indexed by point (from all points' tables)."""
    sums = layers.groupby("point", sort=False)[
        ["energy", "macs", "nest_macs", "mapped_macs", "bound_cycles"]
    ].sum()
    first = table.groupby("point", sort=False)[["energy_unit", "peak_macs_per_cycle"]].first()
    outer = table[table["level"] == table["outermost_level"]]
    dram = outer.groupby("point", sort=False)["level_energy"].sum().reindex(sums.index, fill_value=0.0)
    if mode == "simulate":
        cycles = layers.groupby("point", sort=False)["cycles"].sum().astype(float)
    else:
        cycles = pd.Series(np.nan, index=sums.index)
    energy, macs = sums["energy"].astype(float), sums["macs"].astype("int64")
    mapped, nest = sums["mapped_macs"].astype(float), sums["nest_macs"].astype(float)
    busy = cycles * first["peak_macs_per_cycle"].astype(float)
    return pd.DataFrame(
        {
            "energy": energy,
            "energy_unit": first["energy_unit"].astype(object),
            "macs": macs,
            "energy_per_mac": (energy / macs.where(macs > 0)).astype(float),
            "cycles": cycles,
            "bound_cycles": sums["bound_cycles"].astype(float),
            "edp": energy * cycles,
            "dram_share": dram / energy.where(energy != 0),
            "utilisation": nest / mapped.where(mapped > 0),
            "array_utilisation": nest / busy.where(busy > 0),
        }
    )


def assemble(
    points: list[Point],
    tasks: dict[int, Task],
    tables: dict[int, pd.DataFrame],
    errors: dict[int, str],
    mode: str,
) -> SweepResult:
    """The three frames, in point order, from each point's table (or its error)."""
    identity = pd.DataFrame(
        [point_columns(index, point, tasks.get(index)) for index, point in enumerate(points)]
    )
    messages = [errors.get(index) or _table_error(tables.get(index)) for index in range(len(points))]
    ran = [index for index, message in enumerate(messages) if not message]
    if not ran:  # every point has an error: no layers, no levels, no numbers
        summary = identity.reindex(columns=[*identity.columns, *SUMMARY_COLUMNS]).assign(**{ERROR: messages})
        return SweepResult(summary, identity.iloc[:0], identity.iloc[:0])
    table = pd.concat([tables[index].assign(point=index) for index in ran], ignore_index=True)
    layer_columns = [c for c in table.columns if c not in {*_LEVEL_COLUMNS, *_HELPER_COLUMNS}]
    layer_rows = table.drop_duplicates(["point", "layer"])[layer_columns]
    level_rows = table.loc[table["level"].notna(), ["point", "layer", "level", "level_energy", "energy_unit"]]
    level_rows = level_rows.rename(columns={"level_energy": "energy"})
    summary = identity.merge(
        _summaries(table, layer_rows, mode), how="left", left_on="point", right_index=True
    )
    summary = summary.reindex(columns=[*identity.columns, *SUMMARY_COLUMNS])
    summary["energy_unit"] = summary["energy_unit"].astype(object)
    summary["macs"] = summary["macs"].astype("Int64")  # whole numbers; empty for a point with an error
    summary[ERROR] = messages
    layers = identity.merge(layer_rows, on="point", how="inner")
    levels = identity.merge(level_rows, on="point", how="inner")
    return SweepResult(summary, layers, levels)


def _table_error(table: pd.DataFrame | None) -> str:
    """The error a point's table records ("" for a point that ran)."""
    return "" if table is None else str(table[ERROR].iloc[0])
