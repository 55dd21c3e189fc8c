"""The value-level oracle (tests/value_oracle.py) against numpy and against ``analyze()``.

The oracle executes a mapped schedule on small integers; its outputs must equal
numpy's direct convolution / matmul on every case, and its access counts must equal
``es.analyze(...)``'s for the same mapping: padding, stride, dilation and imperfect
factors included (``tests/test_padding_counts.py`` derives the padded cases by hand).
reduction siblings under one parent or several included. The random count comparison
leaves out only multicast across a bypass, which DESIGN does not settle.
"""

from __future__ import annotations

import math
import random
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from value_oracle import Counts, Problem, random_operands, reference_outputs, run

import energysim as es
from energysim.model.layers import DIMENSIONS
from energysim.model.mapping import LevelMapping, Loop, Mapping

LEVEL_NAMES = ("DRAM", "GLB", "RF", "REG")


def layer_of(spec: dict[str, Any]) -> Any:
    """One layer from its YAML fields."""
    network = es.Network.model_validate({"version": 1, "name": "n", "layers": [{"name": "x", **spec}]})
    return network.layers[0]


def machine(
    instances: list[int],
    pes: int,
    multicast: list[bool | None] | None = None,
    keeps: list[list[str]] | None = None,
) -> es.Hierarchy:
    """A hierarchy of ``len(instances)`` levels, unbounded enough for any small tile.

    ``multicast[i]`` is level i's network's flag; None: the level has no network.
    """
    levels = []
    for index, count in enumerate(instances):
        level: dict[str, Any] = {
            "name": LEVEL_NAMES[index],
            "kind": "dram" if index == 0 else "sram",
            "instances": count,
            "read_energy_pj": 1.0,
            "write_energy_pj": 1.0,
            "bandwidth_bytes_per_cycle": 8,
        }
        flag = True if multicast is None else multicast[index]
        if flag is not None:
            level["network"] = {"multicast": flag, "transfer_energy_pj": 0.1}
        if index:
            level["size_bytes"] = 1 << 20
        if keeps is not None:
            level["keeps"] = keeps[index]
        levels.append(level)
    data = {
        "version": 1,
        "name": "m",
        "clock_ghz": 1.0,
        "levels": levels,
        "compute": {"array": {"rows": 1, "cols": pes}, "mac_energy_pj": 1.0},
    }
    return es.Hierarchy.model_validate(data)


def storage_counts(result: es.Result) -> Counts:
    """analyze()'s reads, fills and updates per (level, tensor, action) of the storage levels."""
    levels = {level.name for level in result.hierarchy.levels}
    frame = result.accesses
    rows = frame[frame["level"].isin(levels) & frame["action"].isin(["read", "fill", "update"])]
    counts: Counts = Counts()
    for row in rows.itertuples():
        if row.count:
            counts[(str(row.level), str(row.tensor), str(row.action))] += int(row.count)
    return counts


def execute(
    layer: Any, hierarchy: es.Hierarchy, mapping: Mapping, seed: int = 0, planted_bug: bool = False
) -> Counts:
    """Run the oracle, assert its outputs equal numpy's, and return its counts."""
    problem = Problem.of(layer)
    weights, inputs = random_operands(problem, seed)
    outputs, counts = run(problem, hierarchy, mapping, weights, inputs, planted_bug=planted_bug)
    np.testing.assert_array_equal(outputs, reference_outputs(problem, weights, inputs))
    return counts


def differences(mine: Counts, theirs: Counts) -> dict[tuple[str, str, str], tuple[int, int]]:
    """Rows where the oracle (first) and analyze() (second) disagree."""
    return {
        key: (mine[key], theirs[key]) for key in sorted(set(mine) | set(theirs)) if mine[key] != theirs[key]
    }


# --- random small layers and mappings ---------------------------------------------------------------


def _prime_factors(number: int) -> list[int]:
    factors, divisor = [], 2
    while number > 1:
        while number % divisor == 0:
            factors.append(divisor)
            number //= divisor
        divisor += 1
    return factors


@st.composite
def layers(draw: st.DrawFn, padding: bool = True) -> Any:
    """A small conv (stride, dilation, padding if ``padding``, groups), fc or matmul."""
    kind = draw(st.sampled_from(["conv", "conv", "conv", "fc", "matmul"]))
    small = st.integers(1, 3)
    if kind == "fc":
        return layer_of({"type": "fc", "N": draw(small), "C": draw(st.integers(1, 4)), "M": draw(small)})
    if kind == "matmul":
        return layer_of(
            {
                "type": "matmul",
                "batch": draw(st.integers(1, 2)),
                "m": draw(small),
                "k": draw(small),
                "n": draw(small),
            }
        )
    groups = draw(st.sampled_from([1, 1, 2]))
    R, S = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    dilation, stride = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    pad = draw(st.integers(0, 1)) if padding else 0
    H = draw(st.integers(max(1, dilation * (R - 1) + 1 - 2 * pad), 5))
    W = draw(st.integers(max(1, dilation * (S - 1) + 1 - 2 * pad), 5))
    spec = {
        "type": "conv", "N": draw(st.integers(1, 2)), "C": groups * draw(st.integers(1, 2)),
        "M": groups * draw(st.integers(1, 2)), "H": H, "W": W, "R": R, "S": S,
        "stride": stride, "dilation": dilation, "padding": pad, "groups": groups,
    }  # fmt: skip
    return layer_of(spec)


@st.composite
def mapped_cases(
    draw: st.DrawFn, padding: bool = True, max_macs: int = 600
) -> tuple[Any, es.Hierarchy, Mapping]:
    """A layer, a hierarchy of 2 to 4 levels that fits it, and a random mapping onto it.

    Each dimension's (sometimes padded: imperfect factors) bound is split prime factor by
    prime factor over the levels' temporal and spatial loops; inner levels keep a random
    subset of the tensors (bypass); each level's network multicasts or not, or is absent. Without ``padding``
    neither the layer nor the factors pad.
    """
    layer = draw(layers(padding))
    sizes = layer.bounds.sizes
    depth = draw(st.integers(2, 4))
    padded = {d: sizes[d] + (1 if padding and draw(st.integers(0, 5)) == 0 else 0) for d in DIMENSIONS}
    if math.prod(padded.values()) > max_macs:
        padded = dict(sizes)
    slots: list[list[tuple[str, int]]] = [[] for _ in range(2 * depth)]  # temporal, spatial per level
    for dim in DIMENSIONS:
        for prime in _prime_factors(padded[dim]):
            slots[draw(st.integers(0, 2 * depth - 1))].append((dim, prime))
    rng = random.Random(draw(st.integers(0, 2**16)))
    levels, instances = [], [1]
    for index in range(depth):
        temporal, spatial = _merge(slots[2 * index]), _merge(slots[2 * index + 1])
        rng.shuffle(temporal)
        keeps = ["weights", "inputs", "outputs"] if index == 0 else [
            t for t in ("weights", "inputs", "outputs") if draw(st.integers(0, 3))
        ]  # fmt: skip
        if not keeps:
            keeps = ["outputs"]
        levels.append(LevelMapping(LEVEL_NAMES[index], tuple(temporal), tuple(spatial), tuple(keeps)))
        instances.append(instances[-1] * math.prod(loop.factor for loop in spatial))
    multicast = [draw(st.sampled_from([True, False, None])) for _ in range(depth)]
    keeps_per_level = [list(level.keeps) for level in levels]
    hierarchy = machine(instances[:depth], instances[depth], multicast, keeps_per_level)
    return layer, hierarchy, Mapping(tuple(levels))


def _merge(pairs: list[tuple[str, int]]) -> list[Loop]:
    factors: dict[str, int] = {}
    for dim, prime in pairs:
        factors[dim] = factors.get(dim, 1) * prime
    return [Loop(dim, factor) for dim, factor in factors.items()]


def mixes_multicast_on_one_path(hierarchy: es.Hierarchy, mapping: Mapping) -> bool:
    """True when data crosses two fan-outs whose networks disagree on multicast (bypass).

    DESIGN does not say how a bypassing path of a multicasting and a non-multicasting
    network counts; the oracle charges one source read per copy the non-multicasting
    fan-outs need, analyze() one per receiver (see the report of issue 10, section 2).
    """
    levels = mapping.levels
    flags = [level.network is not None and level.network.multicast for level in hierarchy.levels]
    for tensor in ("weights", "inputs", "outputs"):
        keepers = [i for i, level in enumerate(levels) if i == 0 or level.keeps_tensor(tensor)]
        for source, receiver in zip(keepers, [*keepers[1:], len(levels)], strict=True):
            fanning = {flags[k] for k in range(source, receiver) if levels[k].spatial}
            if len(fanning) > 1:
                return True
    return False


def agrees_today(layer: Any, hierarchy: es.Hierarchy, mapping: Mapping) -> bool:
    """Cases outside the one open question of multicast over bypass."""
    return not mixes_multicast_on_one_path(hierarchy, mapping)


# --- hand cases -------------------------------------------------------------------------------------


def two_level() -> es.Hierarchy:
    return machine([1, 1], 1)


def test_design_1d_example_counts_by_hand_and_agrees_with_analyze() -> None:
    """DESIGN: P = 8 outputs, R = 5 taps, inner level loops over P, outer over R.

    Inner input fills 8 + 1 + 1 + 1 + 1 = 12 (a sliding window), weight fills 5,
    output updates 40 and reads 40 - 8 = 32; written as Q and S, the same nest.
    """
    layer = layer_of({"type": "conv", "C": 1, "M": 1, "H": 1, "W": 12, "R": 1, "S": 5})
    mapping = Mapping((LevelMapping("DRAM", (Loop("S", 5),)), LevelMapping("GLB", (Loop("Q", 8),))))
    counts = execute(layer, two_level(), mapping)
    assert counts[("GLB", "inputs", "fill")] == 12
    assert counts[("GLB", "weights", "fill")] == 5
    assert counts[("GLB", "outputs", "update")] == 40
    assert counts[("GLB", "outputs", "read")] == 32
    assert counts[("DRAM", "inputs", "read")] == 12  # what the inner level fills, the outer reads
    assert counts[("DRAM", "outputs", "update")] == 8  # each output leaves once, finished
    assert differences(counts, storage_counts(es.analyze(layer, two_level(), mapping=mapping))) == {}


def test_small_partial_sum_example_on_an_adder_tree() -> None:
    """The lecture's partial-sum example, scaled down: one output of 3 x 3 x 4 on a 4-wide MAC.

    36 products, 4 per cycle through an adder tree: 9 partial-sum writes into the
    one-word output register, 8 of them onto a running sum (8 reads). Weights and
    inputs: 36 distinct elements each, filled once.
    """
    layer = layer_of({"type": "conv", "C": 4, "M": 1, "H": 3, "W": 3, "R": 3, "S": 3})
    hierarchy = machine([1, 1], 4)
    mapping = Mapping(
        (LevelMapping("DRAM"), LevelMapping("GLB", (Loop("R", 3), Loop("S", 3)), (Loop("C", 4),)))
    )
    counts = execute(layer, hierarchy, mapping)
    assert counts[("GLB", "outputs", "update")] == 9
    assert counts[("GLB", "outputs", "read")] == 8
    assert counts[("GLB", "weights", "fill")] == counts[("GLB", "inputs", "fill")] == 36
    assert counts[("DRAM", "outputs", "update")] == 1
    assert differences(counts, storage_counts(es.analyze(layer, hierarchy, mapping=mapping))) == {}


@pytest.mark.parametrize(("multicast", "dram_input_reads"), [(True, 3), (False, 6)])
def test_multicast_is_one_read_per_distinct_element(multicast: bool, dram_input_reads: int) -> None:
    """fc C=3 M=2 fanned out over M to 2 GLBs: both need all 3 inputs.

    Multicast: 3 DRAM reads, 6 fills; without: one read per fill, 6.
    """
    layer = layer_of({"type": "fc", "C": 3, "M": 2})
    hierarchy = machine([1, 2], 2, [multicast, True])
    mapping = Mapping((LevelMapping("DRAM", (), (Loop("M", 2),)), LevelMapping("GLB", (Loop("C", 3),))))
    counts = execute(layer, hierarchy, mapping)
    assert counts[("GLB", "inputs", "fill")] == 6
    assert counts[("DRAM", "inputs", "read")] == dram_input_reads
    assert differences(counts, storage_counts(es.analyze(layer, hierarchy, mapping=mapping))) == {}


def test_bypass_reads_operands_from_the_next_keeping_level() -> None:
    """RF keeps only outputs: every one of the 12 MACs reads its weight and input from the GLB."""
    layer = layer_of({"type": "fc", "N": 2, "C": 3, "M": 2})
    keeps = [["weights", "inputs", "outputs"], ["weights", "inputs", "outputs"], ["outputs"]]
    hierarchy = machine([1, 1, 1], 1, keeps=keeps)
    mapping = Mapping(
        (
            LevelMapping("DRAM"),
            LevelMapping("GLB", (Loop("N", 2), Loop("M", 2))),
            LevelMapping("RF", (Loop("C", 3),), keeps=("outputs",)),
        )
    )
    counts = execute(layer, hierarchy, mapping)
    assert counts[("GLB", "weights", "read")] == counts[("GLB", "inputs", "read")] == 12
    assert ("RF", "weights", "fill") not in counts
    assert counts[("RF", "outputs", "update")] == 12
    assert counts[("RF", "outputs", "read")] == 12 - 4
    assert differences(counts, storage_counts(es.analyze(layer, hierarchy, mapping=mapping))) == {}


def test_spatial_reduction_under_one_parent() -> None:
    """fc C=4 M=2; the GLB loops C2 M2 (M inner) and fans C2 out to 2 RFs of one output each.

    Each of the 4 GLB steps brings each RF a new output. The two RFs reduce into one
    GLB: on the 2 steps where the GLB already holds a partial sum (second C half), the
    designated RF (C index 0) is filled with it, the other starts from zero: RF output
    fills 2, GLB output reads 2, GLB updates 4 (one merged write per step), DRAM 2.
    """
    layer = layer_of({"type": "fc", "C": 4, "M": 2})
    hierarchy = machine([1, 1, 2], 2)
    mapping = Mapping(
        (
            LevelMapping("DRAM"),
            LevelMapping("GLB", (Loop("C", 2), Loop("M", 2)), (Loop("C", 2),)),
            LevelMapping("RF"),
        )
    )
    counts = execute(layer, hierarchy, mapping)
    assert counts[("RF", "outputs", "fill")] == 2
    assert counts[("GLB", "outputs", "read")] == 2
    assert counts[("GLB", "outputs", "update")] == 4
    assert counts[("RF", "outputs", "update")] == 8
    assert counts[("DRAM", "outputs", "update")] == 2
    assert differences(counts, storage_counts(es.analyze(layer, hierarchy, mapping=mapping))) == {}


def test_strided_dilated_window_fills_only_the_touched_rows() -> None:
    """W=5, S=2, stride 2, dilation 2: output q reads columns {2q, 2q + 2}.

    The GLB's tile changes with the outer Q loop: columns {0, 2}, then {2, 4}, of
    which column 2 is kept: 2 + 1 fills (column 1 and 3 are never touched).
    """
    layer = layer_of(
        {"type": "conv", "C": 1, "M": 1, "H": 1, "W": 5, "R": 1, "S": 2, "stride": 2, "dilation": 2}
    )
    mapping = Mapping((LevelMapping("DRAM", (Loop("Q", 2),)), LevelMapping("GLB", (Loop("S", 2),))))
    counts = execute(layer, two_level(), mapping)
    assert counts[("GLB", "inputs", "fill")] == 2 + 1  # columns {0, 2}, then {2, 4} keeps 2
    assert differences(counts, storage_counts(es.analyze(layer, two_level(), mapping=mapping))) == {}


# --- issue 10's bugs: the planted copy fails on values; analyze() must agree once they are fixed --------


def cross_parent_reduction() -> tuple[Any, es.Hierarchy, Mapping]:
    """Issue 10's reproducer: DRAM (spatial C2) -> 2 GLB (temporal C2 M2) -> 2 RF, fc C=4 M=2."""
    layer = layer_of({"type": "fc", "C": 4, "M": 2})
    mapping = Mapping(
        (
            LevelMapping("DRAM", (), (Loop("C", 2),)),
            LevelMapping("GLB", (Loop("C", 2), Loop("M", 2))),
            LevelMapping("RF"),
        )
    )
    return layer, machine([1, 2, 2], 2), mapping


def test_designated_sibling_per_parent_computes_the_layer() -> None:
    """Each GLB is its RF's only parent: the RF takes the GLB's running sum on the second C step.

    RF output fills 2 per GLB = 4, GLB output reads 4; the outputs equal numpy's.
    """
    counts = execute(*cross_parent_reduction())
    assert counts[("RF", "outputs", "fill")] == 4
    assert counts[("GLB", "outputs", "read")] == 4


def test_planted_designated_sibling_bug_computes_wrong_outputs() -> None:
    """The bug planted in a copy of the rule (designated over every spatial loop above) is caught.

    The second GLB's RF never takes its GLB's running sum, so its drains overwrite it:
    the oracle's outputs then differ from numpy's, on the issue's reproducer and on
    other seeds alike.
    """
    layer, hierarchy, mapping = cross_parent_reduction()
    problem = Problem.of(layer)
    for seed in range(5):
        weights, inputs = random_operands(problem, seed)
        expected = reference_outputs(problem, weights, inputs)
        right, _ = run(problem, hierarchy, mapping, weights, inputs)
        wrong, counts = run(problem, hierarchy, mapping, weights, inputs, planted_bug=True)
        np.testing.assert_array_equal(right, expected)
        assert not np.array_equal(wrong, expected)
        assert counts[("RF", "outputs", "fill")] == 2  # the buggy count of issue 10


def test_analyze_bug_reproducer_designated_sibling_over_parent_loops_only() -> None:
    """analyze() must count issue 10's reproducer as the oracle does (fails until bug 1 is fixed)."""
    layer, hierarchy, mapping = cross_parent_reduction()
    counts = execute(layer, hierarchy, mapping)
    assert differences(counts, storage_counts(es.analyze(layer, hierarchy, mapping=mapping))) == {}


# --- the random cases ---------------------------------------------------------------------------------

RANDOM_CASES = settings(max_examples=320, deadline=2000, derandomize=True)


@RANDOM_CASES
@given(mapped_cases(), st.integers(0, 2**16))
def test_random_schedules_compute_numpys_outputs(case: tuple[Any, es.Hierarchy, Mapping], seed: int) -> None:
    """Every random mapping, run on real numbers, computes the layer (any padding, reduction, bypass)."""
    execute(*case, seed=seed)


@settings(max_examples=300, deadline=2000, derandomize=True)
@given(mapped_cases())
def test_random_counts_agree_with_analyze(case: tuple[Any, es.Hierarchy, Mapping]) -> None:
    """Padded or not, reducing or not, analyze() counts what the oracle did (but multicast over bypass)."""
    layer, hierarchy, mapping = case
    assume(agrees_today(layer, hierarchy, mapping))
    counts = execute(layer, hierarchy, mapping)
    assert differences(counts, storage_counts(es.analyze(layer, hierarchy, mapping=mapping))) == {}
