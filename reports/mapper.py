"""Study (f): what the mapper finds against the five named dataflows, AlexNet and ResNet-50.

Run: python reports/mapper.py   (writes reports/mapper/; about 1.5 minutes of CPU)

On ``eyeriss``, ``tpu-like`` and ``edge-npu``, every layer with MACs of AlexNet
(8) and ResNet-50 (54) is mapped six ways: the five named dataflows (``ws``,
``os``, ``is``, ``rs``, ``nlr``: each dataflow's builder) and
:func:`energysim.search` under the ``energy``, ``cycles`` and ``edp``
objectives with its default budget (150 scored mappings per distinct layer
shape, seed 0, no time cap, so the result does not depend on the machine's
speed). Every mapping, searched or named, is then run through
:func:`energysim.simulate`: energy and cycles below are the engine's, never the
search's own estimate, so the eight points of a layer are measured alike.
"""

from __future__ import annotations

import math
import time
from functools import partial

import pandas as pd
from _common import REPORTS, markdown_table
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

import energysim as es
from energysim.output_folder import write_folder
from energysim.report.output import csv_writer, figure_writer, text_writer

NETWORKS = ["alexnet", "resnet50"]
HIERARCHIES = ["eyeriss", "tpu-like", "edge-npu"]
DATAFLOWS = ["ws", "os", "is", "rs", "nlr"]
OBJECTIVES = ["energy", "cycles", "edp"]
#: The search's evaluation budget per distinct layer shape (its default) and seed.
EVALUATIONS = 150
SEED = 0
#: Layers drawn in the figures: AlexNet's first conv, a mid conv and the first FC; ResNet-50's
#: first conv (7x7, C = 3), a 3x3 and a 1x1 of the bottlenecks, and its FC.
FIGURE_LAYERS = [
    ("alexnet", "conv1"),
    ("alexnet", "conv3"),
    ("alexnet", "fc6"),
    ("resnet50", "conv1"),
    ("resnet50", "res2a_branch2b"),
    ("resnet50", "res4a_branch2a"),
    ("resnet50", "res5a_branch2b"),
    ("resnet50", "fc1000"),
]
#: Two values closer than this (relative) are a tie: the search returned a dataflow's mapping.
TIE = 1e-9


def searched(objective: str) -> str:
    return f"searched ({objective})"


def _runs(network: es.Network, hierarchy: str) -> tuple[pd.DataFrame, dict[str, float]]:
    """One row per (layer, mapping) with the engine's energy and cycles; and search seconds."""
    mac_layers = [layer.name for layer in network.layers if layer.loop_bounds is not None]
    results: dict[str, es.Result] = {
        name: es.simulate(network, hierarchy, name, layers=mac_layers) for name in DATAFLOWS
    }
    seconds: dict[str, float] = {}
    estimates: dict[str, dict[str, float]] = {}
    for objective in OBJECTIVES:
        started = time.process_time()
        found = es.search(
            network, hierarchy, objective, evaluations=EVALUATIONS, seed=SEED, layers=mac_layers
        )
        seconds[objective] = time.process_time() - started
        results[searched(objective)] = es.simulate(
            network, hierarchy, mapping=found.mappings, layers=mac_layers
        )
        estimates[searched(objective)] = {name: found.layers[name].metrics.cycles for name in mac_layers}
    rows = []
    for mapping, result in results.items():
        if result.energy_unit != results["rs"].energy_unit:
            raise es.EnergySimError(
                f"mapper: {hierarchy} mixes {result.energy_unit} and {results['rs'].energy_unit}"
            )
        table = result.layers.set_index("layer").loc[mac_layers]
        columns = zip(
            mac_layers,
            table["energy"].to_numpy(dtype=float),
            table["cycles"].to_numpy(dtype=float),
            table["pes_used"].to_numpy(dtype=int),
            table["utilisation"].to_numpy(dtype=float),
            strict=True,
        )
        for name, energy, cycles, pes_used, utilisation in columns:
            rows.append(
                {
                    "network": network.name,
                    "hierarchy": hierarchy,
                    "layer": name,
                    "mapping": mapping,
                    "energy": float(energy),
                    "energy_unit": result.energy_unit,
                    "engine_cycles": float(cycles),
                    "estimated_cycles": estimates.get(mapping, {}).get(name, math.nan),
                    "pes_used": int(pes_used),
                    "utilisation": float(utilisation),
                }
            )
    return pd.DataFrame(rows), seconds


def _on_front(group: pd.DataFrame) -> pd.Series:
    """Whether each point is Pareto-optimal in (energy, engine cycles): none other is <= in both, < in one."""
    energy = group["energy"].to_numpy()
    cycles = group["engine_cycles"].to_numpy(dtype=float)
    no_worse = (energy[None, :] <= energy[:, None]) & (cycles[None, :] <= cycles[:, None])
    better = (energy[None, :] < energy[:, None]) | (cycles[None, :] < cycles[:, None])
    return pd.Series(~(no_worse & better).any(axis=1), index=group.index)


def _compare(mine: pd.Series, best: pd.Series) -> tuple[int, int, int]:
    """Layers where ``mine`` beats, ties or loses to ``best`` (the best of the five dataflows)."""
    ratio = mine / best
    return (
        int((ratio < 1 - TIE).sum()),
        int(((ratio >= 1 - TIE) & (ratio <= 1 + TIE)).sum()),
        int((ratio > 1 + TIE).sum()),
    )


def summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per network x hierarchy: searched against the best dataflow, in totals and layer by layer."""
    rows = []
    for (network, hierarchy), group in table.groupby(["network", "hierarchy"], sort=False):
        energy = group.pivot(index="layer", columns="mapping", values="energy")
        cycles = group.pivot(index="layer", columns="mapping", values="engine_cycles")
        edp = energy * cycles
        named_energy = energy[DATAFLOWS].sum()
        named_cycles = cycles[DATAFLOWS].sum()
        best_energy_flow, best_cycles_flow = named_energy.idxmin(), named_cycles.idxmin()
        wins_e = _compare(energy[searched("energy")], energy[DATAFLOWS].min(axis=1))
        wins_c = _compare(cycles[searched("cycles")], cycles[DATAFLOWS].min(axis=1))
        wins_d = _compare(edp[searched("edp")], edp[DATAFLOWS].min(axis=1))
        front = group[group["on_front"]]
        found = group[group["mapping"].str.startswith("searched")]
        estimate = found["estimated_cycles"] / found["engine_cycles"]
        rows.append(
            {
                "network": network,
                "hierarchy": hierarchy,
                "energy unit": group["energy_unit"].iloc[0],
                "layers": len(energy),
                "best dataflow (energy)": best_energy_flow,
                "searched/best energy": energy[searched("energy")].sum() / named_energy.min(),
                "searched/per-layer best energy": energy[searched("energy")].sum()
                / energy[DATAFLOWS].min(axis=1).sum(),
                "best dataflow (cycles)": best_cycles_flow,
                "searched/best cycles": cycles[searched("cycles")].sum() / named_cycles.min(),
                "searched/per-layer best cycles": cycles[searched("cycles")].sum()
                / cycles[DATAFLOWS].min(axis=1).sum(),
                "searched/per-layer best EDP": edp[searched("edp")].sum() / edp[DATAFLOWS].min(axis=1).sum(),
                "energy: beats/ties/loses": "/".join(map(str, wins_e)),
                "cycles: beats/ties/loses": "/".join(map(str, wins_c)),
                "EDP: beats/ties/loses": "/".join(map(str, wins_d)),
                "cycle estimate/engine (searched)": f"{estimate.min():.2f}-{estimate.max():.2f}",
                "layers with a searched point on the front": int(
                    front[front["mapping"].str.startswith("searched")]["layer"].nunique()
                ),
                "layers whose front is searched only": int(
                    (
                        front.groupby("layer")["mapping"].apply(lambda m: m.str.startswith("searched").all())
                    ).sum()
                ),
            }
        )
    return pd.DataFrame(rows)


MARKERS = {"ws": "o", "os": "s", "is": "^", "rs": "D", "nlr": "v"}
SEARCH_COLOURS = {"energy": "tab:green", "cycles": "tab:red", "edp": "tab:purple"}


#: A panel's axis spans at least this factor, so that close points stay readable on a log scale.
MIN_SPAN = 2.5


def _ticks(low: float, high: float) -> list[float]:
    """2 to 6 round values between ``low`` and ``high`` (m x 10^k, with m from a finer set if needed)."""
    for mantissas in ((1, 2, 5), (1, 1.5, 2, 3, 4, 5, 7), (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8)):
        ticks = [
            m * 10.0**k
            for k in range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1)
            for m in mantissas
            if low <= m * 10.0**k <= high
        ]
        if len(ticks) >= 2:
            return ticks[:: max(1, math.ceil(len(ticks) / 6))]
    return ticks


def _log_axis(ax: Axes, which: str, values: pd.Series) -> None:
    """A log axis around ``values`` spanning at least MIN_SPAN; round ticks labelled like 2e6."""
    low, high = float(values.min()), float(values.max())
    centre, half = math.sqrt(low * high), max(math.sqrt(high / low) * 1.15, math.sqrt(MIN_SPAN))
    axis = ax.xaxis if which == "x" else ax.yaxis
    (ax.set_xscale if which == "x" else ax.set_yscale)("log")
    (ax.set_xlim if which == "x" else ax.set_ylim)(centre / half, centre * half)
    axis.set_major_locator(FixedLocator(_ticks(centre / half, centre * half)))
    axis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:.2g}".replace("e+0", "e")))
    axis.set_minor_formatter(NullFormatter())


def figure(table: pd.DataFrame, hierarchy: str) -> Figure:
    """Energy against engine cycles of the figure's layers on one hierarchy, each with its Pareto front."""
    data = table[table["hierarchy"] == hierarchy]
    unit = data["energy_unit"].iloc[0]
    shown = [
        (n, name) for n, name in FIGURE_LAYERS if ((data["network"] == n) & (data["layer"] == name)).any()
    ]
    on_front = sum(
        bool(
            data[(data["network"] == n) & (data["layer"] == name) & data["on_front"]]["mapping"]
            .str.startswith("searched")
            .any()
        )
        for n, name in shown
    )
    fig = Figure(figsize=(13, 6.6), layout="constrained")
    axes = fig.subplots(2, 4).ravel()
    for ax, (network, name) in zip(axes, shown, strict=False):
        layer = data[(data["network"] == network) & (data["layer"] == name)]
        front = layer[layer["on_front"]].sort_values("engine_cycles")
        ax.step(front["engine_cycles"], front["energy"], where="post", color="0.6", lw=1.2, zorder=1)
        for mapping, marker in MARKERS.items():
            row = layer[layer["mapping"] == mapping]
            ax.scatter(
                row["engine_cycles"],
                row["energy"],
                marker=marker,
                s=42,
                facecolor="white",
                edgecolor="0.25",
                zorder=2,
                label=mapping,
            )
        for objective, colour in SEARCH_COLOURS.items():
            row = layer[layer["mapping"] == searched(objective)]
            ax.scatter(
                row["engine_cycles"],
                row["energy"],
                marker="*",
                s=150,
                color=colour,
                alpha=0.85,
                zorder=3,
                label=searched(objective),
            )
        _log_axis(ax, "x", layer["engine_cycles"])
        _log_axis(ax, "y", layer["energy"])
        ax.set_title(f"{network} {name}", fontsize=10)
        ax.set_xlabel("engine cycles")
        ax.set_ylabel(f"energy ({unit})")
        ax.grid(True, which="both", lw=0.3, alpha=0.5)
    for ax in axes[len(shown) :]:
        ax.set_visible(False)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=8, frameon=False)
    fig.suptitle(
        f"{hierarchy}: a searched mapping is on the energy-cycles Pareto front (grey steps) in "
        f"{on_front} of these {len(shown)} layers",
        fontsize=12,
    )
    return fig


def main() -> None:
    started = time.process_time()
    frames, seconds = [], []
    for network_name in NETWORKS:
        network = es.load_workload(network_name)
        for hierarchy in HIERARCHIES:
            frame, spent = _runs(network, hierarchy)
            frames.append(frame)
            seconds.append({"network": network_name, "hierarchy": hierarchy, **spent})
    table = pd.concat(frames, ignore_index=True)
    fronts = [_on_front(group) for _, group in table.groupby(["network", "hierarchy", "layer"], sort=False)]
    table["on_front"] = pd.concat(fronts).reindex(table.index)
    totals = summary(table)
    write_folder(
        REPORTS / "mapper",
        [
            csv_writer("layers.csv", table),
            csv_writer("summary.csv", totals),
            text_writer("table.md", markdown_table(totals)),
            *[
                figure_writer(f"energy_vs_cycles_{h.replace('-', '_')}", partial(figure, table, h))
                for h in HIERARCHIES
            ],
        ],
        force=True,  # replaces this study's previous output (and only that)
    )
    print(markdown_table(totals))
    print(pd.DataFrame(seconds).to_string(index=False, float_format="{:.1f}".format))
    print(f"CPU time: {time.process_time() - started:.0f} s")


if __name__ == "__main__":
    main()
