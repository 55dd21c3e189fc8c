"""The im2col conditions and the search's flattened candidates, each from a case a review found.

Counts are checked against the brute-force walker (``tests/bruteforce.py``,
written from the flattening's meaning); the search cases against the earlier
result or the constraint they must keep.
"""

from __future__ import annotations

import pytest
from test_mapper import _systolic
from test_oracle import assert_agrees
from test_value_oracle import layer_of, machine

import energysim as es
from energysim.mapping.constraints import effective_constraints
from energysim.mapping.flatten import flattened_variants, respects
from energysim.model.mapping import LevelMapping, Loop, Mapping
from energysim.search import clear_search_cache, search_layer

EVERYTHING = ["weights", "inputs", "outputs"]


def _outputs_at_dram_only(q_factor: int) -> tuple[object, es.Hierarchy, Mapping]:
    """Conv C2 M1 1x1 on 4 x 5 (P4 Q5); the GLB keeps only inputs and flattens C2 over 3 rows."""
    layer = layer_of({"type": "conv", "C": 2, "M": 1, "H": 4, "W": 5, "R": 1, "S": 1})
    hierarchy = machine([1, 1], 3, [None, True], [EVERYTHING, EVERYTHING])
    mapping = Mapping(
        (
            LevelMapping("DRAM"),
            LevelMapping(
                "GLB",
                (Loop("P", 4), Loop("Q", q_factor)),
                (Loop("K", 3),),
                ("inputs",),
                (Loop("C", 2),),
            ),
        )
    )
    return layer, hierarchy, mapping


def test_padded_outputs_only_at_level_0_are_refused_unpadded_ones_counted() -> None:
    """Level 0 unpads the padded outputs and the idle rows send no product: the two overlapped.

    With Q padded to 8 the GLB's output transfers came out 28 (or -8 with no im2col extents),
    not the 40 the brute force counts; such a mapping is now refused, and the unpadded one
    (Q5) agrees with the brute force count by count and transfer by transfer.
    """
    layer, hierarchy, padded = _outputs_at_dram_only(8)
    with pytest.raises(es.EnergySimError, match=r"outputs go between level DRAM and the array.*Q pad"):
        es.check_mapping(padded, layer, hierarchy)
    layer, hierarchy, unpadded = _outputs_at_dram_only(5)
    es.check_mapping(unpadded, layer, hierarchy)
    assert_agrees(unpadded, layer.loop_bounds, hierarchy)


def test_unpadded_inputs_may_come_from_level_0() -> None:
    """Inputs with no padding at all may skip the levels down to the flattened one (exact: brute force)."""
    layer = layer_of({"type": "conv", "C": 2, "M": 2, "H": 4, "W": 4, "R": 2, "S": 2})
    hierarchy = machine([1, 1, 6], 6, [None, True, None], [EVERYTHING, ["weights", "outputs"], ["weights"]])
    mapping = Mapping(
        (
            LevelMapping("DRAM"),
            LevelMapping(
                "GLB",
                (Loop("K", 3), Loop("P", 3), Loop("Q", 3)),
                (Loop("K", 3), Loop("M", 2)),
                ("weights", "outputs"),
                (Loop("C", 2), Loop("R", 2), Loop("S", 2)),
            ),
            LevelMapping("RF", keeps=("weights",)),
        )
    )
    es.check_mapping(mapping, layer, hierarchy)
    assert_agrees(mapping, layer.loop_bounds, hierarchy)
    padded = layer_of({"type": "conv", "C": 2, "M": 2, "H": 2, "W": 2, "R": 2, "S": 2, "padding": 1})
    with pytest.raises(es.EnergySimError, match=r"inputs go between level DRAM.*zero padding"):
        es.check_mapping(mapping, padded, hierarchy)


@pytest.mark.parametrize(
    ("levels", "message"),
    [
        # The outermost level cannot flatten (it was an IndexError from the command line).
        (
            (LevelMapping("DRAM", (Loop("K", 2),), (Loop("K", 4),), im2col=(Loop("C", 2), Loop("R", 2))),),
            r"outermost level holds the whole layer and cannot flatten",
        ),
        # K loops with no im2col extents: every row but one was idle, and counts went negative.
        (
            (LevelMapping("DRAM"), LevelMapping("GLB", (Loop("C", 2), Loop("R", 2)), (Loop("K", 4),))),
            r"K loops need im2col extents",
        ),
    ],
)
def test_meaningless_flattenings_are_named(levels: tuple[LevelMapping, ...], message: str) -> None:
    layer = layer_of({"type": "conv", "C": 2, "M": 1, "H": 3, "W": 3, "R": 2, "S": 1})
    depth = len(levels)
    hierarchy = machine([1] * depth, 4, [True] * depth, [EVERYTHING] * depth)
    with pytest.raises(es.EnergySimError, match=message):
        es.check_mapping(Mapping(levels), layer, hierarchy)


def test_the_reduction_edge_keeps_the_edge_constraints_on_a_non_square_array() -> None:
    """On 8 rows x 32 columns, ws puts C, R, S on the rows: K may not take the 32 columns.

    C16 R3 S3 = 144 rows would fold best over the columns (5 folds of 32), but ws's rows
    carry the reduction and its columns M: the found mapping's K edge is at most 8.
    """
    clear_search_cache()
    machine_8x32 = _systolic(8, 32)
    layer = layer_of({"type": "conv", "C": 16, "M": 8, "H": 10, "W": 10, "R": 3, "S": 3})
    k_on_columns = Mapping(
        (
            LevelMapping("DRAM"),
            LevelMapping(
                "SRAM",
                (Loop("K", 5), Loop("P", 8), Loop("Q", 8)),
                (Loop("K", 32), Loop("M", 8)),
                im2col=(Loop("C", 16), Loop("R", 3), Loop("S", 3)),
            ),
            LevelMapping("PE", keeps=("weights",)),
        )
    )
    es.check_mapping(k_on_columns, layer, machine_8x32)  # the hardware can run it either way round
    assert not respects(k_on_columns, effective_constraints("ws", machine_8x32), machine_8x32)
    assert respects(k_on_columns, effective_constraints(None, machine_8x32), machine_8x32)
    found = search_layer(layer, machine_8x32, "cycles", "ws", budget_s=None, evaluations=60)
    edge = [loop.factor for level in found.mapping.levels for loop in level.spatial if loop.dim == "K"]
    assert all(factor <= 8 for factor in edge)


def _conv_8x8() -> tuple[object, es.Hierarchy]:
    return layer_of({"type": "conv", "C": 3, "M": 8, "H": 10, "W": 10, "R": 3, "S": 3}), _systolic(8, 8)


def test_an_energy_search_is_never_worse_than_its_flattened_start() -> None:
    """A flattened earlier result is weighed as it is (the space cannot place it): never worse."""
    clear_search_cache()
    layer, machine_8x8 = _conv_8x8()
    first = search_layer(layer, machine_8x8, "energy", "ws", budget_s=None)
    assert first.mapping.flattened_level is not None
    again = search_layer(
        layer, machine_8x8, "energy", "ws", budget_s=None, evaluations=5, seed=3, start_from=[first.mapping]
    )
    assert again.metrics.energy <= first.metrics.energy


def test_earlier_results_keep_the_constraints() -> None:
    """``im2col: false`` refuses a flattened earlier result, and ws an os one (spatial P on an edge)."""
    clear_search_cache()
    layer, machine_8x8 = _conv_8x8()
    flattened = search_layer(layer, machine_8x8, "cycles", "ws", budget_s=None)
    assert flattened.mapping.flattened_level is not None
    no_im2col = {"version": 1, "extends": "ws", "im2col": False}
    found = search_layer(
        layer, machine_8x8, "cycles", no_im2col, budget_s=None, start_from=[flattened.mapping]
    )
    assert found.mapping.flattened_level is None
    output_stationary = es.build_mapping(layer, machine_8x8, "os")
    pixels = {loop.dim for level in output_stationary.levels for loop in level.spatial} & set("PQN")
    assert pixels  # os spreads output pixels over an edge, which ws does not allow
    found = search_layer(layer, machine_8x8, "cycles", "ws", budget_s=None, start_from=[output_stationary])
    spread = {loop.dim for level in found.mapping.levels for loop in level.spatial if loop.factor > 1}
    assert not spread & set("PQN")


def _flattened_8x8(folds: int, edge: int) -> Mapping:
    return Mapping(
        (
            LevelMapping("DRAM"),
            LevelMapping(
                "SRAM",
                (Loop("K", folds), Loop("P", 8), Loop("Q", 8)),
                (Loop("K", edge), Loop("M", 8)),
                im2col=(Loop("C", 3), Loop("R", 3), Loop("S", 3)),
            ),
            LevelMapping("PE", keeps=("weights",)),
        )
    )


def test_imperfect_false_allows_no_idle_rows() -> None:
    """``imperfect: false``: 27 rows in K4 x K8 (5 idle) is out, K9 x K3 (none) is in; variants divide 27."""
    layer, machine_8x8 = _conv_8x8()
    no_padding = effective_constraints({"version": 1, "extends": "ws", "imperfect": False}, machine_8x8)
    padded, exact = _flattened_8x8(4, 8), _flattened_8x8(9, 3)
    for mapping in (padded, exact):
        es.check_mapping(mapping, layer, machine_8x8)
    assert respects(padded, effective_constraints("ws", machine_8x8), machine_8x8)
    assert not respects(padded, no_padding, machine_8x8)
    assert respects(exact, no_padding, machine_8x8)
    product = Mapping(
        (
            LevelMapping("DRAM"),
            LevelMapping(
                "SRAM", (Loop("R", 3), Loop("S", 3), Loop("P", 8), Loop("Q", 8)), (Loop("C", 3), Loop("M", 8))
            ),
            LevelMapping("PE", keeps=("weights",)),
        )
    )
    bounds = layer.loop_bounds.sizes
    assert flattened_variants(product, machine_8x8, bounds) == [padded]
    assert flattened_variants(product, machine_8x8, bounds, perfect=True) == []  # 3 rows: no more than C3
