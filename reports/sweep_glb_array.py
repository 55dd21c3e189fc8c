"""Study (e): GLB size x PE-array shape x dataflow on ResNet-50, on eyeriss, as one sweep.

Run: python reports/sweep_glb_array.py [--workers N]   (writes reports/sweep_glb_array/)

A 4 x 3 x 3 grid (36 points) of ``es.sweep`` in ``analyze`` mode: eyeriss with
its GLB at 54, 108, 216 and 432 KiB, its array at 12x14, 16x16 and 32x32 PEs
(one register file per PE), under RS, WS and OS. Energies are in MAC-units
(Eyeriss' normalised table); time is the roofline lower bound (``bound_cycles``),
since ``analyze`` has no time.
"""

from __future__ import annotations

import argparse

from _common import REPORTS, markdown_table

import energysim as es
from energysim.output_folder import write_folder
from energysim.report.output import csv_writer, figure_writer, text_writer
from energysim.sweep.figures import energy_per_mac_by_axis_figure, pareto_figure, pareto_front

GLB_SIZES = [55296, 110592, 221184, 442368]  # 54, 108, 216, 432 KiB
ARRAYS = ["12x14", "16x16", "32x32"]
DATAFLOWS = ["rs", "ws", "os"]
AXES = ["dataflow", "GLB.size_bytes", "compute.array"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args()
    grid = es.Grid(
        workloads=["resnet50"],
        hierarchies=["eyeriss"],
        dataflows=DATAFLOWS,
        variations={"GLB.size_bytes": GLB_SIZES, "compute.array": ARRAYS},
    )
    result = es.sweep(grid, workers=args.workers)
    points = result.points
    ok = points[points["error"] == ""].copy()
    ok["pareto"] = pareto_front(ok["bound_cycles"], ok["energy"])
    columns = ["dataflow", "GLB.size_bytes", "compute.array", "energy_per_mac", "bound_cycles",
               "dram_share", "utilisation", "pareto"]  # fmt: skip
    table = ok[columns].sort_values(["energy_per_mac"]).reset_index(drop=True)
    table["GLB KiB"] = table.pop("GLB.size_bytes") // 1024
    write_folder(
        REPORTS / "sweep_glb_array",
        [
            csv_writer("points.csv", points),
            text_writer("table.md", markdown_table(table)),
            figure_writer("pareto", lambda: pareto_figure(points, "analyze", "dataflow")),
            figure_writer(
                "energy_per_mac_by_axis", lambda: energy_per_mac_by_axis_figure(points, result.levels, AXES)
            ),
        ],
        force=True,  # replaces this study's previous output (and only that)
    )
    print(markdown_table(table))


if __name__ == "__main__":
    main()
