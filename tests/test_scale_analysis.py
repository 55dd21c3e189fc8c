"""Analysis at scale: costs follow the numbers' structure, never their value.

Two kinds of test. The set algebra of :mod:`energysim.analysis.tiles` and the
divisors of the dataflow search are compared with brute force (Python sets of
every index, every value up to the bound) on small values, drawn by hypothesis.
Then large values (factors and extents of 2^31, strides and dilations of 2^20,
a billion PEs, 16 to 64 levels, the layers of issue 8) must finish fast, with
exact results derived by hand in the comments, or fail with one clear
EnergySimError that names the limit.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import energysim as es
from energysim.analysis.tiles import (
    AxisTile,
    Term,
    distinct_offsets,
    overlap_after_shift,
    tile_size,
    union_and_good,
    window_size,
)
from energysim.errors import EnergySimError
from energysim.mapping import check, dataflows
from energysim.mapping.check import elements_of_tile
from energysim.model.layers import DIMENSIONS, LoopBounds
from energysim.model.limits import MAX_DIMENSION, MAX_LAYER_MACS
from energysim.model.mapping import LevelMapping, Loop, Mapping

PROPERTIES = settings(max_examples=300, deadline=1000)

# -- the set algebra against Python sets ---------------------------------------------------------


def _indices(term: Term) -> list[int]:
    """Index offsets of the children along one term: every sum of the spatial loops' digits."""
    return [
        sum(i * stride for i, (stride, _f) in zip(combo, term.digits, strict=True))
        for combo in itertools.product(*(range(factor) for _stride, factor in term.digits))
    ]


def _brute(tile: AxisTile, shift: tuple[int, ...]) -> tuple[int, int, int, int, int]:
    """(|B|, |B & B+o|, |A|, |G|, |C|) from explicit sets, as the definitions say."""
    base = {
        sum(t.coefficient * x for t, x in zip(tile, xs, strict=True))
        for xs in itertools.product(*(range(t.extent) for t in tile))
    }
    children = {
        sum(t.coefficient * y for t, y in zip(tile, ys, strict=True))
        for ys in itertools.product(*(_indices(t) for t in tile))
    }
    offset = sum(t.coefficient * move for t, move in zip(tile, shift, strict=True))
    union = {b + c + offset for b in base for c in children}
    fresh = {b + c + offset for b in base for c in children if b + offset not in base}
    kept = sum(1 for b in base if b + offset in base)
    return len(base), kept, len(union), len(union) - len(fresh), len(children)


@st.composite
def terms(draw: st.DrawFn) -> Term:
    """A term with mixed-radix children: each stride a multiple of everything inside it."""
    extent = draw(st.integers(1, 5))
    digits = []
    stride = extent * draw(st.integers(1, 3))
    for _ in range(draw(st.integers(0, 2))):
        factor = draw(st.integers(1, 3))
        digits.append((stride, factor))
        stride *= factor * draw(st.integers(1, 3))
    return Term(draw(st.integers(1, 6)), extent, tuple(digits))


@st.composite
def tiles_and_shifts(draw: st.DrawFn) -> tuple[AxisTile, tuple[int, ...]]:
    tile = tuple(draw(st.lists(terms(), min_size=1, max_size=2)))
    return tile, tuple(draw(st.integers(-8, 8)) for _ in tile)


@PROPERTIES
@given(tiles_and_shifts())
def test_axis_sets_match_python_sets(case: tuple[AxisTile, tuple[int, ...]]) -> None:
    tile, shift = case
    size, kept, union, good, children = _brute(tile, shift)
    assert tile_size(tile) == size
    assert overlap_after_shift(tile, shift) == kept
    assert union_and_good(tile, shift) == (union, good)
    assert distinct_offsets(tile) == children


@PROPERTIES
@given(st.integers(1, 40), st.integers(1, 12), st.integers(1, 40), st.integers(1, 12))
def test_window_size_matches_a_set(step_a: int, extent_a: int, step_b: int, extent_b: int) -> None:
    points = {step_a * p + step_b * r for p in range(extent_a) for r in range(extent_b)}
    assert window_size(step_a, extent_a, step_b, extent_b) == len(points)


@settings(max_examples=100, deadline=1000)
@given(
    st.fixed_dictionaries({dim: st.integers(1, 3) for dim in DIMENSIONS}),
    st.tuples(st.integers(1, 3), st.integers(1, 3)),
    st.tuples(st.integers(1, 3), st.integers(1, 3)),
)
def test_tile_elements_match_a_set(extents: dict[str, int], stride: Any, dilation: Any) -> None:
    bounds = LoopBounds(sizes=dict.fromkeys(DIMENSIONS, 1), stride=stride, dilation=dilation)
    points = list(itertools.product(*(range(extents[dim]) for dim in DIMENSIONS)))
    index = {dim: position for position, dim in enumerate(DIMENSIONS)}

    def element(tensor: str, d: tuple[int, ...]) -> tuple[int, ...]:
        g, n, m, c, p, q, r, s = (d[index[x]] for x in "GNMCPQRS")
        if tensor == "weights":
            return (g, m, c, r, s)
        if tensor == "outputs":
            return (g, n, m, p, q)
        return (n, g, c, p * stride[0] + r * dilation[0], q * stride[1] + s * dilation[1])

    for tensor in ("weights", "inputs", "outputs"):
        assert elements_of_tile(bounds, extents, tensor) == len({element(tensor, d) for d in points})


@PROPERTIES
@given(st.integers(1, 3000))
def test_divisors_and_primes_match_trial_by_every_value(value: int) -> None:
    assert dataflows._divisors(value) == tuple(d for d in range(1, value + 1) if value % d == 0)
    assert math.prod(dataflows._prime_factors(value)) == value
    assert all(len(dataflows._divisors(p)) == 2 for p in dataflows._prime_factors(value))


# -- large values, exact by hand ------------------------------------------------------------------

BIG = 1 << 31


def test_divisors_of_large_bounds() -> None:
    assert dataflows._divisors(BIG) == tuple(1 << k for k in range(32))
    assert dataflows._divisors(BIG - 1) == (1, BIG - 1)  # 2^31 - 1 is prime
    assert dataflows._prime_factors(2 * 3 * 5 * 7 * 11 * 13 * 17 * 19 * 23) == (
        2,
        3,
        5,
        7,
        11,
        13,
        17,
        19,
        23,
    )
    assert dataflows._largest_divisor_at_most(BIG - 1, 1000) == 1


def test_one_dimension_with_a_factor_of_two_to_the_31() -> None:
    """A tile of one index with 2^31 children: all distinct, each new after a shift."""
    tile = (Term(1, 1, ((1, BIG),)),)
    assert tile_size(tile) == 1
    assert union_and_good(tile, (0,)) == (BIG, BIG)
    assert union_and_good(tile, (1,)) == (BIG, 0)
    assert distinct_offsets(tile) == BIG
    wide = (Term(1, BIG),)
    assert overlap_after_shift(wide, (1,)) == BIG - 1
    assert overlap_after_shift(wide, (-BIG,)) == 0


def test_huge_stride_is_one_to_one() -> None:
    """Stride 2^20 beyond the taps' reach: rows 2^20 p + r never collide, so counts multiply."""
    stride = 1 << 20
    tile = (Term(stride, BIG // stride), Term(1, 2, ((2, 1 << 10),)))
    assert tile_size(tile) == 2048 * 2
    # A step of the window's row: p + 1 keeps 2047 of 2048 rows and both taps.
    assert overlap_after_shift(tile, (1, 0)) == 2047 * 2
    # The children's taps r in [0, 2048): 2048 x 2048 rows held; after p + 1, one p in 2048 is new.
    assert union_and_good(tile, (1, 0)) == (2048 * 2048, 2047 * 2048)


def test_stride_twice_the_dilation_overlaps() -> None:
    """Stride 2^20, dilation 2^19: rows 2^19 (2p + r), p < 2048, r < 2048 (children's taps)."""
    tile = (Term(1 << 20, 2048), Term(1 << 19, 2, ((2, 1 << 10),)))
    # 2p + r covers 0 .. 2 x 2047 + 2047: 6142 rows. After p + 1 (2 in units of 2^19) each child's
    # tile [2k, 2k + 4096) gains [2k + 4096, 2k + 4098): together [4096, 6144), 2048 rows new.
    assert union_and_good(tile, (1, 0)) == (6142, 6142 - 2048)
    assert overlap_after_shift(tile, (1, 0)) == 4096 - 2


def test_sliding_window_over_two_to_the_32_rows() -> None:
    """Stride 1, a 3-tap window over 2^31 rows and two children 2^31 apart: one interval each."""
    tile = (Term(1, BIG, ((BIG, 2),)), Term(1, 3))
    assert tile_size(tile) == BIG + 2  # rows 0 .. 2^31 + 1
    assert overlap_after_shift(tile, (1, 0)) == BIG + 1
    # Children hold [0, 2^31 + 2) and [2^31, 2^32 + 2): 2^32 + 2 rows; one row per child is new.
    assert union_and_good(tile, (1, 0)) == ((1 << 32) + 2, 1 << 32)


def test_irregular_stride_and_dilation_beyond_the_bound_is_a_clear_error() -> None:
    """Stride 3, dilation 2, 4 taps over 2^20 rows: rows 3p + 2r, r < 4, collide irregularly."""
    tile = (Term(3, 1 << 20), Term(2, 4))
    # Rows 0 .. 3 (2^20 - 1) + 6 = 3 x 2^20 + 3, all but 1 and 3 x 2^20 + 2 (closed form, no set).
    assert tile_size(tile) == 3 * (1 << 20) + 4 - 2
    with pytest.raises(EnergySimError, match=r"too large.*MAX_TILE_INTERVALS"):
        overlap_after_shift(tile, (1, 0))


# -- mappings too large to count -----------------------------------------------------------------


def _fc(c: int, m: int) -> es.Network:
    return es.Network.model_validate(
        {"version": 1, "name": "n", "layers": [{"name": "fc", "type": "fc", "C": c, "M": m}]}
    )


def test_a_mapping_past_two_to_the_53_slots_is_too_large_naming_the_level() -> None:
    layer = _fc(BIG, 4).layers[0]
    mapping = Mapping(
        (
            LevelMapping("DRAM", (Loop("C", BIG), Loop("M", 1 << 23))),
            LevelMapping("GLB"),
            LevelMapping("RF"),
        )
    )
    problems = check.structure_problems(mapping, layer, es.load_hierarchy("eyeriss"))
    assert len(problems) == 1
    assert "too large" in problems[0]
    assert "MAX_LAYER_MACS" in problems[0]
    assert "level DRAM" in problems[0]
    assert str(BIG << 23) in problems[0]
    assert BIG << 23 > MAX_LAYER_MACS


def test_a_factor_past_two_to_the_31_is_too_large() -> None:
    mapping = Mapping((LevelMapping("DRAM", (Loop("C", 2 * BIG),)), LevelMapping("GLB"), LevelMapping("RF")))
    with pytest.raises(EnergySimError, match=rf"level DRAM: loop C{2 * BIG} is too large.*{MAX_DIMENSION}"):
        es.analyze(_fc(4, 4), "eyeriss", mapping=mapping)


# -- the layers of issue 8 on every shipped hierarchy ----------------------------------------------

HIERARCHIES = ("eyeriss", "tpu-like", "edge-npu", "v100", "lecture-toy")
DATAFLOWS = ("ws", "os", "is", "rs", "nlr")
#: AlexNet's conv3: 384 x 256 x 3 x 3 MACs at each of 13 x 13 outputs, plus one bias add per output.
CONV3_MACS = 384 * 256 * 3 * 3 * 13 * 13 + 384 * 13 * 13
#: name: (layer, MACs by hand, output elements by hand, bytes of all tensors at 16 bits by hand)
BIG_LAYERS: dict[str, tuple[dict[str, Any], int, int, int]] = {
    # 12 x (65536 x 64) x (64 x 65536): outputs 12 x 65536^2
    "matmul": (
        {"name": "mm", "type": "matmul", "m": 65536, "k": 64, "n": 65536, "batch": 12},
        12 * 65536 * 64 * 65536,
        12 * 65536 * 65536,
        2 * 12 * (65536 * 64 + 64 * 65536 + 65536 * 65536),
    ),
    # P = Q = 32 + 2 x 10^6 - 3 + 1 = 2,000,030
    "padding": (
        {"name": "pad", "type": "conv", "C": 3, "M": 8, "H": 32, "W": 32, "R": 3, "S": 3, "padding": 10**6},
        8 * 3 * 9 * 2_000_030**2,
        8 * 2_000_030**2,
        2 * (8 * 3 * 9 + 3 * 32 * 32 + 8 * 2_000_030**2),
    ),
    # P = 10^9 + 2 - 3 + 1 = 10^9, Q = 4
    "tall": (
        {"name": "tall", "type": "conv", "C": 3, "M": 8, "H": 10**9, "W": 4, "R": 3, "S": 3, "padding": 1},
        8 * 3 * 9 * 10**9 * 4,
        8 * 10**9 * 4,
        2 * (8 * 3 * 9 + 3 * 10**9 * 4 + 8 * 10**9 * 4),
    ),
}


@pytest.mark.parametrize("hierarchy", HIERARCHIES)
@pytest.mark.parametrize("case", BIG_LAYERS)
def test_big_layers_analyze_on_every_hierarchy_and_dataflow(case: str, hierarchy: str) -> None:
    """Each analyses under every named dataflow, or, if its tensors do not fit the outermost
    memory (v100's 16 GiB of HBM2), says so, naming the level."""
    layer, macs, outputs, total_bytes = BIG_LAYERS[case]
    network = es.Network.model_validate({"version": 1, "name": case, "layers": [layer]})
    machine = es.load_hierarchy(hierarchy)
    outer = machine.outermost
    for dataflow in DATAFLOWS:
        if isinstance(outer.size_bytes, int) and total_bytes > outer.size_bytes:
            with pytest.raises(
                EnergySimError, match=rf"no mapping .* fits {hierarchy}: .*level {outer.name}"
            ):
                es.analyze(network, machine, dataflow)
            continue
        result = es.analyze(network, machine, dataflow)
        summary = result.layers.iloc[0]
        assert result.count(machine.compute.name, "none", "mac") == macs == summary["nest_macs"]
        assert summary["mapped_macs"] >= macs
        assert result.count(outer.name, "outputs", "update") >= outputs  # each output written once at least


# -- big hardware ------------------------------------------------------------------------------------


def _hierarchy(levels: list[dict[str, Any]], rows: int, cols: int) -> es.Hierarchy:
    return es.Hierarchy.model_validate(
        {
            "version": 1,
            "name": f"test-{len(levels)}",
            "clock_ghz": 1.0,
            "levels": levels,
            "compute": {"array": {"rows": rows, "cols": cols}, "mac_energy_pj": 1.0},
        }
    )


def _level(name: str, kind: str = "sram", **fields: Any) -> dict[str, Any]:
    return {
        "name": name,
        "kind": kind,
        "read_energy_pj": 1.0,
        "write_energy_pj": 1.0,
        "bandwidth_bytes_per_cycle": 16,
        **fields,
    }


def billion_pe_array() -> es.Hierarchy:
    """A 10^9 x 1 array, one register file per PE."""
    return _hierarchy(
        [
            _level("DRAM", "dram"),
            _level("GLB", size_bytes=1 << 20, network={"multicast": True, "transfer_energy_pj": 2.0}),
            _level("RF", "regfile", instances=10**9, size_bytes=64),
        ],
        rows=10**9,
        cols=1,
    )


def deep_hierarchy(count: int) -> es.Hierarchy:
    """``count`` levels, each buffer smaller than the one above, the last one per PE of a 4 x 4 array."""
    levels = [_level("DRAM", "dram")]
    levels += [_level(f"L{i}", size_bytes=max(64, (1 << 24) >> (i * 16 // count))) for i in range(1, count)]
    levels[-2]["network"] = {"multicast": True, "transfer_energy_pj": 1.0}
    levels[-1]["instances"] = 16
    return _hierarchy(levels, rows=4, cols=4)


def test_a_billion_pe_array() -> None:
    """The tall layer spreads its 10^9 output rows over the 10^9 PEs; every MAC is counted once."""
    layer, macs, _outputs, _bytes = BIG_LAYERS["tall"]
    network = es.Network.model_validate({"version": 1, "name": "tall", "layers": [layer]})
    for dataflow in ("ws", "rs"):
        result = es.analyze(network, billion_pe_array(), dataflow)
        assert result.count("PE", "none", "mac") == macs
    conv3 = es.analyze("alexnet", billion_pe_array(), "os", layers=["conv3"])
    assert conv3.count("PE", "none", "mac") == CONV3_MACS


def _capacity_checks(count: int, monkeypatch: pytest.MonkeyPatch) -> int:
    calls = 0
    original = dataflows.level_capacity_problems

    def counted(*args: Any) -> list[str]:
        nonlocal calls
        calls += 1
        return original(*args)

    monkeypatch.setattr(dataflows, "level_capacity_problems", counted)
    dataflows.clear_mapping_cache()
    result = es.analyze("alexnet", deep_hierarchy(count), "os", layers=["conv3"])
    assert result.count("PE", "none", "mac") == CONV3_MACS
    return calls


def test_the_mapping_search_is_linear_in_levels(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tile growth checks capacities about levels x primes times: doubling the levels (16 -> 32)
    at most about doubles the checks (it was quadratic, with each check itself linear: >10 s)."""
    sixteen, thirty_two = _capacity_checks(16, monkeypatch), _capacity_checks(32, monkeypatch)
    assert thirty_two <= 2.5 * sixteen


@pytest.mark.parametrize("count", [16, 64])
def test_sixteen_and_sixty_four_levels_analyze(count: int) -> None:
    result = es.analyze("alexnet", deep_hierarchy(count), "rs", layers=["conv3"])
    assert len(result.mapping["conv3"].levels) == count
    assert result.count("PE", "none", "mac") == CONV3_MACS


def test_an_irregular_tile_past_the_bound_names_the_layer_and_the_limit() -> None:
    """Stride 3, dilation 2, 4 taps, 2^20 output rows in the inner level's tile: too large."""
    rows = 1 << 21
    network = es.Network.model_validate(
        {
            "version": 1,
            "name": "n",
            "layers": [
                {"name": "odd", "type": "conv", "C": 1, "M": 1, "H": 3 * (rows - 1) + 2 * 3 + 1, "W": 1}
                | {"R": 4, "S": 1, "stride": 3, "dilation": 2}
            ],
        }
    )
    machine = _hierarchy([_level("Outer", "dram"), _level("Inner", size_bytes=1 << 30)], rows=1, cols=1)
    mapping = Mapping(
        (LevelMapping("Outer", (Loop("P", 2),)), LevelMapping("Inner", (Loop("P", rows // 2), Loop("R", 4))))
    )
    with pytest.raises(EnergySimError, match=r"layer odd on test-2: too large.*MAX_TILE_INTERVALS"):
        es.analyze(network, machine, mapping=mapping)


def test_a_comb_of_two_to_the_20_teeth_is_a_product() -> None:
    """A 3-row window, children 4 rows apart 2^20 times: teeth [4k, 4k + 3) never meet."""
    tile = (Term(1, 1, ((4, 1 << 20),)), Term(1, 3))
    assert overlap_after_shift(tile, (1, 0)) == 2  # [0, 3) & [1, 4)
    # After p + 1 each child holds [4k + 1, 4k + 4): 3 rows, of which 4k + 3 no child held before.
    assert union_and_good(tile, (1, 0)) == (3 << 20, 2 << 20)
