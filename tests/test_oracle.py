"""The analytic access counter against a brute-force oracle that walks every MAC.

``tests/bruteforce.py`` counts reads, fills, updates and network transfers from
the semantics in :mod:`energysim.analysis.accesses`' docstring by building every
tile as a set; here hypothesis draws small layers, hierarchies and mappings
(imperfect factors, spatial fan-out, bypassed levels, multicast or not) and the
two must agree exactly.
"""

from __future__ import annotations

import math
from typing import Any

from bruteforce import brute_force_counts
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from energysim.analysis.accesses import count_accesses
from energysim.model.base import TENSORS, Tensor
from energysim.model.hierarchy import Hierarchy
from energysim.model.layers import DIMENSIONS, LoopBounds
from energysim.model.mapping import LevelMapping, Loop, Mapping

#: Largest bound drawn per dimension.
MAX_BOUND = {"G": 2, "N": 2, "M": 4, "C": 4, "P": 4, "Q": 3, "R": 3, "S": 2}
#: Budgets keeping the brute force fast.
MAX_MACS = 160
MAX_PADDED_MACS = 1200
MAX_PES = 16

Network = bool | None  # multicast, no multicast, or no network


def make_hierarchy(fanouts: list[int], networks: list[Network], keeps: list[tuple[Tensor, ...]]) -> Hierarchy:
    """A hierarchy of ``len(fanouts)`` levels; ``fanouts[q]`` instances below each of level q's."""
    levels: list[dict[str, Any]] = []
    instances = 1
    for index, (network, kept) in enumerate(zip(networks, keeps, strict=True)):
        level: dict[str, Any] = {
            "name": f"L{index}",
            "kind": "dram" if index == 0 else "sram",
            "instances": instances,
            "keeps": list(kept),
            "read_energy_pj": 1.0,
            "write_energy_pj": 1.0,
            "bandwidth_bytes_per_cycle": 1.0,
        }
        if index:
            level["size_bytes"] = 1 << 20
        if network is not None:
            level["network"] = {"multicast": network, "transfer_energy_pj": 0.1}
        levels.append(level)
        instances *= fanouts[index]
    return Hierarchy.model_validate(
        {
            "version": 1,
            "name": "oracle",
            "clock_ghz": 1.0,
            "levels": levels,
            "compute": {"array": {"rows": 1, "cols": instances}, "mac_energy_pj": 1.0},
        }
    )


def assert_agrees(mapping: Mapping, bounds: LoopBounds, hierarchy: Hierarchy) -> None:
    """count_accesses equals the brute force, count by count and transfer by transfer."""
    counts, transfers = brute_force_counts(mapping, bounds, hierarchy)
    result = count_accesses(mapping, bounds, hierarchy, bounds.macs)
    context = (
        f"\nlayer {bounds}\nmapping {mapping.describe()}\nnetworks "
        f"{[None if lv.network is None else lv.network.multicast for lv in hierarchy.levels]}"
    )
    analytic: dict[tuple[str, str, str], int] = {key: value for key, value in result.counts.items() if value}
    differences = {
        key: (counts.get(key, 0), analytic.get(key, 0))
        for key in counts.keys() | analytic.keys()
        if counts.get(key, 0) != analytic.get(key, 0)
    }
    assert not differences, f"counts (brute force, analytic) differ: {differences}{context}"
    analytic_transfers: dict[tuple[str, str], int] = {k: v for k, v in result.transfers.items() if v}
    assert analytic_transfers == transfers, f"transfers differ{context}"
    factors = [loop.factor for level in mapping.levels for loop in (*level.temporal, *level.spatial)]
    temporal = [loop.factor for level in mapping.levels for loop in level.temporal]
    assert result.mapped_macs == math.prod(factors)
    assert result.time_steps == math.prod(temporal)
    assert result.macs == bounds.macs


# -- strategies -----------------------------------------------------------------------------------


@st.composite
def layers(draw: st.DrawFn) -> LoopBounds:
    """Small bounds (at most MAX_MACS MACs), sometimes strided or dilated."""
    sizes = dict.fromkeys(DIMENSIONS, 1)
    for dim in draw(st.permutations(DIMENSIONS)):
        room = MAX_MACS // math.prod(sizes.values())
        sizes[dim] = draw(st.integers(1, max(1, min(MAX_BOUND[dim], room))))
    stride = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    dilation = draw(st.sampled_from([(1, 1), (1, 1), (2, 1), (1, 2), (2, 2)]))
    if not draw(st.booleans()):
        return LoopBounds(sizes=sizes, stride=stride, dilation=dilation)
    # A convolution's input: zero padding of 0 to 2 rows (columns) each side, and the rows
    # a stride leaves unused at the end (the padded input is (P-1) s + (R-1) d + 1 + unused).
    padding, size = [], []
    for outputs, window, step, spread in zip("PQ", "RS", stride, dilation, strict=True):
        reach = (
            (sizes[outputs] - 1) * step + (sizes[window] - 1) * spread + 1 + draw(st.integers(0, step - 1))
        )
        pad = min(draw(st.integers(0, 2)), (reach - 1) // 2)
        padding.append(pad)
        size.append(reach - 2 * pad)
    return LoopBounds(sizes, stride, dilation, (padding[0], padding[1]), (size[0], size[1]))


@st.composite
def cases(draw: st.DrawFn) -> tuple[Mapping, LoopBounds, Hierarchy]:
    """A layer, a 2-4 level hierarchy and a mapping of the layer onto it."""
    bounds = draw(layers())
    depth = draw(st.integers(2, 4))
    fanouts = [draw(st.sampled_from([1, 2, 4])) for _ in range(depth - 1)]
    fanouts.append(draw(st.sampled_from([1, 2, 4, 4, 8])))  # PEs per innermost instance
    while math.prod(fanouts) > MAX_PES:
        fanouts[fanouts.index(max(fanouts))] //= 2
    networks: list[Network] = [draw(st.sampled_from([None, True, False])) for _ in range(depth)]
    subsets = st.lists(st.sampled_from(TENSORS), min_size=1, max_size=3, unique=True)
    keeps: list[tuple[Tensor, ...]] = [TENSORS]
    for _ in range(depth - 1):
        kept = draw(subsets)
        keeps.append(tuple(t for t in TENSORS if t in kept))
    hierarchy = make_hierarchy(fanouts, networks, keeps)

    # Spatial loops first: up to two dimensions per level, their factors fitting the fan-out.
    # Then each dimension's remaining bound is split over temporal loops of random levels; its
    # last factor completes the bound, rounding up (imperfect splits pad the nest), and is
    # sometimes one more than needed (padding even a dimension of bound 1).
    temporal: list[dict[str, int]] = [{} for _ in range(depth)]
    spatial: list[dict[str, int]] = [{} for _ in range(depth)]
    candidates = [dim for dim in DIMENSIONS if bounds.sizes[dim] > 1]
    for level, fanout in enumerate(fanouts):
        room = fanout
        chosen = draw(st.lists(st.sampled_from(candidates), max_size=2, unique=True)) if candidates else []
        for dim in chosen:
            if room > 1:
                spatial[level][dim] = draw(st.integers(2, min(bounds.sizes[dim], room)))
                room //= spatial[level][dim]
    for dim in DIMENSIONS:
        product = math.prod(spatial[level].get(dim, 1) for level in range(depth))
        remaining = -(-bounds.sizes[dim] // product)
        for level in draw(st.lists(st.integers(0, depth - 1), max_size=2, unique=True)):
            divisors = [f for f in range(1, remaining + 1) if remaining % f == 0]
            temporal[level][dim] = draw(st.one_of(st.sampled_from(divisors), st.integers(1, remaining)))
            product *= temporal[level][dim]
        last = -(-bounds.sizes[dim] // product) + draw(st.sampled_from([0, 0, 0, 0, 1]))
        level = draw(st.integers(0, depth - 1))
        temporal[level][dim] = temporal[level].get(dim, 1) * last
    levels = []
    for index in range(depth):
        order = draw(st.permutations(sorted(temporal[index])))
        levels.append(
            LevelMapping(
                level=f"L{index}",
                temporal=tuple(Loop(d, temporal[index][d]) for d in order if temporal[index][d] > 1),
                spatial=tuple(Loop(d, f) for d, f in sorted(spatial[index].items()) if f > 1),
                keeps=keeps[index],
            )
        )
    mapping = Mapping(tuple(levels))
    assume(math.prod(mapping.padded_bounds().values()) <= MAX_PADDED_MACS)  # small for the brute force
    return mapping, bounds, hierarchy


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_count_accesses_matches_brute_force(case: tuple[Mapping, LoopBounds, Hierarchy]) -> None:
    assert_agrees(*case)


# -- hand-written examples ------------------------------------------------------------------------


def one_dimension_conv() -> tuple[Mapping, LoopBounds, Hierarchy]:
    """P = 8, R = 5 on two levels, one PE: the outer level loops over R, the inner over P."""
    sizes = dict.fromkeys(DIMENSIONS, 1) | {"P": 8, "R": 5}
    mapping = Mapping(
        (
            LevelMapping("L0", temporal=(Loop("R", 5),)),
            LevelMapping("L1", temporal=(Loop("P", 8),)),
        )
    )
    return mapping, LoopBounds(sizes=sizes), make_hierarchy([1, 1], [None, None], [TENSORS, TENSORS])


def test_one_dimension_conv() -> None:
    mapping, bounds, hierarchy = one_dimension_conv()
    counts, transfers = brute_force_counts(mapping, bounds, hierarchy)
    assert counts[("L1", "inputs", "fill")] == 12  # 8, then one new element per step of r
    assert counts[("L1", "weights", "fill")] == 5
    assert counts[("L1", "outputs", "update")] == 40
    assert counts[("L1", "outputs", "read")] == 32  # 40 updates - 8 first writes
    assert counts[("L0", "outputs", "update")] == 8  # the final drain
    assert ("L1", "outputs", "fill") not in counts  # the output tile never leaves
    assert transfers == {}
    assert_agrees(mapping, bounds, hierarchy)


def test_output_refill_between_reduction_steps() -> None:
    """Outputs leave the inner level between two steps of c and come back: filled, then read."""
    sizes = dict.fromkeys(DIMENSIONS, 1) | {"C": 2, "P": 2}
    mapping = Mapping((LevelMapping("L0", temporal=(Loop("C", 2), Loop("P", 2))), LevelMapping("L1")))
    hierarchy = make_hierarchy([1, 1], [None, None], [TENSORS, TENSORS])
    bounds = LoopBounds(sizes=sizes)
    counts, _ = brute_force_counts(mapping, bounds, hierarchy)
    assert counts[("L1", "outputs", "fill")] == 2  # on the second pass over p
    assert counts[("L0", "outputs", "read")] == 2
    assert counts[("L0", "outputs", "update")] == 4  # each step's tile drains
    assert counts[("L1", "outputs", "update")] == 4
    assert counts[("L1", "outputs", "read")] == 2  # the updates of filled values
    assert_agrees(mapping, bounds, hierarchy)


def test_multicast_of_a_shared_input() -> None:
    """Four PEs over M share each input: one read with multicast, four without."""
    sizes = dict.fromkeys(DIMENSIONS, 1) | {"M": 4, "C": 2}
    mapping = Mapping(
        (LevelMapping("L0", temporal=(Loop("C", 2),)), LevelMapping("L1", spatial=(Loop("M", 4),)))
    )
    bounds = LoopBounds(sizes=sizes)
    for multicast, input_reads in ((True, 2), (False, 8)):
        hierarchy = make_hierarchy([1, 4], [None, multicast], [TENSORS, TENSORS])
        counts, transfers = brute_force_counts(mapping, bounds, hierarchy)
        assert counts[("L1", "inputs", "read")] == input_reads
        assert counts[("L1", "weights", "read")] == 8
        assert transfers[("L1", "inputs")] == 8  # every PE receives its operand
        assert counts[("L1", "outputs", "update")] == 8
        assert counts[("L1", "outputs", "read")] == 4
        assert counts[("L0", "outputs", "update")] == 4
        assert_agrees(mapping, bounds, hierarchy)
