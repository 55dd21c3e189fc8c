"""Study (c): network scaling, LeNet-5 to ResNet-50 and the transformer workloads, on eyeriss (RS).

Run: python reports/scaling.py   (writes reports/scaling/)
"""

from __future__ import annotations

import pandas as pd
import seaborn as sns
from _common import REPORTS, markdown_table
from matplotlib.figure import Figure

import energysim as es
from energysim.output_folder import write_folder
from energysim.report.output import csv_writer, figure_writer, text_writer

NETWORKS = ["lenet5", "alexnet", "vgg16", "resnet50", "mobilenet-v2", "bert-base-layer", "gpt2-decode"]
#: eyeriss' table is normalised to one MAC: every energy here is in MAC-units (checked below).
UNIT = "MAC-units"


def figure(table: pd.DataFrame) -> Figure:
    fig = Figure(figsize=(7, 4.5))
    ax = fig.subplots()
    sns.scatterplot(data=table, x="MACs per weight", y=f"energy per MAC ({UNIT})", hue="network", s=80, ax=ax)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("MACs per weight (reuse available to each weight)")
    ax.set_ylabel(f"energy per MAC ({UNIT})")
    ax.set_title("eyeriss, RS: networks with little reuse per weight pay most per MAC")
    ax.legend(bbox_to_anchor=(1.02, 1), loc="upper left")
    return fig


def main() -> None:
    rows = []
    for name in NETWORKS:
        result = es.simulate(name, "eyeriss", "rs")
        if result.energy_unit != UNIT:
            raise es.EnergySimError(f"scaling: {name} is in {result.energy_unit}, the table in {UNIT}")
        network = result.workload
        rows.append(
            {
                "network": name,
                "weights (M)": network.total_weights / 1e6,
                "MACs (M)": network.total_macs / 1e6,
                "MACs per weight": network.total_macs / network.total_weights,
                f"energy (G {UNIT})": result.total_energy / 1e9,
                f"energy per MAC ({UNIT})": result.energy_per_mac,
                "DRAM share %": 100 * result.energy_by_level()["DRAM"] / result.total_energy,
                "time (ms)": 1e3 * (result.seconds or 0),
            }
        )
    table = pd.DataFrame(rows)
    write_folder(
        REPORTS / "scaling",
        [
            csv_writer("scaling.csv", table),
            text_writer("table.md", markdown_table(table)),
            figure_writer("energy_per_mac_vs_macs", lambda: figure(table)),
        ],
        force=True,  # replaces this study's previous output (and only that)
    )
    print(markdown_table(table))


if __name__ == "__main__":
    main()
