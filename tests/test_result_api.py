"""The Result's own API: a short repr, equality, tidy and strict exports; names in roofline()."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import pandas as pd
import pytest

import energysim as es


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
