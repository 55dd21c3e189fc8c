"""Study (b): the lecture's roofline table on v100 (FP16), and the same operations simulated.

Run: python reports/roofline.py   (writes reports/roofline/)
"""

from __future__ import annotations

import pandas as pd
from _common import REPORTS, markdown_table

import energysim as es
from energysim.output_folder import write_folder
from energysim.report.figures import roofline_figure
from energysim.report.output import csv_writer, figure_writer, text_writer


def main() -> None:
    network = es.load_workload("lecture-ops")
    v100 = es.load_hierarchy("v100")
    roof = es.roofline_table(network, v100)
    result = es.simulate(network, v100, "ws")
    simulated = result.layers.set_index("layer")["cycles"] / v100.clock_hz
    table = pd.DataFrame(
        {
            "operation": roof["layer"],
            "FLOP/B": roof["arithmetic_intensity"],
            "bound": roof["bound"],
            "roofline time (us)": roof["time_s"] * 1e6,
            "simulated time (us)": roof["layer"].map(simulated) * 1e6,
        }
    )
    write_folder(
        REPORTS / "roofline",
        [
            csv_writer("roofline.csv", table),
            text_writer("table.md", markdown_table(table)),
            figure_writer("roofline_v100", lambda: roofline_figure(result)),
        ],
        force=True,  # replaces this study's previous output (and only that)
    )
    print(markdown_table(table))


if __name__ == "__main__":
    main()
