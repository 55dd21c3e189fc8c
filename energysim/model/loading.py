"""Load hierarchies and workloads by shipped name or path, with clear errors."""

from __future__ import annotations

from pathlib import Path

from energysim.errors import EnergySimError
from energysim.model.base import validate_file_data
from energysim.model.files import display_path, read_yaml, resolve
from energysim.model.hierarchy import Hierarchy
from energysim.model.layers import LAYER_TYPES
from energysim.model.onnx_import import load_onnx
from energysim.model.scalesim import load_topology
from energysim.model.workload import Network, check_layer_shapes


def load_hierarchy(name_or_path: str | Path | Hierarchy) -> Hierarchy:
    """A hierarchy by shipped name (``"eyeriss"``) or YAML path; a Hierarchy passes through."""
    if isinstance(name_or_path, Hierarchy):
        return name_or_path
    path = resolve(name_or_path, "hierarchies")
    return validate_file_data(Hierarchy, read_yaml(path), display_path(path), "hierarchy")


def load_workload(
    name_or_path: str | Path | Network,
    *,
    precision_bits: int | None = None,
    skip_unsupported: bool = False,
    batch: int | None = None,
) -> Network:
    """A network by shipped name (``"alexnet"``), YAML, ONNX or SCALE-Sim CSV path; a Network passes through.

    A path ending in ``.onnx`` is imported (:mod:`energysim.model.onnx_import`, which
    needs the optional ``onnx`` package); ``precision_bits`` (every tensor's bits),
    ``skip_unsupported`` and ``batch`` apply to ONNX files only.
    """
    if str(name_or_path).lower().endswith(".onnx") and not isinstance(name_or_path, Network):
        return load_onnx(Path(name_or_path), precision_bits, skip_unsupported, batch)
    if precision_bits is not None or skip_unsupported or batch is not None:
        raise EnergySimError(
            f"{display_path(str(name_or_path))}: precision_bits, skip_unsupported and batch "
            "(--precision, --skip-unsupported, --batch) apply only to .onnx files"
        )
    if isinstance(name_or_path, Network):
        return name_or_path
    if str(name_or_path).lower().endswith(".csv"):  # a SCALE-Sim topology
        return load_topology(name_or_path)
    path = resolve(name_or_path, "workloads")
    source = display_path(path)
    network = validate_file_data(Network, read_yaml(path), source, "workload", skip=LAYER_TYPES)
    return check_layer_shapes(network, source)
