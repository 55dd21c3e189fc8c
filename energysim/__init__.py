"""energysim: an event-driven memory-hierarchy energy simulator for DNN accelerators.

``import energysim as es``, then load a hierarchy and a workload by shipped
name or path, and ask where the energy and the time go::

    point = es.roofline("lecture-ops/fc_batch512", "v100")
    result = es.simulate("alexnet", "eyeriss", "rs")
    result.total_energy, result.energy_unit     # (1.8e10, 'MAC-units'): Eyeriss is normalised
    result.in_pj(pj_per_mac=...)                 # your technology's pJ per MAC, to compare in pJ
"""

from energysim._version import __version__
from energysim.analysis.roofline import RooflinePoint, roofline, roofline_table
from energysim.analyze import analyze
from energysim.errors import EnergySimError
from energysim.interop.timeloop_spec import TimeloopImport, from_timeloop, to_timeloop
from energysim.mapping import DATAFLOWS, build_mapping, check_mapping, load_mapping
from energysim.mapping.constraints import Constraints, dataflow_constraints, load_constraints
from energysim.mapping.mapspace import MapspaceSize, mapspace
from energysim.model import Hierarchy, Level, Network, load_hierarchy, load_workload
from energysim.model.energy_tables import ENERGY_TABLES
from energysim.model.mapping import LevelMapping, Loop, Mapping
from energysim.result import Result, concat_frames, require_one_unit
from energysim.search import SearchResult, load_mappings, search
from energysim.simulate import simulate
from energysim.sweep import Grid, Point, SweepResult, sweep

__all__ = [
    "DATAFLOWS",
    "ENERGY_TABLES",
    "Constraints",
    "EnergySimError",
    "Grid",
    "Hierarchy",
    "Level",
    "LevelMapping",
    "Loop",
    "Mapping",
    "MapspaceSize",
    "Network",
    "Point",
    "Result",
    "RooflinePoint",
    "SearchResult",
    "SweepResult",
    "TimeloopImport",
    "__version__",
    "analyze",
    "build_mapping",
    "check_mapping",
    "concat_frames",
    "dataflow_constraints",
    "from_timeloop",
    "load_constraints",
    "load_hierarchy",
    "load_mapping",
    "load_mappings",
    "load_workload",
    "mapspace",
    "require_one_unit",
    "roofline",
    "roofline_table",
    "search",
    "simulate",
    "sweep",
    "to_timeloop",
]
