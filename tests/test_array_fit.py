"""Spatial loops onto a systolic array split into a rows group and a columns group that fit it.

The reproducers are the mappings main's dataflow builders chose on tpu-like
(256 x 256, systolic): their PE totals fit 65,536, but no split of their
loops over the two edges does. The oracle for "a split exists" is brute force
over every subset of the loops (itertools), independent of the check's rule.
"""

from __future__ import annotations

import itertools
import math

import pytest

import energysim as es
from energysim.errors import EnergySimError
from energysim.mapping.check import splits_over
from energysim.model.mapping import LevelMapping, Loop, Mapping
from energysim.search import search_layer

TPU = es.load_hierarchy("tpu-like")
EDGE = 256
ARRAY_LEVEL = "Accumulators"  # the one TPU level whose single instance fans out to all 65,536 PEs
CONV1 = es.load_workload("resnet50").layers[0]  # M64 C3 P112 Q112 R7 S7, stride 2
CONV4 = es.load_workload("alexnet")["conv4"]  # G2 M192 C192 P13 Q13 R3 S3
DATAFLOWS = ("ws", "os", "is", "rs", "nlr")
NETWORKS = ("lenet5", "alexnet", "vgg16", "resnet50", "mobilenet-v2", "bert-base-layer", "gpt2-decode")


def brute_force_split(factors: tuple[int, ...], rows: int, cols: int) -> bool:
    """True if some subset of ``factors`` multiplies to <= rows and the rest to <= cols."""
    indices = range(len(factors))
    for size in range(len(factors) + 1):
        for subset in itertools.combinations(indices, size):
            on_rows = math.prod(factors[i] for i in subset)
            on_cols = math.prod(factors[i] for i in indices if i not in subset)
            if on_rows <= rows and on_cols <= cols:
                return True
    return False


def _tpu_mapping(temporal: tuple[Loop, ...], spatial: tuple[Loop, ...], pe_keeps: tuple[str, ...]) -> Mapping:
    """Main's builder output on tpu-like: everything at the Accumulators level, as it chose."""
    return Mapping(
        (
            LevelMapping("DRAM", keeps=("weights", "inputs", "outputs")),
            LevelMapping("UnifiedBuffer", keeps=("inputs", "outputs")),
            LevelMapping("WeightFIFO", keeps=("weights",)),
            LevelMapping(ARRAY_LEVEL, temporal, spatial, keeps=("outputs",)),
            LevelMapping("PEReg", keeps=pe_keeps),  # type: ignore[arg-type]
        )
    )


#: main's ws and rs mapping of ResNet-50 conv1: 3 x 65 x 6 x 7 x 7 = 57,330 PEs.
CONV1_MAIN = _tpu_mapping(
    (Loop("P", 19), Loop("Q", 112)),
    (Loop("C", 3), Loop("M", 65), Loop("P", 6), Loop("R", 7), Loop("S", 7)),
    ("weights",),
)
#: main's os and is mapping of AlexNet conv4 (the UnifiedBuffer's C12 folded into the array level's
#: temporal loops): 16 x 2 x 196 x 3 x 3 = 56,448 PEs.
CONV4_MAIN = _tpu_mapping(
    (Loop("C", 12), Loop("P", 13), Loop("Q", 13)),
    (Loop("C", 16), Loop("G", 2), Loop("M", 196), Loop("R", 3), Loop("S", 3)),
    (),
)


def test_the_oracle_agrees_that_the_reproducers_do_not_split() -> None:
    """Totals fit 65,536 PEs, yet no subset of the factors fits one 256-PE edge with the rest on the other."""
    assert 3 * 65 * 6 * 7 * 7 == 57_330 <= EDGE * EDGE
    assert 16 * 2 * 196 * 3 * 3 == 56_448 <= EDGE * EDGE
    assert not brute_force_split((3, 65, 6, 7, 7), EDGE, EDGE)
    assert not brute_force_split((16, 2, 196, 3, 3), EDGE, EDGE)


@pytest.mark.parametrize(
    ("mapping", "layer", "loops"),
    [(CONV1_MAIN, CONV1, "C3 x M65 x P6 x R7 x S7"), (CONV4_MAIN, CONV4, "C16 x G2 x M196 x R3 x S3")],
    ids=["resnet50-conv1", "alexnet-conv4"],
)
def test_the_check_rejects_a_fan_out_that_no_split_fits(
    mapping: Mapping, layer: es.model.Layer, loops: str
) -> None:
    with pytest.raises(EnergySimError) as caught:
        es.check_mapping(mapping, layer, TPU)
    message = str(caught.value)
    assert (
        f"level {ARRAY_LEVEL}: spatial loops {loops} do not split over the 256 x 256 systolic array"
        in message
    )
    assert message.count("\n  - ") == 1  # the one problem, nothing else


def test_a_non_systolic_array_keeps_the_total_count() -> None:
    """The same array with a network that delivers to any PE: 57,330 <= 65,536 is all it asks."""
    flat = TPU.model_copy(update={"compute": TPU.compute.model_copy(update={"systolic": False})})
    es.check_mapping(CONV1_MAIN, CONV1, flat)


def test_a_fan_out_that_splits_passes() -> None:
    """C3 R7 S7 = 147 on the rows, M64 on the columns."""
    mapping = _tpu_mapping(
        (Loop("P", 112), Loop("Q", 112)),
        (Loop("C", 3), Loop("M", 64), Loop("R", 7), Loop("S", 7)),
        ("weights",),
    )
    es.check_mapping(mapping, CONV1, TPU)


@pytest.mark.parametrize(
    ("factors", "rows", "cols"),
    [
        ((), 1, 1),
        ((1, 1, 1), 1, 1),
        ((2,), 1, 2),
        ((2,), 2, 1),
        ((2, 2), 1, 2),
        ((12, 14), 12, 14),
        ((12, 14), 14, 12),
        ((3, 65, 6, 7, 7), 256, 256),
        ((16, 2, 196, 3, 3), 256, 256),
        ((3, 64, 7, 7), 256, 256),
        ((2, 3, 5, 7, 11, 13, 17, 19), 510, 1001),
        ((2, 3, 5, 7, 11, 13, 17, 19), 509, 19_000),
        ((6, 6, 6, 6), 36, 35),
        ((2**31 - 1,), 1, 2**31 - 1),
    ],
)
def test_splits_over_agrees_with_brute_force(factors: tuple[int, ...], rows: int, cols: int) -> None:
    assert splits_over(factors, rows, cols) == brute_force_split(factors, rows, cols)


def _array_factors(mapping: Mapping) -> tuple[int, ...]:
    return tuple(loop.factor for spec in mapping.levels if spec.level == ARRAY_LEVEL for loop in spec.spatial)


@pytest.mark.parametrize(("layer", "dataflow"), [(CONV1, "ws"), (CONV1, "rs"), (CONV4, "os"), (CONV4, "is")])
def test_the_builders_mappings_of_the_reproducer_layers_fit_the_array(
    layer: es.model.Layer, dataflow: str
) -> None:
    mapping = es.build_mapping(layer, TPU, dataflow)
    factors = _array_factors(mapping)
    assert brute_force_split(factors, EDGE, EDGE), mapping
    es.check_mapping(mapping, layer, TPU)


@pytest.mark.parametrize("network", NETWORKS)
def test_every_network_maps_on_tpu_like_under_every_dataflow_within_the_array(network: str) -> None:
    """Every layer with MACs gets a mapping whose array-level loops split over 256 x 256 (brute force)."""
    for layer in es.load_workload(network).layers:
        if layer.loop_bounds is None:
            continue
        for dataflow in DATAFLOWS:
            mapping = es.build_mapping(layer, TPU, dataflow)
            assert brute_force_split(_array_factors(mapping), EDGE, EDGE), (layer.name, dataflow, mapping)


@pytest.mark.parametrize("layer", [CONV1, CONV4], ids=["resnet50-conv1", "alexnet-conv4"])
def test_the_mappers_systolic_edge_rule_is_within_the_check(layer: es.model.Layer) -> None:
    """The mapper keeps one dimension group per array edge, each within its size: its mappings split."""
    found = search_layer(layer, TPU, "energy", budget_s=None, evaluations=30)
    assert math.prod(_array_factors(found.mapping)) > EDGE  # both edges in use: the split is a real test
    for mapping in (found.mapping, *(candidate for candidate, _ in found.top)):
        assert brute_force_split(_array_factors(mapping), EDGE, EDGE), mapping
        es.check_mapping(mapping, layer, TPU)
