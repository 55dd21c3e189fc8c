"""Study (d): plugging in a user-written hierarchy with four storage levels.

Run: python reports/custom_hierarchy.py   (writes reports/custom_hierarchy/out/)
The hierarchy is reports/custom_hierarchy/my-accelerator.yaml: any file of the
same schema works wherever a shipped name does.
"""

from __future__ import annotations

from _common import REPORTS, markdown_table

import energysim as es
from energysim.output_folder import write_folder
from energysim.report.figures import access_cost_figure, energy_heatmap_figure, layer_energy_figure
from energysim.report.output import csv_writer, figure_writer, text_writer
from energysim.report.tables import explain, level_table

HIERARCHY = REPORTS / "custom_hierarchy" / "my-accelerator.yaml"


def main() -> None:
    result = es.simulate("resnet50", HIERARCHY, "rs")
    table = level_table(result)[["level", "energy", "energy_percent", "accesses", "utilisation"]]
    table = table.rename(columns={"energy": f"energy ({result.energy_unit})"})
    write_folder(
        REPORTS / "custom_hierarchy" / "out",
        [
            csv_writer("levels.csv", table),
            text_writer("table.md", markdown_table(table)),
            text_writer("summary.txt", explain(result)),
            figure_writer("energy_by_layer", lambda: layer_energy_figure(result)),
            figure_writer("energy_by_level_and_tensor", lambda: energy_heatmap_figure(result)),
            figure_writer("access_cost", lambda: access_cost_figure(result)),
        ],
        force=True,  # replaces this study's previous output (and only that)
    )
    print(markdown_table(table))
    print(explain(result))


if __name__ == "__main__":
    main()
