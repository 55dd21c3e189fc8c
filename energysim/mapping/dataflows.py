"""Named dataflows: weight, output, input and row stationary, and no local reuse.

A dataflow is a rule for building a mapping (Chen, Emer, Sze, ISCA 2016):

* ``ws`` weight stationary: each PE's storage keeps weights; the loops just
  above it run over what weights do not index (N, P, Q), so a weight is used
  for all its MACs before it leaves. C and M are spread over the array.
* ``os`` output stationary: each PE keeps partial sums; the reduction loops
  (C, R, S) run innermost, so a psum leaves only when complete. Output pixels
  (P, Q) and channels (M) are spread over the array.
* ``is`` input stationary: each PE keeps inputs; M runs innermost.
* ``rs`` row stationary (Eyeriss): each PE runs a 1-D convolution of a filter
  row with an input row; filter rows (R) go down the array's rows, output rows
  (P) across its columns, psums accumulate down a column, and the input window
  slides along Q in the PE's scratchpad.
* ``nlr`` no local reuse: the PEs keep nothing; everything comes from the
  global buffer (inputs multicast, psums reduced across the array).

Building a mapping is a small search within the dataflow's rules: a few
spatial assignments (best array utilisation first) times a few tiling
priorities, each tile grown greedily to fill its level; the candidate of
least energy wins. The same layer on the same hierarchy always gives the same
mapping. On a systolic array each edge takes the dimensions of one group
(reduction C R S, output channels G M, output pixels N P Q), the columns
another group than the rows: where a dataflow names two groups for one edge
(os's rows, rs's and nlr's columns) each is tried apart, and os, which spreads
output pixels over both edges, may lay either of its groups on either edge
(the mapping check rejects any other layout:
:func:`~energysim.mapping.check.array_fit_problem`).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

from energysim.analysis.accesses import count_accesses
from energysim.analysis.energy import price
from energysim.analysis.tiles import Nest
from energysim.errors import EnergySimError
from energysim.mapping.check import (
    GROUP_OF,
    capacity_problems,
    check_mapping,
    fanout,
    level_capacity_problems,
    structure_problems,
    systolic_edges,
)
from energysim.model.base import Tensor
from energysim.model.hierarchy import Hierarchy
from energysim.model.layers import DIMENSIONS, LayerBase
from energysim.model.mapping import LevelMapping, Loop, Mapping


@dataclass(frozen=True)
class DataflowRules:
    """What a dataflow fixes: the PE's storage, the loop order and the spatial dims.

    ``order`` is the temporal loop order (outer to inner) at every level;
    ``local_keeps`` and ``local_dims`` say what the per-PE level keeps and
    which dimensions its own loops may cover; ``rows`` and ``cols`` list the
    dimensions to spread over the array, in order of preference.
    """

    name: str
    title: str
    order: str
    local_keeps: tuple[Tensor, ...]
    local_dims: str
    rows: str
    cols: str


DATAFLOWS: dict[str, DataflowRules] = {
    rules.name: rules
    for rules in (
        DataflowRules("ws", "weight stationary", "GCRSMNPQ", ("weights",), "CMRS", "CRS", "M"),
        DataflowRules("os", "output stationary", "GNMPQCRS", ("outputs",), "MPQN", "PM", "QN"),
        DataflowRules("is", "input stationary", "GNCRSPQM", ("inputs",), "CPQN", "C", "PQN"),
        DataflowRules(
            "rs", "row stationary", "GNMCPRSQ", ("weights", "inputs", "outputs"), "SCM", "RC", "PMN"
        ),
        DataflowRules("nlr", "no local reuse", "GNMPQCRS", (), "", "C", "MN"),
    )
}

#: Tiling priorities tried at the levels between the PEs and DRAM (dims grown first).
TILING_PRIORITIES: tuple[str, ...] = ("QPNMCRSG", "CRSQPNMG", "MNQPCRSG")
#: Spatial assignments tried per fan-out.
SPATIAL_CANDIDATES = 3


def get_dataflow(name: str) -> DataflowRules:
    """The dataflow called ``name``; an EnergySimError lists the known ones."""
    try:
        return DATAFLOWS[name.lower()]
    except KeyError:
        raise EnergySimError(f"unknown dataflow {name!r}; known: {', '.join(DATAFLOWS)}") from None


@lru_cache(maxsize=4096)
def _prime_factors(value: int) -> tuple[int, ...]:
    """Prime factors of ``value`` with multiplicity, ascending.

    Trial division up to the square root: at most ~46,000 steps for a bound
    of 2^31 (a large prime is the worst case), whatever the value's size in digits.
    """
    factors: list[int] = []
    while value % 2 == 0 and value > 1:
        factors.append(2)
        value //= 2
    candidate = 3
    while candidate * candidate <= value:
        while value % candidate == 0:
            factors.append(candidate)
            value //= candidate
        candidate += 2
    if value > 1:
        factors.append(value)
    return tuple(factors)


@lru_cache(maxsize=4096)
def _divisors(value: int) -> tuple[int, ...]:
    """All divisors of ``value``, ascending, built from its prime factorisation.

    Their number is the product of (multiplicity + 1) over the primes: at most
    1,600 for a value up to 2^31, however large the value.
    """
    divisors = [1]
    for prime, multiplicity in Counter(_prime_factors(value)).items():
        divisors = [d * prime**power for d in divisors for power in range(multiplicity + 1)]
    return tuple(sorted(divisors))


def _largest_divisor_at_most(value: int, limit: int) -> int:
    """The largest divisor of ``value`` that is at most ``limit`` (1 if ``limit`` < 2)."""
    return max((d for d in _divisors(value) if d <= limit), default=1)


def _axis_options(
    remaining: dict[str, int], dims: str, capacity: int, one_group: bool = False
) -> list[dict[str, int]]:
    """Ways to fill one array axis of ``capacity`` with ``dims``, most useful first.

    With ``one_group`` (a systolic array's edge) each way uses the dimensions
    of one :data:`~energysim.mapping.check.DIM_GROUPS` group only, the group
    of the dimension it starts from.
    """
    options: list[tuple[float, int, dict[str, int]]] = []
    usable = [dim for dim in dims if remaining.get(dim, 1) > 1]
    for start in range(len(usable)):
        group = GROUP_OF[usable[start]] if one_group else "".join(DIMENSIONS)
        for exact in (True, False):
            chosen: dict[str, int] = {}
            left = capacity
            for dim in (d for d in usable[start:] + usable[:start] if d in group):
                bound = remaining[dim]
                factor = _largest_divisor_at_most(bound, left) if exact else min(bound, left)
                if factor > 1:
                    chosen[dim] = factor
                    left //= factor
            lanes = math.prod(chosen.values())
            useful = math.prod(remaining[d] / (-(-remaining[d] // f) * f) for d, f in chosen.items())
            options.append((lanes * useful, len(options), chosen))
    options.append((1.0, len(options), {}))
    unique: list[dict[str, int]] = []
    for _, _, chosen in sorted(options, key=lambda item: (-item[0], item[1])):
        if chosen not in unique:
            unique.append(chosen)
    return unique


def _fanout_shape(hierarchy: Hierarchy, index: int) -> tuple[int, int]:
    count = fanout(hierarchy, index)
    if count == hierarchy.compute.pes and hierarchy.levels[index].instances == 1:
        return hierarchy.compute.array.rows, hierarchy.compute.array.cols
    return 1, count


def _edge_dims(row_dims: str, col_dims: str) -> tuple[str, str]:
    """A dataflow's rows and columns dimensions as a systolic array's edges may take them.

    Where the dataflow spreads one group over both edges (os: P down the rows,
    Q and N across), which a systolic array cannot run, either edge may take
    any of the dataflow's dimensions (its own first), so that group goes whole
    on one edge and another group on the other (SCALE-Sim's os: P, Q (N) x M).
    """
    if {GROUP_OF[d] for d in row_dims} & {GROUP_OF[d] for d in col_dims}:
        return row_dims + col_dims, col_dims + row_dims
    return row_dims, col_dims


def _spatial_plans(
    hierarchy: Hierarchy, sizes: dict[str, int], row_dims: str, col_dims: str
) -> Iterator[dict[int, dict[str, int]]]:
    """Spatial factors per fanning level from the given dims, best utilisation first."""
    plans: list[tuple[dict[int, dict[str, int]], dict[str, int]]] = [({}, dict(sizes))]
    for index in range(len(hierarchy.levels)):
        rows, cols = _fanout_shape(hierarchy, index)
        if rows * cols == 1:
            continue
        # A systolic array carries one dimension group per edge, rows and columns different ones
        # (check.array_fit_problem): each edge's options keep to one group, and the columns' to
        # another group than the rows'.
        systolic = systolic_edges(hierarchy, index) is not None
        on_rows, on_cols = _edge_dims(row_dims, col_dims) if systolic else (row_dims, col_dims)
        extended = []
        for plan, remaining in plans:
            axis_choices: list[tuple[dict[str, int], dict[str, int]]] = []
            if rows == 1:
                axis_choices = [(opt, {}) for opt in _axis_options(remaining, row_dims + col_dims, cols)]
            else:
                for row_option in _axis_options(remaining, on_rows, rows, systolic)[:SPATIAL_CANDIDATES]:
                    left = {d: -(-v // row_option.get(d, 1)) for d, v in remaining.items()}
                    taken = "".join(GROUP_OF[d] for d in row_option) if systolic else ""
                    dims = "".join(d for d in on_cols if d not in taken)
                    for col_option in _axis_options(left, dims, cols, systolic)[:SPATIAL_CANDIDATES]:
                        axis_choices.append((row_option, col_option))
            for row_option, col_option in axis_choices[: SPATIAL_CANDIDATES * 2]:
                combined = dict(row_option)
                for dim, factor in col_option.items():
                    combined[dim] = combined.get(dim, 1) * factor
                left = {d: -(-v // combined.get(d, 1)) for d, v in remaining.items()}
                extended.append(({**plan, index: combined}, left))
        plans = extended[: SPATIAL_CANDIDATES * 2]
    for plan, _ in plans[:SPATIAL_CANDIDATES]:
        yield plan


def _level_keeps(
    hierarchy: Hierarchy, rules: DataflowRules, index: int, local: int | None
) -> tuple[Tensor, ...]:
    hardware = hierarchy.levels[index].keeps
    if index == local:
        return tuple(tensor for tensor in hardware if tensor in rules.local_keeps)
    return hardware


def _assemble(
    hierarchy: Hierarchy,
    rules: DataflowRules,
    keeps: list[tuple[Tensor, ...]],
    temporal: list[dict[str, int]],
    spatial: dict[int, dict[str, int]],
) -> Mapping:
    levels = []
    for index, level in enumerate(hierarchy.levels):
        factors = temporal[index]
        levels.append(
            LevelMapping(
                level=level.name,
                temporal=tuple(Loop(d, factors[d]) for d in rules.order if factors.get(d, 1) > 1),
                spatial=tuple(Loop(d, f) for d, f in sorted(spatial.get(index, {}).items()) if f > 1),
                keeps=keeps[index],
            )
        )
    return Mapping(tuple(levels))


def _tile(
    layer: LayerBase,
    hierarchy: Hierarchy,
    rules: DataflowRules,
    spatial: dict[int, dict[str, int]],
    priority: str,
    grow: bool = True,
) -> Mapping:
    """Grow tiles greedily from the innermost level out (with ``grow``; else the smallest tiles)."""
    bounds = layer.loop_bounds
    assert bounds is not None
    local = hierarchy.per_pe_level
    spread = {d: math.prod(plan.get(d, 1) for plan in spatial.values()) for d in DIMENSIONS}
    remaining = {d: -(-bounds.sizes[d] // spread[d]) for d in DIMENSIONS}
    count = len(hierarchy.levels)
    keeps = [_level_keeps(hierarchy, rules, index, local) for index in range(count)]
    temporal: list[dict[str, int]] = [{} for _ in range(count)]
    temporal[0] = dict(remaining)
    # extents[j][d]: the tile of level j along d, the product of the factors at levels j and inside.
    extents = [dict.fromkeys(DIMENSIONS, 1) for _ in range(count)]
    for j in range(count - 1, -1, -1):
        for d in DIMENSIONS:
            inside = extents[j + 1][d] if j + 1 < count else 1
            extents[j][d] = inside * spatial.get(j, {}).get(d, 1)
    for d in DIMENSIONS:
        extents[0][d] *= remaining[d]

    def fits(levels: range) -> bool:
        return not any(
            level_capacity_problems(hierarchy.levels[j], keeps[j], layer, extents[j]) for j in levels
        )

    if not grow or not fits(range(count)):
        return _assemble(hierarchy, rules, keeps, temporal, spatial)
    # Growing level ``index`` grows the tiles of levels 1 .. index (level 0 holds everything), and
    # only those need checking, ``index`` first: a move that fails almost always fails there, and
    # moves that succeed are at most the primes of the bounds, so the cost is about
    # levels x primes, linear in the number of levels and blind to the sizes themselves.
    for index in range(count - 1, 0, -1):
        if not keeps[index]:
            continue
        dims = rules.local_dims if index == local else priority
        for dim in dims:
            for prime in sorted(_prime_factors(temporal[0].get(dim, 1)), reverse=True):
                temporal[0][dim] //= prime
                temporal[index][dim] = temporal[index].get(dim, 1) * prime
                for j in range(1, index + 1):
                    extents[j][dim] *= prime
                if not fits(range(index, 0, -1)):
                    temporal[0][dim] *= prime
                    temporal[index][dim] //= prime
                    for j in range(1, index + 1):
                        extents[j][dim] //= prime
    return _assemble(hierarchy, rules, keeps, temporal, spatial)


def _energy(mapping: Mapping, layer: LayerBase, hierarchy: Hierarchy) -> float:
    assert layer.loop_bounds is not None
    counts = count_accesses(mapping, layer.loop_bounds, hierarchy, layer.macs)
    return float(sum(row["energy"] for row in price(counts, layer, hierarchy)))


def build_mapping(layer: LayerBase, hierarchy: Hierarchy, dataflow: str) -> Mapping:
    """The least-energy mapping of ``layer`` on ``hierarchy`` within ``dataflow``'s rules."""
    rules = get_dataflow(dataflow)
    if layer.loop_bounds is None:
        raise EnergySimError(f"layer {layer.name} has no MACs: dataflows map conv, fc and matmul layers")
    bounds = layer.loop_bounds
    key = (
        hierarchy.model_dump_json(),
        rules.name,
        tuple(bounds.sizes.items()),
        bounds.stride,
        bounds.dilation,
        tuple(layer.bits(tensor) for tensor in ("weights", "inputs", "outputs")),
    )
    if key not in _SEARCHED:
        _SEARCHED[key] = _search(layer, hierarchy, rules)
    return _SEARCHED[key]


#: Mappings found so far, by everything that decides them (layers of one shape share one).
_SEARCHED: dict[tuple[object, ...], Mapping] = {}


def clear_mapping_cache() -> None:
    """Forget the mappings found so far (for cold-start timing; results do not change)."""
    _SEARCHED.clear()


def _utilisation(spatial: dict[int, dict[str, int]], hierarchy: Hierarchy) -> float:
    lanes = math.prod(math.prod(plan.values()) for plan in spatial.values())
    fanouts = math.prod(fanout(hierarchy, index) for index in range(len(hierarchy.levels)))
    return lanes / fanouts


def _search(layer: LayerBase, hierarchy: Hierarchy, rules: DataflowRules) -> Mapping:
    """Least energy over a few spatial plans x tiling priorities.

    The dataflow's own spatial dimensions come first; other dimensions (any,
    then only the reduction dims C, R, S, then none at all) are tried too when
    those leave most of the array idle or do not fit (a layer too small for
    them, or a machine whose array does not suit the dataflow).
    """
    best: tuple[float, Mapping] | None = None
    best_utilisation = 0.0
    unanalysable: list[str] = []
    assert layer.loop_bounds is not None
    every = "".join(DIMENSIONS)
    fallbacks = [(every, every), ("CRS", "CRS")]
    if hierarchy.compute.systolic:
        # The array's own layouts, one dimension group per edge (check.DIM_GROUPS): the
        # reduction down the rows, output channels or output pixels across the columns.
        fallbacks += [("CRS", "GM"), ("CRS", "NPQ")]
    stages = [((rules.rows, rules.cols),), tuple(fallbacks)]
    for stage in stages:
        if best is not None and best_utilisation >= 0.5:
            break
        plans = [
            plan
            for rows, cols in stage
            for plan in _spatial_plans(hierarchy, layer.loop_bounds.sizes, rows, cols)
        ]
        if stage is stages[-1]:
            plans.append({})
        for spatial in plans:
            for priority in TILING_PRIORITIES:
                mapping = _tile(layer, hierarchy, rules, spatial, priority)
                nest = Nest(mapping, layer.loop_bounds)
                if structure_problems(mapping, layer, hierarchy) or capacity_problems(
                    mapping, layer, hierarchy, nest
                ):
                    continue
                try:
                    energy = _energy(mapping, layer, hierarchy)
                except EnergySimError as error:  # too large to count: not a candidate
                    unanalysable.append(str(error))
                    continue
                if best is None or energy < best[0]:
                    best = (energy, mapping)
                    best_utilisation = _utilisation(spatial, hierarchy)
    if best is None:
        smallest = _tile(layer, hierarchy, rules, {}, "", grow=False)
        nest = Nest(smallest, layer.loop_bounds)
        if unanalysable:
            raise EnergySimError(
                f"dataflow {rules.name}: no mapping of layer {layer.name} on {hierarchy.name} can be "
                f"counted: {unanalysable[0]}"
            )
        problems = structure_problems(smallest, layer, hierarchy)
        if problems:
            raise EnergySimError(
                f"dataflow {rules.name}: layer {layer.name} cannot be mapped on {hierarchy.name}: "
                + "; ".join(problems)
            )
        reasons = "; ".join(capacity_problems(smallest, layer, hierarchy, nest))
        raise EnergySimError(
            f"dataflow {rules.name}: no mapping of layer {layer.name} fits {hierarchy.name}: even the "
            f"smallest tiles overflow: {reasons}"
        )
    check_mapping(best[1], layer, hierarchy)
    return Mapping(
        best[1].levels, note=f"{rules.name} ({rules.title}), energy {best[0]:.4g} {hierarchy.energy_unit}"
    )
