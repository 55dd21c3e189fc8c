"""The report layer: tables, a plain-words summary, figures and output folders.

It reads only :class:`~energysim.result.Result` frames (never engine internals)
and writes nothing unless asked.
"""

from energysim.report.figures import (
    access_cost_figure,
    dataflow_energy_figure,
    energy_heatmap_figure,
    layer_energy_figure,
    roofline_figure,
    timeline_figure,
)
from energysim.report.output import write_outputs
from energysim.report.tables import explain, level_table, tensor_table

__all__ = [
    "access_cost_figure",
    "dataflow_energy_figure",
    "energy_heatmap_figure",
    "explain",
    "layer_energy_figure",
    "level_table",
    "roofline_figure",
    "tensor_table",
    "timeline_figure",
    "write_outputs",
]
