"""The command line, run in-process: output, exit codes, no tracebacks for user errors."""

from __future__ import annotations

import json
from pathlib import Path

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


def test_run_prints_energy_by_level_and_time(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "alexnet", "--hierarchy", "eyeriss", "--dataflow", "rs", "--layer", "conv3"]) == 0
    out = capsys.readouterr().out
    result = es.simulate("alexnet", "eyeriss", "rs", layers=["conv3"])
    assert out.splitlines()[0] == f"alexnet on eyeriss, dataflow rs: 1 layers, {result.macs:,} MACs"
    assert f"time {result.cycles:,.0f} cycles" in out
    for level in ("DRAM", "GLB", "GLB network", "RF", "PE"):
        assert any(line.split()[0] == level.split()[0] for line in out.splitlines()[3:])


def test_run_json_is_the_summary(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "lecture-ops", "--hierarchy", "v100", "--layer", "relu", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    result = es.simulate("lecture-ops", "v100", "rs", layers=["relu"])
    assert summary["cycles"] == result.cycles
    assert summary["total_energy_pj"] == pytest.approx(result.total_energy_pj)
    assert summary["energy_per_mac_pj"] is None  # a ReLU has no MACs


def test_run_with_an_unknown_layer_is_a_user_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "alexnet", "--hierarchy", "eyeriss", "--layer", "nope"]) == EXIT_USER_ERROR
    err = capsys.readouterr().err
    assert err.startswith("energysim: error: no layer 'nope' in alexnet")
    assert "Traceback" not in err
