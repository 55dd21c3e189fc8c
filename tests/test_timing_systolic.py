"""Systolic time against SCALE-Sim's published fold model (Samajdar et al., ISPASS 2020).

A fold of an S_R x S_C array over T temporal steps takes 2 S_R + S_C + T - 2
cycles, whatever stays stationary (weights, outputs or inputs), and S_R, S_C
are the array's dimensions even when a fold uses fewer rows or columns. The
mappings here are written by hand, with bandwidth no transfer notices and
double-buffered SRAMs, so each layer's time is the sum over its folds. The
expected values are counted by hand from the mapping: folds = the product of
the loops that change the stationary tile, T = the product of the others.
"""

from __future__ import annotations

import pandas as pd
import pytest

import energysim as es

AMPLE = 1e12  # bytes per cycle: a layer's whole traffic moves in well under a cycle


def _machine(rows: int, cols: int, systolic: bool = True, pe_bytes: int = 1) -> es.Hierarchy:
    """DRAM -> double-buffered multicast SRAM -> one register per PE."""
    return es.Hierarchy.model_validate(
        {
            "version": 1,
            "name": f"systolic-{rows}x{cols}",
            "energy_table": "eyeriss-normalized",
            "clock_ghz": 1.0,
            "levels": [
                {"name": "DRAM", "kind": "dram", "bandwidth_bytes_per_cycle": AMPLE},
                {
                    "name": "SRAM",
                    "kind": "sram",
                    "size_bytes": 1 << 30,
                    "bandwidth_bytes_per_cycle": AMPLE,
                    "double_buffered": True,
                    "network": {"multicast": True},
                },
                {
                    "name": "PE",
                    "kind": "regfile",
                    "instances": rows * cols,
                    "size_bytes": pe_bytes,
                    "bandwidth_bytes_per_cycle": AMPLE,
                },
            ],
            "compute": {"array": {"rows": rows, "cols": cols}, "systolic": systolic},
        }
    )


def _matmul(m: int, k: int, n: int) -> es.Network:
    """A GEMM: N = m rows of inputs, C = k the reduction, M = n output columns; int8."""
    layer = {"name": "mm", "type": "matmul", "m": m, "k": k, "n": n, "precision_bits": 8}
    return es.Network.model_validate({"version": 1, "name": "mm", "layers": [layer]})


def _loops(**factors: int) -> tuple[es.Loop, ...]:
    return tuple(es.Loop(dim, factor) for dim, factor in factors.items() if factor > 1)


def _mapping(sram: dict[str, int], spatial: dict[str, int], pe: dict[str, int], keeps: str) -> es.Mapping:
    return es.Mapping(
        (
            es.LevelMapping("DRAM"),
            es.LevelMapping("SRAM", _loops(**sram), _loops(**spatial)),
            es.LevelMapping("PE", _loops(**pe), keeps=(keeps,)),  # type: ignore[arg-type]
        )
    )


def _fold_cycles(rows: int, cols: int, folds: int, steps: int) -> int:
    return folds * (2 * rows + cols + steps - 2)


def _cycles(result: es.Result) -> float:
    assert result.cycles is not None
    return result.cycles


def _placements(bandwidth: float) -> list[es.Result]:
    """matmul m=600 k=64 n=32, ws on 32x32 with 1-byte PE registers: N600 at the PE or at the SRAM."""
    data = _machine(32, 32).model_dump()
    for level in data["levels"]:
        level["bandwidth_bytes_per_cycle"] = bandwidth
    machine = es.Hierarchy.model_validate(data)
    at_pe = _mapping({"C": 2}, {"C": 32, "M": 32}, {"N": 600}, "weights")
    at_sram = _mapping({"C": 2, "N": 600}, {"C": 32, "M": 32}, {}, "weights")
    network = _matmul(600, 64, 32)
    return [es.simulate(network, machine, mapping=mapping, dataflow=None) for mapping in (at_pe, at_sram)]


@pytest.mark.parametrize("bandwidth", [AMPLE, 64.0])
def test_moving_a_loop_across_the_array_boundary_does_not_change_time(bandwidth: float) -> None:
    """Defect 1's reproducer: the same schedule, the same counts, the same cycles.

    N600 at the PE level (one burst of 600 MACs per fold) or at the SRAM
    level (600 one-MAC steps per fold) is one schedule: each of the two
    folds (C64 = 2 x 32 rows; M32 fills the 32 columns) keeps its 32 x 32
    weights while 600 input rows stream through. Per-step rounding made
    them 1,348 and 1,937 cycles; at 64 bytes per cycle the SRAM placement's
    first step also waited for the SRAM's whole tile (2,241 against 1,720).
    With ample bandwidth each fold costs SCALE-Sim's 2 S_R + S_C + T - 2 =
    64 + 32 + 600 - 2 = 694 cycles (S_R cycles of weight preload, T
    streaming steps, S_R + S_C - 2 of skew), so the layer takes 2 x 694 =
    1,388; at 64 bytes per cycle the two placements must still agree.
    """
    at_pe, at_sram = _placements(bandwidth)
    pd.testing.assert_frame_equal(at_pe.accesses, at_sram.accesses)
    assert _cycles(at_sram) == pytest.approx(_cycles(at_pe), rel=1e-9)
    if bandwidth == AMPLE:
        assert _cycles(at_pe) == pytest.approx(_fold_cycles(32, 32, folds=2, steps=600), rel=1e-9)


# (rows, cols, m, k, n): full folds, and partial ones (fewer rows or columns used).
SHAPES = [
    (8, 8, 40, 16, 16),
    (8, 8, 24, 12, 5),
    (32, 32, 100, 64, 64),
    (32, 32, 50, 20, 48),
    (128, 128, 300, 256, 128),
    (128, 128, 64, 100, 40),
]


def _split(size: int, width: int) -> tuple[int, int]:
    """(temporal, spatial) factors of a dimension over ``width`` PEs: full folds, the last one padded."""
    spatial = min(size, width)
    return -(-size // spatial), spatial


@pytest.mark.parametrize(("rows", "cols", "m", "k", "n"), SHAPES)
@pytest.mark.parametrize("dataflow", ["ws", "os", "is"])
def test_every_fold_costs_two_rows_plus_columns_plus_steps(
    dataflow: str, rows: int, cols: int, m: int, k: int, n: int
) -> None:
    # WS: C over rows, M over columns, N streams; OS: N over rows, M over columns, C
    # streams; IS: C over rows, N over columns, M streams. The streaming loop is
    # either the PE level's (one burst per fold) or the SRAM level's, innermost.
    spread, stream, keeps = {
        "ws": (("C", "M"), "N", "weights"),
        "os": (("N", "M"), "C", "outputs"),
        "is": (("C", "N"), "M", "inputs"),
    }[dataflow]
    size = {"N": m, "C": k, "M": n}
    (row_folds, row_dim_pes), (col_folds, col_dim_pes) = (
        _split(size[spread[0]], rows),
        _split(size[spread[1]], cols),
    )
    spatial = {spread[0]: row_dim_pes, spread[1]: col_dim_pes}
    folds = row_folds * col_folds
    expected = _fold_cycles(rows, cols, folds, size[stream])
    network, machine = _matmul(m, k, n), _machine(rows, cols, pe_bytes=4)
    outer = {spread[0]: row_folds, spread[1]: col_folds}
    for mapping in (
        _mapping(outer, spatial, {stream: size[stream]}, keeps),
        _mapping({**outer, stream: size[stream]}, spatial, {}, keeps),
    ):
        result = es.simulate(network, machine, mapping=mapping, dataflow=None)
        assert _cycles(result) == pytest.approx(expected, abs=1e-3), mapping.describe()
        layer = result.layers.iloc[0]
        assert layer["skew_cycles"] == folds * (2 * rows + cols - 2)
        assert layer["compute_cycles"] == folds * size[stream]


@pytest.mark.parametrize("dataflow", ["ws", "os", "is"])
def test_a_plain_array_pays_no_skew(dataflow: str) -> None:
    network = _matmul(100, 64, 64)
    spread, stream, keeps = {
        "ws": ({"C": 32, "M": 32}, {"N": 100}, "weights"),
        "os": ({"N": 25, "M": 32}, {"C": 64}, "outputs"),
        "is": ({"C": 32, "N": 25}, {"M": 64}, "inputs"),
    }[dataflow]
    outer = {dim: -(-{"N": 100, "C": 64, "M": 64}[dim] // pes) for dim, pes in spread.items()}
    mapping = _mapping(outer, spread, stream, keeps)
    plain = es.simulate(network, _machine(32, 32, systolic=False, pe_bytes=4), mapping=mapping, dataflow=None)
    folds = outer["N" if dataflow != "ws" else "C"] * outer["M" if dataflow != "is" else "C"]
    if dataflow == "is":
        folds = outer["C"] * outer["N"]
    assert _cycles(plain) == pytest.approx(folds * next(iter(stream.values())), abs=1e-3)
    assert plain.layers.iloc[0]["skew_cycles"] == 0


def _two_register_machine(rows: int, cols: int) -> es.Hierarchy:
    """DRAM -> SRAM -> a per-PE weight register -> a per-PE output register below it."""
    data = _machine(rows, cols, pe_bytes=4).model_dump()
    weight_register = {**data["levels"][2], "name": "PEW"}
    output_register = {**data["levels"][2], "name": "PEO"}
    data["levels"] = [*data["levels"][:2], weight_register, output_register]
    return es.Hierarchy.model_validate(data)


@pytest.mark.parametrize("stream_at", ["PEW", "SRAM"])
def test_weights_above_a_per_pe_output_register_still_fold(stream_at: str) -> None:
    # Defect 3: the stationary weights sit in the outer per-PE level; the output
    # register below changes with every streamed row, yet the fold is the weights'.
    # 3 x 2 folds (C 96 over 32 rows, M 64 over 32 columns) of T = 50 rows each.
    rows = cols = 32
    folds, steps = 3 * 2, 50
    outer = _loops(C=3, M=2) + (_loops(N=steps) if stream_at == "SRAM" else ())
    mapping = es.Mapping(
        (
            es.LevelMapping("DRAM"),
            es.LevelMapping("SRAM", outer, _loops(C=32, M=32)),
            es.LevelMapping("PEW", _loops(N=steps) if stream_at == "PEW" else (), keeps=("weights",)),
            es.LevelMapping("PEO", keeps=("outputs",)),
        )
    )
    network = _matmul(steps, 96, 64)
    systolic = es.simulate(network, _two_register_machine(rows, cols), mapping=mapping, dataflow=None)
    assert _cycles(systolic) == pytest.approx(_fold_cycles(rows, cols, folds, steps), abs=1e-3)
    assert systolic.layers.iloc[0]["skew_cycles"] == folds * (2 * rows + cols - 2)
