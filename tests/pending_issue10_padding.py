"""Issue 10's open padding disagreements, found by the value-level oracle: not collected yet.

The value oracle (``tests/value_oracle.py``) and ``analyze()`` still disagree on
padded elements; these three reproducers are the handover, to become tests
(rename this module ``test_...``) once the rule is settled and implemented:

* zero padding of a convolution: ``analyze()`` fills the GLB with the 16
  elements that exist, the oracle with the 36 of the padded tile (zeros
  written into the buffer). DESIGN says DRAM never reads padding and "levels
  inside the chip may move zeros"; whether zeros are *filled* into the first
  on-chip level, or made on its reads, must be decided in DESIGN first.
* imperfect factors (fc C=3 mapped as C4): DRAM still reads the padded fourth
  weight and input; DESIGN's "never reads a padded element" says it should not.
* padded outputs (M=3 mapped as M4): DRAM still keeps and refills the padded
  output's partial sum.
"""

from __future__ import annotations

from test_value_oracle import differences, execute, layer_of, storage_counts, two_level

import energysim as es
from energysim.model.mapping import LevelMapping, Loop, Mapping


def test_analyze_bug_reproducer_zero_padding_not_read_from_dram() -> None:
    """Issue 10: conv C=M=1, 4 x 4, 3 x 3, padding 1 on eyeriss (rs): DRAM reads the 16 inputs once.

    Fails until bug 2 is fixed (today analyze() counts 36 DRAM input reads).
    """
    layer = layer_of({"type": "conv", "C": 1, "M": 1, "H": 4, "W": 4, "R": 3, "S": 3, "padding": 1})
    hierarchy = es.load_hierarchy("eyeriss")
    mapping = es.analyze(layer, hierarchy, dataflow="rs").mapping["x"]
    counts = execute(layer, hierarchy, mapping)
    assert counts[("DRAM", "inputs", "read")] == 16
    assert differences(counts, storage_counts(es.analyze(layer, hierarchy, mapping=mapping))) == {}


def test_analyze_bug_reproducer_imperfect_factor_padding_not_read_from_dram() -> None:
    """fc C=3 mapped as C4: the padded 4th input and weight do not exist in memory.

    DESIGN: the outermost level never reads a padded element; the GLB moves the zeros
    (4 fills each), DRAM reads 3 of each. Fails until bug 2's fix covers imperfect
    factors too (today analyze() counts 4 DRAM reads).
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
    Fails until bug 2's fix covers padded outputs (today: 4, 4 and 8).
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
