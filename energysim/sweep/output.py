"""The tables and figures of a sweep, written into ``report/`` of its sweep folder.

``points.csv``, ``layers.csv`` and ``levels.csv`` (:mod:`energysim.sweep.frames`),
``pareto.png``/``.svg`` (energy against time, the front marked) and, when an
axis takes more than one value, ``energy_per_mac_by_axis.png``/``.svg``. The
folder is written whole or not at all and replaced on each run
(:func:`energysim.output_folder.write_folder`); one you changed is left alone.
"""

from __future__ import annotations

from pathlib import Path

from energysim.output_folder import Writer, write_folder
from energysim.report.output import csv_writer, figure_writer
from energysim.sweep.figures import energy_per_mac_by_axis_figure, pareto_figure, swept_axes
from energysim.sweep.frames import SweepResult
from energysim.sweep.store import REPORT


def write_sweep_report(
    result: SweepResult, folder: Path, mode: str, axes: list[str], colour_by: str | None
) -> Path:
    """Write the report of ``result`` into ``folder/report``; returns that folder."""
    writers: list[Writer] = [
        csv_writer("points.csv", result.points),
        csv_writer("layers.csv", result.layers),
        csv_writer("levels.csv", result.levels),
    ]
    varied = swept_axes(result.points, axes)
    colour = colour_by or next((axis for axis in reversed(axes) if axis in varied), "dataflow")
    if (result.points["error"] == "").any():
        writers.append(figure_writer("pareto", lambda: pareto_figure(result.points, mode, colour)))
        if varied:
            writers.append(
                figure_writer(
                    "energy_per_mac_by_axis",
                    lambda: energy_per_mac_by_axis_figure(result.points, result.levels, varied),
                )
            )
    return write_folder(folder / REPORT, writers, force=True)
