"""``search()``: the best mappings of a workload's layers for an objective, under constraints.

For every layer with MACs, the mapspace (:mod:`energysim.mapping.mapspace`)
is searched (:mod:`energysim.mapping.search`) for the objective
(:mod:`energysim.objectives`); the named dataflows' mappings seed the
heuristic, so the energy found is never above theirs where the constraints
allow them. With a cycle objective the top candidates are re-ranked by the
event-driven engine. Layers of one shape share one search (a cache keyed by
the shape, precisions, hierarchy, constraints, objective and budget), so
ResNet-50's 53 convolutions cost its 21 distinct shapes.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from energysim.analysis.tiles import Nest
from energysim.candidates import fitting, in_space, with_flattened
from energysim.errors import EnergySimError
from energysim.mapping.check import capacity_problems, structure_problems
from energysim.mapping.constraints import Constraints, effective_constraints
from energysim.mapping.dataflows import DATAFLOWS, build_mapping
from energysim.mapping.files import load_mappings as load_mapping_set
from energysim.mapping.mapspace import Point, Space
from energysim.mapping.search import Explored, ScoreFn, search_space
from energysim.mapping.surrogate import Surrogate
from energysim.model.hierarchy import Hierarchy
from energysim.model.layers import LayerBase
from energysim.model.loading import load_hierarchy
from energysim.model.mapping import Mapping
from energysim.objectives import (
    OBJECTIVES,
    Metrics,
    Objective,
    engine_metrics,
    evaluate,
    objective_weights,
    score,
)
from energysim.prepare import WorkloadLike, as_network

#: Called after each layer with (layers done, layers in all, layer name).
Progress = Callable[[int, int, str], None]
#: The ``mapping`` argument of analyze and simulate that asks for a search (``search`` is
#: ``search:energy``; ``search:cycles`` and ``search:edp`` name the other objectives).
SEARCH = "search"


def search_objective(mapping: object) -> str | None:
    """The objective a ``mapping`` argument asks the mapper for (``search[:OBJECTIVE]``), else None."""
    if not isinstance(mapping, str) or not (mapping == SEARCH or mapping.startswith(SEARCH + ":")):
        return None
    objective = mapping.partition(":")[2] or "energy"
    if objective not in OBJECTIVES:
        raise EnergySimError(
            f"mapping {mapping!r}: expected {SEARCH} or {SEARCH}:OBJECTIVE with OBJECTIVE one of "
            f"{', '.join(OBJECTIVES)}"
        )
    return objective


#: Candidates re-ranked by the engine when the objective weighs cycles, per objective's search
#: (8 rather than 4: ResNet-50 and AlexNet's searched cycles 2 % lower for 17 % more search time).
RERANK = 8
#: A space searched exhaustively with at most this many distinct mappings, of a layer of at most
#: ENGINE_ALL_MACS MACs (the engine replays it in milliseconds), is ranked by the engine whole.
ENGINE_ALL = 512
ENGINE_ALL_MACS = 4096


@dataclass(frozen=True)
class LayerSearch:
    """The search of one layer: the best mapping, its metrics, the runners-up, what was explored."""

    layer: str
    mapping: Mapping
    metrics: Metrics
    top: tuple[tuple[Mapping, Metrics], ...]
    explored: Explored


@dataclass(frozen=True)
class SearchResult:
    """Per layer with MACs, its :class:`LayerSearch`; ``mappings`` feeds ``analyze`` or ``simulate``."""

    hierarchy: Hierarchy
    objective: Objective
    layers: dict[str, LayerSearch]
    seconds: float

    @property
    def mappings(self) -> dict[str, Mapping]:
        return {name: found.mapping for name, found in self.layers.items()}

    @property
    def evaluated(self) -> int:
        """Mappings scored over all distinct searches (a shared search counts once)."""
        seen: dict[int, int] = {}
        for found in self.layers.values():
            seen[id(found.explored)] = found.explored.evaluated
        return sum(seen.values())

    def to_yaml(self) -> str:
        """Every layer's mapping in one YAML file (:func:`load_mappings` reads it back)."""
        documents = []
        for name, found in self.layers.items():
            data = found.mapping.to_dict()
            data["layer"] = name
            data["note"] = (
                f"energy {found.metrics.energy:.6g} {self.hierarchy.energy_unit}, "
                f"cycles {found.metrics.best_cycles:.6g}"
            )
            documents.append(data)
        return yaml.safe_dump(
            {"version": 1, "hierarchy": self.hierarchy.name, "mappings": documents}, sort_keys=False
        )


def load_mappings(path: str | Path, hierarchy: str | Path | Hierarchy) -> dict[str, Mapping]:
    """The mappings of a file that :meth:`SearchResult.to_yaml` wrote (or of one mapping), by layer name."""
    return load_mapping_set(path, load_hierarchy(hierarchy))


def _shape_key(layer: LayerBase) -> tuple[object, ...]:
    bounds = layer.loop_bounds
    assert bounds is not None
    return (
        tuple(bounds.sizes.items()),
        bounds.stride,
        bounds.dilation,
        bounds.padding,
        bounds.input_size,
        tuple(layer.bits(t) for t in ("weights", "inputs", "outputs")),
    )


#: Searches done, by everything that decides them (:func:`_shape_key` and the search's inputs).
#: At most MAX_SEARCHES are kept (the oldest go first), so a long session's memory stays bounded.
_CACHE: dict[tuple[object, ...], tuple[Mapping, Metrics, tuple[tuple[Mapping, Metrics], ...], Explored]] = {}
MAX_SEARCHES = 4096


#: Exact metrics of every mapping scored, per (layer shape, hierarchy): searches for another
#: objective or budget of the same layer reuse them. At most MAX_METRIC_CONTEXTS are kept.
_METRICS: dict[tuple[object, ...], dict[Mapping, Metrics]] = {}
MAX_METRIC_CONTEXTS = 64


def clear_search_cache() -> None:
    """Forget earlier searches and scores (for cold-start timing; results do not change)."""
    _CACHE.clear()
    _METRICS.clear()


def _seeds(layer: LayerBase, hierarchy: Hierarchy) -> list[Mapping]:
    seeds = []
    for name in DATAFLOWS:
        try:
            seeds.append(build_mapping(layer, hierarchy, name))
        except EnergySimError:
            continue
    return seeds


def search_layer(
    layer: LayerBase,
    hierarchy: Hierarchy,
    objective: Objective = "energy",
    constraints: Constraints | str | Path | dict[str, Any] | None = None,
    budget_s: float | None = None,
    evaluations: int = 150,
    seed: int = 0,
    rerank: int | None = None,
    top_k: int = 4,
    start_from: Sequence[Mapping] = (),
) -> LayerSearch:
    """The best mapping of one layer (see :func:`search`); cached by layer shape."""
    if layer.loop_bounds is None:
        raise EnergySimError(f"layer {layer.name} has no MACs to map")
    weights = objective_weights(objective)
    rules = effective_constraints(constraints, hierarchy)
    reranked = (RERANK if weights[1] else 0) if rerank is None else rerank
    # The earlier mappings as a set (their order, notes and repeats decide nothing).
    warm = sorted({Mapping(m.levels) for m in start_from}, key=lambda m: m.describe())
    key = (
        _shape_key(layer),
        hierarchy.model_dump_json(),
        rules.model_dump_json(),
        weights,
        budget_s,
        evaluations,
        seed,
        reranked,
        top_k if reranked else None,  # without the engine, ENGINE_ALL + 1 are kept and sliced
        tuple(warm),
    )
    found = _CACHE.get(key)
    if found is None:
        if reranked:
            found = _reranked(
                layer, hierarchy, weights, rules, budget_s, evaluations, seed, reranked, top_k, warm
            )
        else:
            kept = max(top_k, ENGINE_ALL + 1)
            found = _search_one(layer, hierarchy, weights, rules, budget_s, evaluations, seed, kept, warm)
        while len(_CACHE) >= MAX_SEARCHES:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = found
    mapping, metrics, top, explored = found
    return LayerSearch(layer.name, mapping, metrics, top[:top_k], explored)


def _metrics_of(layer: LayerBase, hierarchy: Hierarchy) -> dict[Mapping, Metrics]:
    """The scores kept for this layer shape on this hierarchy (see :data:`_METRICS`)."""
    context = (_shape_key(layer), hierarchy.model_dump_json())
    if context not in _METRICS and len(_METRICS) >= MAX_METRIC_CONTEXTS:
        _METRICS.pop(next(iter(_METRICS)))
    return _METRICS.setdefault(context, {})


def _search_one(
    layer: LayerBase,
    hierarchy: Hierarchy,
    weights: tuple[float, float],
    rules: Constraints,
    budget_s: float | None,
    evaluations: int,
    seed: int,
    top_k: int,
    start_from: list[Mapping],
) -> tuple[Mapping, Metrics, tuple[tuple[Mapping, Metrics], ...], Explored]:
    """The search by exact energy and estimated cycles alone (no engine)."""
    space = Space(layer, hierarchy, rules)
    metrics = _metrics_of(layer, hierarchy)
    score_fn = _score_fn(layer, hierarchy, weights, metrics)
    surrogate = Surrogate(space)
    seeds = _seeds(layer, hierarchy)

    def estimate_fn(point: Point) -> float:
        energy, cycles = surrogate.cost(point)
        return weights[0] * math.log(max(energy, 1e-300)) + weights[1] * math.log(max(cycles, 1e-300))

    ranked = search_space(
        space, score_fn, start_from + seeds, seed, evaluations, budget_s, top_k, estimate_fn=estimate_fn
    )
    top = [(mapping, metrics[mapping]) for _, _, mapping in ranked.best]
    top = with_flattened(top, layer, hierarchy, weights, rules, score_fn, metrics, start_from)
    return _checked(top, layer, hierarchy, ranked.explored, top_k)


def _score_fn(
    layer: LayerBase, hierarchy: Hierarchy, weights: tuple[float, float], metrics: dict[Mapping, Metrics]
) -> ScoreFn:
    def score_fn(mapping: Mapping) -> float | None:
        # Points of the space fit by construction (fan-outs, capacities: numpy-checked); the
        # returned mapping is checked again below.
        if mapping in metrics:
            return score(metrics[mapping], weights)
        try:
            metrics[mapping] = evaluate(mapping, layer, hierarchy)
        except EnergySimError:  # too large to count exactly: not a candidate
            return None
        return score(metrics[mapping], weights)

    return score_fn


def _checked(
    top: list[tuple[Mapping, Metrics]], layer: LayerBase, hierarchy: Hierarchy, explored: Explored, top_k: int
) -> tuple[Mapping, Metrics, tuple[tuple[Mapping, Metrics], ...], Explored]:
    """The best of ``top`` (checked again), noted as searched, with the first ``top_k``."""
    assert layer.loop_bounds is not None
    best_mapping, best_metrics = top[0]
    problems = structure_problems(best_mapping, layer, hierarchy) or capacity_problems(
        best_mapping, layer, hierarchy, Nest(best_mapping, layer.loop_bounds)
    )
    assert not problems, problems
    note = f"searched ({'exhaustive' if explored.exhaustive else 'heuristic'})"
    return Mapping(best_mapping.levels, note=note), best_metrics, tuple(top[:top_k]), explored


def _reranked(
    layer: LayerBase,
    hierarchy: Hierarchy,
    weights: tuple[float, float],
    rules: Constraints,
    budget_s: float | None,
    evaluations: int,
    seed: int,
    rerank: int,
    top_k: int,
    start_from: list[Mapping],
) -> tuple[Mapping, Metrics, tuple[tuple[Mapping, Metrics], ...], Explored]:
    """The engine's choice among the best candidates of every objective's search.

    The cycle estimate ranks candidates, the engine decides: the pool holds
    the ``rerank`` best by estimate of the searches for this objective and
    for ``energy``, ``cycles`` and ``edp`` (each cached, so a search for one
    objective is shared by the others), the named dataflows' mappings that
    lie in the space and the ``start_from`` mappings that fit; a small layer's
    space searched exhaustively (:data:`ENGINE_ALL`, :data:`ENGINE_ALL_MACS`)
    is ranked whole. So the found mapping is, by the engine, never worse under its own
    objective than the energy search's result, the other cycle objectives'
    (their pool is the same), a named dataflow's or an earlier result's.
    """
    explored = Explored()
    pool: dict[Mapping, None] = {}
    objectives = dict.fromkeys([weights, *OBJECTIVES.values()])
    for each in objectives:
        found = search_layer(
            layer,
            hierarchy,
            {"energy": each[0], "cycles": each[1]},
            rules,
            budget_s,
            evaluations,
            seed,
            rerank=0,
            top_k=ENGINE_ALL + 1,
            start_from=start_from,
        )
        whole = found.explored.exhaustive and len(found.top) <= ENGINE_ALL and layer.macs <= ENGINE_ALL_MACS
        pool.update((Mapping(m.levels), None) for m, _ in (found.top if whole else found.top[:rerank]))
        if each == weights:
            explored = found.explored
    space = Space(layer, hierarchy, rules)
    metrics = _metrics_of(layer, hierarchy)
    score_fn = _score_fn(layer, hierarchy, weights, metrics)
    pool.update(dict.fromkeys(in_space(space, _seeds(layer, hierarchy), score_fn)))
    pool.update(dict.fromkeys(fitting(space, start_from, score_fn)))
    ranked = []
    for mapping in pool:
        # A cached search's mapping may have left the score cache (MAX_METRIC_CONTEXTS): score it again.
        if mapping not in metrics and score_fn(mapping) is None:
            continue
        known = metrics[mapping]
        if known.engine_cycles is None:
            known = metrics[mapping] = engine_metrics(known, mapping, layer, hierarchy)
        ranked.append((mapping, known))
    ranked.sort(key=lambda item: (score(item[1], weights, engine=True), item[0].describe()))
    return _checked(ranked, layer, hierarchy, explored, top_k)


#: An earlier search to start from: its result, or its ``mappings`` by layer name.
Earlier = SearchResult | dict[str, Mapping]


def _earlier_mappings(earlier: Earlier, name: str) -> list[Mapping]:
    """The mappings of layer ``name`` in an earlier result: its best, then its runners-up."""
    if isinstance(earlier, dict):
        return [earlier[name]] if name in earlier else []
    found = earlier.layers.get(name)
    return [] if found is None else [found.mapping, *(mapping for mapping, _ in found.top)]


def search(
    workload: WorkloadLike,
    hierarchy: str | Path | Hierarchy,
    objective: Objective = "energy",
    constraints: Constraints | str | Path | dict[str, Any] | None = None,
    budget_s: float | None = None,
    evaluations: int = 150,
    seed: int = 0,
    layers: Sequence[str] | None = None,
    progress: Progress | None = None,
    start_from: Earlier | Sequence[Earlier] | None = None,
) -> SearchResult:
    """Search the best mapping of every layer with MACs of ``workload`` on ``hierarchy``.

    Parameters
    ----------
    objective:
        ``energy``, ``cycles``, ``edp`` or weights ``{"energy": a, "cycles": b}``
        (minimises ``energy^a x cycles^b``).
    constraints:
        None, a dataflow name (``ws``, ``os``, ``is``, ``rs``, ``nlr``), a
        constraint YAML path, a dict, or a :class:`Constraints`.
    budget_s, evaluations:
        Per distinct layer shape: the time and the number of scored mappings
        the heuristic may spend (the evaluation budget keeps a seed's result
        deterministic; the time budget is a cap). Small spaces are searched
        exhaustively whatever the budget.
    seed:
        The heuristic's random seed.
    start_from:
        Earlier results (one or several, each a :class:`SearchResult` or its
        ``mappings``) whose mappings (and runners-up) seed this search where
        they lie in this space, and are weighed as they are where they fit
        and keep the constraints (a flattened one by
        :func:`~energysim.mapping.flatten.respects`; :mod:`energysim.candidates`):
        on a hierarchy that dominates theirs (a larger GLB, nothing else
        changed: :func:`~energysim.model.variations.dominates`) under the same
        constraints they do, so the result is never worse than theirs, by
        the engine under a cycle objective, by exact energy under ``energy``.
    """
    started = time.perf_counter()
    network = as_network(workload)
    machine = load_hierarchy(hierarchy)
    selected = [layer for layer in network.layers if layer.loop_bounds is not None]
    if layers is not None:
        names = [layers] if isinstance(layers, str) else list(layers)
        unknown = [n for n in names if n not in network.layer_names]
        if unknown:
            raise EnergySimError(f"no layer {unknown[0]!r} in {network.name}")
        selected = [layer for layer in selected if layer.name in names]
    found: dict[str, LayerSearch] = {}
    earlier = [start_from] if isinstance(start_from, SearchResult | dict) else list(start_from or ())
    for done, layer in enumerate(selected, start=1):
        warm = [mapping for result in earlier for mapping in _earlier_mappings(result, layer.name)]
        found[layer.name] = search_layer(
            layer, machine, objective, constraints, budget_s, evaluations, seed, start_from=warm
        )
        if progress is not None:
            progress(done, len(selected), layer.name)
    return SearchResult(machine, objective, found, time.perf_counter() - started)


def searched_mappings(
    workload: WorkloadLike,
    hierarchy: str | Path | Hierarchy,
    layers: Sequence[str] | None,
    objective: str = "energy",
    start_from: Sequence[dict[str, Mapping]] = (),
) -> dict[str, Mapping]:
    """The best mappings for ``mapping="search[:OBJECTIVE]"`` in :func:`energysim.analyze`, ``simulate``.

    ``start_from``: earlier results' mappings (see :func:`search`).
    """
    return search(workload, hierarchy, objective, layers=layers, start_from=list(start_from)).mappings
