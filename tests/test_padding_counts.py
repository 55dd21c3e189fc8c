"""Zero padding and imperfect factors: what the outermost level reads and what the chip moves.

DESIGN.md: zero padding does not exist in memory. The outermost level (DRAM) never
reads a padded element, keeps no padded output and takes no write of one; levels
inside the chip move the zeros of a padded tile, and are counted for it:

* the first on-chip level is filled with the whole padded tile (its zeros are
  written on arrival, not read from DRAM), so its fills exceed DRAM's reads;
* a padded output's partial sum has no address in DRAM: each time it enters the
  first on-chip level it starts from zero there (no refill), and a level further
  in is refilled with it only if a MAC touched it since (on chip its MAC slots
  still update).

The value-level oracle (``tests/value_oracle.py``) found these cases; each is
derived by hand below and must equal the oracle's run, ``analyze()`` and the
brute-force walker.
"""

from __future__ import annotations

import time
from typing import Any

from bruteforce import brute_force_counts
from test_oracle import assert_agrees, make_hierarchy
from test_value_oracle import differences, execute, layer_of, machine, storage_counts, two_level

import energysim as es
from energysim.analysis.accesses import count_accesses
from energysim.model.base import TENSORS
from energysim.model.hierarchy import Hierarchy
from energysim.model.layers import DIMENSIONS, LoopBounds
from energysim.model.mapping import LevelMapping, Loop, Mapping


def test_analyze_bug_reproducer_zero_padding_not_read_from_dram() -> None:
    """Issue 10: conv C=M=1, 4 x 4, 3 x 3, padding 1 on eyeriss (rs): DRAM reads the 16 inputs once.

    rs keeps no loop at DRAM: the GLB's tile is the whole padded input, 6 x 6 = 36
    elements, of which the 16 at [1, 5) x [1, 5) exist: 36 GLB fills, 16 DRAM reads.
    """
    layer = layer_of({"type": "conv", "C": 1, "M": 1, "H": 4, "W": 4, "R": 3, "S": 3, "padding": 1})
    hierarchy = es.load_hierarchy("eyeriss")
    mapping = es.analyze(layer, hierarchy, dataflow="rs").mapping["x"]
    counts = execute(layer, hierarchy, mapping)
    assert counts[("DRAM", "inputs", "read")] == 16
    assert counts[("GLB", "inputs", "fill")] == 36
    assert differences(counts, storage_counts(es.analyze(layer, hierarchy, mapping=mapping))) == {}


def test_analyze_bug_reproducer_imperfect_factor_padding_not_read_from_dram() -> None:
    """fc C=3 mapped as C4: the padded 4th input and weight do not exist in memory.

    DESIGN: the outermost level never reads a padded element; the GLB moves the zeros
    (4 fills each), DRAM reads 3 of each.
    """
    layer = layer_of({"type": "fc", "C": 3, "M": 1})
    mapping = Mapping((LevelMapping("DRAM"), LevelMapping("GLB", (Loop("C", 4),))))
    counts = execute(layer, two_level(), mapping)
    assert counts[("GLB", "inputs", "fill")] == counts[("GLB", "weights", "fill")] == 4
    assert counts[("DRAM", "inputs", "read")] == counts[("DRAM", "weights", "read")] == 3
    assert differences(counts, storage_counts(es.analyze(layer, two_level(), mapping=mapping))) == {}


def test_analyze_bug_reproducer_padded_outputs_not_kept_in_dram() -> None:
    """fc C=2 M=3 mapped as M4 (DRAM C2 M2, GLB M2): output m=3 does not exist in memory.

    The GLB's tile of 2 outputs is drained and refilled once per C step. DESIGN: the
    outermost level never reads a padded element, so the padded partial sum is never
    refilled from DRAM (it restarts from zero in the GLB): GLB output fills 3, DRAM
    output reads 3; nor is it written there (it has no address): DRAM updates 3 x 2.
    """
    layer = layer_of({"type": "fc", "C": 2, "M": 3})
    mapping = Mapping(
        (LevelMapping("DRAM", (Loop("C", 2), Loop("M", 2))), LevelMapping("GLB", (Loop("M", 2),)))
    )
    counts = execute(layer, two_level(), mapping)
    assert counts[("GLB", "outputs", "fill")] == counts[("DRAM", "outputs", "read")] == 3
    assert counts[("DRAM", "outputs", "update")] == 6
    assert counts[("GLB", "outputs", "update")] == 8  # the padded MAC slots are issued on chip
    assert differences(counts, storage_counts(es.analyze(layer, two_level(), mapping=mapping))) == {}


def _brute_agrees(layer: Any, hierarchy: es.Hierarchy, mapping: Mapping) -> None:
    """The brute-force walker counts what analyze() does, count by count."""
    bounds = layer.bounds
    brute, _ = brute_force_counts(mapping, bounds, hierarchy)
    analytic = count_accesses(mapping, bounds, hierarchy, bounds.macs)
    assert {key: value for key, value in analytic.counts.items() if value} == brute
    assert_agrees(mapping, bounds, hierarchy)


def test_a_padded_output_restarts_from_zero_below_each_new_glb_tile() -> None:
    """fc C=4 M=3 mapped as M4: DRAM C2 M2 -> GLB C2 M2 -> RF (one output at a time).

    Each output m is in the RF at 4 (c_dram, c_glb) steps. A real one starts from zero
    the first time and is refilled from the GLB the other 3: 3 x 3 = 9. The padded
    m = 3 enters the GLB twice (c_dram = 0, 1: DRAM's M loop is inside its C loop, so
    the GLB's tile changes each time), each time from zero, not from DRAM; in each,
    the RF starts it from zero at c_glb = 0 and is refilled at c_glb = 1: 2. RF fills
    = GLB reads = 11; RF updates 16 (every MAC slot), RF reads 16 - (16 - 11) = 11.
    The GLB is refilled from DRAM with the real outputs on the second C pass: 3 fills,
    3 DRAM reads; DRAM takes 4 GLB tiles of 2 outputs less the 2 padded: 6 updates.
    """
    layer = layer_of({"type": "fc", "C": 4, "M": 3})
    hierarchy = machine([1, 1, 1], 1)
    mapping = Mapping(
        (
            LevelMapping("DRAM", (Loop("C", 2), Loop("M", 2))),
            LevelMapping("GLB", (Loop("C", 2), Loop("M", 2))),
            LevelMapping("RF"),
        )
    )
    counts = execute(layer, hierarchy, mapping)
    assert counts[("RF", "outputs", "fill")] == counts[("GLB", "outputs", "read")] == 11
    assert counts[("RF", "outputs", "update")] == counts[("GLB", "outputs", "update")] == 16
    assert counts[("RF", "outputs", "read")] == 11
    assert counts[("GLB", "outputs", "fill")] == counts[("DRAM", "outputs", "read")] == 3
    assert counts[("DRAM", "outputs", "update")] == 6
    assert differences(counts, storage_counts(es.analyze(layer, hierarchy, mapping=mapping))) == {}
    _brute_agrees(layer, hierarchy, mapping)


def test_macs_write_no_padded_output_into_dram() -> None:
    """fc C=2 M=3 mapped as M4 with outputs kept only by DRAM: the MACs update it directly.

    8 time steps (M4 x C2), one output each: 6 of a real output; each real output's
    first write reads nothing: 6 - 3 = 3 reads. The 2 padded slots are issued (gated)
    and written nowhere: the networks below DRAM and the GLB carry 6 results each.
    """
    layer = layer_of({"type": "fc", "C": 2, "M": 3})
    keeps = [["weights", "inputs", "outputs"], ["weights", "inputs"]]
    hierarchy = machine([1, 1], 1, keeps=keeps)
    mapping = Mapping(
        (LevelMapping("DRAM", (Loop("M", 4), Loop("C", 2))), LevelMapping("GLB", keeps=("weights", "inputs")))
    )
    counts = execute(layer, hierarchy, mapping)
    assert counts[("DRAM", "outputs", "update")] == 6
    assert counts[("DRAM", "outputs", "read")] == 3
    result = es.analyze(layer, hierarchy, mapping=mapping)
    assert differences(counts, storage_counts(result)) == {}
    transfers = count_accesses(mapping, layer.bounds, hierarchy, layer.bounds.macs).transfers
    assert transfers[("DRAM", "outputs")] == transfers[("GLB", "outputs")] == 6
    _brute_agrees(layer, hierarchy, mapping)


def test_an_imperfect_factor_of_a_billion_costs_what_one_of_two_does() -> None:
    """fc C=1 M=2^30 + 1 mapped as M 2^31 (DRAM M 2^30, GLB M2): half the outputs are padding.

    The one input (C=1) is read once and stays. DRAM reads the 2^30 + 1 real
    weights; the GLB is filled with all 2^31 (a tile of 2 per DRAM step), zeros
    included. DRAM takes the 2^30 + 1 real outputs; the GLB's MAC slots update all
    2^31. Closed forms over the loops, not the indices: well under a second.
    """
    layer = layer_of({"type": "fc", "C": 1, "M": 2**30 + 1})
    mapping = Mapping((LevelMapping("DRAM", (Loop("M", 2**30),)), LevelMapping("GLB", (Loop("M", 2),))))
    began = time.perf_counter()
    result = es.analyze(layer, two_level(), mapping=mapping)
    assert time.perf_counter() - began < 1.0
    assert result.count("DRAM", "weights", "read") == 2**30 + 1
    assert result.count("GLB", "weights", "fill") == 2**31
    assert result.count("DRAM", "inputs", "read") == result.count("GLB", "inputs", "fill") == 1
    assert result.count("DRAM", "outputs", "update") == 2**30 + 1
    assert result.count("GLB", "outputs", "update") == 2**31


def _channel_comb(children: int, multicast: bool) -> tuple[Mapping, LoopBounds, Hierarchy]:
    """fc C = 4 n - 1 (as 4 n), M2: L0 loops M2 and fans C out to n; L1 loops C4 and keeps only weights."""
    sizes = dict.fromkeys(DIMENSIONS, 1) | {"C": 4 * children - 1, "M": 2}
    mapping = Mapping(
        (
            LevelMapping("L0", temporal=(Loop("M", 2),), spatial=(Loop("C", children),)),
            LevelMapping("L1", temporal=(Loop("C", 4),), keeps=("weights",)),
            LevelMapping("L2", keeps=TENSORS),
        )
    )
    hierarchy = make_hierarchy([children, 1, 1], [multicast, None, None], [TENSORS, ("weights",), TENSORS])
    return mapping, LoopBounds(sizes), hierarchy


def test_a_padded_channel_over_a_comb_of_a_million_children_is_closed_form() -> None:
    """The L2 instances hold one channel each; instance i walks channels 4 i .. 4 i + 3 (the L1
    loop between them spaces the children 4 apart: a comb), and again on the second M step.

    L2 input fills: 2 x 4 n, the last channel (4 n - 1) a zero. L0 reads the real ones, 2 x (4 n - 1),
    with or without multicast (no two children share a channel). n = 4 agrees with the brute force;
    n = 2^20 children is a million teeth, placed as progressions, never as explicit intervals.
    """
    for multicast in (True, False):
        assert_agrees(*_channel_comb(4, multicast))
        mapping, bounds, hierarchy = _channel_comb(2**20, multicast)
        began = time.perf_counter()
        counts = count_accesses(mapping, bounds, hierarchy, bounds.macs)
        assert time.perf_counter() - began < 1.0
        assert counts.get("L2", "inputs", "fill") == 2 * 4 * 2**20
        assert counts.get("L0", "inputs", "read") == 2 * (4 * 2**20 - 1)
