"""The analyze() facade: what a Result carries, and that it is deterministic."""

from __future__ import annotations

import pandas as pd
import pytest

import energysim as es


@pytest.fixture(scope="module")
def alexnet_rs() -> es.Result:
    return es.analyze("alexnet", "eyeriss", dataflow="rs")


def test_result_carries_its_inputs(alexnet_rs: es.Result) -> None:
    assert alexnet_rs.workload.name == "alexnet"
    assert alexnet_rs.hierarchy.name == "eyeriss"
    assert alexnet_rs.dataflow == "rs"
    assert alexnet_rs.energysim_version == es.__version__
    mac_layers = [layer.name for layer in alexnet_rs.workload.layers if layer.loop_bounds is not None]
    assert sorted(alexnet_rs.mapping) == sorted(mac_layers)


def test_accesses_are_tidy(alexnet_rs: es.Result) -> None:
    frame = alexnet_rs.accesses
    assert list(frame.columns) == [
        "layer",
        "level",
        "tensor",
        "action",
        "count",
        "accesses",
        "energy",
        "energy_unit",
    ]
    assert set(frame["tensor"]) == {"weights", "inputs", "outputs", "none"}
    assert set(frame["action"]) == {"read", "fill", "update", "transfer", "mac", "op"}
    assert set(frame["level"]) == {"DRAM", "GLB", "GLB network", "RF", "PE"}
    assert not frame.duplicated(["layer", "level", "tensor", "action"]).any()


def test_energy_by_level_is_outermost_first(alexnet_rs: es.Result) -> None:
    assert list(alexnet_rs.energy_by_level().index) == ["DRAM", "GLB", "GLB network", "RF", "PE"]


def test_one_layer_can_be_analysed_alone() -> None:
    conv3 = es.load_workload("alexnet")["conv3"]
    alone = es.analyze(conv3, "eyeriss", "rs")
    within = es.analyze("alexnet", "eyeriss", "rs", layers=["conv3"])
    assert alone.macs == conv3.macs
    pd.testing.assert_frame_equal(alone.accesses, within.accesses)


def test_mappings_by_layer_override_the_dataflow() -> None:
    network = es.load_workload("alexnet")
    ws = es.build_mapping(network["conv3"], es.load_hierarchy("eyeriss"), "ws")
    result = es.analyze(network, "eyeriss", "rs", mapping={"conv3": ws}, layers=["conv2", "conv3"])
    assert result.mapping["conv3"] == ws
    assert result.mapping["conv2"] == es.build_mapping(network["conv2"], es.load_hierarchy("eyeriss"), "rs")


def test_same_inputs_same_numbers() -> None:
    first = es.analyze("resnet50", "eyeriss", "os")
    second = es.analyze("resnet50", "eyeriss", "os")
    assert first.accesses.to_csv(index=False) == second.accesses.to_csv(index=False)
    assert first.layers.to_csv(index=False) == second.layers.to_csv(index=False)


def test_layers_without_macs_stream_their_compulsory_traffic() -> None:
    lecture = es.load_workload("lecture-ops")
    relu = lecture["relu"]
    result = es.analyze(lecture, "v100", "ws", layers=["relu"])
    assert result.count("HBM2", "inputs", "read") == relu.elements("inputs")
    assert result.count("HBM2", "outputs", "update") == relu.elements("outputs")
    assert result.count("TensorCore", "none", "op") == relu.flops


def test_an_empty_layer_selection_is_an_error() -> None:
    # It was a KeyError deep in the result's construction.
    with pytest.raises(es.EnergySimError, match="layers: an empty selection"):
        es.analyze("lenet5", "eyeriss", layers=[])


def test_the_default_dataflow_is_the_hierarchys_own_else_rs() -> None:
    """tpu-like is a weight-stationary array (its file says ``default_dataflow: ws``); eyeriss says
    nothing, so the default is rs. The default builds exactly the mappings of the named dataflow."""
    tpu = es.analyze("lenet5", "tpu-like")
    assert tpu.dataflow == "ws"
    assert tpu.mapping == es.analyze("lenet5", "tpu-like", dataflow="ws").mapping
    eyeriss = es.analyze("lenet5", "eyeriss")
    assert eyeriss.dataflow == "rs"
    assert eyeriss.mapping == es.analyze("lenet5", "eyeriss", dataflow="rs").mapping
