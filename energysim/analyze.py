"""``analyze()``: exact access counts and energy of a workload on a hierarchy, without time.

For every layer with MACs, a mapping (given, or built by a dataflow) is checked,
its accesses counted exactly (:mod:`energysim.analysis.accesses`) and priced
(:mod:`energysim.analysis.energy`). Layers without MACs (pooling, ReLU, norms)
stream their compulsory traffic through the outermost level: each input and
weight read once, each output written once, each operation priced as one MAC.
Time and static energy come with the simulation engine.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from energysim.analysis.plan import AccessCounts
from energysim.analysis.timeloop_rules import Counting, check_counting, counts_for
from energysim.errors import EnergySimError
from energysim.model.hierarchy import Hierarchy
from energysim.model.layers import LayerBase
from energysim.model.mapping import Mapping
from energysim.prepare import DEFAULT_DATAFLOW, MappingLike, WorkloadLike, evaluate, resolve_inputs, result_of
from energysim.result import Result
from energysim.search import search_objective, searched_mappings


def _count(
    layer: LayerBase, layer_mapping: Mapping, machine: Hierarchy, counting: Counting = "exact"
) -> tuple[AccessCounts, dict[str, Any]]:
    assert layer.loop_bounds is not None
    try:
        return counts_for(layer_mapping, layer.loop_bounds, machine, layer.macs, counting), {}
    except EnergySimError as error:  # a tile too large to count: say which layer
        raise EnergySimError(f"layer {layer.name} on {machine.name}: {error}") from error


def _no_columns(layer: LayerBase, machine: Hierarchy) -> dict[str, Any]:
    return {}


def analyze(
    workload: WorkloadLike,
    hierarchy: str | Path | Hierarchy,
    dataflow: str | None = DEFAULT_DATAFLOW,
    mapping: MappingLike | None = None,
    layers: Sequence[str] | None = None,
    counting: Counting = "exact",
) -> Result:
    """Exact access counts and energy of ``workload`` on ``hierarchy`` (no time).

    Parameters
    ----------
    workload:
        A shipped name or path of a network, a :class:`Network`, or one layer.
    hierarchy:
        A shipped name or path, or a :class:`Hierarchy`.
    dataflow:
        ``ws``, ``os``, ``is``, ``rs`` or ``nlr``: builds the mapping of every
        layer that ``mapping`` does not give. The default is the hierarchy's
        ``default_dataflow`` (``ws`` on ``tpu-like``), else ``rs``.
    mapping:
        A :class:`Mapping` (for a one-layer workload), a mapping YAML file, a
        dict from layer name to mapping, or ``"search"``: the mapper's
        least-energy mapping of every layer (:func:`energysim.search`);
        ``"search:cycles"`` or ``"search:edp"`` for another objective.
    layers:
        Names of the layers to analyse (default: all).
    counting:
        ``exact`` (an ideal buffer) or ``timeloop`` (timeloop-model's rules, to
        cross-check its numbers); DESIGN.md, "Counting semantics".
    """
    objective = search_objective(mapping)
    if objective is not None:  # the mapper's best mapping of every layer for that objective
        mapping = searched_mappings(workload, hierarchy, layers, objective)
    mode = check_counting(counting)
    network, machine, chosen, used_dataflow = resolve_inputs(workload, hierarchy, dataflow, mapping, layers)
    count = functools.partial(_count, counting=mode)
    accesses, summary, used = evaluate(network, machine, chosen, count, _no_columns)
    return result_of(network, machine, used_dataflow, used, accesses, summary)
