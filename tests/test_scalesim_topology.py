"""SCALE-Sim topology CSVs read as energysim workloads (conv and GEMM forms).

The expected numbers are worked by hand from SCALE-Sim's own rules
(scale-sim-v2, ``scalesim/topology_utils.py``): ofmap = ceil((H - R + s) / s),
MACs = ofmap_h x ofmap_w x R x S x C x M, a GEMM row (M, N, K) is M x N x K MACs.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import energysim as es
from energysim.cli import EXIT_USER_ERROR, main
from energysim.model.limits import MAX_FILE_BYTES, MAX_LAYERS
from energysim.model.scalesim import output_extent

CONV_HEADER = (
    "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,\n"
)


def _write(tmp_path: Path, text: str, name: str = "net.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_conv_rows_as_scalesim_counts_them(tmp_path: Path) -> None:
    """AlexNet's first two rows, as SCALE-Sim ships them (alexnet.csv).

    Conv1: 224 x 224, 11 x 11, 3 -> 96, stride 4: ofmap ceil((224 - 11 + 4) / 4)
    = ceil(54.25) = 55, MACs 55 * 55 * 11 * 11 * 3 * 96 = 105,415,200.
    Conv2: 27 x 27, 5 x 5, 96 -> 256, stride 1: ofmap 23, MACs 23^2 * 25 * 96 * 256
    = 325,017,600.
    """
    path = _write(
        tmp_path,
        CONV_HEADER
        + "Conv1     ,224         ,224        ,11           ,11          ,3       ,96        ,4      ,\n"
        + "Conv2     ,27         ,27        ,5            ,5           ,96      ,256       ,1      ,\n",
    )
    network = es.load_workload(path)
    assert network.name == "net"
    conv1, conv2 = network.layers
    assert conv1.bounds.sizes == {"G": 1, "N": 1, "M": 96, "C": 3, "P": 55, "Q": 55, "R": 11, "S": 11}
    assert conv1.macs == 105_415_200
    assert conv2.macs == 325_017_600
    assert conv1.elements("inputs") == 3 * 224 * 224  # DRAM holds the input alone, no padding
    assert conv1.elements("weights") == 96 * 3 * 11 * 11


def test_output_size_is_ceil_and_floor_only_when_the_stride_divides() -> None:
    """ceil((H - R + s) / s) against floor((H - R) / s) + 1, worked by hand.

    H=7, R=3, s=2: H - R = 4, divisible: ceil(6 / 2) = 3 = floor(4 / 2) + 1.
    H=8, R=3, s=2: H - R = 5, not divisible: ceil(7 / 2) = 4, floor(5 / 2) + 1 = 3.
    H=224, R=11, s=4: 213 = 53 * 4 + 1: ceil(217 / 4) = 55, floor + 1 = 54.
    """
    assert output_extent(7, 3, 2) == 3 == (7 - 3) // 2 + 1
    assert output_extent(8, 3, 2) == 4 != (8 - 3) // 2 + 1
    assert output_extent(224, 11, 4) == 55 != (224 - 11) // 4 + 1


def test_a_non_dividing_stride_pads_to_scalesims_size(tmp_path: Path) -> None:
    """H = W = 8, 3 x 3, stride 2: SCALE-Sim's 4 x 4 outputs (its last window is one row
    past the end), which energysim reaches with 1 row of zero padding per side:
    floor((8 + 2 - 3) / 2) + 1 = 4. MACs 4 * 4 * 9 * 2 * 5 = 1,440."""
    path = _write(tmp_path, CONV_HEADER + "c,8,8,3,3,2,5,2,\n")
    (layer,) = es.load_workload(path).layers
    assert layer.output_rows_cols == (4, 4)
    assert layer.padding == (1, 1)
    assert layer.macs == 1_440


def test_separate_column_stride_and_no_trailing_comma(tmp_path: Path) -> None:
    """A ninth column is the column stride: 9 x 9, 3 x 3, strides 1 and 3:
    rows ceil(7 / 1) = 7, cols ceil(9 / 3) = 3; MACs 7 * 3 * 9 * 1 * 1 = 189."""
    path = _write(tmp_path, CONV_HEADER.rstrip(",\n") + ", Stride width\nc,9,9,3,3,1,1,1,3\n")
    (layer,) = es.load_workload(path).layers
    assert layer.output_rows_cols == (7, 3)
    assert layer.macs == 189


def test_dp_rows_are_depthwise_as_in_scalesim(tmp_path: Path) -> None:
    """SCALE-Sim runs a row named ``...DP...`` as Channels layers of one channel each:
    8 x 8, 3 x 3, 4 channels, 2 filters, stride 1: 4 x (6 * 6 * 9 * 1 * 2) = 2,592 MACs,
    weights 4 * 2 * 9 = 72."""
    path = _write(tmp_path, CONV_HEADER + "Conv_DP1,8,8,3,3,4,2,1,\n")
    (layer,) = es.load_workload(path).layers
    assert layer.groups == 4
    assert layer.macs == 2_592
    assert layer.elements("weights") == 72


def test_gemm_rows_are_matmuls(tmp_path: Path) -> None:
    """SCALE-Sim's GEMM form (gpt2.csv, CRLF line ends): QKT is M=1024, N=1024, K=64:
    A (1024 x 64) x B (64 x 1024): 1024 * 1024 * 64 = 67,108,864 MACs; B has 64 * 1024 elements."""
    path = _write(tmp_path, "Layer,M,N,K,\r\nQKT,1024,1024,64,\r\nTest 1, 128, 64, 256,")
    qkt, test = es.load_workload(path).layers
    assert qkt.type == "matmul"
    assert (qkt.m, qkt.n, qkt.k) == (1024, 1024, 64)
    assert qkt.macs == 67_108_864
    assert qkt.elements("weights") == 64 * 1024
    assert test.name == "Test 1"
    assert test.macs == 128 * 64 * 256


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("c,8,8,3,3,x,5,1,", r"bad\.csv:2: column 6 \(Channels\): expected an integer"),
        ("c,8,8,3,3,0,5,1,", r":2: column 6 \(Channels\): expected an integer from 1"),
        ("c,8,8,3,3,2,5,1,7,9,", r":2: column 10 \(extra\): expected 8 or 9 columns, got 10"),
        ("c,8,8,3,3,2,", r":2: column 7 \(Num Filter\): expected 8 or 9 columns, got 6"),
        ("c,8,8,9,3,2,5,1,", r":2: column 4 \(Filter Height\): filter height 9 is larger"),
        ("c,8,8,3,3,2,5,-1,", r":2: column 8 \(Stride Height\): expected an integer"),
        ("c,8,8,3,3,2,5," + "9" * 500 + ",", r"column 8 \(Stride Height\): expected an integer"),
        (",8,8,3,3,2,5,1,", r":2: column 1 \(Layer name\): expected a layer name"),
        ("c,8,8,3,3,2,5,1,\nc,8,8,3,3,2,5,1,", r":3: column 1 \(Layer name\): layer name 'c' used twice"),
    ],
)
def test_malformed_rows_name_file_line_and_column(tmp_path: Path, row: str, message: str) -> None:
    path = _write(tmp_path, CONV_HEADER + row + "\n", "bad.csv")
    with pytest.raises(es.EnergySimError, match=message):
        es.load_workload(path)


def test_bounds_on_size_rows_and_header(tmp_path: Path) -> None:
    big = _write(tmp_path, CONV_HEADER + "c,8,8,3,3,2,5,1,\n" * (MAX_FILE_BYTES // 10), "big.csv")
    with pytest.raises(es.EnergySimError, match="MAX_FILE_BYTES"):
        es.load_workload(big)
    rows = "".join(f"L{index},1,1,1,1,1,1,1,\n" for index in range(MAX_LAYERS + 1))
    with pytest.raises(es.EnergySimError, match="MAX_LAYERS"):
        es.load_workload(_write(tmp_path, CONV_HEADER + rows, "many.csv"))
    with pytest.raises(es.EnergySimError, match=r"head\.csv:1: header: expected SCALE-Sim"):
        es.load_workload(_write(tmp_path, "a,b,c\n1,2,3\n", "head.csv"))
    with pytest.raises(es.EnergySimError, match="no layers"):
        es.load_workload(_write(tmp_path, CONV_HEADER, "empty.csv"))
    with pytest.raises(es.EnergySimError, match="no such file"):
        es.load_workload(tmp_path / "missing.csv")


def test_a_huge_layer_is_the_layer_bound(tmp_path: Path) -> None:
    """2^31 x 2^31 input, 1 x 1 filter, 2^31 channels: beyond MAX_TENSOR_ELEMENTS."""
    big = 2**31
    path = _write(tmp_path, CONV_HEADER + f"c,{big},{big},1,1,{big},1,1,\n")
    with pytest.raises(es.EnergySimError, match="layer too large"):
        es.load_workload(path)


def test_cli_runs_a_topology_and_reports_a_bad_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The whole path from the command line: a 2-layer CSV runs; a bad one is one line, exit 2."""
    path = _write(tmp_path, CONV_HEADER + "a,8,8,3,3,2,4,1,\nb,6,6,1,1,4,4,1,\n")
    assert main(["run", str(path), "--hierarchy", "lecture-toy", "--dataflow", "ws", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["macs"] == 6 * 6 * 9 * 2 * 4 + 6 * 6 * 4 * 4  # 2,592 + 576 = 3,168
    assert printed["layers"] == 2
    bad = _write(tmp_path, CONV_HEADER + "a,8,8,3,3,2,4,one,\n", "bad.csv")
    assert main(["run", str(bad), "--hierarchy", "lecture-toy", "--quiet"]) == EXIT_USER_ERROR
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert "bad.csv:2: column 8 (Stride Height)" in error
