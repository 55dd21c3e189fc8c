"""Shape checks between consecutive layers of a workload file (energysim.model.shapes).

Each case is a two- or three-layer network whose sizes are counted by hand in
the test; one ``pytest.raises`` per rule, and the marker ``inputs`` that lifts it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import REPOSITORY_ROOT, WriteYaml, shipped_yaml, workload_error

import energysim as es
from energysim.cli import main
from energysim.model.files import shipped_names
from energysim.model.shapes import shape_problems


def _network(*layers: dict[str, Any]) -> dict[str, Any]:
    return {"version": 1, "name": "net", "layers": list(layers)}


CONV_A = {"name": "a", "type": "conv", "C": 3, "H": 8, "W": 8, "M": 16, "R": 3, "S": 3}


@pytest.mark.parametrize("name", shipped_names("workloads"))
def test_every_shipped_workload_passes_the_check(name: str) -> None:
    """The shipped files load (markers where the network branches) and none has a problem."""
    network = es.load_workload(name)
    assert shape_problems(network.layers) == []


def test_conv_channels_that_do_not_match_name_both_layers(write_yaml: WriteYaml) -> None:
    """a writes M = 16 channels; b claims C = 8: an error naming b, a and both counts."""
    b = {"name": "b", "type": "conv", "C": 8, "H": 6, "W": 6, "M": 4, "R": 1, "S": 1}
    message = workload_error(write_yaml, _network(CONV_A, b), r"C = 8 input channels")
    assert "layers[1] (b)" in message
    assert "previous layer 'a' writes 16 channels" in message


def test_matching_channels_pass(write_yaml: WriteYaml) -> None:
    b = {"name": "b", "type": "conv", "C": 16, "H": 6, "W": 6, "M": 4, "R": 1, "S": 1}
    assert es.load_workload(str(write_yaml("net.yaml", _network(CONV_A, b)))).layer_names == ["a", "b"]


def test_external_input_marker_lifts_the_check(write_yaml: WriteYaml) -> None:
    b = {"name": "b", "inputs": ["external"], "type": "conv", "C": 8, "H": 6, "W": 6, "M": 4, "R": 1, "S": 1}
    assert es.load_workload(str(write_yaml("net.yaml", _network(CONV_A, b))))["b"].inputs == ("external",)


def test_named_inputs_are_concatenated_channels(write_yaml: WriteYaml) -> None:
    """c reads a (16 channels) and b (4 channels): C must be 16 + 4 = 20; 19 is refused."""
    b = {"name": "b", "inputs": ["external"], "type": "conv", "C": 3, "H": 8, "W": 8, "M": 4, "R": 3, "S": 3}
    c = {"name": "c", "inputs": ["a", "b"], "type": "conv", "C": 20, "H": 6, "W": 6, "M": 2, "R": 1, "S": 1}
    assert es.load_workload(str(write_yaml("ok.yaml", _network(CONV_A, b, c))))["c"].C == 20
    message = workload_error(write_yaml, _network(CONV_A, b, {**c, "C": 19}), r"its inputs 'a' \+ 'b'")
    assert "writes 20 channels" in message


def test_unknown_or_later_input_names_are_errors(write_yaml: WriteYaml) -> None:
    b = {"name": "b", "inputs": ["z"], "type": "conv", "C": 16, "H": 6, "W": 6, "M": 4, "R": 1, "S": 1}
    workload_error(write_yaml, _network(CONV_A, b), r"layers\[1\] \(b\)\.inputs: no earlier layer called 'z'")
    c = {**b, "name": "c", "inputs": ["c"]}  # itself: not earlier
    workload_error(write_yaml, _network(CONV_A, c), r"no earlier layer called 'c'")


def test_fc_reads_the_flattened_output(write_yaml: WriteYaml) -> None:
    """a writes 16 x 6 x 6 = 576 values (8 - 3 + 1 = 6); an fc of C = 576 fits, C = 575 does not."""
    fc = {"name": "fc", "type": "fc", "C": 576, "M": 10}
    assert es.load_workload(str(write_yaml("ok.yaml", _network(CONV_A, fc))))["fc"].C == 576
    workload_error(write_yaml, _network(CONV_A, {**fc, "C": 575}), r"N x C = 1 x 575 = 575 inputs.*576")


def test_eltwise_operands_each_have_its_size(write_yaml: WriteYaml) -> None:
    """An add of a and b (576 values each); its shape [1, 16, 6, 6] has 576; a wrong shape is named."""
    b = {"name": "b", "inputs": ["external"], "type": "conv", "C": 3, "H": 8, "W": 8, "M": 16, "R": 3, "S": 3}
    add = {"name": "add", "inputs": ["a", "b"], "type": "eltwise", "op": "add", "shape": [1, 16, 6, 6]}
    assert es.load_workload(str(write_yaml("ok.yaml", _network(CONV_A, b, add))))["add"].size == 576
    bad = {**add, "shape": [1, 16, 6, 5]}
    workload_error(write_yaml, _network(CONV_A, b, bad), r"shape has 480 elements.*576, 576")


def test_rank4_eltwise_gives_its_channels_to_the_next_conv(write_yaml: WriteYaml) -> None:
    """A relu of shape [1, 16, 6, 6] passes 16 channels on: a conv of C = 15 after it is refused."""
    relu = {"name": "relu", "type": "eltwise", "op": "relu", "shape": [1, 16, 6, 6]}
    b = {"name": "b", "type": "conv", "C": 15, "H": 6, "W": 6, "M": 4, "R": 1, "S": 1}
    workload_error(write_yaml, _network(CONV_A, relu, b), r"previous layer 'relu' writes 16 channels")


def test_all_problems_are_listed_at_once(write_yaml: WriteYaml) -> None:
    b = {"name": "b", "type": "conv", "C": 8, "H": 6, "W": 6, "M": 4, "R": 1, "S": 1}
    c = {"name": "c", "type": "conv", "C": 5, "H": 6, "W": 6, "M": 4, "R": 1, "S": 1}
    message = workload_error(write_yaml, _network(CONV_A, b, c), r"2 problems")
    assert "(b)" in message
    assert "(c)" in message


def test_resnet_shortcut_without_its_marker_is_an_error(write_yaml: WriteYaml) -> None:
    """ResNet-50's res2a_branch1 reads pool1 (64 channels), not res2a_branch2c (256)."""
    data = shipped_yaml("workloads", "resnet50")
    for layer in data["layers"]:
        layer.pop("inputs", None)
    message = workload_error(write_yaml, data, r"res2a_branch1")
    assert "previous layer 'res2a_branch2c' writes 256 channels" in message


def test_a_layer_taken_alone_keeps_its_marker_and_is_analysed() -> None:
    """A branch layer analysed on its own is a one-layer network: its inputs do not stop it."""
    layer = es.load_workload("resnet50")["res2a_branch1"]
    assert es.analyze(layer, "eyeriss", dataflow="ws").macs == 64 * 256 * 56 * 56


def test_validate_command_reports_a_mismatch_in_one_line(
    write_yaml: WriteYaml, capsys: pytest.CaptureFixture[str]
) -> None:
    b = {"name": "b", "type": "conv", "C": 8, "H": 6, "W": 6, "M": 4, "R": 1, "S": 1}
    path = write_yaml("net.yaml", _network(CONV_A, b))
    assert main(["validate", str(path)]) == 2
    stderr = capsys.readouterr().err
    assert stderr.count("\n") == 1
    assert "previous layer 'a' writes 16 channels" in stderr


def test_readme_workload_example_loads(tmp_path: Path) -> None:
    """The README's "Writing your own workload" file passes the check as written (markers included)."""
    text = (REPOSITORY_ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Writing your own workload") :]
    block = section[section.index("```yaml\n") + len("```yaml\n") : section.index("```\n", 8)]
    path = tmp_path / "my-net.yaml"
    path.write_text(block)
    network = es.load_workload(path)
    assert network["add"].inputs == ("conv1", "dw")
    assert network["fc"].C == 64 * 56 * 56
