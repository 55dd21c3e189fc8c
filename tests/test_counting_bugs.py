"""Regression tests of issue 10's two counting bugs, with hand-derived numbers.

Each expected number is derived by hand in the test's docstring from DESIGN.md's
"Counting semantics"; the analytic counter and the brute-force walker must both
give it.
"""

from __future__ import annotations

import pandas as pd
from bruteforce import brute_force_counts
from test_oracle import assert_agrees, make_hierarchy
from test_value_oracle import differences, execute, layer_of, machine, storage_counts

import energysim as es
from energysim.analysis.accesses import count_accesses
from energysim.model.base import TENSORS
from energysim.model.layers import DIMENSIONS, LoopBounds
from energysim.model.mapping import LevelMapping, Loop, Mapping


def test_reduction_siblings_under_different_parents_each_get_their_running_sum() -> None:
    """DRAM (spatial C2) -> 2 GLB (temporal C2 M2) -> 2 RF, fc C=4 M=2.

    DRAM's spatial C2 gives each GLB instance its own half of C; GLB i loops
    over (c, m) = (0,0) (0,1) (1,0) (1,1), its one RF holding one output at a
    time. Each RF sees m=0, m=1 (first touches: start from zero), then m=0 and
    m=1 again: both were touched before, so its parent GLB, which holds its own
    partial sum of that output (it received the RF's drain), fills it. The two
    RFs sit under different GLB instances, so neither is a non-designated
    sibling (DESIGN: siblings reduce "under the same parent instance"):
    RF output fills = 2 RFs x 2 = 4, GLB output reads = 4 (one per fill).
    The old rule counted only the RF whose C index from DRAM was 0: 2 and 2.
    GLB updates: each RF drains at each of its 3 tile changes and at the end,
    4 per RF, 8 in all; DRAM receives the two GLBs' drains of M=2 outputs,
    reduced on the way up: 2 updates.
    """
    sizes = dict.fromkeys(DIMENSIONS, 1) | {"C": 4, "M": 2}
    bounds = LoopBounds(sizes=sizes)
    mapping = Mapping(
        (
            LevelMapping("L0", spatial=(Loop("C", 2),)),
            LevelMapping("L1", temporal=(Loop("C", 2), Loop("M", 2))),
            LevelMapping("L2"),
        )
    )
    hierarchy = make_hierarchy([2, 1, 1], [None, None, None], [TENSORS, TENSORS, TENSORS])
    expected = {
        ("L2", "outputs", "fill"): 4,
        ("L1", "outputs", "read"): 4,
        ("L1", "outputs", "update"): 8,
        ("L0", "outputs", "update"): 2,
    }
    analytic = count_accesses(mapping, bounds, hierarchy, bounds.macs)
    brute, _ = brute_force_counts(mapping, bounds, hierarchy)
    for (level, tensor, action), count in expected.items():
        assert analytic.get(level, tensor, action) == count, (level, tensor, action)
        assert brute[(level, tensor, action)] == count, (level, tensor, action)
    assert_agrees(mapping, bounds, hierarchy)


def test_reduction_siblings_under_one_parent_share_one_running_sum() -> None:
    """The same layer with C2 fanned out below the GLB: one GLB, two RFs that are siblings.

    Both RFs reduce into the same outputs under the one GLB instance: only the
    first (c = 0) is filled with the running sum when m returns, the other
    starts from zero and the adder tree merges them on the way up: RF output
    fills = 2 (m = 0 and m = 1 on the second pass over c), GLB output reads = 2.
    """
    sizes = dict.fromkeys(DIMENSIONS, 1) | {"C": 4, "M": 2}
    bounds = LoopBounds(sizes=sizes)
    mapping = Mapping(
        (
            LevelMapping("L0"),
            LevelMapping("L1", temporal=(Loop("C", 2), Loop("M", 2)), spatial=(Loop("C", 2),)),
            LevelMapping("L2"),
        )
    )
    hierarchy = make_hierarchy([1, 2, 1], [None, None, None], [TENSORS, TENSORS, TENSORS])
    analytic = count_accesses(mapping, bounds, hierarchy, bounds.macs)
    brute, _ = brute_force_counts(mapping, bounds, hierarchy)
    for counts in (brute, {key: analytic.get(*key) for key in brute}):
        assert counts[("L2", "outputs", "fill")] == 2
        assert counts[("L1", "outputs", "read")] == 2
    assert_agrees(mapping, bounds, hierarchy)


def _padded_conv() -> es.Network:
    layer = {"name": "c", "type": "conv", "C": 1, "M": 1, "H": 4, "W": 4, "R": 3, "S": 3, "padding": 1}
    return es.Network.model_validate({"version": 1, "name": "pad", "layers": [layer]})


def test_dram_never_reads_zero_padding_on_eyeriss() -> None:
    """One conv C=M=1, H=W=4, R=S=3, padding 1 on eyeriss under rs.

    rs maps it as DRAM (no loops) -> GLB (temporal Q4; spatial P4 x R3 over 12 PEs)
    -> RF (temporal S3). DRAM has no loop, so the GLB's input tile is the whole
    padded input, rows and columns p + r in [0, 6): 36 coordinates, of which the
    16 at [1, 5) x [1, 5) exist. DRAM reads each existing element once: 16
    (it read 36, padding included); the GLB is filled with the whole padded
    tile, 36, its 20 zeros written there without a DRAM read.
    Inside the chip the zeros move and are counted: each PE (fixed p, r) holds
    one row and 3 columns q + s; the Q loop slides them by one: 3 + 1 + 1 + 1 = 6
    fills per PE, 72 RF fills; the multicast GLB reads the distinct elements of
    the 12 PEs per step, all 6 rows x (3 + 1 + 1 + 1) columns: 36.
    """
    result = es.analyze(_padded_conv(), "eyeriss", "rs")
    counts = result.accesses.set_index(["level", "tensor", "action"])["count"]
    assert counts[("DRAM", "inputs", "read")] == 16
    assert counts[("GLB", "inputs", "fill")] == 36
    assert counts[("GLB", "inputs", "read")] == 36
    assert counts[("RF", "inputs", "fill")] == 72
    simulated = es.simulate(_padded_conv(), "eyeriss", "rs")
    pd.testing.assert_frame_equal(simulated.accesses, result.accesses)


def test_a_sliding_window_never_fetches_padding_from_the_outermost_level() -> None:
    """1-D conv P=4, R=3, padding 1 (input rows 4): outer level loops over R, inner over P.

    The inner level's input tile at step r is rows r .. r + 3 of the padded
    input [0, 6), of which [1, 5) exist. r = 0: rows 0-3, existing 1, 2, 3: 3
    reads at the outer level; r = 1: new row 4: 1; r = 2: new row 5, padding: 0.
    Reads at the outer level = 4, the tensor's 4 rows once. The inner level is
    filled with its whole tiles, zeros included: 4 + 1 + 1 = 6. The MACs still
    read 12 operands from the inner level (zeros included: inside the chip).
    """
    sizes = dict.fromkeys(DIMENSIONS, 1) | {"P": 4, "R": 3}
    bounds = LoopBounds(sizes, padding=(1, 0), input_size=(4, 1))
    mapping = Mapping(
        (LevelMapping("L0", temporal=(Loop("R", 3),)), LevelMapping("L1", temporal=(Loop("P", 4),)))
    )
    hierarchy = make_hierarchy([1, 1], [None, None], [TENSORS, TENSORS])
    analytic = count_accesses(mapping, bounds, hierarchy, bounds.macs)
    brute, _ = brute_force_counts(mapping, bounds, hierarchy)
    for counts in (brute, {key: analytic.get(*key) for key in brute}):
        assert counts[("L1", "inputs", "fill")] == 6
        assert counts[("L0", "inputs", "read")] == 4
        assert counts[("L1", "inputs", "read")] == 12
    assert_agrees(mapping, bounds, hierarchy)


def test_operands_read_straight_from_the_outermost_level_skip_padding() -> None:
    """The same 1-D conv with inputs kept by no inner level: the PE reads DRAM directly.

    Of the 12 (p, r) operands, row p + r is padding for (0, 0) and (3, 2): 10
    reads from DRAM, 10 deliveries over the network below it.
    """
    sizes = dict.fromkeys(DIMENSIONS, 1) | {"P": 4, "R": 3}
    bounds = LoopBounds(sizes, padding=(1, 0), input_size=(4, 1))
    mapping = Mapping(
        (
            LevelMapping("L0", temporal=(Loop("R", 3),)),
            LevelMapping("L1", temporal=(Loop("P", 4),), keeps=("weights", "outputs")),
        )
    )
    hierarchy = make_hierarchy([1, 1], [True, None], [TENSORS, ("weights", "outputs")])
    analytic = count_accesses(mapping, bounds, hierarchy, bounds.macs)
    assert analytic.get("L0", "inputs", "read") == 10
    assert analytic.transfers[("L0", "inputs")] == 10
    assert_agrees(mapping, bounds, hierarchy)


def test_a_padding_of_a_million_costs_what_a_padding_of_one_does() -> None:
    """The 4 x 4 input of the conv above, padded by 10^6 each side: 2,000,002^2 rows x columns.

    rs maps it as DRAM (P 71429, Q 9901) -> GLB (P2 Q202, spatial P14 R3) -> RF
    (S3): a GLB tile covers 28 x 1 + 2 = 30 rows starting at multiples of 28 and
    204 columns at multiples of 202. The existing rows [10^6, 10^6 + 4) lie in the
    tile starting at 999,992 (28 x 35,714) and in no other (the one before ends at
    999,994); the columns in the one starting at 999,900 (202 x 4,950) only (the
    next starts at 1,000,102). So DRAM reads each of the 16 elements once. The GLB
    is filled with every padded tile, zeros included: each P step a whole 30 x 204
    tile, each Q step inside it 30 x 202 new columns (2 overlap), 71429 x (6120 +
    9900 x 6060) = 4,285,748,571,480 fills: what this mapping of a padding of a
    million costs on chip. The closed form never walks the 7 x 10^8 tile
    positions: well under a second.
    """
    layer = {"name": "c", "type": "conv", "C": 1, "M": 1, "H": 4, "W": 4, "R": 3, "S": 3, "padding": 10**6}
    network = es.Network.model_validate({"version": 1, "name": "pad", "layers": [layer]})
    result = es.analyze(network, "eyeriss", "rs")
    assert (
        result.mapping["c"]
        .describe()
        .startswith("DRAM[W,I,O]: P71429 Q9901 | GLB[W,I,O]: P2 Q202 spatial P14 R3")
    )
    assert result.count("DRAM", "inputs", "read") == 16
    assert result.count("GLB", "inputs", "fill") == 71429 * (30 * 204 + 9900 * 30 * 202)


def test_a_non_designated_sibling_has_no_running_sum_to_refill_its_children() -> None:
    """fc C=4 M=4: DRAM (temporal C2 M2, spatial C2) -> 2 GLB (temporal M2) -> RF (one output).

    The two GLBs reduce into DRAM (c = 2 c_t + g): GLB 0 is the designated sibling,
    GLB 1 starts every output from zero whenever DRAM's M step brings it (DESIGN).
    On the second C pass (c_t = 1) GLB 0 is refilled from DRAM with all 4 outputs
    (4 fills, 4 DRAM reads) and its RF with each of them from GLB 0 (4). GLB 1 holds
    no running sum of an output until its RF drains one, and its RF sees each output
    once per GLB residency: never refilled. RF fills = GLB reads = 4 (analyze() counted
    8, refilling GLB 1's RF with partial sums GLB 1 never had). RF updates 2 x 8 = 16,
    RF reads 16 - (16 - 4) = 4; GLB updates 16 (every RF residency drains); DRAM takes
    the merged drains of 4 GLB residencies x 2 outputs: 8.
    """
    layer = layer_of({"type": "fc", "C": 4, "M": 4})
    hierarchy = machine([1, 2, 2], 2)
    mapping = Mapping(
        (
            LevelMapping("DRAM", (Loop("C", 2), Loop("M", 2)), (Loop("C", 2),)),
            LevelMapping("GLB", (Loop("M", 2),)),
            LevelMapping("RF"),
        )
    )
    counts = execute(layer, hierarchy, mapping)
    assert counts[("RF", "outputs", "fill")] == counts[("GLB", "outputs", "read")] == 4
    assert counts[("RF", "outputs", "update")] == counts[("GLB", "outputs", "update")] == 16
    assert counts[("RF", "outputs", "read")] == 4
    assert counts[("GLB", "outputs", "fill")] == counts[("DRAM", "outputs", "read")] == 4
    assert counts[("DRAM", "outputs", "update")] == 8
    assert differences(counts, storage_counts(es.analyze(layer, hierarchy, mapping=mapping))) == {}
    brute, _ = brute_force_counts(mapping, layer.bounds, hierarchy)
    assert brute == dict(counts)
