"""Spatial loops onto a systolic array: one dimension group per edge, each within its edge.

The reproducers are the mappings main's dataflow builders chose on tpu-like
(256 x 256, systolic): their PE totals fit 65,536, but they put three
dimension groups on the two edges, or a group larger than an edge. The oracle
is brute force over every assignment of the loops to the rows and the columns
(itertools), with the issue's groups written out here (reduction C R S, output
channels G M, output pixels N P Q), independent of the check's rule.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import energysim as es
from energysim.errors import EnergySimError
from energysim.mapping.check import array_fit_problem
from energysim.mapping.mapspace import build_space
from energysim.mapping.search import Searcher
from energysim.model.mapping import LevelMapping, Loop, Mapping
from energysim.search import search_layer

TPU = es.load_hierarchy("tpu-like")
EDGE = 256
ARRAY_LEVEL = "Accumulators"  # the one TPU level whose single instance fans out to all 65,536 PEs
CONV1 = es.load_workload("resnet50").layers[0]  # M64 C3 P112 Q112 R7 S7, stride 2
CONV4 = es.load_workload("alexnet")["conv4"]  # G2 M192 C192 P13 Q13 R3 S3
DATAFLOWS = ("ws", "os", "is", "rs", "nlr")
NETWORKS = sorted(path.stem for path in (Path(__file__).resolve().parents[1] / "workloads").glob("*.yaml"))
#: The issue's edge groups: "each edge carries one dimension group" (K: C, R, S flattened, im2col).
GROUPS = ("CRSK", "GM", "NPQ")


def brute_force_fit(loops: tuple[tuple[str, int], ...], rows: int, cols: int) -> bool:
    """True if some assignment of ``loops`` to the rows and the columns is one group per edge within sizes.

    Every one of the 2^n assignments: the rows' loops multiply to at most
    ``rows`` and the columns' to at most ``cols``; the loops of factor above 1
    on an edge all come from one of :data:`GROUPS`, and the two edges' groups
    differ (an edge with no such loop carries no group).
    """
    for sides in itertools.product((0, 1), repeat=len(loops)):
        groups = []
        fits = True
        for side, size in ((0, rows), (1, cols)):
            edge = [(dim, factor) for (dim, factor), on in zip(loops, sides, strict=True) if on == side]
            dims = {dim for dim, factor in edge if factor > 1}
            fits &= math.prod(factor for _, factor in edge) <= size
            matching = [group for group in GROUPS if dims <= set(group)]
            if dims and not matching:
                fits = False
            elif dims:
                groups.append(matching[0])
        if fits and len(groups) == len(set(groups)):
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


def _loops(mapping: Mapping) -> tuple[tuple[str, int], ...]:
    """The array level's spatial loops as (dimension, factor) pairs."""
    return tuple(
        (loop.dim, loop.factor)
        for spec in mapping.levels
        if spec.level == ARRAY_LEVEL
        for loop in spec.spatial
    )


def test_the_oracle_agrees_that_the_reproducers_do_not_fit() -> None:
    """Totals fit 65,536 PEs, yet no assignment puts one group per 256-PE edge.

    conv1: C3 R7 S7 (147), M65 and P6 are three groups on two edges. conv4:
    C16 R3 S3 (144) and G2 M196 (392) are two groups, but 392 > 256.
    """
    assert 3 * 65 * 6 * 7 * 7 == 57_330 <= EDGE * EDGE
    assert 16 * 2 * 196 * 3 * 3 == 56_448 <= EDGE * EDGE
    assert not brute_force_fit(_loops(CONV1_MAIN), EDGE, EDGE)
    assert not brute_force_fit(_loops(CONV4_MAIN), EDGE, EDGE)


def test_the_check_names_the_groups_and_what_fits_instead() -> None:
    """conv1's three groups: the message lists them and a layout of two that fits (147 rows, 65 columns)."""
    with pytest.raises(EnergySimError) as caught:
        es.check_mapping(CONV1_MAIN, CONV1, TPU)
    message = str(caught.value)
    assert message.count("\n  - ") == 1  # the one problem, nothing else
    assert (
        f"level {ARRAY_LEVEL}: spatial loops C3 x M65 x P6 x R7 x S7 put 3 dimension groups on the "
        "256 x 256 systolic array (CRS C3 x R7 x S7 = 147, GM M65 = 65, NPQ P6 = 6)"
    ) in message
    assert (
        "CRS (147) on the rows and GM (65) on the columns would fit, with the loops of NPQ temporal"
        in message
    )


def test_the_check_keeps_the_edge_size_rule() -> None:
    """conv4's two groups: G2 x M196 = 392 exceeds both 256-PE edges, so only CRS (144) fits one edge."""
    with pytest.raises(EnergySimError) as caught:
        es.check_mapping(CONV4_MAIN, CONV4, TPU)
    message = str(caught.value)
    assert message.count("\n  - ") == 1
    assert (
        f"level {ARRAY_LEVEL}: spatial loops C16 x G2 x M196 x R3 x S3 do not split over the 256 x 256 "
        "systolic array: each edge carries one dimension group (CRS C16 x R3 x S3 = 144, GM G2 x M196 = 392)"
    ) in message
    assert "CRS (144) on the rows would fit, with the loops of GM temporal" in message


def test_a_non_systolic_array_keeps_the_total_count() -> None:
    """The same array with a network that delivers to any PE: 57,330 <= 65,536 is all it asks."""
    flat = TPU.model_copy(update={"compute": TPU.compute.model_copy(update={"systolic": False})})
    es.check_mapping(CONV1_MAIN, CONV1, flat)


def test_two_groups_within_their_edges_pass() -> None:
    """C3 R7 S7 = 147 on the rows, M64 on the columns (a factor-1 P loop unrolls nothing)."""
    mapping = _tpu_mapping(
        (Loop("P", 112), Loop("Q", 112)),
        (Loop("C", 3), Loop("M", 64), Loop("R", 7), Loop("S", 7), Loop("P", 1)),
        ("weights",),
    )
    es.check_mapping(mapping, CONV1, TPU)


def test_one_group_larger_than_an_edge_is_rejected() -> None:
    """C3 R7 S7 = 147 fits a 256-PE edge; on 32 x 32 it would split by size (C3 R7 = 21 rows, S7
    columns), but a reduction cannot sum over both edges: rejected, and the oracle agrees."""
    mapping = _tpu_mapping(
        (Loop("M", 64), Loop("P", 112), Loop("Q", 112)),
        (Loop("C", 3), Loop("R", 7), Loop("S", 7)),
        ("weights",),
    )
    es.check_mapping(mapping, CONV1, TPU)  # one group, 147 on one edge: fits
    small = TPU.model_copy(
        update={
            "compute": TPU.compute.model_copy(
                update={"array": TPU.compute.array.model_copy(update={"rows": 32, "cols": 32})}
            )
        }
    )
    small = small.model_copy(
        update={
            "levels": tuple(
                level.model_copy(update={"instances": 1024}) if level.name == "PEReg" else level
                for level in TPU.levels
            )
        }
    )
    with pytest.raises(EnergySimError, match="do not split over the 32 x 32 systolic array"):
        es.check_mapping(mapping, CONV1, small)
    assert not brute_force_fit(_loops(mapping), 32, 32)


_DIMS = st.sampled_from("GNMCPQRS")
_FACTORS = st.sampled_from((1, 1, 2, 3, 4, 5, 7, 8, 16))


@settings(max_examples=300, deadline=None)
@given(
    loops=st.lists(st.tuples(_DIMS, _FACTORS), max_size=6),
    rows=st.integers(1, 40),
    cols=st.integers(1, 40),
)
def test_the_check_agrees_with_brute_force_on_random_loops(
    loops: list[tuple[str, int]], rows: int, cols: int
) -> None:
    spatial = tuple(Loop(dim, factor) for dim, factor in loops)
    level = TPU.levels[3]
    accepted = array_fit_problem(level, spatial, (rows, cols)) is None
    assert accepted == brute_force_fit(tuple(loops), rows, cols), (loops, rows, cols)


@pytest.mark.parametrize(("layer", "dataflow"), [(CONV1, "ws"), (CONV1, "rs"), (CONV4, "os"), (CONV4, "is")])
def test_the_builders_mappings_of_the_reproducer_layers_fit_the_array(
    layer: es.model.Layer, dataflow: str
) -> None:
    mapping = es.build_mapping(layer, TPU, dataflow)
    assert brute_force_fit(_loops(mapping), EDGE, EDGE), mapping
    es.check_mapping(mapping, layer, TPU)


@pytest.mark.parametrize("network", NETWORKS)
def test_every_network_maps_on_tpu_like_under_every_dataflow_within_the_array(network: str) -> None:
    """Every layer with MACs of every shipped network, under each of the five dataflows, gets a
    mapping whose array-level loops put one group per edge within 256 x 256 (brute force), that
    the check accepts, and that lies in the mapper's space (so the search, seeded with it, can
    never end above its energy: the issue's "never worse")."""
    spaces: dict[object, Searcher] = {}
    for layer in es.load_workload(network).layers:
        if layer.loop_bounds is None:
            continue
        shape = (tuple(layer.loop_bounds.sizes.items()), layer.loop_bounds.stride, layer.loop_bounds.dilation)
        searcher = spaces.setdefault(shape, Searcher(build_space(layer, TPU), lambda mapping: 0.0))
        for dataflow in DATAFLOWS:
            mapping = es.build_mapping(layer, TPU, dataflow)
            assert brute_force_fit(_loops(mapping), EDGE, EDGE), (layer.name, dataflow, mapping)
            es.check_mapping(mapping, layer, TPU)
            assert searcher.from_mapping(mapping) is not None, (layer.name, dataflow, mapping)


@pytest.mark.parametrize("layer", [CONV1, CONV4], ids=["resnet50-conv1", "alexnet-conv4"])
def test_the_mappers_systolic_edge_rule_is_within_the_check(layer: es.model.Layer) -> None:
    """The mapper keeps one dimension group per array edge, each within its size: the check agrees."""
    found = search_layer(layer, TPU, "energy", budget_s=None, evaluations=30)
    assert math.prod(factor for _, factor in _loops(found.mapping)) > EDGE  # both edges in use
    for mapping in (found.mapping, *(candidate for candidate, _ in found.top)):
        assert brute_force_fit(_loops(mapping), EDGE, EDGE), mapping
        es.check_mapping(mapping, layer, TPU)
