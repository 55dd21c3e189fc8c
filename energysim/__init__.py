"""energysim: an event-driven memory-hierarchy energy simulator for DNN accelerators.

``import energysim as es``, then load a hierarchy and a workload by shipped
name or path, and ask where the energy and the time go::

    hierarchy = es.load_hierarchy("v100")
    network = es.load_workload("lecture-ops")
    point = es.roofline(network["fc_batch512"], hierarchy)
"""

from energysim._version import __version__
from energysim.analysis.roofline import RooflinePoint, roofline, roofline_table
from energysim.analyze import analyze
from energysim.errors import EnergySimError
from energysim.mapping import DATAFLOWS, build_mapping, check_mapping, load_mapping
from energysim.model import Hierarchy, Level, Network, load_hierarchy, load_workload
from energysim.model.energy_tables import ENERGY_TABLES
from energysim.model.mapping import LevelMapping, Loop, Mapping
from energysim.result import Result
from energysim.simulate import simulate

__all__ = [
    "DATAFLOWS",
    "ENERGY_TABLES",
    "EnergySimError",
    "Hierarchy",
    "Level",
    "LevelMapping",
    "Loop",
    "Mapping",
    "Network",
    "Result",
    "RooflinePoint",
    "__version__",
    "analyze",
    "build_mapping",
    "check_mapping",
    "load_hierarchy",
    "load_mapping",
    "load_workload",
    "roofline",
    "roofline_table",
    "simulate",
]
