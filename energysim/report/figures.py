"""Figures for people: one message each, labelled axes with units, readable legends.

Each function returns a :class:`matplotlib.figure.Figure` built without pyplot
(so no global state and no display are touched); :func:`save_figure` writes it
as PNG and SVG. Energies are labelled in the result's ``energy_unit``; figures
of several results require one unit. Figures of a network stay readable and
fast at any size: past ``MAX_BARS`` layers the smallest are merged into one
"other" bar, and past ``MAX_LABELS`` only the largest layers are named.
"""

from __future__ import annotations

import math
import textwrap
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from energysim.analysis.roofline import roofline
from energysim.report.tables import share
from energysim.result import COMPUTE_ACTIONS, MOVEMENT_ACTIONS, STATIC_ACTION, Result, require_one_unit

sns.set_theme(style="whitegrid", context="notebook")

#: Most bars a per-layer figure draws; smaller layers beyond it are merged into "other".
MAX_BARS = 60
#: Most layers named on a roofline (the largest by FLOPs).
MAX_LABELS = 12


def save_figure(figure: Figure, path_without_suffix: Path) -> list[Path]:
    """Write ``figure`` as PNG and SVG; returns the two paths.

    No date and fixed SVG ids, so the same figure gives the same bytes (committed
    study outputs then change only when their numbers do).
    """
    png, svg = path_without_suffix.with_suffix(".png"), path_without_suffix.with_suffix(".svg")
    with matplotlib.rc_context({"svg.hashsalt": "energysim"}):
        figure.savefig(png, dpi=150, bbox_inches="tight")
        figure.savefig(svg, bbox_inches="tight", metadata={"Date": None})
    return [png, svg]


def _levels_bottom_up(result: Result, present: set[str]) -> list[str]:
    """Compute first, then levels innermost to outermost: the Eyeriss-style stacking order."""
    return [name for name in reversed(result.level_order()) if name in present]


def _stacked(ax: Any, frame: pd.DataFrame, order: list[str]) -> None:
    palette = sns.color_palette("viridis", n_colors=max(3, len(order)))
    bottom = np.zeros(len(frame))
    positions = np.arange(len(frame))
    for colour, level in zip(palette, order, strict=False):
        values = frame[level].to_numpy(dtype=float) if level in frame else np.zeros(len(frame))
        ax.bar(positions, values, bottom=bottom, label=level, color=colour, width=0.8)
        bottom = bottom + values
    ax.set_xticks(positions, labels=[str(name) for name in frame.index])
    ax.set_xlim(-0.6, len(frame) - 0.4)


def _level_legend(ax: Any) -> None:
    handles, labels = ax.get_legend_handles_labels()
    ax.legend(handles[::-1], labels[::-1], title="level", bbox_to_anchor=(1.02, 1), loc="upper left")


def dataflow_energy_figure(results: dict[str, Result]) -> Figure:
    """Energy per MAC by level under several dataflows, side by side (the Eyeriss chart)."""
    unit = require_one_unit(results.values(), "dataflow_energy_figure")
    first = next(iter(results.values()))
    per_mac = all(r.macs for r in results.values())  # operators without MACs have no energy per MAC
    frame = pd.DataFrame(
        {name: r.energy_by_level() / (r.macs if per_mac else 1) for name, r in results.items()}
    ).T.fillna(0.0)
    order = _levels_bottom_up(first, set(frame.columns))
    figure = Figure(figsize=(7, 4.5))
    ax = figure.subplots()
    _stacked(ax, frame, order)
    ax.set_xlabel("dataflow")
    ax.set_ylabel(f"energy per MAC ({unit})" if per_mac else f"energy ({unit}; no MACs, so not per MAC)")
    ax.set_title(f"{first.workload.name} on {first.hierarchy.name}: data movement, not MACs, dominates")
    _level_legend(ax)
    return figure


def _merge_small_layers(energy: pd.DataFrame, macs: pd.Series, limit: int) -> tuple[pd.DataFrame, pd.Series]:
    """At most ``limit`` rows: the largest layers by energy (in network order) and one "other"."""
    if len(energy) <= limit:
        return energy, macs
    totals = energy.sum(axis=1)
    kept = set(totals.sort_values(ascending=False, kind="stable").index[: limit - 1])
    rest = [name for name in energy.index if name not in kept]
    other = f"other ({len(rest)} layers)"
    order = [name for name in energy.index if name in kept]
    merged = energy.loc[order]
    merged.loc[other] = energy.loc[rest].sum()
    merged_macs = macs.reindex(order)
    merged_macs.loc[other] = macs.reindex(rest).sum()
    return merged, merged_macs


def layer_energy_figure(result: Result, max_bars: int = MAX_BARS) -> Figure:
    """Energy per MAC of each layer with MACs, stacked by level (so a big FC layer does
    not flatten the convolutions); past ``max_bars`` layers the smallest are merged."""
    unit = result.energy_unit
    rows = result.accesses[result.accesses["action"] != STATIC_ACTION]
    macs = result.layers.set_index("layer")["macs"]
    with_macs = [name for name in result.layers["layer"] if macs[name] > 0]
    energy = rows.pivot_table(index="layer", columns="level", values="energy", aggfunc="sum", fill_value=0)
    energy = energy.reindex(with_macs).fillna(0.0)
    energy, layer_macs = _merge_small_layers(energy, macs.reindex(with_macs), max_bars)
    per_mac = energy.div(layer_macs.astype(float), axis=0)
    order = _levels_bottom_up(result, set(per_mac.columns))
    figure = Figure(figsize=(min(18.0, max(6.0, 0.22 * len(per_mac) + 3)), 4.8))
    ax = figure.subplots()
    _stacked(ax, per_mac, order)
    heights = per_mac.sum(axis=1).to_numpy(dtype=float)
    top = _axis_top(heights)
    ax.set_ylim(0, top)
    small = 6 if len(per_mac) > 20 else 8
    for position, (height, layer_energy) in enumerate(zip(heights, energy.sum(axis=1), strict=True)):
        label = share(layer_energy, result.total_energy)
        if height > top:  # off scale: say how high, at the top of the axis
            label = f"{height:.3g} {unit}/MAC, {label}"
        ax.annotate(label, (position, min(height, top)), xytext=(0, 2), textcoords="offset points",
                    ha="center", va="bottom" if height <= top else "top", fontsize=small,
                    rotation=0 if height <= top else 90)  # fmt: skip
    without = len(result.layers) - len(with_macs)
    note = f"; {without} layers without MACs not shown" if without else ""
    clipped = "; a bar cut at the top is off scale, its value printed" if heights.max(initial=0) > top else ""
    ax.set_xlabel(f"layer (network order{note})\nabove each bar: its % of all energy{clipped}")
    ax.set_ylabel(f"energy per MAC ({unit})")
    ax.set_title(f"{result.workload.name} on {result.hierarchy.name}: energy per MAC of each layer, by level")
    ax.tick_params(axis="x", labelrotation=90, labelsize=7 if len(per_mac) > 20 else 9)
    _level_legend(ax)
    return figure


def _axis_top(heights: np.ndarray) -> float:
    """The y limit: all bars, unless outliers (over 4x the median, e.g. FC layers
    among convolutions) would flatten the rest; those are cut and labelled."""
    if not len(heights) or heights.max() <= 0:
        return 1.0
    typical = float(np.median(heights))
    if typical > 0 and heights.max() > 4 * typical:
        return 1.3 * float(heights[heights <= 4 * typical].max())
    return 1.1 * float(heights.max())


def _level_bytes(result: Result) -> pd.DataFrame:
    """Bytes read, filled or updated at each storage level (all instances), layers x levels."""
    rows = result.accesses[result.accesses["action"].isin(("read", "fill", "update"))]
    pairs = rows[["layer", "tensor"]].drop_duplicates()
    bits = {
        (layer, tensor): result.workload[layer].bits(tensor)
        for layer, tensor in zip(pairs["layer"], pairs["tensor"], strict=True)
    }
    width = [bits[pair] / 8 for pair in zip(rows["layer"], rows["tensor"], strict=True)]
    moved = rows.assign(bytes=rows["count"].astype(float) * width)
    return moved.pivot_table(index="layer", columns="level", values="bytes", aggfunc="sum", fill_value=0.0)


def _roofline_points(result: Result) -> pd.DataFrame:
    """Per layer with operations: its FLOPs, its compulsory-DRAM intensity, and per level
    the intensity over that level's own traffic; y is the simulated throughput, or the
    hierarchical bound (the lowest roof over all levels) without time."""
    machine = result.hierarchy
    peak = machine.peak_flops_per_s
    cycles = result.layers.set_index("layer")["cycles"] if "cycles" in result.layers else None
    rows = []
    level_bytes = _level_bytes(result)
    for name in result.layers["layer"]:
        point = roofline(result.workload[name], machine)
        if point.flops <= 0:
            continue
        moved = level_bytes.loc[name] if name in level_bytes.index else pd.Series(dtype=float)
        intensities = {
            level.name: point.flops / float(moved[level.name])
            for level in machine.levels
            if moved.get(level.name, 0.0) > 0
        }
        bound = min(
            [peak]
            + [ai * machine.total_bandwidth_bytes_per_cycle(machine.level(n)) * machine.clock_hz
               for n, ai in intensities.items()]
        )  # fmt: skip
        seconds = float(cycles[name]) / machine.clock_hz if cycles is not None and cycles[name] > 0 else None
        achieved = point.flops / seconds if seconds else bound
        rows.append({"layer": name, "level": "ideal", "flops": point.flops,
                     "intensity": point.arithmetic_intensity, "flops_per_s": achieved})  # fmt: skip
        rows += [
            {"layer": name, "level": level, "flops": point.flops, "intensity": ai, "flops_per_s": achieved}
            for level, ai in intensities.items()
        ]
    frame = pd.DataFrame(rows, columns=["layer", "level", "flops", "intensity", "flops_per_s"])
    finite = np.isfinite(frame["intensity"]) & np.isfinite(frame["flops_per_s"])
    kept: pd.DataFrame = frame[finite & (frame["intensity"] > 0) & (frame["flops_per_s"] > 0)]
    return kept


def _log_limits(values: pd.Series, low: float, high: float) -> tuple[float, float]:
    """Log-axis limits that hold ``values`` (finite, positive) and at least [low, high]."""
    if len(values):
        low, high = min(low, float(values.min()) / 2), max(high, float(values.max()) * 2)
    return low, high


def roofline_figure(result: Result) -> Figure:
    """Hierarchical roofline: each level's roof with the layers at that level's own
    intensity (FLOPs over the bytes that level moves), and the lecture's ideal point
    (compulsory DRAM bytes). A layer's points share one height: its simulated
    throughput, or without time the lowest of its roofs. The largest layers are named."""
    machine = result.hierarchy
    peak = machine.peak_flops_per_s
    frame = _roofline_points(result)
    low, high = _log_limits(frame["intensity"], 0.1, 1e4)
    figure = Figure(figsize=(8, 5.5))
    ax = figure.subplots()
    ax.set_xscale("log")
    ax.set_yscale("log")
    x = np.logspace(np.log10(low), np.log10(high), 200)
    ax.plot(x, np.full_like(x, peak), color="black", label=f"compute peak {peak / 1e12:.3g} TFLOP/s")
    palette = dict(
        zip([lv.name for lv in machine.levels], sns.color_palette("deep", len(machine.levels)), strict=True)
    )
    for level in machine.levels:
        bandwidth = machine.total_bandwidth_bytes_per_cycle(level) * machine.clock_hz
        ax.plot(x, np.minimum(peak, x * bandwidth), color=palette[level.name], linestyle="--",
                label=f"{level.name} roof, {bandwidth / 1e9:.3g} GB/s")  # fmt: skip
    for level in machine.levels:
        points = frame[frame["level"] == level.name]
        if len(points):
            ax.scatter(points["intensity"], points["flops_per_s"], color=palette[level.name], s=28,
                       label=f"layer at {level.name} intensity", zorder=3)  # fmt: skip
    ideal = frame[frame["level"] == "ideal"]
    if len(ideal):
        label = f"layer at ideal {machine.outermost.name} intensity (compulsory bytes)"
        ax.scatter(
            ideal["intensity"], ideal["flops_per_s"], marker="x", color="black", s=30, label=label, zorder=3
        )
    key = _label_largest(ax, frame[frame["level"] == machine.outermost.name])
    y_low, y_high = _log_limits(frame["flops_per_s"], peak / 1e4, peak * 2)
    ax.set_xlim(low, high)
    ax.set_ylim(y_low, y_high)
    named = f"layers numbered at their {machine.outermost.name} point, largest first: {key}"
    named = "\n" + textwrap.fill(named, 100) if key else ""
    ax.set_xlabel("arithmetic intensity (FLOP per byte moved at the roof's own level)" + named)
    ax.set_ylabel("throughput (FLOP/s)" + (", simulated" if result.cycles else ", bound"))
    ax.set_title(f"{result.workload.name} on {machine.name}: hierarchical roofline")
    ax.legend(bbox_to_anchor=(1.02, 1), loc="upper left", fontsize=8)
    return figure


def _label_largest(ax: Any, points: pd.DataFrame) -> str:
    """Number the ``MAX_LABELS`` largest layers (by FLOPs) at their points; layers at
    (nearly) one spot share one label. Returns the key: number and name of each."""
    largest = points.sort_values(["flops", "layer"], ascending=[False, True]).head(MAX_LABELS)
    names = [str(name) for name in largest["layer"]]
    xs, ys = largest["intensity"].to_numpy(dtype=float), largest["flops_per_s"].to_numpy(dtype=float)
    spots: dict[tuple[int, int], list[int]] = {}
    for index, (x, y) in enumerate(zip(xs, ys, strict=True)):
        spots.setdefault((round(3 * math.log10(x)), round(3 * math.log10(y))), []).append(index)
    for indices in spots.values():
        text = ",".join(str(index + 1) for index in indices)
        ax.annotate(text, (xs[indices[0]], ys[indices[0]]), xytext=(4, 4), textcoords="offset points",
                    fontsize=7, fontweight="bold")  # fmt: skip
    return "   ".join(f"{number} {name}" for number, name in enumerate(names, start=1))


def timeline_figure(result: Result, layer: str) -> Figure:
    """When each level's ports are busy and when the PEs compute or wait, for one layer."""
    if result.trace is None:
        raise ValueError("the timeline needs a result simulated with trace=True")
    trace = result.trace[result.trace["layer"] == layer]
    cycles = float(result.layers.loc[result.layers["layer"] == layer, "cycles"].to_numpy()[0])
    rows = [level.name for level in result.hierarchy.levels if (trace["level"] == level.name).any()]
    compute_name = result.hierarchy.compute.name
    lanes = [*rows, f"{compute_name} compute", f"{compute_name} stall"]
    figure = Figure(figsize=(9, 1 + 0.6 * len(lanes)))
    ax = figure.subplots()
    palette = sns.color_palette("deep", n_colors=len(lanes))
    for index, name in enumerate(rows):
        spans = trace[(trace["level"] == name)][["time_cycles", "duration_cycles"]].drop_duplicates()
        ax.broken_barh(
            list(spans.itertuples(index=False, name=None)), (index - 0.4, 0.8), color=palette[index]
        )
    bursts = trace[trace["action"] == "compute"][["time_cycles", "duration_cycles"]].sort_values(
        "time_cycles"
    )
    ax.broken_barh(
        list(bursts.itertuples(index=False, name=None)), (len(rows) - 0.4, 0.8), color=palette[len(rows)]
    )
    gaps, cursor = [], 0.0
    for start, duration in bursts.itertuples(index=False, name=None):
        if start > cursor:
            gaps.append((cursor, start - cursor))
        cursor = max(cursor, start + duration)
    if cycles > cursor:
        gaps.append((cursor, cycles - cursor))
    ax.broken_barh(gaps, (len(rows) + 0.6, 0.8), color="lightgrey")
    ax.set_yticks(range(len(lanes)), labels=lanes)
    ax.set_xlim(0, cycles)
    ax.set_xlabel("time (cycles)")
    ax.set_title(f"{layer} on {result.hierarchy.name}: busy ports, PE compute and stalls")
    return figure


def _energy_grid(result: Result) -> pd.DataFrame:
    """All energy as level x (tensor, MACs, leakage), outermost first; the cells add up to the total."""
    rows = result.accesses
    column = rows["tensor"].where(rows["action"].isin(MOVEMENT_ACTIONS), "")
    column = column.mask(rows["action"].isin(COMPUTE_ACTIONS), "MACs (compute)")
    column = column.mask(rows["action"] == STATIC_ACTION, "leakage")
    grid = rows.assign(column=column).pivot_table(
        index="level", columns="column", values="energy", aggfunc="sum", fill_value=0.0
    )
    grid = grid.reindex([level for level in result.level_order() if level in grid.index])
    columns = [c for c in ("weights", "inputs", "outputs", "MACs (compute)", "leakage") if c in grid.columns]
    return grid[columns]


def energy_heatmap_figure(result: Result) -> Figure:
    """Energy by level x tensor, with the compute (MACs) and leakage as their own
    columns, as % of all energy: which data, moved where, costs most, next to the arithmetic."""
    grid = _energy_grid(result)
    share = 100 * grid / result.total_energy if result.total_energy else grid * 0.0
    figure = Figure(figsize=(1.6 + 1.3 * len(grid.columns), 1.5 + 0.5 * len(grid)))
    ax = figure.subplots()
    labels = share.map(lambda v: "" if v == 0 else "<0.1" if v < 0.05 else f"{v:.1f}")
    sns.heatmap(share, annot=labels, fmt="", cmap="rocket_r", ax=ax,
                cbar_kws={"label": "% of total energy"})  # fmt: skip
    ax.set_xlabel("tensor moved, or the compute (cells add up to 100%)")
    ax.set_ylabel("level")
    ax.set_title(
        f"{result.workload.name} on {result.hierarchy.name}: % of {result.total_energy:.3g} "
        f"{result.energy_unit} by level and tensor"
    )
    return figure


def _access_costs(result: Result) -> pd.DataFrame:
    """Per level, network and the compute: accesses, energy, and energy per access."""
    rows = result.accesses[result.accesses["action"] != STATIC_ACTION]
    grouped = rows.groupby("level", sort=False)[["accesses", "energy"]].sum()
    grouped = grouped.reindex([name for name in result.level_order() if name in grouped.index])
    grouped = grouped[grouped["accesses"] > 0]
    grouped["per_access"] = grouped["energy"] / grouped["accesses"]
    return grouped


def access_cost_figure(result: Result) -> Figure:
    """The lecture's "why", per level side by side: energy per access x number of accesses
    = energy. Far levels cost most per access; reuse keeps their accesses few."""
    unit = result.energy_unit
    costs = _access_costs(result)
    names = [str(name) for name in costs.index]
    colours = sns.color_palette("viridis", n_colors=max(3, len(names)))[::-1][: len(names)]
    figure = Figure(figsize=(12, 1.6 + 0.45 * len(names)))
    per_access, accesses, energy = figure.subplots(1, 3, sharey=True)
    positions = np.arange(len(names))
    panels = [
        (per_access, costs["per_access"], f"energy per access ({unit}, log)", True, "{:.3g}"),
        (accesses, costs["accesses"], "accesses (MACs for the compute; log)", True, "{:.3g}"),
        (energy, 100 * costs["energy"] / result.total_energy, "energy (% of total)", False, "{:.1f}%"),
    ]
    for ax, values, label, log, fmt in panels:
        ax.barh(positions, values.to_numpy(dtype=float), color=colours)
        if log:
            ax.set_xscale("log")
        ax.set_xlabel(label)
        for y, value in zip(positions, values, strict=True):
            ax.annotate(fmt.format(value), (value, y), xytext=(3, 0), textcoords="offset points",
                        va="center", fontsize=7)  # fmt: skip
        ax.margins(x=0.25)
    per_access.set_yticks(positions, labels=names)
    per_access.invert_yaxis()
    per_access.set_ylabel("level (outermost first; MACs last)")
    per_access.set_title("cost of one access")
    accesses.set_title("x  how often")
    energy.set_title("=  where the energy goes")
    figure.suptitle(f"{result.workload.name} on {result.hierarchy.name}: why data movement dominates", y=1.03)
    return figure
