"""energysim: an event-driven memory-hierarchy energy simulator for DNN accelerators.

``import energysim as es``, then load a hierarchy and a workload by shipped
name or path, and ask where the energy and the time go::

    hierarchy = es.load_hierarchy("v100")
    network = es.load_workload("lecture-ops")
    point = es.roofline(network["fc_batch512"], hierarchy)
"""

from energysim.analysis.roofline import RooflinePoint, roofline, roofline_table
from energysim.errors import EnergySimError
from energysim.model import Hierarchy, Level, Network, load_hierarchy, load_workload
from energysim.model.energy_tables import ENERGY_TABLES

__version__ = "0.1.0"

__all__ = [
    "ENERGY_TABLES",
    "EnergySimError",
    "Hierarchy",
    "Level",
    "Network",
    "RooflinePoint",
    "__version__",
    "load_hierarchy",
    "load_workload",
    "roofline",
    "roofline_table",
]
