"""Candidates from outside a search's own points: flattened variants, earlier results, named dataflows.

The search (:mod:`energysim.search`) walks the mapspace, whose points are
products of per-dimension factors. Three kinds of mapping come from
elsewhere and are weighed beside them by the same score: flattened (im2col)
variants of its best points and flattened earlier results
(:func:`with_flattened`), earlier results that fit as they are
(:func:`fitting`), and the named dataflows' mappings placed in the space
(:func:`in_space`). Each is kept only if it fits the hierarchy and keeps the
constraints.
"""

from __future__ import annotations

from energysim.analysis.tiles import Nest
from energysim.errors import EnergySimError
from energysim.mapping.check import capacity_problems, structure_problems
from energysim.mapping.constraints import Constraints
from energysim.mapping.flatten import flattened_variants, respects
from energysim.mapping.mapspace import Space
from energysim.mapping.search import ScoreFn, Searcher
from energysim.model.hierarchy import Hierarchy
from energysim.model.layers import LayerBase
from energysim.model.mapping import Mapping
from energysim.objectives import Metrics, score

#: Of a search's best mappings, how many give flattened (im2col) variants to weigh.
FLATTEN_FROM = 8


def with_flattened(
    top: list[tuple[Mapping, Metrics]],
    layer: LayerBase,
    hierarchy: Hierarchy,
    weights: tuple[float, float],
    rules: Constraints,
    score_fn: ScoreFn,
    metrics: dict[Mapping, Metrics],
    start_from: list[Mapping],
) -> list[tuple[Mapping, Metrics]]:
    """``top`` and the flattened mappings that fit and keep ``rules``, by score (ties: ``top``'s first).

    The space's tile factors are products per dimension; flattening C, R, S
    onto the array's reduction edge (:mod:`energysim.mapping.flatten`) is
    the one layout they cannot say, so the search weighs it here by the same
    score: the flattened variants of the first :data:`FLATTEN_FROM` of
    ``top`` and the flattened ones of ``start_from`` (the space cannot place
    those), where ``rules`` allow them
    (:func:`~energysim.mapping.flatten.respects`); the engine's pool
    (:func:`energysim.search.search_layer`) takes them from there.
    ``score_fn`` scores into ``metrics``.
    """
    assert layer.loop_bounds is not None
    seen = {mapping for mapping, _ in top}
    ranked = [(score(known, weights), mapping) for mapping, known in top]
    earlier = [Mapping(m.levels) for m in start_from if m.flattened_level is not None]
    perfect = not rules.imperfect
    variants = [
        v
        for m, _ in top[:FLATTEN_FROM]
        for v in flattened_variants(m, hierarchy, layer.loop_bounds.sizes, perfect)
    ]
    for candidate in (*earlier, *variants):
        if candidate in seen:
            continue
        seen.add(candidate)
        if not fits(candidate, layer, hierarchy) or not respects(candidate, rules, hierarchy):
            continue
        value = score_fn(candidate)
        if value is not None:
            ranked.append((value, candidate))
    ranked.sort(key=lambda item: item[0])  # stable: ties keep the order above
    return [(mapping, metrics[mapping]) for _, mapping in ranked[: len(top)]]


def fits(mapping: Mapping, layer: LayerBase, hierarchy: Hierarchy) -> bool:
    """True if ``mapping`` fits the layer and the hierarchy as it is."""
    assert layer.loop_bounds is not None
    try:
        return not (
            structure_problems(mapping, layer, hierarchy)
            or capacity_problems(mapping, layer, hierarchy, Nest(mapping, layer.loop_bounds))
        )
    except EnergySimError:
        return False


def fitting(space: Space, mappings: list[Mapping], score_fn: ScoreFn) -> list[Mapping]:
    """Those of ``mappings`` that fit as they are and keep the space's constraints (scored): earlier results.

    A flattened mapping keeps them by :func:`~energysim.mapping.flatten.respects`,
    another by lying in the space (an earlier result under other
    constraints may not).
    """
    layer, hierarchy, rules = space.layer, space.hierarchy, space.constraints
    kept = []
    for mapping in mappings:
        if not fits(mapping, layer, hierarchy):
            continue
        if mapping.flattened_level is not None:
            allowed = respects(mapping, rules, hierarchy)
        else:
            allowed = not isinstance(Searcher(space, score_fn).place(mapping), str)
        if allowed and score_fn(mapping) is not None:
            kept.append(mapping)
    return kept


def in_space(space: Space, mappings: list[Mapping], score_fn: ScoreFn) -> list[Mapping]:
    """Those of ``mappings`` that lie in ``space`` and fit, as the space writes them (scored)."""
    found = []
    for mapping in mappings:
        point = Searcher(space, score_fn).from_mapping(mapping)
        if point is None:
            continue
        candidate = space.to_mapping(point)
        if fits(candidate, space.layer, space.hierarchy) and score_fn(candidate) is not None:
            found.append(candidate)
    return found
