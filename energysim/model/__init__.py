"""The model layer: hierarchies, layers and networks, validated from YAML."""

from energysim.model.hierarchy import Compute, Hierarchy, Interconnect, Level
from energysim.model.layers import Layer
from energysim.model.loading import load_hierarchy, load_workload
from energysim.model.workload import Network

__all__ = [
    "Compute",
    "Hierarchy",
    "Interconnect",
    "Layer",
    "Level",
    "Network",
    "load_hierarchy",
    "load_workload",
]
