"""The command line, run in-process: output, exit codes, no tracebacks for user errors."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import energysim as es
from energysim.cli import EXIT_USER_ERROR, main
from energysim.cli.commands import column_format
from energysim.output_folder import strict_json
from energysim.report.output import csv_writer


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == f"energysim {es.__version__}"


def test_no_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 0
    out = capsys.readouterr().out
    assert "usage: energysim" in out
    assert "roofline" in out


def test_roofline_prints_the_lecture_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["roofline", "lecture-ops", "--hierarchy", "v100"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "ops:byte 139.3" in lines[0]
    rows = {line.split()[0]: line.split() for line in lines[2:]}
    # 2*512*4096*1024 FLOP over 2*(4096*1024 + 512*4096 + 512*1024) B = 315.076 FLOP/B, shown
    # with two decimals because the column also holds 0.25 (one number format per column).
    assert rows["fc_batch512"][3] == "315.08"
    assert rows["fc_batch512"][-1] == "compute"
    assert rows["relu"][3] == "0.25"
    assert rows["maxpool3x3"][3] == "2.25"
    assert {rows[name][-1] for name in ("fc_batch1", "relu", "maxpool3x3", "layernorm")} == {"memory"}


def test_list_names_what_is_shipped(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "eyeriss" in out
    assert "resnet50" in out
    assert "horowitz-45nm" in out


def test_unknown_name_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["roofline", "lecture-ops", "--hierarchy", "v10"]) == EXIT_USER_ERROR
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("energysim: error: unknown hierarchy 'v10'")
    assert "Traceback" not in captured.err


def test_bad_file_names_the_file_and_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("version: 1\nname: bad\nlayers:\n  - {name: fc, type: fc, C: 0, M: 2}\n")
    assert main(["roofline", str(path), "--hierarchy", "v100"]) == EXIT_USER_ERROR
    err = capsys.readouterr().err
    assert f"{path}: invalid workload: layers[0].C" in err
    assert "Traceback" not in err


def test_run_prints_energy_by_level_and_a_summary(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "alexnet", "--hierarchy", "eyeriss", "--dataflow", "rs", "--layer", "conv3"]) == 0
    out = capsys.readouterr().out
    result = es.simulate("alexnet", "eyeriss", "rs", layers=["conv3"])
    lines = out.splitlines()
    assert [line.split()[0] for line in lines[1:6]] == ["DRAM", "GLB", "GLB", "RF", "PE"]
    assert f"{result.macs:,} MACs" in out
    assert f"Time: {result.cycles:,.0f} cycles" in out
    assert "Moving data costs" in out


def test_run_json_is_the_summary(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "lecture-ops", "--hierarchy", "v100", "--layer", "relu", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    result = es.simulate("lecture-ops", "v100", "rs", layers=["relu"])
    assert summary["cycles"] == result.cycles
    assert summary["total_energy"] == pytest.approx(result.total_energy)
    assert summary["energy_per_mac"] is None  # a ReLU has no MACs


def test_run_with_an_unknown_layer_is_a_user_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "alexnet", "--hierarchy", "eyeriss", "--layer", "nope"]) == EXIT_USER_ERROR
    err = capsys.readouterr().err
    assert err.startswith("energysim: error: no layer 'nope' in alexnet")
    assert "Traceback" not in err


def _assert_figures(folder: Path, names: list[str]) -> None:
    for name in names:
        for suffix in (".png", ".svg"):
            path = folder / f"{name}{suffix}"
            assert path.is_file(), path
            assert path.stat().st_size > 1000, path


def test_run_writes_csvs_figures_and_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    assert (
        main(
            [
                "run",
                "alexnet",
                "--hierarchy",
                "eyeriss",
                "--layer",
                "conv1",
                "--layer",
                "pool1",
                "--out",
                str(out),
                "--quiet",
            ]
        )
        == 0
    )
    assert capsys.readouterr().out == ""
    _assert_figures(out, ["energy_by_layer", "energy_by_level_and_tensor", "roofline", "timeline_conv1"])
    summary = json.loads((out / "summary.json").read_text())
    result = es.simulate("alexnet", "eyeriss", "rs", layers=["conv1", "pool1"])
    assert summary["cycles"] == result.cycles
    accesses = pd.read_csv(out / "accesses.csv")
    assert accesses["count"].sum() == result.accesses["count"].sum()
    with (out / "accesses.csv").open(newline="") as handle:
        energies = [float(row["energy"]) for row in csv.DictReader(handle)]
    assert energies == [float(value) for value in result.accesses["energy"]]  # lossless
    assert {"levels.csv", "layers.csv", "tensors.csv", "timing.csv"} <= {p.name for p in out.iterdir()}
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging left behind


def test_run_output_is_byte_for_byte_repeatable(tmp_path: Path) -> None:
    for name in ("a", "b"):
        assert (
            main(["run", "lenet5", "--hierarchy", "eyeriss", "--out", str(tmp_path / name), "--quiet"]) == 0
        )
    for name in ("accesses.csv", "layers.csv", "levels.csv", "timing.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_compare_writes_the_dataflow_chart(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "compare"
    args = [
        "compare",
        "alexnet",
        "--hierarchy",
        "eyeriss",
        "--dataflows",
        "ws,rs",
        "--layer",
        "conv3",
        "--out",
        str(out),
    ]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert [line.split()[0] for line in printed.splitlines()[2:]] == ["ws", "rs"]
    _assert_figures(out, ["energy_per_mac_by_dataflow"])
    table = pd.read_csv(out / "compare.csv")
    assert list(table["dataflow"]) == ["ws", "rs"]


def test_roofline_writes_its_figure(tmp_path: Path) -> None:
    out = tmp_path / "roof"
    assert main(["roofline", "lecture-ops", "--hierarchy", "v100", "--out", str(out), "--quiet"]) == 0
    _assert_figures(out, ["roofline"])
    table = pd.read_csv(out / "roofline.csv")
    assert table.set_index("layer").loc["fc_batch512", "bound"] == "compute"


def test_validate_prints_what_it_understood(capsys: pytest.CaptureFixture[str]) -> None:
    root = Path(__file__).resolve().parents[1]
    assert main(["validate", str(root / "hierarchies" / "eyeriss.yaml")]) == 0
    assert "hierarchy eyeriss, 3 levels" in capsys.readouterr().out
    assert main(["validate", str(root / "workloads" / "lenet5.yaml")]) == 0
    assert "workload lenet5, 8 layers, 340,068 MACs" in capsys.readouterr().out


def test_validate_a_mapping_needs_its_hierarchy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "map.yaml"
    path.write_text("version: 1\nlevels:\n  - {level: DRAM, temporal: {M: 2}}\n")
    assert main(["validate", str(path)]) == EXIT_USER_ERROR
    assert "give --hierarchy" in capsys.readouterr().err
    assert main(["validate", str(path), "--hierarchy", "eyeriss"]) == 0
    assert "DRAM[W,I,O]: M2" in capsys.readouterr().out


def test_a_failed_run_leaves_no_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nname: bad\nlayers: []\n")
    out = tmp_path / "out"
    assert main(["run", str(bad), "--hierarchy", "eyeriss", "--out", str(out)]) == EXIT_USER_ERROR
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [bad]
    assert "Traceback" not in capsys.readouterr().err


def test_unknown_dataflow_in_compare(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", "alexnet", "--hierarchy", "eyeriss", "--dataflows", "ws,xs"]) == EXIT_USER_ERROR
    assert "unknown dataflow 'xs'" in capsys.readouterr().err


# --- strict JSON, lossless CSV, one console number format -------------------------------------


def _reject_constant(name: str) -> None:
    raise AssertionError(f"not strict JSON: {name}")


def test_strict_json_writes_null_for_nan_and_infinity_and_says_why() -> None:
    text = strict_json({"a": float("nan"), "b": [np.float64("inf"), -math.inf], "c": np.float32(1.5), "d": 2})
    data = json.loads(text, parse_constant=_reject_constant)
    assert data["a"] is None
    assert data["b"] == [None, None]
    assert data["c"] == 1.5
    assert data["d"] == 2
    assert "strict JSON has no NaN or Infinity" in data["note"]
    assert "note" not in json.loads(strict_json({"a": 1.0}))


def test_summary_json_and_json_output_are_strict(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["compare", "lecture-ops", "--hierarchy", "v100", "--layer", "relu", "--dataflows", "ws,rs"]
    assert main([*args, "--json"]) == 0
    printed = json.loads(capsys.readouterr().out, parse_constant=_reject_constant)
    assert printed["dataflows"]["ws"]["energy_per_mac"] is None  # a ReLU has no MACs
    assert "null marks" in printed["note"]
    assert main([*args, "--out", str(tmp_path / "out"), "--quiet"]) == 0
    written = json.loads((tmp_path / "out" / "summary.json").read_text(), parse_constant=_reject_constant)
    assert written == printed


def test_csv_values_round_trip_exactly_and_bytes_are_stable(tmp_path: Path) -> None:
    rng = np.random.default_rng(8)
    values = [0.1, 1 / 3, 2 / 3 * 1e-300, 5e-324, 1.7976931348623157e308, 123456789.12345679, -0.0, 2.0]
    values += list(rng.standard_normal(200) * 10.0 ** rng.integers(-30, 30, 200))
    frame = pd.DataFrame({"value": values})
    for name in ("a.csv", "b.csv"):
        csv_writer(name, frame)(tmp_path)
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    with (tmp_path / "a.csv").open(newline="") as handle:
        read = [float(row["value"]) for row in csv.DictReader(handle)]
    assert [v.hex() for v in read] == [float(v).hex() for v in values]  # bit for bit, sign of zero too


@pytest.mark.parametrize(
    ("values", "texts"),
    [
        ([96.0, 96.83, 5.5], ["96.00", "96.83", "5.50"]),  # one count of decimals down the column
        ([1234567.0, 42, 0], ["1,234,567", "42", "0"]),  # whole numbers in full, separated
        ([np.int64(3331048), np.int64(7)], ["3,331,048", "7"]),
        ([0.5, 0.25], ["0.5000", "0.2500"]),
        ([315.0625, 0.25], ["315.06", "0.25"]),  # two digits of the smallest
        ([1234.5, 1.0], ["1,234.5", "1.0"]),
        ([0.5, 1e-9], ["5.000e-01", "1.000e-09"]),  # a range too wide for fixed decimals
        ([0.0004567, 0.0001], ["4.567e-04", "1.000e-04"]),  # too small for fixed decimals
        ([25000000.5, 1.5], ["2.500e+07", "1.500e+00"]),
        ([float("nan"), 2.5], ["-", "2.500"]),
        ([float("inf"), 2.5], ["inf", "2.500"]),
    ],
)
def test_one_number_format_per_column(values: list[object], texts: list[str]) -> None:
    show = column_format(pd.Series(values))
    assert [show(value) for value in values] == texts


@settings(max_examples=60, deadline=500)
@given(
    st.lists(
        st.floats(-1e5, 1e5, allow_nan=False).filter(lambda x: not x.is_integer()), min_size=1, max_size=8
    )
)
def test_a_column_has_one_count_of_decimals_and_keeps_its_values(values: list[float]) -> None:
    show = column_format(pd.Series(values))
    cells = [show(value) for value in values]
    if "e" in cells[0]:  # scientific for the whole column: four significant digits each
        for cell, value in zip(cells, values, strict=True):
            assert float(cell) == pytest.approx(value, rel=1e-3)
        return
    assert len({_decimals(cell) for cell in cells}) == 1
    step = 10.0 ** -_decimals(cells[0])
    for cell, value in zip(cells, values, strict=True):
        assert abs(float(cell.replace(",", "")) - value) <= step / 2 * (1 + 1e-9)  # correctly rounded


def _decimals(cell: str) -> int:
    return len(cell.split(".")[1]) if "." in cell else 0


def test_every_console_table_uses_that_format(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["compare", "alexnet", "--hierarchy", "eyeriss", "--dataflows", "ws,rs", "--layer", "conv3"]
    assert main(args) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "DRAM elements moved" in lines[1]  # elements, not the 64-bit accesses of levels.csv
    rows = [line.split() for line in lines[2:]]
    ws = es.simulate("alexnet", "eyeriss", "ws", layers=["conv3"])
    assert ws.cycles is not None  # time is continuous: cycles may be fractional
    assert float(rows[0][-1].replace(",", "")) == pytest.approx(ws.cycles, rel=1e-3)
    assert rows[0][-2] == f"{ws.dram_accesses():,}"  # counts in full, with separators
    for column in range(1, 4):  # energy, per MAC, data movement %: same decimals down each
        assert _decimals(rows[0][column]) == _decimals(rows[1][column]), column
    assert main(["run", "alexnet", "--hierarchy", "eyeriss", "--layer", "conv3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    header = lines.index(next(line for line in lines if line.strip().startswith("level")))
    table = [line.split() for line in lines[header + 1 :] if line.split() and line.split()[0] != "energy"]
    level = es.simulate("alexnet", "eyeriss", "rs", layers=["conv3"]).energy_by_level()
    rows = [row for row in table if len(row) >= 3 and row[0] in level.index]
    assert {_decimals(row[-2]) for row in rows} == {_decimals(rows[0][-2])}  # energy column
    dram = next(row for row in rows if row[0] == "DRAM")
    assert float(dram[1].replace(",", "")) == pytest.approx(float(level["DRAM"]), rel=1e-3)


# --- --mapping, and validate of names and of mappings against a layer --------------------------


# The README's mapping with the DRAM and GLB loops in another order than the RS dataflow picks.
CONV3_MAPPING = """version: 1
layer: conv3
levels:
  - {level: DRAM, temporal: {C: 16, M: 8}}
  - {level: GLB, temporal: {Q: 13, M: 4}, spatial: {C: 4, P: 13, R: 3}}
  - {level: RF, temporal: {M: 12, C: 4, S: 3}, keeps: [weights, inputs, outputs]}
"""


@pytest.fixture
def conv3_mapping(tmp_path: Path) -> Path:
    path = tmp_path / "conv3.yaml"
    path.write_text(CONV3_MAPPING)
    return path


def test_run_and_compare_take_a_mapping_file(conv3_mapping: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["alexnet", "--hierarchy", "eyeriss", "--layer", "conv3", "--json"]
    assert main(["run", *base, "--mapping", str(conv3_mapping)]) == 0
    mapped = json.loads(capsys.readouterr().out)
    expected = es.simulate("alexnet", "eyeriss", None, mapping=conv3_mapping, layers=["conv3"])
    built = es.simulate("alexnet", "eyeriss", "rs", layers=["conv3"])
    assert mapped["total_energy"] == expected.total_energy
    assert mapped["total_energy"] != built.total_energy  # the file was used, not the dataflow
    assert main(["compare", *base, "--dataflows", "ws,os", "--mapping", str(conv3_mapping)]) == 0
    compared = json.loads(capsys.readouterr().out)["dataflows"]
    assert compared["ws"]["total_energy"] == compared["os"]["total_energy"] == expected.total_energy


def test_a_mapping_for_a_layer_not_in_the_workload(
    conv3_mapping: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    conv3_mapping.write_text(CONV3_MAPPING.replace("layer: conv3", "layer: conv9"))
    assert main(["run", "alexnet", "--hierarchy", "eyeriss", "--mapping", str(conv3_mapping)]) == 2
    assert "maps layer 'conv9', which is not in alexnet" in capsys.readouterr().err
    args = ["validate", str(conv3_mapping), "--hierarchy", "eyeriss", "--workload", "alexnet"]
    assert main(args) == EXIT_USER_ERROR
    assert "layer: 'conv9' is not in alexnet" in capsys.readouterr().err


def test_validate_takes_shipped_names(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "eyeriss"]) == 0
    assert "hierarchy eyeriss, 3 levels" in capsys.readouterr().out
    assert main(["validate", "lenet5"]) == 0
    assert "workload lenet5, 8 layers, 340,068 MACs" in capsys.readouterr().out
    assert main(["validate", "eyeris"]) == EXIT_USER_ERROR
    err = capsys.readouterr().err
    assert "no shipped hierarchy or workload of that name" in err
    assert "eyeriss" in err
    assert err.count("\n") == 1


def test_validate_checks_a_mappings_factors_against_the_layer(
    conv3_mapping: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["validate", str(conv3_mapping), "--hierarchy", "eyeriss"]
    assert main(args) == 0
    assert "give --workload to check the factors" in capsys.readouterr().out
    assert main([*args, "--workload", "alexnet"]) == 0
    macs = 384 * 256 * 13 * 13 * 3 * 3 + 384 * 13 * 13  # M C P Q R S, plus one add per output (bias)
    assert f"fits layer conv3 of alexnet ({macs:,} MACs) on eyeriss" in capsys.readouterr().out
    # conv3 has M = 384 = 8 * 4 * 12: a factor 4 at DRAM leaves half the output channels unmapped
    conv3_mapping.write_text(CONV3_MAPPING.replace("{C: 16, M: 8}", "{C: 16, M: 4}"))
    assert main(args) == 0  # the loop nest alone is well formed
    capsys.readouterr()
    assert main([*args, "--workload", "alexnet"]) == EXIT_USER_ERROR
    err = capsys.readouterr().err
    assert f"{conv3_mapping}: layer conv3 does not fit eyeriss" in err
    assert "M: factors multiply to 192, the layer conv3 needs 384" in err
    assert "Traceback" not in err


def test_options_that_would_be_ignored_are_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["roofline", "lecture-ops", "--hierarchy", "v100", "--force"]) == EXIT_USER_ERROR
    assert "--force: only with --out" in capsys.readouterr().err
    assert main(["validate", "lenet5", "--hierarchy", "eyeriss"]) == EXIT_USER_ERROR
    assert "not a mapping file; --hierarchy and --workload apply only to one" in capsys.readouterr().err


def test_a_layer_named_twice_is_run_once(tmp_path: Path) -> None:
    # Found by benchmarks/fuzz.py: the roofline figure broke on a layer listed twice.
    args = ["run", "lecture-ops", "--hierarchy", "tpu-like", "--layer", "fc_batch1", "--layer", "fc_batch1"]
    assert main([*args, "--out", str(tmp_path / "out"), "--quiet"]) == 0
    layers = pd.read_csv(tmp_path / "out" / "layers.csv")
    assert list(layers["layer"]) == ["fc_batch1"]
    once = es.simulate("lecture-ops", "tpu-like", layers=["fc_batch1"])  # tpu-like's default: ws
    assert layers["cycles"].iloc[0] == once.cycles


def test_a_mapping_without_a_layer_name_maps_the_one_selected_layer(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "anonymous.yaml"
    path.write_text(CONV3_MAPPING.replace("layer: conv3\n", ""))
    base = ["alexnet", "--hierarchy", "eyeriss", "--json"]
    assert main(["run", *base, "--layer", "conv3", "--mapping", str(path)]) == 0
    mapped = json.loads(capsys.readouterr().out)
    named = es.simulate("alexnet", "eyeriss", None, mapping=tmp_path / "anonymous.yaml", layers=["conv3"])
    assert mapped["total_energy"] == named.total_energy
    assert main(["run", *base, "--mapping", str(path)]) == 2  # which of alexnet's layers?
    assert "add 'layer: NAME'" in capsys.readouterr().err


def test_a_mapping_file_for_a_layer_that_is_not_run_is_an_error(
    conv3_mapping: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # It used to be parsed and silently ignored: conv1 was mapped by the dataflow.
    args = ["run", "alexnet", "--hierarchy", "eyeriss", "--layer", "conv1", "--mapping", str(conv3_mapping)]
    assert main(args) == 2
    error = capsys.readouterr().err
    assert "maps layer 'conv3', which is not among the selected layers (conv1)" in error
    assert str(conv3_mapping) in error


def test_validate_reads_a_scalesim_topology_and_refuses_a_broken_onnx_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A SCALE-Sim CSV: conv 8 x 8 input, 3 x 3 filter, 2 channels, 4 filters, stride 1:
    6 x 6 outputs x 4 filters x (3 x 3 x 2) = 2,592 MACs, 3 x 3 x 2 x 4 = 72 weights.
    A file that only ends in .onnx is one error naming it, exit 2."""
    topology = tmp_path / "t.csv"
    topology.write_text(
        "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,\n"
        "conv1, 8, 8, 3, 3, 2, 4, 1,\n"
    )
    assert main(["validate", str(topology)]) == 0
    assert "2,592 MACs, 72 weights" in capsys.readouterr().out
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"garbage")
    assert main(["validate", str(broken)]) == EXIT_USER_ERROR
    err = capsys.readouterr().err
    assert "broken.onnx" in err
    assert "Traceback" not in err
