"""The command line, run in-process: output, exit codes, no tracebacks for user errors."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

import energysim as es
from energysim.cli import EXIT_USER_ERROR, main


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
    assert rows["fc_batch512"][3] == "315.1"
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
    assert {"levels.csv", "layers.csv", "tensors.csv", "timing.csv"} <= {p.name for p in out.iterdir()}
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging left behind


def test_run_output_is_byte_for_byte_repeatable(tmp_path: Path) -> None:
    for name in ("a", "b"):
        assert (
            main(["run", "lenet5", "--hierarchy", "eyeriss", "--out", str(tmp_path / name), "--quiet"]) == 0
        )
    for csv in ("accesses.csv", "layers.csv", "levels.csv", "timing.csv"):
        assert (tmp_path / "a" / csv).read_bytes() == (tmp_path / "b" / csv).read_bytes()


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
