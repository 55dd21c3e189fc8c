"""Mappings: checking them against a layer and a hierarchy, loading them, building them from dataflows."""

from energysim.mapping.check import check_mapping
from energysim.mapping.dataflows import DATAFLOWS, build_mapping, get_dataflow
from energysim.mapping.files import load_mapping

__all__ = ["DATAFLOWS", "build_mapping", "check_mapping", "get_dataflow", "load_mapping"]
