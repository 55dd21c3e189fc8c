"""Study (a): why data movement dominates compute -- AlexNet on eyeriss under every dataflow.

Run: python reports/data_movement.py   (writes reports/data_movement/)
"""

from __future__ import annotations

import pandas as pd
from _common import REPORTS, markdown_table

import energysim as es
from energysim.output_folder import write_folder
from energysim.report.figures import access_cost_figure, dataflow_energy_figure, energy_heatmap_figure
from energysim.report.output import csv_writer, figure_writer, text_writer
from energysim.report.tables import explain

DATAFLOWS = ["ws", "os", "is", "rs", "nlr"]


def main() -> None:
    network = es.load_workload("alexnet")
    conv = [layer.name for layer in network.layers if layer.type == "conv"]
    results = {d: es.simulate(network, "eyeriss", d, layers=conv) for d in DATAFLOWS}
    unit = es.require_one_unit(results.values(), "data_movement")
    rs = results["rs"].energy_per_mac
    table = pd.DataFrame(
        [
            {
                "dataflow": d,
                f"energy per MAC ({unit})": r.energy_per_mac,
                "x RS": r.energy_per_mac / rs,
                "data movement %": 100 * r.data_movement_energy / r.total_energy,
                "DRAM elements moved (M)": r.dram_accesses() / 1e6,
                "cycles (M)": (r.cycles or 0) / 1e6,
            }
            for d, r in results.items()
        ]
    )
    write_folder(
        REPORTS / "data_movement",
        [
            csv_writer("dataflows.csv", table),
            text_writer("table.md", markdown_table(table)),
            text_writer("summary_rs.txt", explain(results["rs"])),
            figure_writer("energy_per_mac_by_dataflow", lambda: dataflow_energy_figure(results)),
            figure_writer("energy_by_level_and_tensor_rs", lambda: energy_heatmap_figure(results["rs"])),
            figure_writer("access_cost_rs", lambda: access_cost_figure(results["rs"])),
        ],
        force=True,  # replaces this study's previous output (and only that)
    )
    print(markdown_table(table))


if __name__ == "__main__":
    main()
