"""The Result's own API: a short repr, equality, tidy and strict exports; names in roofline()."""

from __future__ import annotations

import ast
import dataclasses
import json
import math
import re
import sys
from pathlib import Path

import pandas as pd
import pytest

import energysim as es
from energysim.cli import main
from energysim.model.limits import MAX_ENERGY_PJ


@pytest.fixture(scope="module")
def lenet() -> es.Result:
    return es.simulate("lenet5", "eyeriss", "rs", layers=["c1", "f6"])


def test_repr_is_one_short_line(lenet: es.Result) -> None:
    text = repr(lenet)
    assert "\n" not in text
    assert len(text) < 120
    for part in ("lenet5", "eyeriss", "rs", "2 layers", "MAC-units", "cycles"):
        assert part in text
    assert f"{lenet.total_energy:.4g} MAC-units" in text
    analysed = es.analyze("lenet5", "edge-npu", "ws", layers=["c1"])
    assert "pJ" in repr(analysed)
    assert "cycles" not in repr(analysed)


def test_equal_inputs_give_equal_results(lenet: es.Result) -> None:
    again = es.simulate("lenet5", "eyeriss", "rs", layers=["c1", "f6"])
    assert lenet == again
    assert lenet == again
    assert lenet != es.simulate("lenet5", "eyeriss", "ws", layers=["c1", "f6"])
    assert lenet != es.analyze("lenet5", "eyeriss", "rs", layers=["c1", "f6"])  # no time
    changed = lenet.accesses.copy()
    changed.loc[0, "count"] += 1
    assert lenet != dataclasses.replace(lenet, accesses=changed)
    assert lenet != "lenet5"


def test_results_are_not_hashable(lenet: es.Result) -> None:
    with pytest.raises(TypeError, match="unhashable"):
        hash(lenet)


def test_to_frame_is_long_and_tidy(lenet: es.Result) -> None:
    frame = lenet.to_frame()
    assert list(frame.columns) == [
        "workload", "hierarchy", "energy_table", "dataflow",
        "layer", "level", "tensor", "action", "count", "accesses", "energy", "energy_unit",
    ]  # fmt: skip
    assert len(frame) == len(lenet.accesses)
    assert set(frame["workload"]) == {"lenet5"}
    assert set(frame["hierarchy"]) == {"eyeriss"}
    assert set(frame["energy_table"]) == {"eyeriss-normalized"}
    assert set(frame["dataflow"]) == {"rs"}
    assert not frame.duplicated(["layer", "level", "tensor", "action"]).any()
    assert frame["energy"].sum() == pytest.approx(lenet.total_energy)


def test_to_json_is_strict_json(lenet: es.Result) -> None:
    relu = es.simulate("lecture-ops", "v100", "rs", layers=["relu"])
    for result in (lenet, relu):
        text = result.to_json()

        def no_constants(name: str) -> float:
            raise AssertionError(f"not strict JSON: {name}")

        data = json.loads(text, parse_constant=no_constants)
        assert data["energy_unit"] == result.energy_unit
        assert data["total_energy"] == pytest.approx(result.total_energy)
        assert len(data["accesses_table"]) == len(result.accesses)
        assert sum(row["energy"] for row in data["accesses_table"]) == pytest.approx(result.total_energy)
    assert math.isnan(relu.energy_per_mac)
    assert json.loads(relu.to_json())["energy_per_mac"] is None  # no MACs: null, not NaN
    assert lenet.to_json() == es.simulate("lenet5", "eyeriss", "rs", layers=["c1", "f6"]).to_json()


def test_to_csv_writes_the_frames(lenet: es.Result, tmp_path: Path) -> None:
    out = lenet.to_csv(tmp_path / "lenet")
    names = {path.name for path in out.iterdir() if not path.name.startswith(".")}
    assert {"accesses.csv", "layers.csv", "summary.json", "timing.csv", "pes.csv"} <= names
    accesses = pd.read_csv(out / "accesses.csv")
    assert list(accesses.columns) == list(lenet.to_frame().columns)
    assert accesses["count"].sum() == lenet.accesses["count"].sum()
    assert set(accesses["energy_unit"]) == {"MAC-units"}
    assert json.loads((out / "summary.json").read_text())["energy_unit"] == "MAC-units"


def test_roofline_takes_names() -> None:
    v100 = es.load_hierarchy("v100")
    expected = es.roofline(es.load_workload("alexnet")["fc6"], v100)
    assert es.roofline("alexnet/fc6", "v100") == expected
    assert es.roofline("fc6", "v100", workload="alexnet") == expected
    assert es.roofline("fc6", v100, workload=es.load_workload("alexnet")) == expected
    # fc_batch512 is in one shipped workload only: its name alone is enough.
    assert es.roofline("fc_batch512", "v100") == es.roofline("lecture-ops/fc_batch512", "v100")
    assert list(es.roofline_table("alexnet", "v100")["layer"]) == es.load_workload("alexnet").layer_names


@pytest.mark.parametrize(
    ("layer", "workload", "message"),
    [
        ("fc6", None, r"layer 'fc6' is in several shipped workloads; name one: alexnet/fc6, vgg16/fc6"),
        ("fc99", None, r"no shipped workload has a layer 'fc99'; give workload="),
        ("alexnet/fc99", None, r"no layer 'fc99' in alexnet; its layers: conv1, "),
        ("fc6", "no-such-net", r"no-such-net"),
        ("", None, r"expected a layer, a layer name or 'workload/layer'"),
    ],
)
def test_roofline_names_fail_clearly(layer: str, workload: str | None, message: str) -> None:
    with pytest.raises(es.EnergySimError, match=message):
        es.roofline(layer, "v100", workload=workload)


def test_a_layer_object_needs_no_workload() -> None:
    fc6 = es.load_workload("alexnet")["fc6"]
    with pytest.raises(es.EnergySimError, match="workload= is only for a layer name"):
        es.roofline(fc6, "v100", workload="alexnet")


# --- layering, the one CSV set, force, strict summary, in_pj's range ----------------------------

PACKAGE = Path(es.__file__).resolve().parent


def _imported_modules(path: Path) -> set[str]:
    """Every module ``path`` imports, at any depth of the file (lazy imports included)."""
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            modules |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
    return modules


def test_result_imports_nothing_above_it() -> None:
    imported = _imported_modules(PACKAGE / "result.py")
    above = {"energysim.report", "energysim.cli", "energysim.simulate", "energysim.analyze"}
    assert not [module for module in imported if ".".join(module.split(".")[:2]) in above]


def test_output_folder_module_sits_low() -> None:
    imported = {
        module for module in _imported_modules(PACKAGE / "output_folder.py") if module != "__future__"
    }
    ours = {module for module in imported if module.startswith("energysim")}
    assert ours == {"energysim._version", "energysim.errors", "energysim.model.files"}
    assert all(module.split(".")[0] in sys.stdlib_module_names for module in imported - ours)


def test_to_csv_and_run_out_write_the_same_csvs(tmp_path: Path) -> None:
    result = es.simulate("lenet5", "eyeriss", "rs")
    api = result.to_csv(tmp_path / "api")
    assert main(["run", "lenet5", "--hierarchy", "eyeriss", "--out", str(tmp_path / "cli"), "--quiet"]) == 0
    api_names = {path.name for path in api.iterdir() if not path.name.startswith(".")}
    assert api_names == {"accesses.csv", "layers.csv", "timing.csv", "pes.csv", "summary.json"}
    for name in api_names - {"summary.json"}:
        assert (api / name).read_bytes() == (tmp_path / "cli" / name).read_bytes(), name
    assert json.loads((api / "summary.json").read_text()) == json.loads(
        (tmp_path / "cli" / "summary.json").read_text()
    )


def test_to_csv_replaces_a_previous_output_only_with_force(lenet: es.Result, tmp_path: Path) -> None:
    out = lenet.to_csv(tmp_path / "out")
    first = (out / "layers.csv").read_bytes()
    with pytest.raises(es.EnergySimError, match=r"force=True"):
        lenet.to_csv(out)
    assert (out / "layers.csv").read_bytes() == first  # untouched by the refusal
    assert lenet.to_csv(out, force=True) == out
    assert (out / "layers.csv").read_bytes() == first


def test_to_csv_summary_is_strict_json_with_the_null_note(tmp_path: Path) -> None:
    relu = es.simulate("lecture-ops", "v100", "ws", layers=["relu"])  # no MACs: nothing to map
    out = relu.to_csv(tmp_path / "relu")

    def no_constants(name: str) -> float:
        raise AssertionError(f"not strict JSON: {name}")

    data = json.loads((out / "summary.json").read_text(), parse_constant=no_constants)
    assert data["energy_per_mac"] is None
    assert data["dataflow"] is None
    assert "no selected layer has MACs" in data["note"]  # why the dataflow is null here
    assert "mapped by hand" in data["note"]


def test_a_path_longer_than_the_system_takes_is_a_short_house_error(lenet: es.Result) -> None:
    out = "/".join(["a" * 200] * 25)  # 5,024 characters, beyond PATH_MAX
    with pytest.raises(es.EnergySimError) as info:
        lenet.to_csv(out)
    message = str(info.value)
    assert len(message) < 500
    assert "5,024 characters" in message
    assert "nothing was written" in message


def _largest_energy(hierarchy: es.Hierarchy) -> float:
    """The largest per-access or per-MAC energy of ``hierarchy``, read field by field."""
    energies = [*hierarchy.compute.mac_energy_pj.values()]
    for level in hierarchy.levels:
        energies += [level.read_energy_pj, level.write_energy_pj]
        if level.network is not None:
            energies.append(level.network.transfer_energy_pj)
    return max(energies)


def test_in_pj_out_of_range_names_pj_per_mac_and_its_range(lenet: es.Result) -> None:
    with pytest.raises(es.EnergySimError, match=r"pj_per_mac=1e\+300 is out of range.*at most"):
        lenet.in_pj(1e300)
    bound = MAX_ENERGY_PJ / _largest_energy(lenet.hierarchy)
    assert lenet.in_pj(bound / 2).total_energy == pytest.approx(lenet.total_energy * bound / 2)
    with pytest.raises(es.EnergySimError, match=re.escape(f"at most {bound:.6g}")):
        lenet.in_pj(bound * 2)
