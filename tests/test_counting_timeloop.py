"""The ``timeloop`` counting mode: timeloop-model's rules, hand-counted, and the brute force in both modes.

Each hand case derives its numbers in the docstring from the rule as Timeloop
applies it (``OperationSpace::SaveAndSubtractIfSameStride`` for the stride
rule, ``NestAnalysis::ComputeAccurateMulticastedAccesses`` for multicast,
``ComputeReadUpdateReductionAccesses_Legacy`` in ``tiling.cpp`` for partial
sums; see :mod:`energysim.analysis.timeloop_rules`); the analytic counter and
the brute-force walker (``tests/bruteforce.py``, written from DESIGN's
bullets) must both give them. ``h = p + r`` is the input row of a 1-D
convolution (stride and dilation 1).
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
import yaml
from bruteforce import brute_force_counts
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_oracle import cases, make_hierarchy

import energysim as es
from energysim.analysis.timeloop_rules import Counting, counts_for, stride_outcomes
from energysim.cli import main
from energysim.errors import EnergySimError
from energysim.model.base import TENSORS
from energysim.model.hierarchy import Hierarchy
from energysim.model.layers import DIMENSIONS, LoopBounds
from energysim.model.mapping import LevelMapping, Loop, Mapping

Case = tuple[Mapping, LoopBounds, Hierarchy]


def both(case: Case, counting: Counting) -> dict[tuple[str, str, str], int]:
    """The counts of ``case`` under ``counting``, after checking that the brute force agrees."""
    mapping, bounds, hierarchy = case
    analytic = counts_for(mapping, bounds, hierarchy, bounds.macs, counting)
    brute, transfers = brute_force_counts(mapping, bounds, hierarchy, counting)
    counts = {key: value for key, value in analytic.counts.items() if value}
    assert counts == brute, f"{counting}: analytic {counts} brute force {brute}"
    assert {key: value for key, value in analytic.transfers.items() if value} == transfers
    return counts


def conv_1d(sizes: dict[str, int], levels: tuple[LevelMapping, ...], hierarchy: Hierarchy) -> Case:
    bounds = LoopBounds(sizes=dict.fromkeys(DIMENSIONS, 1) | sizes)
    return Mapping(levels), bounds, hierarchy


TWO_LEVELS = make_hierarchy([1, 1], [None, None], [TENSORS, TENSORS])

# -- the stride rule --------------------------------------------------------------------------------


def test_irrelevant_loop_step_with_a_wraparound_refills_the_whole_window() -> None:
    """M=2, P=2, R=3; L0 loops m (outer, irrelevant to inputs) then p; L1 holds a 3-row window.

    L1's input tile is rows [p, p + 3). Steps: (m0, p0) [0, 3): 3 fills.
    (m0, p1) [1, 4): move +1, nothing recorded: subtract, 1 fill, record +1.
    (m1, p0) [0, 3): m steps and p wraps back, move -1 != +1: Timeloop fills
    the whole window, 3, and clears the record (exact fills only row 0: 1).
    (m1, p1) [1, 4): move +1, nothing recorded: 1. Timeloop 3 + 1 + 3 + 1 = 8;
    exact 3 + 1 + 1 + 1 = 6. L0 reads what L1 fills (one instance). Weights
    (R3 per m) are stationary over p: 6 in both modes.
    """
    case = conv_1d(
        {"M": 2, "P": 2, "R": 3},
        (
            LevelMapping("L0", temporal=(Loop("M", 2), Loop("P", 2))),
            LevelMapping("L1", temporal=(Loop("R", 3),)),
        ),
        TWO_LEVELS,
    )
    timeloop, exact = both(case, "timeloop"), both(case, "exact")
    assert timeloop[("L1", "inputs", "fill")] == timeloop[("L0", "inputs", "read")] == 8
    assert exact[("L1", "inputs", "fill")] == exact[("L0", "inputs", "read")] == 6
    assert timeloop[("L1", "weights", "fill")] == exact[("L1", "weights", "fill")] == 6


def test_a_stationary_step_keeps_the_recorded_stride() -> None:
    """P=3, M=2, R=3; L0 loops p (outer) then m (inner, irrelevant to inputs).

    Window [p, p + 3). (p0, m0): 3. (p0, m1): move 0, stationary: nothing
    filled, record unchanged (Timeloop: "Stationary. Do not update prev").
    (p1, m0): +1, nothing recorded: 1, record +1. (p1, m1): 0. (p2, m0): +1
    equals the record: 1. (p2, m1): 0. Both modes: 3 + 1 + 1 = 5.
    """
    case = conv_1d(
        {"M": 2, "P": 3, "R": 3},
        (
            LevelMapping("L0", temporal=(Loop("P", 3), Loop("M", 2))),
            LevelMapping("L1", temporal=(Loop("R", 3),)),
        ),
        TWO_LEVELS,
    )
    assert (
        both(case, "timeloop")[("L1", "inputs", "fill")] == both(case, "exact")[("L1", "inputs", "fill")] == 5
    )


def test_a_wraparound_by_the_same_stride_keeps_reuse() -> None:
    """P=4 as two loops p1 (outer, 2) and p0 (inner, 2) at L0; L1 holds R3.

    Rows [p, p + 3) with p = 2 p1 + p0: the moves are p0 +1, then p1 steps
    while p0 wraps, +2 - 1 = +1, then p0 +1: all equal to the record, so
    Timeloop keeps sliding: 3 + 1 + 1 + 1 = 6, as exact.
    """
    case = conv_1d(
        {"P": 4, "R": 3},
        (
            LevelMapping("L0", temporal=(Loop("P", 2), Loop("P", 2))),
            LevelMapping("L1", temporal=(Loop("R", 3),)),
        ),
        TWO_LEVELS,
    )
    assert both(case, "timeloop")[("L1", "inputs", "fill")] == 6
    assert both(case, "exact")[("L1", "inputs", "fill")] == 6


def test_design_example_slides_in_both_modes() -> None:
    """DESIGN's 1-D conv: P=8 in L1, R=5 at L0; every move is +1: 8 + 4 x 1 = 12 fills in both modes."""
    case = conv_1d(
        {"P": 8, "R": 5},
        (LevelMapping("L0", temporal=(Loop("R", 5),)), LevelMapping("L1", temporal=(Loop("P", 8),))),
        TWO_LEVELS,
    )
    for counting in ("exact", "timeloop"):
        counts = both(case, counting)
        assert counts[("L1", "inputs", "fill")] == 12
        assert counts[("L1", "outputs", "read")] == 32


def record_walk(factors: list[int], moves: list[tuple[int, ...]]) -> list[tuple[int, int]]:
    """The stride record stepped through every iteration of the odometer, one by one (an oracle)."""
    counts = [[0, 0] for _ in factors]
    record: tuple[int, ...] | None = None
    previous: tuple[int, ...] | None = None
    for index in itertools.product(*(range(f) for f in factors)):
        if previous is not None:
            loop = min(k for k in range(len(factors)) if index[k] != previous[k])
            move = moves[loop]
            if not any(move):
                counts[loop][0] += 1
            elif record is None or record == move:
                record = move
                counts[loop][0] += 1
            else:
                record = None
                counts[loop][1] += 1
        previous = index
    return [(a, b) for a, b in counts]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(2, 5), st.tuples(st.integers(-2, 2), st.integers(-1, 1))),
        min_size=1,
        max_size=4,
    )
)
def test_stride_outcomes_match_a_step_by_step_walk(loops: list[tuple[int, tuple[int, int]]]) -> None:
    """The closed form over the odometer equals the record stepped through every iteration."""
    factors, moves = [f for f, _ in loops], [m for _, m in loops]
    assert stride_outcomes(factors, moves) == record_walk(factors, moves)


def test_stride_outcomes_cost_follows_loops_not_factors() -> None:
    """Loop 0 (2^31 steps, move +5) always follows loop 1's +1 steps: it refills every time."""
    assert stride_outcomes([2**31, 3], [(5,), (1,)]) == [(0, 2**31 - 1), (2**32, 0)]


# -- multicast only of identical data ------------------------------------------------------------


def test_partially_overlapping_receivers_are_each_sent_their_whole_tile() -> None:
    """P=2 fanned out at L0 (a multicast network) to two L1 instances, each holding R3.

    Instance p holds rows [p, p + 3): [0, 3) and [1, 4), two rows shared but
    not equal, as Eyeriss' neighbouring PEs' input windows. Timeloop groups
    only equal deltas: L0 reads 3 + 3 = 6; exact multicasts the union, 4.
    L1 fills 6 in both.
    """
    hierarchy = make_hierarchy([2, 1], [True, None], [TENSORS, TENSORS])
    case = conv_1d(
        {"P": 2, "R": 3},
        (LevelMapping("L0", spatial=(Loop("P", 2),)), LevelMapping("L1", temporal=(Loop("R", 3),))),
        hierarchy,
    )
    timeloop, exact = both(case, "timeloop"), both(case, "exact")
    assert timeloop[("L0", "inputs", "read")] == 6
    assert exact[("L0", "inputs", "read")] == 4
    assert timeloop[("L1", "inputs", "fill")] == exact[("L1", "inputs", "fill")] == 6


def test_diagonal_receivers_of_one_row_are_multicast_in_both_modes() -> None:
    """P=2 x R=2 fanned out to four L1 instances, each holding one input row p + r.

    Rows 0, 1, 1, 2 (the (0, 1) and (1, 0) instances on one diagonal): equal
    tiles are equal deltas, one read per group: 3 in both modes; 4 fills.
    """
    hierarchy = make_hierarchy([4, 1], [True, None], [TENSORS, TENSORS])
    case = conv_1d(
        {"P": 2, "R": 2},
        (LevelMapping("L0", spatial=(Loop("P", 2), Loop("R", 2))), LevelMapping("L1")),
        hierarchy,
    )
    for counting in ("exact", "timeloop"):
        counts = both(case, counting)
        assert counts[("L0", "inputs", "read")] == 3
        assert counts[("L1", "inputs", "fill")] == 4


# -- every reduction sibling gets its partial sum back ---------------------------------------------


@pytest.mark.parametrize("multicast", [True, False])
def test_every_reduction_sibling_is_refilled(multicast: bool) -> None:
    """fc C=4 M=2: L0 loops c (outer, 2) then m (2), fans C2 out to two L1 instances.

    Each L1 instance holds one output: m0, m1 (first touches), then m0, m1
    again. Timeloop: fills = arrivals - first touches per instance = 4 - 2 = 2
    per instance, 4 in all (exact: only the designated sibling, 2). L0 reads:
    the two siblings' refills are equal, so one read per group with multicast
    (2), one per sibling without (4); exact 2. L1 updates: one per instance
    per step, 8; L1 reads = updates - first touches = 8 - 4 = 4 (exact: the
    undesignated sibling restarts from zero, 2). L0 updates: the siblings'
    drains reduced, 4 tile changes x 1 output = 4 in both modes.
    """
    hierarchy = make_hierarchy([2, 1], [multicast, None], [TENSORS, TENSORS])
    case = conv_1d(
        {"C": 4, "M": 2},
        (
            LevelMapping("L0", temporal=(Loop("C", 2), Loop("M", 2)), spatial=(Loop("C", 2),)),
            LevelMapping("L1"),
        ),
        hierarchy,
    )
    timeloop, exact = both(case, "timeloop"), both(case, "exact")
    assert timeloop[("L1", "outputs", "fill")] == 4
    assert exact[("L1", "outputs", "fill")] == 2
    assert timeloop[("L0", "outputs", "read")] == (2 if multicast else 4)
    assert exact[("L0", "outputs", "read")] == 2
    assert timeloop[("L1", "outputs", "update")] == exact[("L1", "outputs", "update")] == 8
    assert timeloop[("L1", "outputs", "read")] == 4
    assert exact[("L1", "outputs", "read")] == 2
    assert timeloop[("L0", "outputs", "update")] == exact[("L0", "outputs", "update")] == 4


# -- padding exists in Timeloop's problem -------------------------------------------------------------


def test_padded_rows_are_read_from_dram() -> None:
    """P=4, R=3, padding 1 on an input of 4 rows: the nest's rows 0..5 are the padded input.

    L1 holds the whole layer, filled once: Timeloop's problem has no padding
    (the padded 6-row input is a tensor in memory), so L1 fills 6 and L0 reads
    6; the exact mode reads only the 4 rows that exist (DESIGN).
    """
    bounds = LoopBounds(dict.fromkeys(DIMENSIONS, 1) | {"P": 4, "R": 3}, padding=(1, 0), input_size=(4, 1))
    mapping = Mapping((LevelMapping("L0"), LevelMapping("L1", temporal=(Loop("P", 4), Loop("R", 3)))))
    counts = both((mapping, bounds, TWO_LEVELS), "timeloop")
    assert counts[("L0", "inputs", "read")] == counts[("L1", "inputs", "fill")] == 6


# -- both modes against the brute force on random layers and mappings -----------------------------


@st.composite
def sliding_cases(draw: st.DrawFn) -> Case:
    """Convolutions whose inner levels hold filter rows under loops over output rows: windows slide.

    The random cases of ``test_oracle`` seldom slide a window under a stride
    change; here the filter taps (R, S) sit in the inner levels and the output
    rows (P, split in two loops), columns and irrelevant loops (M, C) above
    them in random orders, sometimes fanned out, so the stride rule's refills
    (a wrap-around that keeps part of the window) are common.
    """
    sizes = dict.fromkeys(DIMENSIONS, 1) | {
        "P": draw(st.sampled_from([2, 4, 6])),
        "R": draw(st.integers(3, 4)),
        "Q": draw(st.integers(1, 3)),
        "S": draw(st.integers(1, 2)),
        "M": 2,
        "C": draw(st.integers(1, 2)),
    }
    bounds = LoopBounds(sizes, (draw(st.sampled_from([1, 1, 2])), 1), (draw(st.sampled_from([1, 1, 2])), 1))
    depth = 3
    fanout = draw(st.sampled_from([1, 2]))
    temporal: list[list[Loop]] = [[] for _ in range(depth)]
    spatial: list[tuple[Loop, ...]] = [() for _ in range(depth)]
    # A short inner loop over rows: its wrap-around moves the window back by less than its height.
    p_inner = draw(st.sampled_from([2, 2, sizes["P"]]))
    temporal[draw(st.integers(0, 1))].append(Loop("P", sizes["P"] // p_inner))
    if fanout == 2 and p_inner % 2 == 0:
        spatial[1] = (Loop("P", 2),)
        p_inner //= 2
    temporal[draw(st.integers(0, 1))].append(Loop("P", p_inner))
    r_inner = draw(st.sampled_from([f for f in range(1, sizes["R"] + 1) if sizes["R"] % f == 0]))
    temporal[draw(st.integers(1, 2))].append(Loop("R", sizes["R"] // r_inner))
    temporal[2].append(Loop("R", r_inner))
    for dim in "QS":  # mostly inner, so that columns seldom move and rows slide alone
        temporal[draw(st.sampled_from([0, 2, 2, 2]))].append(Loop(dim, sizes[dim]))
    temporal[draw(st.integers(0, 1))].append(Loop("M", sizes["M"]))  # irrelevant to inputs
    temporal[draw(st.sampled_from([0, 1, 2, 2]))].append(Loop("C", sizes["C"]))
    keeps: list[tuple[str, ...]] = [
        TENSORS,
        draw(st.sampled_from([TENSORS, ("inputs",), ("inputs", "weights")])),
        TENSORS,
    ]
    hierarchy = make_hierarchy([1, fanout, 1], [None, draw(st.booleans()), None], keeps)  # type: ignore[arg-type]
    levels = tuple(
        LevelMapping(
            f"L{index}",
            temporal=tuple(loop for loop in draw(st.permutations(temporal[index])) if loop.factor > 1),
            spatial=spatial[index],
            keeps=keeps[index],  # type: ignore[arg-type]
        )
        for index in range(depth)
    )
    return Mapping(levels), bounds, hierarchy


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_timeloop_mode_matches_brute_force(case: Case) -> None:
    both(case, "timeloop")


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sliding_cases())
def test_timeloop_mode_matches_brute_force_on_sliding_windows(case: Case) -> None:
    both(case, "timeloop")
    both(case, "exact")


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_exact_mode_through_the_counting_parameter_matches_brute_force(case: Case) -> None:
    both(case, "exact")


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_timeloop_mode_never_counts_fewer_moves(case: Case) -> None:
    """Each rule only adds moves: no count of the timeloop mode is below the exact mode's."""
    mapping, bounds, hierarchy = case
    exact = counts_for(mapping, bounds, hierarchy, bounds.macs, "exact")
    timeloop = counts_for(mapping, bounds, hierarchy, bounds.macs, "timeloop")
    for key, count in exact.counts.items():
        assert timeloop.counts.get(key, 0) >= count, key


# -- the facades and the command line -------------------------------------------------------------

PADDED_CONV = {"type": "conv", "name": "x", "C": 2, "M": 2, "H": 6, "W": 6, "R": 3, "S": 3, "padding": 1}


def padded_conv() -> es.Network:
    return es.Network.model_validate({"version": 1, "name": "padded", "layers": [PADDED_CONV]})


def test_analyze_and_simulate_charge_the_same_timeloop_counts() -> None:
    """The engine replays the timeloop plan: its counts equal analyze()'s, and differ from exact."""
    network = padded_conv()
    columns = ["level", "tensor", "action", "count"]
    analysed = es.analyze(network, "eyeriss", "rs", counting="timeloop").accesses[columns]
    simulated = es.simulate(network, "eyeriss", "rs", counting="timeloop").accesses
    simulated = simulated[simulated["action"] != "static"][columns]
    assert analysed.reset_index(drop=True).equals(simulated.reset_index(drop=True))
    exact = es.analyze(network, "eyeriss", "rs").accesses[columns]
    assert not exact.reset_index(drop=True).equals(analysed.reset_index(drop=True))


def test_simulate_charges_the_refills_of_a_stride_change() -> None:
    """The wrap-around case as a layer: the engine replays its refill (8 input fills) like analyze()."""
    network = es.Network.model_validate(
        {
            "version": 1,
            "name": "conv1d",
            "layers": [{"type": "conv", "name": "x", "C": 1, "M": 2, "H": 4, "W": 1, "R": 3, "S": 1}],
        }
    )
    mapping = Mapping(
        (
            LevelMapping("L0", temporal=(Loop("M", 2), Loop("P", 2))),
            LevelMapping("L1", temporal=(Loop("R", 3),)),
        )
    )
    columns = ["level", "tensor", "action", "count"]
    analysed = es.analyze(network, TWO_LEVELS, None, mapping=mapping, counting="timeloop").accesses[columns]
    simulated = es.simulate(network, TWO_LEVELS, None, mapping=mapping, counting="timeloop").accesses
    simulated = simulated[simulated["action"] != "static"][columns]
    assert analysed.reset_index(drop=True).equals(simulated.reset_index(drop=True))
    fills = analysed[
        (analysed["level"] == "L1") & (analysed["tensor"] == "inputs") & (analysed["action"] == "fill")
    ]
    assert fills["count"].tolist() == [8]


def test_unknown_counting_mode_is_one_clear_error() -> None:
    with pytest.raises(EnergySimError, match="counting: expected one of exact, timeloop, got 'timeloops'"):
        es.analyze(padded_conv(), "eyeriss", "rs", counting="timeloops")  # type: ignore[arg-type]


def test_cli_counting_flag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``run --counting timeloop`` changes the energy; an unknown mode exits 2."""
    path = tmp_path / "padded.yaml"
    path.write_text(yaml.safe_dump({"version": 1, "name": "padded", "layers": [PADDED_CONV]}))
    energies = {}
    for counting in ("exact", "timeloop"):
        assert main(["run", str(path), "--hierarchy", "eyeriss", "--json", "--counting", counting]) == 0
        energies[counting] = json.loads(capsys.readouterr().out)["total_energy"]
    assert energies["timeloop"] > energies["exact"]
    with pytest.raises(SystemExit) as exit_info:
        main(["run", str(path), "--hierarchy", "eyeriss", "--counting", "ideal"])
    assert exit_info.value.code == 2
