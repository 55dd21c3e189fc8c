"""Figures of a sweep: the energy-time Pareto front, and energy per MAC by level along each axis.

Built like :mod:`energysim.report.figures` (no pyplot, labelled axes with
units, one message each). Energies of different units (pJ, MAC-units) and of
different workloads are never drawn on one axis: each (workload, unit) pair
has its panel in the Pareto plot, each unit its row in the facet grid.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from energysim.sweep.point import ERROR

sns.set_theme(style="whitegrid", context="notebook")

#: Most panels of one figure; further groups are left out and the title says how many.
MAX_PANELS = 12
#: Most colours (values of the colouring axis) or x positions shown; further values are grouped.
MAX_CATEGORIES = 24


def pareto_front(time: pd.Series, energy: pd.Series) -> pd.Series:
    """True for the points no other point beats in both time and energy (both lower is better);
    of equal points the first in order is kept."""
    order = sorted(range(len(time)), key=lambda i: (time.iloc[i], energy.iloc[i], i))
    front = np.zeros(len(time), dtype=bool)
    best = math.inf
    for i in order:
        if energy.iloc[i] < best:
            front[i] = True
            best = energy.iloc[i]
    return pd.Series(front, index=time.index)


def time_column(mode: str) -> tuple[str, str]:
    """The column of a point's time and its axis label: simulated cycles, or the roofline bound."""
    if mode == "simulate":
        return "cycles", "cycles (simulated)"
    return "bound_cycles", "cycles (roofline lower bound: analyze has no time)"


def _ordered_values(values: pd.Series) -> list[str]:
    """Distinct values as text, numbers in numeric order, others in order of appearance."""
    distinct = list(dict.fromkeys(values.tolist()))
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in distinct):
        distinct.sort()
    return [str(v) for v in distinct]


def _log_if_wide(ax: Any, x: pd.Series, y: pd.Series) -> None:
    for values, set_scale in ((x, ax.set_xscale), (y, ax.set_yscale)):
        positive = values[values > 0]
        if len(positive) and positive.max() / positive.min() > 50:
            set_scale("log")


def pareto_figure(points: pd.DataFrame, mode: str, colour_by: str) -> Figure:
    """Energy against time of every point that ran, the Pareto front marked, points coloured by
    the axis ``colour_by``; one panel per workload and energy unit."""
    time, time_label = time_column(mode)
    ok = points[(points[ERROR] == "") & np.isfinite(points[time]) & np.isfinite(points["energy"])]
    groups = list(ok.groupby(["workload", "energy_unit"], sort=False))
    shown = groups[:MAX_PANELS]
    columns = min(3, max(1, len(shown)))
    rows = max(1, math.ceil(len(shown) / columns))
    figure = Figure(figsize=(5.2 * columns + 2.5, 4.2 * rows))
    axes = np.atleast_1d(figure.subplots(rows, columns, squeeze=False)).ravel()
    hue_order = _ordered_values(ok[colour_by]) if len(ok) else []
    palette = dict(zip(hue_order, sns.color_palette("viridis", max(1, len(hue_order))), strict=False))
    for ax, ((workload, unit), group) in zip(axes, shown, strict=False):
        front = pareto_front(group[time], group["energy"])
        colours = group[colour_by].astype(str)
        for value in hue_order:
            chosen = group[colours == value]
            if len(chosen):
                ax.scatter(chosen[time], chosen["energy"], color=palette[value], s=22, label=value, zorder=2)
        line = group[front].sort_values(time)
        ax.plot(line[time], line["energy"], color="black", linewidth=1, zorder=1)
        ax.scatter(line[time], line["energy"], facecolors="none", edgecolors="black", s=80, zorder=3,
                   label=f"Pareto front ({len(line)} of {len(group)})")  # fmt: skip
        _log_if_wide(ax, group[time], group["energy"])
        ax.set_xlabel(time_label)
        ax.set_ylabel(f"energy ({unit})")
        ax.set_title(f"{workload}", fontsize=11)
        ax.legend(title=colour_by, fontsize=7, title_fontsize=8)
    for ax in axes[len(shown) :]:
        ax.set_visible(False)
    more = (
        f" (first {MAX_PANELS} of {len(groups)} workload x unit groups)" if len(groups) > MAX_PANELS else ""
    )
    figure.suptitle(f"Energy against time: the Pareto front{more}", fontsize=12)
    return figure


def swept_axes(points: pd.DataFrame, axes: list[str]) -> list[str]:
    """The axes among ``axes`` that take more than one value over the points that ran."""
    ok = points[points[ERROR] == ""]
    return [axis for axis in axes if axis in ok and ok[axis].astype(str).nunique() > 1]


def energy_per_mac_by_axis_figure(points: pd.DataFrame, levels: pd.DataFrame, axes: list[str]) -> Figure:
    """Energy per MAC by level against each swept axis (mean over the points at each value):
    one column per axis, one row per energy unit."""
    ok = points[points[ERROR] == ""]
    per_level = levels.groupby(["point", "level"], sort=False)["energy"].sum().reset_index()
    per_level = per_level.merge(ok[["point", "macs", "energy_unit", *axes]], on="point")
    per_level = per_level[per_level["macs"] > 0]
    per_level["energy_per_mac"] = per_level["energy"] / per_level["macs"]
    units = list(dict.fromkeys(per_level["energy_unit"]))
    level_order = list(dict.fromkeys(levels["level"]))
    palette = dict(zip(level_order, sns.color_palette("deep", max(1, len(level_order))), strict=False))
    figure = Figure(figsize=(4.6 * max(1, len(axes)) + 2, 3.8 * max(1, len(units))))
    grid = figure.subplots(max(1, len(units)), max(1, len(axes)), squeeze=False)
    for row, unit in enumerate(units):
        of_unit = per_level[per_level["energy_unit"] == unit]
        for column, axis in enumerate(axes):
            ax = grid[row][column]
            order = _ordered_values(of_unit[axis])[:MAX_CATEGORIES]
            data = of_unit.assign(value=of_unit[axis].astype(str))
            means = data.groupby(["level", "value"], sort=False)["energy_per_mac"].mean()
            positions = np.arange(len(order))
            for level in level_order:
                if level in means.index.get_level_values(0):
                    ys = [means.get((level, value), np.nan) for value in order]
                    ax.plot(positions, ys, marker="o", color=palette[level], label=level)
            ax.set_xticks(positions, labels=order, rotation=30 if len(order) > 4 else 0, fontsize=8)
            ax.set_xlabel(axis)
            ax.set_ylabel(f"energy per MAC ({unit})")
            if column == len(axes) - 1:
                ax.legend(title="level", bbox_to_anchor=(1.02, 1), loc="upper left", fontsize=8)
    figure.suptitle("Energy per MAC by level along each swept axis (mean over the other axes)", fontsize=12)
    return figure
