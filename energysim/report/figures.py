"""Figures for people: one message each, labelled axes with units, readable legends.

Each function returns a :class:`matplotlib.figure.Figure` built without pyplot
(so no global state and no display are touched); :func:`save_figure` writes it
as PNG and SVG.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from energysim.analysis.roofline import roofline
from energysim.report.tables import energy_unit, tensor_table
from energysim.result import Result

sns.set_theme(style="whitegrid", context="notebook")


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


def _stacked(ax: object, frame: pd.DataFrame, order: list[str]) -> None:
    palette = sns.color_palette("viridis", n_colors=max(3, len(order)))
    bottom = np.zeros(len(frame))
    for colour, level in zip(palette, order, strict=False):
        values = frame[level].to_numpy() if level in frame else np.zeros(len(frame))
        ax.bar(frame.index.astype(str), values, bottom=bottom, label=level, color=colour)  # type: ignore[attr-defined]
        bottom = bottom + values


def dataflow_energy_figure(results: dict[str, Result]) -> Figure:
    """Energy per MAC by level under several dataflows, side by side (the Eyeriss chart)."""
    first = next(iter(results.values()))
    unit = energy_unit(first)
    frame = pd.DataFrame({name: r.energy_by_level() / r.macs for name, r in results.items()}).T.fillna(0.0)
    order = _levels_bottom_up(first, set(frame.columns))
    figure = Figure(figsize=(7, 4.5))
    ax = figure.subplots()
    _stacked(ax, frame, order)
    ax.set_xlabel("dataflow")
    ax.set_ylabel(f"energy per MAC ({unit})")
    ax.set_title(f"{first.workload.name} on {first.hierarchy.name}: data movement, not MACs, dominates")
    handles, labels = ax.get_legend_handles_labels()
    ax.legend(handles[::-1], labels[::-1], title="level", bbox_to_anchor=(1.02, 1), loc="upper left")
    return figure


def layer_energy_figure(result: Result) -> Figure:
    """Energy of each layer, stacked by level."""
    unit = energy_unit(result)
    frame = result.accesses.pivot_table(
        index="layer", columns="level", values="energy_pj", aggfunc="sum", fill_value=0
    )
    frame = frame.reindex([name for name in result.layers["layer"] if name in frame.index])
    order = _levels_bottom_up(result, set(frame.columns))
    figure = Figure(figsize=(max(6, 0.35 * len(frame) + 3), 4.5))
    ax = figure.subplots()
    _stacked(ax, frame, order)
    ax.set_xlabel("layer")
    ax.set_ylabel(f"energy ({unit})")
    ax.set_title(f"{result.workload.name} on {result.hierarchy.name}: energy per layer by level")
    ax.tick_params(axis="x", labelrotation=90, labelsize=7 if len(frame) > 20 else 9)
    handles, labels = ax.get_legend_handles_labels()
    ax.legend(handles[::-1], labels[::-1], title="level", bbox_to_anchor=(1.02, 1), loc="upper left")
    return figure


def roofline_figure(result: Result) -> Figure:
    """Log-log roofline: the compute roof, each level's bandwidth roof, and every layer at its
    ideal (compulsory DRAM bytes) and its mapped (actual DRAM bytes) arithmetic intensity."""
    machine = result.hierarchy
    peak = machine.peak_flops_per_s
    points = []
    dram = machine.outermost.name
    rows = result.accesses
    for layer in (result.workload[name] for name in result.layers["layer"]):
        point = roofline(layer, machine)
        if point.flops == 0:
            continue
        moved = rows[(rows["layer"] == layer.name) & (rows["level"] == dram) & (rows["tensor"] != "none")]
        actual_bytes = sum(
            count * layer.bits(tensor) / 8
            for tensor, count in zip(moved["tensor"], moved["count"], strict=False)
        )
        ideal_ai = point.arithmetic_intensity
        mapped_ai = point.flops / actual_bytes if actual_bytes else ideal_ai
        points.append({"layer": layer.name, "intensity": ideal_ai, "kind": "ideal (compulsory bytes)",
                       "flops_per_s": min(peak, ideal_ai * point.dram_bandwidth_bytes_per_s)})  # fmt: skip
        cycles = (
            result.layers.set_index("layer")["cycles"].get(layer.name) if "cycles" in result.layers else None
        )
        achieved = (
            point.flops / (cycles / machine.clock_hz)
            if cycles
            else min(peak, mapped_ai * point.dram_bandwidth_bytes_per_s)
        )
        points.append(
            {
                "layer": layer.name,
                "intensity": mapped_ai,
                "kind": "mapped (simulated)" if cycles else "mapped",
                "flops_per_s": achieved,
            }
        )
    frame = pd.DataFrame(points)
    figure = Figure(figsize=(7, 5))
    ax = figure.subplots()
    low = min(frame["intensity"].min() / 2, 0.1) if len(frame) else 0.1
    high = max(frame["intensity"].max() * 2, 1e4) if len(frame) else 1e4
    x = np.logspace(np.log10(low), np.log10(high), 200)
    ax.plot(x, np.full_like(x, peak), color="black", label=f"compute peak {peak / 1e12:.3g} TFLOP/s")
    palette = sns.color_palette("deep", n_colors=len(machine.levels))
    for colour, level in zip(palette, machine.levels, strict=True):
        bandwidth = machine.total_bandwidth_bytes_per_cycle(level) * machine.clock_hz
        ax.plot(
            x,
            np.minimum(peak, x * bandwidth),
            color=colour,
            linestyle="--",
            label=f"{level.name} {bandwidth / 1e9:.3g} GB/s",
        )
    if len(frame):
        sns.scatterplot(data=frame, x="intensity", y="flops_per_s", hue="kind", style="kind", ax=ax, s=50)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("arithmetic intensity (FLOP/B of DRAM traffic)")
    ax.set_ylabel("throughput (FLOP/s)")
    ax.set_title(f"{result.workload.name} on {machine.name}: roofline")
    ax.legend(bbox_to_anchor=(1.02, 1), loc="upper left", fontsize=8)
    return figure


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


def energy_heatmap_figure(result: Result) -> Figure:
    """Energy by level x tensor: which data, moved where, costs most."""
    unit = energy_unit(result)
    table = tensor_table(result)
    share = 100 * table / result.total_energy_pj
    figure = Figure(figsize=(6, 1.5 + 0.5 * len(table)))
    ax = figure.subplots()
    sns.heatmap(share, annot=True, fmt=".1f", cmap="rocket_r", ax=ax, cbar_kws={"label": "% of total energy"})
    ax.set_xlabel("tensor")
    ax.set_ylabel("level")
    ax.set_title(
        f"{result.workload.name} on {result.hierarchy.name}: energy by level and tensor (% of {unit} total)"
    )
    return figure
