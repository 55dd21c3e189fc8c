"""Searching a mapspace: exhaustive where it is small, seeded local search where it is large.

The search ranks points of a :class:`~energysim.mapping.mapspace.Space` by a
score (lower is better) that the caller gives (:mod:`energysim.objectives`:
exact energy, estimated cycles, EDP); every score is of one complete mapping.

* **Exhaustive** when the space, before pruning, has at most
  :data:`EXHAUSTIVE_POINTS` points: every tile factor choice, keep choice and
  loop order is scored, except those pruned by rules that cannot lose the
  optimum: spatial factors beyond a fan-out, the systolic and utilisation rules
  and tiles beyond a level's capacity are invalid (checked in numpy, a batch
  at a time); orders that differ only in loops of factor 1, or only in the
  innermost level's order, map to one mapping (no count and no time depends
  on them) and are scored once.
* **Heuristic** otherwise, within an evaluation budget (deterministic for a
  seed) and a time budget: the named dataflows' mappings that lie in the
  space are the first seeds, then random points (uniform per dimension over
  its factor choices, capacity-filtered in numpy batches), then first-improvement
  local search from the best of them: move one prime factor of one dimension
  between two slots (levels or array axes), swap two adjacent loops, change
  what a level keeps. Why this and not LOMA's order enumeration: LOMA fixes
  the spatial unrolling and keeps all tensors at every level, while here the
  unrolling and the bypass choices matter as much as the orders (the issue's
  32-row systolic array, a GLB that is better bypassed); prime moves explore
  all three with one neighbourhood, and the dataflow seeds make the result never
  worse than the named dataflows that the constraints allow.
"""

from __future__ import annotations

import itertools
import math
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np

from energysim.analysis.tiles import Nest
from energysim.errors import EnergySimError
from energysim.mapping.check import capacity_problems, structure_problems
from energysim.mapping.factors import distinct_primes, spatial_splits
from energysim.mapping.mapspace import DIM_INDEX, Point, Space, capacity_mask
from energysim.model.layers import DIMENSIONS
from energysim.model.mapping import Mapping

#: Largest space (points before pruning) searched exhaustively.
EXHAUSTIVE_POINTS = 4096
#: Ways to spread a seed's spatial loops over the array's axes tried, per level.
MAX_SPLITS = 64
#: Random points drawn per batch, and batches at most, before local search.
RANDOM_BATCH = 128
RANDOM_BATCHES = 2

ScoreFn = Callable[[Mapping], float | None]
#: A cheap approximate score of a point (lower is better), to order candidates.
EstimateFn = Callable[[Point], float]
#: Exact scores spent on the best random points, and per descent step at most.
RANDOM_EXACT = 8
STEP_EXACT = 6


@dataclass
class Explored:
    """How much of the space a search covered, and why it stopped.

    ``space_points``: the points an exhaustive search walks, or
    ``EXHAUSTIVE_POINTS + 1`` for a larger space (:func:`~energysim.mapping.mapspace.mapspace`
    counts it); ``evaluated``: mappings scored exactly; ``estimated``: candidates
    ranked by the surrogate; ``invalid``: candidates that broke a fan-out, systolic,
    utilisation or capacity rule, by reason in ``invalid_reasons``.
    """

    space_points: int = 0
    evaluated: int = 0
    estimated: int = 0
    invalid: int = 0
    exhaustive: bool = False
    stopped_by: str = ""
    seconds: float = 0.0
    invalid_reasons: dict[str, int] = field(default_factory=dict)


@dataclass
class Ranked:
    """The best points found, best first, with their scores and mappings."""

    best: list[tuple[float, Point, Mapping]]
    explored: Explored


class Searcher:
    """One search of one space (see the module docstring)."""

    def __init__(
        self,
        space: Space,
        score_fn: ScoreFn,
        seed: int = 0,
        evaluations: int = 600,
        budget_s: float | None = None,
        top_k: int = 4,
        estimate_fn: EstimateFn | None = None,
    ) -> None:
        self.space = space
        self.score_fn = score_fn
        self.estimate_fn = estimate_fn
        self.rng = random.Random(seed)
        self.evaluations = evaluations
        self.deadline = None if budget_s is None else time.perf_counter() + budget_s
        self.top_k = top_k
        self.scores: dict[Point, float] = {}
        self.mappings: dict[Point, Mapping] = {}
        self.explored = Explored()
        self._options: dict[str, list[tuple[int, ...]]] = {}
        self.bits_safe = self._int64_safe()

    # -- bookkeeping ------------------------------------------------------------------------------

    def _int64_safe(self) -> bool:
        largest = math.prod(max(self.space.padded_bounds(d)) for d in DIMENSIONS)
        bits = max(self.space.layer.bits(t) for t in ("weights", "inputs", "outputs"))
        return largest * bits * 4 < 2**62

    def options(self, dim: str) -> list[tuple[int, ...]]:
        if dim not in self._options:
            self._options[dim] = self.space.dim_options(dim)
        return self._options[dim]

    def out_of_budget(self) -> str | None:
        if self.explored.evaluated >= self.evaluations:
            return "evaluation budget"
        if self.deadline is not None and time.perf_counter() > self.deadline:
            return "time budget"
        return None

    def _reject(self, reason: str) -> None:
        self.explored.invalid += 1
        self.explored.invalid_reasons[reason] = self.explored.invalid_reasons.get(reason, 0) + 1

    def score(self, point: Point) -> float:
        """The point's score (cached); infinite if it cannot be counted."""
        if point in self.scores:
            return self.scores[point]
        mapping = self.space.to_mapping(point)
        value = self.score_fn(mapping)
        self.explored.evaluated += 1
        self.scores[point] = math.inf if value is None else value
        self.mappings[point] = mapping
        return self.scores[point]

    def valid(self, points: list[Point]) -> list[Point]:
        """The points that fit every fan-out and capacity (numpy, grouped by keep choice)."""
        kept: list[Point] = []
        spatial_ok = []
        for point in points:
            reason = self.space.spatial_ok(point.factors)
            if reason is None:
                spatial_ok.append(point)
            else:
                self._reject(reason)
        by_keeps: dict[tuple[object, ...], list[Point]] = {}
        for point in spatial_ok:
            by_keeps.setdefault(point.keeps, []).append(point)
        for keeps, group in by_keeps.items():
            dtype = np.int64 if self.bits_safe else object
            factors = np.array([p.factors for p in group], dtype=dtype)
            mask = capacity_mask(self.space, factors, list(keeps))  # type: ignore[arg-type]
            for point, ok in zip(group, mask, strict=True):
                if ok:
                    kept.append(point)
                else:
                    self._reject("capacity")
        return kept

    def by_estimate(self, points: list[Point]) -> list[Point]:
        """``points`` best estimate first (stable: ties keep their order); unchanged without an estimate."""
        if self.estimate_fn is None:
            return points
        estimates = [self.estimate_fn(point) for point in points]
        self.explored.estimated += len(points)
        return [points[i] for i in sorted(range(len(points)), key=lambda i: estimates[i])]

    def ranked(self) -> Ranked:
        finite = sorted(
            ((s, p) for p, s in self.scores.items() if math.isfinite(s)),
            key=lambda item: (item[0], self.mappings[item[1]].describe()),
        )
        return Ranked([(s, p, self.mappings[p]) for s, p in finite[: self.top_k]], self.explored)

    # -- building points --------------------------------------------------------------------------

    def point(
        self, factors: tuple[tuple[int, ...], ...], orders: tuple[str, ...], keeps: tuple[object, ...]
    ) -> Point:
        canonical = tuple(
            self.space.canonical_order(level, factors, orders[level]) for level in range(self.space.levels)
        )
        return Point(factors, canonical, keeps)  # type: ignore[arg-type]

    def slot_major(self, per_dim: list[tuple[int, ...]]) -> tuple[tuple[int, ...], ...]:
        """Factors per slot (in DIMENSIONS order) from factors per dimension (per slot)."""
        return tuple(
            tuple(per_dim[d][k] for d in range(len(DIMENSIONS))) for k in range(len(self.space.slots))
        )

    def from_mapping(self, mapping: Mapping) -> Point | None:
        """The point of a mapping if it lies in the space (its spatial loops spread over the axes)."""
        placed = self.place(mapping)
        return placed if isinstance(placed, Point) else None

    def place(self, mapping: Mapping) -> Point | str:
        """The point of a mapping in the space, or the first reason why it lies outside."""
        space = self.space
        flattened = mapping.flattened_level
        if flattened is not None:
            name = mapping.levels[flattened].level
            return f"level {name}: flattens C, R, S (im2col), which the space's factors do not"
        temporal = [[1] * len(DIMENSIONS) for _ in range(space.levels)]
        per_level: list[list[list[dict[int, int]]]] = []
        for index, level in enumerate(mapping.levels):
            for loop in level.temporal:
                temporal[index][DIM_INDEX[loop.dim]] *= loop.factor
            axes = [k for k in space.spatial_slots if space.slots[k].level == index]
            loops = [(DIM_INDEX[loop.dim], loop.factor) for loop in level.spatial]
            capacities = [space.slots[k].capacity for k in axes]
            allowed = [space.slots[k].dims for k in axes]
            splits = list(itertools.islice(spatial_splits(loops, capacities, allowed), MAX_SPLITS))
            if not splits:
                spread = " x ".join(f"{loop.dim}{loop.factor}" for loop in level.spatial)
                return f"level {level.level}: spatial loops {spread} do not spread over its fan-out axes"
            per_level.append(splits)
        reason = "no spatial split"
        for choice in itertools.product(*per_level):
            factors = [list(row) for row in temporal] + [[1] * len(DIMENSIONS) for _ in space.spatial_slots]
            for index, split in enumerate(choice):
                axes = [k for k in space.spatial_slots if space.slots[k].level == index]
                for k, part in zip(axes, split, strict=True):
                    for d, factor in part.items():
                        factors[k][d] *= factor
            per_slot = tuple(tuple(row) for row in factors)
            problem = space.spatial_ok(per_slot)
            if problem is None:
                return self._completed(mapping, per_slot)
            reason = problem
        return f"spatial: {reason}"

    def _completed(self, mapping: Mapping, per_slot: tuple[tuple[int, ...], ...]) -> Point | str:
        space = self.space
        for dim in DIMENSIONS:
            factors = tuple(row[DIM_INDEX[dim]] for row in per_slot)
            product = math.prod(factors)
            bound = space.bounds[dim]
            if product < bound or (product > bound and not space.constraints.imperfect):
                return f"{dim}: factors multiply to {product}, the bound is {bound}"
            if not space.factors_ok(dim, factors):
                return f"{dim}: factors {factors} are ruled out by the constraints"
        keeps = tuple(level.keeps for level in mapping.levels)
        for index, keep in enumerate(keeps):
            if keep not in space.keep_options[index]:
                return f"level {mapping.levels[index].level}: keeps {keep}, not a keep choice of the space"
        orders = tuple("".join(loop.dim for loop in level.temporal) for level in mapping.levels)
        for level, order in enumerate(orders):
            prefix = [d for d in space.prefixes[level] if per_slot[level][DIM_INDEX[d]] > 1]
            if list(order[: len(prefix)]) != prefix:
                return f"level {mapping.levels[level].level}: loop order {order} does not start with {prefix}"
        return self.point(per_slot, orders, keeps)

    def random_points(self, count: int) -> list[Point]:
        space = self.space
        points = []
        for _ in range(count):
            drawn = [space.random_option(dim, self.rng) for dim in DIMENSIONS]
            if any(option is None for option in drawn):
                continue
            factors = self.slot_major([option for option in drawn if option is not None])
            orders = tuple("".join(self.rng.sample(DIMENSIONS, len(DIMENSIONS))) for _ in range(space.levels))
            keeps = tuple(self.rng.choice(options) for options in space.keep_options)
            points.append(self.point(factors, orders, keeps))
        return points

    def neighbours(self, point: Point) -> Iterator[Point]:
        """Prime moves between slots, adjacent loop swaps and keep changes (see the module docstring)."""
        space = self.space
        slots = range(len(space.slots))
        for d, dim in enumerate(DIMENSIONS):
            for a in slots:
                value = point.factors[a][d]
                if value == 1:
                    continue
                for prime in distinct_primes(value):
                    for b in slots:
                        if b == a or not space.allowed(b, dim):
                            continue
                        per_slot = [list(row) for row in point.factors]
                        per_slot[a][d] //= prime
                        per_slot[b][d] *= prime
                        factors = tuple(tuple(row) for row in per_slot)
                        if space.factors_ok(dim, tuple(row[d] for row in factors)):
                            yield self.point(factors, point.orders, point.keeps)
        for level in range(space.levels - 1):
            order = point.orders[level]
            fixed = len([c for c in space.prefixes[level] if c in order])
            for i in range(fixed, len(order) - 1):
                swapped = order[:i] + order[i + 1] + order[i] + order[i + 2 :]
                orders = (*point.orders[:level], swapped, *point.orders[level + 1 :])
                yield Point(point.factors, orders, point.keeps)
        for level, options in enumerate(space.keep_options):
            for option in options:
                if option != point.keeps[level]:
                    keeps = (*point.keeps[:level], option, *point.keeps[level + 1 :])
                    yield Point(point.factors, point.orders, keeps)

    # -- the two strategies -----------------------------------------------------------------------

    def exhaustive_size(self, cap: int) -> int:
        """Points before pruning (distinct orders counted per factor choice), or ``cap + 1`` past ``cap``."""
        space = self.space
        keeps = math.prod(len(o) for o in space.keep_options)
        if math.prod(space.option_count_at_most(dim) for dim in DIMENSIONS) * keeps > cap:
            return cap + 1
        total = 0
        for per_dim in itertools.product(*(self.options(dim) for dim in DIMENSIONS)):
            orders = 1
            for level in range(space.levels - 1):
                free = sum(
                    1
                    for d in range(len(DIMENSIONS))
                    if per_dim[d][level] > 1 and DIMENSIONS[d] not in space.prefixes[level]
                )
                orders *= math.factorial(free)
            total += orders * keeps
            if total > cap:
                return cap + 1
        return total

    def run_exhaustive(self) -> None:
        space = self.space
        self.explored.exhaustive = True
        fitting = []
        for per_dim in itertools.product(*(self.options(dim) for dim in DIMENSIONS)):
            factors = self.slot_major(list(per_dim))
            reason = space.spatial_ok(factors)
            if reason is None:
                fitting.append(factors)
            else:
                self._reject(reason)
        if not fitting:
            return
        dtype = np.int64 if self.bits_safe else object
        batch = np.array(fitting, dtype=dtype)
        for keeps in itertools.product(*space.keep_options):
            mask = capacity_mask(space, batch, list(keeps))
            self.explored.invalid += int((~mask).sum())
            if not mask.all():
                self.explored.invalid_reasons["capacity"] = self.explored.invalid_reasons.get(
                    "capacity", 0
                ) + int((~mask).sum())
            for factors, ok in zip(fitting, mask, strict=True):
                if not ok:
                    continue
                for orders in itertools.product(
                    *(space.orders(level, factors) for level in range(space.levels))
                ):
                    self.score(Point(factors, orders, keeps))
        self.explored.stopped_by = "space exhausted"

    def run_heuristic(self, seeds: list[Mapping]) -> None:
        starts = []
        for mapping in seeds:
            point = self.from_mapping(mapping)
            if point is not None and self.valid([point]):
                self.score(point)
                starts.append(point)
        candidates: list[Point] = []
        for _ in range(RANDOM_BATCHES):
            if self.out_of_budget():
                break
            candidates += self.valid(self.random_points(RANDOM_BATCH))
        for point in self.by_estimate(list(dict.fromkeys(candidates)))[:RANDOM_EXACT]:
            if self.out_of_budget():
                break
            self.score(point)
        climbed: set[Point] = set()
        while (reason := self.out_of_budget()) is None:
            start = self._next_start(climbed)
            if start is None:
                self.explored.stopped_by = "local optima"
                return
            climbed.add(self._climb(start))
        self.explored.stopped_by = reason

    def _next_start(self, climbed: set[Point]) -> Point | None:
        ranked = sorted(
            ((s, p) for p, s in self.scores.items() if math.isfinite(s)),
            key=lambda item: (item[0], self.mappings[item[1]].describe()),
        )
        for _, point in ranked:
            if point not in climbed:
                return point
        return None

    def _climb(self, point: Point) -> Point:
        """First-improvement descent from ``point``; returns the local optimum (or where the budget ended)."""
        current, best = point, self.score(point)
        while self.out_of_budget() is None:
            candidates = [p for p in dict.fromkeys(self.neighbours(current)) if p not in self.scores]
            self.rng.shuffle(candidates)
            improved = False
            ordered = self.by_estimate(self.valid(candidates))
            for candidate in ordered[:STEP_EXACT] if self.estimate_fn else ordered:
                if self.out_of_budget() is not None:
                    break
                value = self.score(candidate)
                if value < best:
                    current, best, improved = candidate, value, True
                    break
            if not improved:
                break
        return current


def search_space(
    space: Space,
    score_fn: ScoreFn,
    seeds: list[Mapping],
    seed: int = 0,
    evaluations: int = 600,
    budget_s: float | None = None,
    top_k: int = 4,
    exhaustive_points: int = EXHAUSTIVE_POINTS,
    estimate_fn: EstimateFn | None = None,
) -> Ranked:
    """The best points of ``space`` by ``score_fn`` (exhaustive if small, else heuristic)."""
    started = time.perf_counter()
    searcher = Searcher(space, score_fn, seed, evaluations, budget_s, top_k, estimate_fn)
    size = searcher.exhaustive_size(exhaustive_points)
    searcher.explored.space_points = size
    if size <= exhaustive_points:
        searcher.run_exhaustive()
    else:
        searcher.run_heuristic(seeds)
    searcher.explored.seconds = time.perf_counter() - started
    result = searcher.ranked()
    if not result.best:
        raise EnergySimError(no_mapping_reason(space, searcher.explored))
    return result


def no_mapping_reason(space: Space, explored: Explored) -> str:
    """Why no mapping was found: an empty factor choice, the fan-out rules, or capacity (with the level)."""
    layer, hierarchy = space.layer, space.hierarchy
    head = f"no valid mapping of layer {layer.name} on {hierarchy.name}"
    for dim in DIMENSIONS:
        if not space.option_count_at_most(dim):
            fixed = {lv: f for (lv, d), f in space.fixed.items() if d == dim}
            names = {hierarchy.levels[lv].name: f for lv, f in fixed.items()}
            where = names or "spatial axes"
            return f"{head}: the factor constraints on {dim} ({where}) cannot multiply to {space.bounds[dim]}"
    # The smallest tiles: every factor at the outermost level but those the constraints fix.
    rows = [[1] * len(DIMENSIONS) for _ in space.slots]
    for d, dim in enumerate(DIMENSIONS):
        fixed = {lv: f for (lv, fixed_dim), f in space.fixed.items() if fixed_dim == dim}
        for level, factor in fixed.items():
            rows[level][d] = factor
        rows[0][d] = max(1, -(-space.bounds[dim] // math.prod(fixed.values())))
    factors = tuple(tuple(row) for row in rows)
    keeps = tuple(options[-1] for options in space.keep_options)
    orders = tuple(space.canonical_order(level, factors, "") for level in range(space.levels))
    smallest = space.to_mapping(Point(factors, orders, keeps))
    assert layer.loop_bounds is not None
    problems = structure_problems(smallest, layer, hierarchy) or capacity_problems(
        smallest, layer, hierarchy, Nest(smallest, layer.loop_bounds)
    )
    if problems:
        return f"{head}: even the smallest tiles do not fit: {'; '.join(problems)}"
    if explored.invalid_reasons:
        reason, count = max(explored.invalid_reasons.items(), key=lambda item: item[1])
        return f"{head}: every candidate broke a rule; most often {reason} ({count} candidates)"
    return f"{head}: no candidate could be counted"
