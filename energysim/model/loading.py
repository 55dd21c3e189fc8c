"""Load hierarchies and workloads by shipped name or path, with clear errors."""

from __future__ import annotations

from pathlib import Path

from energysim.model.base import validate_file_data
from energysim.model.files import display_path, read_yaml, resolve
from energysim.model.hierarchy import Hierarchy
from energysim.model.layers import LAYER_TYPES
from energysim.model.workload import Network


def load_hierarchy(name_or_path: str | Path | Hierarchy) -> Hierarchy:
    """A hierarchy by shipped name (``"eyeriss"``) or YAML path; a Hierarchy passes through."""
    if isinstance(name_or_path, Hierarchy):
        return name_or_path
    path = resolve(name_or_path, "hierarchies")
    return validate_file_data(Hierarchy, read_yaml(path), display_path(path), "hierarchy")


def load_workload(name_or_path: str | Path | Network) -> Network:
    """A network by shipped name (``"alexnet"``), YAML path or SCALE-Sim CSV; a Network passes through."""
    if isinstance(name_or_path, Network):
        return name_or_path
    if str(name_or_path).endswith(".csv"):  # a SCALE-Sim topology; the reader sits above model/
        from energysim.interop.scalesim import load_topology

        return load_topology(name_or_path)
    path = resolve(name_or_path, "workloads")
    return validate_file_data(Network, read_yaml(path), display_path(path), "workload", skip=LAYER_TYPES)
