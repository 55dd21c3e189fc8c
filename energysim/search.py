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
from energysim.errors import EnergySimError
from energysim.mapping.check import capacity_problems, structure_problems
from energysim.mapping.constraints import Constraints, effective_constraints
from energysim.mapping.dataflows import DATAFLOWS, build_mapping
from energysim.mapping.files import load_mappings as load_mapping_set
from energysim.mapping.mapspace import Point, Space
from energysim.mapping.search import Explored, ScoreFn, Searcher, search_space
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


#: Candidates re-ranked by the engine when the objective weighs cycles.
RERANK = 4


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
_CACHE: dict[tuple[object, ...], tuple[Mapping, Metrics, tuple[tuple[Mapping, Metrics], ...], Explored]] = {}


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
    key = (
        _shape_key(layer),
        hierarchy.model_dump_json(),
        rules.model_dump_json(),
        weights,
        budget_s,
        evaluations,
        seed,
        reranked,
        top_k,
        tuple(start_from),
    )
    if key not in _CACHE:
        _CACHE[key] = _search_one(
            layer, hierarchy, weights, rules, budget_s, evaluations, seed, reranked, top_k, list(start_from)
        )
    mapping, metrics, top, explored = _CACHE[key]
    return LayerSearch(layer.name, mapping, metrics, top, explored)


def _search_one(
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
    space = Space(layer, hierarchy, rules)
    assert layer.loop_bounds is not None
    bounds = layer.loop_bounds
    context = (_shape_key(layer), hierarchy.model_dump_json())
    if context not in _METRICS and len(_METRICS) >= MAX_METRIC_CONTEXTS:
        _METRICS.pop(next(iter(_METRICS)))
    metrics = _METRICS.setdefault(context, {})

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

    surrogate = Surrogate(space)
    seeds = _seeds(layer, hierarchy)

    def estimate_fn(point: Point) -> float:
        energy, cycles = surrogate.cost(point)
        return weights[0] * math.log(max(energy, 1e-300)) + weights[1] * math.log(max(cycles, 1e-300))

    ranked = search_space(
        space,
        score_fn,
        start_from + seeds,
        seed,
        evaluations,
        budget_s,
        max(top_k, rerank),
        estimate_fn=estimate_fn,
    )
    top = [(mapping, metrics[mapping]) for _, _, mapping in ranked.best]
    if rerank:
        # The earlier result's and the dataflows' mappings join the engine's re-ranking too: the
        # estimate can be optimistic, so the engine, not it, decides against them.
        pool = top[:rerank] + [(m, metrics[m]) for m in _in_space(space, start_from + seeds, score_fn)]
        pool = list({m: (m, x) for m, x in pool}.values())
        ranked_pool = [(m, engine_metrics(x, m, layer, hierarchy)) for m, x in pool]
        ranked_pool.sort(key=lambda item: (score(item[1], weights, engine=True), item[0].describe()))
        top = ranked_pool + [item for item in top[rerank:] if item[0] not in dict(ranked_pool)]
    best_mapping, best_metrics = top[0]
    problems = structure_problems(best_mapping, layer, hierarchy) or capacity_problems(
        best_mapping, layer, hierarchy, Nest(best_mapping, bounds)
    )
    assert not problems, problems
    note = f"searched ({'exhaustive' if ranked.explored.exhaustive else 'heuristic'})"
    best_mapping = Mapping(best_mapping.levels, note=note)
    return best_mapping, best_metrics, tuple(top[:top_k]), ranked.explored


def _in_space(space: Space, mappings: list[Mapping], score_fn: ScoreFn) -> list[Mapping]:
    """Those of ``mappings`` that lie in ``space`` and fit, as the space writes them (scored)."""
    found = []
    for mapping in mappings:
        point = Searcher(space, score_fn).from_mapping(mapping)
        if point is None:
            continue
        candidate = space.to_mapping(point)
        layer, hierarchy = space.layer, space.hierarchy
        assert layer.loop_bounds is not None
        if structure_problems(candidate, layer, hierarchy) or capacity_problems(
            candidate, layer, hierarchy, Nest(candidate, layer.loop_bounds)
        ):
            continue
        if score_fn(candidate) is not None:
            found.append(candidate)
    return found


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
    start_from: SearchResult | None = None,
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
        An earlier result whose mappings (and runners-up) seed this search,
        where they lie in this space: in a sweep (a GLB grown step by step),
        a step then never ends worse than the one before in the objective
        as scored (exact energy, estimated cycles; the engine re-ranks only
        the top candidates).
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
    for done, layer in enumerate(selected, start=1):
        earlier = start_from.layers.get(layer.name) if start_from is not None else None
        warm = [mapping for mapping, _ in earlier.top] if earlier is not None else []
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
) -> dict[str, Mapping]:
    """The best mappings for ``mapping="search[:OBJECTIVE]"`` in :func:`energysim.analyze`, ``simulate``."""
    return search(workload, hierarchy, objective, layers=layers).mappings
