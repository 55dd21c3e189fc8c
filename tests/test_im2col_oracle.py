"""Exact counts of im2col (flattened) mappings against the two oracles.

A level ``F`` that flattens C, R, S into ``K`` (AlexNet conv1's 363 reduction
rows in folds of an array edge) is counted by :mod:`energysim.analysis.im2col`
from two views of the nest. The oracles here walk the flattened nest itself,
from the flattening's meaning only (``tests/bruteforce.py``,
``tests/value_oracle.py``): a MAC's ``K`` index ``k`` is the reduction
``(c_in, r_in, s_in)`` of F's im2col extents, offset by the C, R, S loops above
F; a ``k`` past C_F x R_F x S_F is an idle row of the last fold: it touches
nothing (no weight, no input, no output, no result sent).
:func:`test_outputs_kept_below_the_flattened_level_are_refused` shows why the
mapping check must then refuse per-PE output registers below F.
"""

from __future__ import annotations

import math
import random
from fractions import Fraction
from typing import Any

import numpy as np
import pytest
from bruteforce import brute_force_counts
from test_oracle import assert_agrees
from test_value_oracle import agrees_today, differences, execute, layer_of, machine, storage_counts
from value_oracle import Problem, random_operands, reference_outputs, run

import energysim as es
import energysim.analysis.im2col as im2col_analysis
from energysim.analysis.accesses import count_accesses
from energysim.errors import EnergySimError
from energysim.model.base import TENSORS, Tensor
from energysim.model.mapping import LevelMapping, Loop, Mapping

#: Budget of the padded nest (MACs issued, idle rows included) per random case.
MAX_PADDED_MACS = 700
NAMES = ("DRAM", "GLB", "RF", "REG")


def random_layer(rng: random.Random) -> Any:
    """A small conv (stride, dilation, padding, groups sometimes) or fc."""
    if rng.random() < 0.15:
        return layer_of(
            {"type": "fc", "N": rng.randint(1, 2), "C": rng.randint(2, 6), "M": rng.randint(1, 3)}
        )
    groups = rng.choice([1, 1, 1, 2])
    R, S = rng.randint(1, 3), rng.randint(1, 3)
    dilation, stride = rng.choice([1, 1, 2]), rng.choice([1, 1, 2])
    pad = rng.choice([0, 0, 1])
    H = rng.randint(max(1, dilation * (R - 1) + 1 - 2 * pad), max(1, dilation * (R - 1) + 1 - 2 * pad) + 2)
    W = rng.randint(max(1, dilation * (S - 1) + 1 - 2 * pad), max(1, dilation * (S - 1) + 1 - 2 * pad) + 2)
    spec = {
        "type": "conv", "N": rng.choice([1, 1, 2]), "C": groups * rng.randint(1, 3),
        "M": groups * rng.randint(1, 2), "H": H, "W": W, "R": R, "S": S,
        "stride": stride, "dilation": dilation, "padding": pad, "groups": groups,
    }  # fmt: skip
    return layer_of(spec)


def _split(rng: random.Random, bound: int) -> tuple[int, int]:
    """(inner, outer) extents covering ``bound``: inner x outer >= bound, sometimes imperfect."""
    inner = rng.randint(1, bound)
    outer = -(-bound // inner)
    return inner, outer


def issued_macs(mapping: Mapping) -> int:
    """MACs the nest issues: the product of every loop's factor (idle rows and padding included)."""
    return math.prod(loop.factor for level in mapping.levels for loop in (*level.temporal, *level.spatial))


def random_case(seed: int) -> tuple[Any, es.Hierarchy, Mapping] | None:
    """A flattened mapping of a random layer on a 2-4 level machine, or None if it is not admitted.

    The flattening level F (1 .. depth-1) fans K out over an edge and folds it; C, R, S
    are split into F's im2col extents and (when those do not cover them) loops above F;
    the other dimensions go to random loops (spatial at or below F: G or M only);
    levels below F keep weights (the check refuses inputs and outputs there).
    """
    rng = random.Random(seed)
    layer = random_layer(rng)
    z = layer.loop_bounds.sizes
    depth = rng.randint(2, 4)
    flat = rng.randint(1, depth - 1)
    temporal: list[dict[str, int]] = [{} for _ in range(depth)]
    spatial: list[dict[str, int]] = [{} for _ in range(depth)]
    im2col: dict[str, int] = {}
    for dim in "CRS":
        inner, outer = _split(rng, z[dim]) if rng.random() < 0.4 else (z[dim], 1)
        im2col[dim] = inner
        if outer > 1:  # the rest of the dimension loops above F
            temporal[rng.randint(0, flat - 1)][dim] = outer
    rows = math.prod(im2col.values())
    edge = rng.randint(1, min(rows + 2, 8)) if rows > 1 else rng.randint(2, 3)
    edge = max(edge, 2)
    folds = -(-rows // edge)
    spatial[flat]["K"] = edge
    if folds > 1:
        temporal[flat]["K"] = folds
    for dim in "NGMPQ":
        remaining = z[dim]
        if dim in "GM" and remaining > 1 and rng.random() < 0.4:  # the other edge (or below F)
            level = flat if flat == depth - 1 or rng.random() < 0.7 else rng.randint(flat + 1, depth - 1)
            spatial[level][dim] = rng.randint(2, remaining)
            remaining = -(-remaining // spatial[level][dim])
        if remaining > 1 and flat > 1 and rng.random() < 0.2:  # a spatial loop above F
            level = rng.randint(0, flat - 1)
            spatial[level][dim] = rng.randint(2, remaining)
            remaining = -(-remaining // spatial[level][dim])
        while remaining > 1:
            level = rng.randint(0, depth - 1)
            factor = rng.randint(2, remaining) if rng.random() < 0.5 else remaining
            temporal[level][dim] = temporal[level].get(dim, 1) * factor
            remaining = -(-remaining // factor)
    keeps: list[tuple[Tensor, ...]] = [TENSORS]
    for index in range(1, depth):
        if index < flat:
            kept = [t for t in TENSORS if rng.random() < 0.6] or ["outputs"]
        elif index == flat:
            chance = {"weights": 0.8, "inputs": 1.0, "outputs": 0.7}  # F keeps inputs
            kept = [t for t in TENSORS if t == "inputs" or rng.random() < chance[t]]
        else:
            kept = ["weights"]
        keeps.append(tuple(t for t in TENSORS if t in kept))
    levels, instances = [], [1]
    for index in range(depth):
        order = list(temporal[index].items())
        rng.shuffle(order)
        levels.append(
            LevelMapping(
                NAMES[index],
                tuple(Loop(d, f) for d, f in order if f > 1),
                tuple(Loop(d, f) for d, f in sorted(spatial[index].items()) if f > 1),
                keeps[index],
                tuple(Loop(d, f) for d, f in im2col.items() if f > 1) if index == flat else (),
            )
        )
        instances.append(instances[-1] * math.prod(spatial[index].values()))
    multicast = [rng.choice([True, True, False, None]) for _ in range(depth)]
    hierarchy = machine(instances[:depth], instances[depth], multicast, [[str(t) for t in k] for k in keeps])
    mapping = Mapping(tuple(levels))
    if issued_macs(mapping) > MAX_PADDED_MACS:
        return None
    try:
        es.check_mapping(mapping, layer, hierarchy)
    except EnergySimError:
        return None
    return layer, hierarchy, mapping


def admitted(seeds: range) -> list[tuple[Any, es.Hierarchy, Mapping]]:
    """The random cases of ``seeds`` that ``check_mapping`` admits."""
    return [case for case in map(random_case, seeds) if case is not None]


def features(case: tuple[Any, es.Hierarchy, Mapping]) -> set[str]:
    """Which of the situations the random cases must cover this case shows."""
    layer, _, mapping = case
    flat = mapping.flattened_level
    assert flat is not None
    level = mapping.levels[flat]
    rows = math.prod(loop.factor for loop in level.im2col)
    slots = math.prod(loop.factor for loop in (*level.temporal, *level.spatial) if loop.dim == "K")
    above = [loop for upper in mapping.levels[:flat] for loop in (*upper.temporal, *upper.spatial)]
    below = mapping.levels[flat + 1 :]
    found = set()
    if rows < slots:
        found.add("partial last fold")
    if any(loop.dim in "CRS" for loop in above):
        found.add("C, R or S loops above F")
    if any(lower.keeps_tensor("weights") for lower in below):
        found.add("weights kept below F")
    if getattr(layer, "padding", 0):
        found.add("conv padding")
    return found


ALL_FEATURES = {
    "partial last fold",
    "C, R or S loops above F",
    "weights kept below F",
    "conv padding",
}


# --- the random cases -----------------------------------------------------------------------------


def test_random_flattened_counts_match_the_brute_force() -> None:
    """count_accesses equals the brute force, count by count and transfer by transfer, on 40+ cases."""
    cases = admitted(range(60))
    assert len(cases) >= 40
    assert set().union(*map(features, cases)) == ALL_FEATURES
    for layer, hierarchy, mapping in cases:
        assert_agrees(mapping, layer.loop_bounds, hierarchy)


def test_random_flattened_schedules_compute_numpys_outputs_with_analyzes_counts() -> None:
    """Run on integers, every flattened schedule computes numpy's conv, counting what analyze() counts."""
    cases = [case for case in admitted(range(1000, 1070)) if agrees_today(*case)]
    assert len(cases) >= 40
    assert set().union(*map(features, cases)) == ALL_FEATURES
    for seed, (layer, hierarchy, mapping) in enumerate(cases):
        counts = execute(layer, hierarchy, mapping, seed=seed)
        expected = storage_counts(es.analyze(layer, hierarchy, mapping=mapping))
        assert differences(counts, expected) == {}, mapping.describe()


# --- by hand --------------------------------------------------------------------------------------


def alexnet_conv1_like() -> tuple[Any, es.Hierarchy, Mapping]:
    """C=3, R=S=3 (27 rows) on an edge of 8, M=2 on the other edge; a per-PE weight register."""
    layer = layer_of({"type": "conv", "C": 3, "M": 2, "H": 4, "W": 4, "R": 3, "S": 3})
    everything = ["weights", "inputs", "outputs"]
    hierarchy = machine([1, 1, 16], 16, [True, True, None], [everything, everything, ["weights"]])
    mapping = Mapping(
        (
            LevelMapping("DRAM"),
            LevelMapping(
                "GLB",
                (Loop("K", 4), Loop("P", 2), Loop("Q", 2)),
                (Loop("K", 8), Loop("M", 2)),
                im2col=(Loop("C", 3), Loop("R", 3), Loop("S", 3)),
            ),
            LevelMapping("RF", keeps=("weights",)),
        )
    )
    return layer, hierarchy, mapping


#: The hand counts of :func:`test_alexnet_conv1_like_by_hand` (its docstring derives them).
HAND_COUNTS = {
    ("DRAM", "weights", "read"): 54,
    ("GLB", "weights", "fill"): 54,
    ("GLB", "weights", "read"): 54,
    ("RF", "weights", "fill"): 54,
    ("RF", "weights", "read"): 216,
    ("DRAM", "inputs", "read"): 48,
    ("GLB", "inputs", "fill"): 48,
    ("GLB", "inputs", "read"): 108,
    ("GLB", "outputs", "update"): 32,
    ("GLB", "outputs", "read"): 24,
    ("DRAM", "outputs", "update"): 8,
}


def test_alexnet_conv1_like_by_hand() -> None:
    """AlexNet conv1 in small: C x R x S = 27 rows in 4 folds of an 8-row edge (8, 8, 8, 3 real).

    Conv C=3 M=2 R=S=3 on a 4 x 4 input: P=Q=2, 2 x 27 x 4 = 216 MACs. GLB (the
    flattening level, keeping everything) loops K4 (folds, outermost) P2 Q2 and
    fans out K8 x M2 to 16 PEs, each with a register (RF) keeping weights.

    * Weights: PE (k, m) holds weight (m, k) for a whole fold (the P, Q loops
      inside the fold loop do not change it): RF fills = the 2 x 27 = 54 weights
      that exist, each once; the 2 x 5 idle PEs of fold 4 get nothing (a padded
      fold would fill 64). The GLB reads each once (54), DRAM sends each once (54).
      RF weight reads: one per real MAC, 216 (a padded fold: 256).
    * Inputs: the GLB holds the whole 3 x 4 x 4 = 48 inputs (filled and read at
      DRAM once). Per pixel and fold, the 8 rows need 8 distinct inputs
      (c, p + r, q + s), the M2 columns share them (multicast): GLB input reads =
      real rows per pixel per fold, 4 pixels x (8 + 8 + 8 + 3) = 108 (a padded
      fold: 128).
    * Outputs: each step's products land on 2 outputs (one per column, an
      adder tree): 16 steps x 2 = 32 GLB updates, 32 - 8 first writes = 24
      reads; the 8 outputs drain to DRAM once at the end. Over the GLB's
      network: one input in and one product out per real MAC (216 each; the
      idle rows take and send nothing).
    """
    layer, hierarchy, mapping = alexnet_conv1_like()
    bounds = layer.loop_bounds
    counts, transfers = brute_force_counts(mapping, bounds, hierarchy)
    assert counts == HAND_COUNTS
    assert transfers[("GLB", "inputs")] == 216  # one operand per real MAC
    assert transfers[("GLB", "outputs")] == 216  # one product sent up per real MAC (idle rows send none)
    assert execute(layer, hierarchy, mapping) == HAND_COUNTS
    analytic = count_accesses(mapping, bounds, hierarchy, bounds.macs)
    assert {key: value for key, value in analytic.counts.items() if value} == HAND_COUNTS
    assert_agrees(mapping, bounds, hierarchy)


# --- the checks catch a wrong rule ----------------------------------------------------------------


def test_idle_rows_counted_as_real_are_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """An analysis that took every row of every fold as real (no idle-row share) disagrees.

    With the real-row shares patched to 1, the hand case counts a padded last fold:
    64 RF weight fills and 128 GLB input reads (8 per pixel per fold), not 54 and
    108; the brute force catches it there and on the random cases with a partial
    last fold (and only those: with no idle row every row is real).
    """
    original = im2col_analysis._real_row_shares

    def every_row_real(planner: Any) -> tuple[Fraction, Fraction, Fraction, int]:
        return Fraction(1), Fraction(1), Fraction(1), original(planner)[3]

    monkeypatch.setattr(im2col_analysis, "_real_row_shares", every_row_real)
    layer, hierarchy, mapping = alexnet_conv1_like()
    bounds = layer.loop_bounds
    padded = count_accesses(mapping, bounds, hierarchy, bounds.macs).counts
    assert padded[("RF", "weights", "fill")] == 4 * 16 == 64
    assert padded[("GLB", "inputs", "read")] == 4 * 4 * 8 == 128
    with pytest.raises(AssertionError, match="counts"):
        assert_agrees(mapping, bounds, hierarchy)
    caught = 0
    for case in admitted(range(60)):
        layer, hierarchy, mapping = case
        try:
            assert_agrees(mapping, layer.loop_bounds, hierarchy)
        except AssertionError:
            caught += 1
            assert "partial last fold" in features(case)  # without idle rows the patch changes nothing
    assert caught >= 20


def per_pe_output_register() -> tuple[Any, es.Hierarchy, Mapping]:
    """fc C=3 on an edge of 2 (2 folds, the second with 1 real row); a per-PE register keeps outputs."""
    layer = layer_of({"type": "fc", "C": 3, "M": 1})
    keeps = [["weights", "inputs", "outputs"], ["weights", "inputs"], ["weights", "outputs"]]
    hierarchy = machine([1, 1, 2], 2, [True, True, None], keeps)
    mapping = Mapping(
        (
            LevelMapping("DRAM"),
            LevelMapping("GLB", (Loop("K", 2),), (Loop("K", 2),), ("weights", "inputs"), (Loop("C", 3),)),
            LevelMapping("RF", keeps=("weights", "outputs")),
        )
    )
    return layer, hierarchy, mapping


def test_outputs_kept_below_the_flattened_level_are_refused() -> None:
    """Why the check refuses per-PE output registers below F (the oracle shows the sum it would lose).

    PE 1's register holds the partial sum of row 1 after fold 1; in fold 2 PE 1 is
    idle and touches nothing, so its register's tile is empty and row 1's partial
    sum drains to DRAM a step before PE 0's, which, designated to carry DRAM's
    running sum, then overwrites it: the schedule computes w0 x0 + w2 x2, not the
    dot product, with 2 DRAM updates for one output.
    """
    layer, hierarchy, mapping = per_pe_output_register()
    with pytest.raises(EnergySimError, match="keep outputs below the im2col level"):
        es.check_mapping(mapping, layer, hierarchy)
    problem = Problem.of(layer)
    weights, inputs = random_operands(problem, 3)
    expected = reference_outputs(problem, weights, inputs)
    outputs, counts = run(problem, hierarchy, mapping, weights, inputs)
    lost = weights[0, 0, 1, 0, 0] * inputs[0, 0, 1, 0, 0]
    np.testing.assert_array_equal(outputs, expected - lost)
    assert counts[("DRAM", "outputs", "update")] == 2


def test_brute_force_refuses_timeloop_mode_for_a_flattened_mapping() -> None:
    layer, hierarchy, mapping = alexnet_conv1_like()
    with pytest.raises(ValueError, match="im2col"):
        brute_force_counts(mapping, layer.loop_bounds, hierarchy, counting="timeloop")
