"""ONNX import (energysim.model.onnx_import): models built with onnx.helper, counted by hand.

No downloads: each model is a few nodes written here, and each expected MAC
count and tensor size is derived in the test's docstring from the loop nest
(MACs = G x N x M/G x C/G x P x Q x R x S, plus one per output for a bias).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper  # noqa: E402

import energysim as es  # noqa: E402
from energysim.cli import main  # noqa: E402
from energysim.model.onnx_import import workload_yaml  # noqa: E402

FLOAT = TensorProto.FLOAT


def _weight(name: str, dims: list[int], elem_type: int = FLOAT) -> Any:
    """An initializer of zeros (the values never matter, only the shape and type)."""
    count = 1
    for dim in dims:
        count *= dim
    if elem_type == TensorProto.FLOAT16:
        return helper.make_tensor(name, elem_type, dims, [0] * count)
    return helper.make_tensor(name, elem_type, dims, [0.0] * count)


def _save(
    tmp_path: Path,
    nodes: list[Any],
    inputs: list[Any],
    outputs: list[Any],
    weights: list[Any],
    name: str = "model.onnx",
) -> Path:
    graph = helper.make_graph(nodes, "test-net", inputs, outputs, weights)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    path = tmp_path / name
    onnx.save(model, str(path))
    return path


def _input(name: str, dims: list[Any], elem_type: int = FLOAT) -> Any:
    return helper.make_tensor_value_info(name, elem_type, dims)


def residual_cnn(tmp_path: Path, batch_dim: Any = 1) -> Path:
    """x [1,3,32,32] -> conv1 3x3 pad 1 (16, bias) -> relu -> conv2 3x3 pad 1 (16)
    -> add(relu, conv2) -> maxpool 2x2/2 -> global average pool -> flatten -> gemm 16 -> 10 (bias)."""
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
        helper.make_node("Conv", ["r1", "w2"], ["c2"], name="conv2", pads=[1, 1, 1, 1], kernel_shape=[3, 3]),
        helper.make_node("Add", ["r1", "c2"], ["a"], name="residual"),
        helper.make_node("MaxPool", ["a"], ["p"], name="pool", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("GlobalAveragePool", ["p"], ["g"], name="gap"),
        helper.make_node("Flatten", ["g"], ["f"], name="flatten"),
        helper.make_node("Gemm", ["f", "wf", "bf"], ["y"], name="fc", transB=1),
    ]
    weights = [
        _weight("w1", [16, 3, 3, 3]),
        _weight("b1", [16]),
        _weight("w2", [16, 16, 3, 3]),
        _weight("wf", [10, 16]),
        _weight("bf", [10]),
    ]
    return _save(tmp_path, nodes, [_input("x", [batch_dim, 3, 32, 32])], [_input("y", None)], weights)


def test_residual_cnn_macs_and_sizes(tmp_path: Path) -> None:
    """conv1: 16 x 3 x 3 x 3 x 32 x 32 = 442,368 MACs + 16 x 32 x 32 = 16,384 bias accumulates;
    conv2: 16 x 16 x 9 x 1,024 = 2,359,296; fc: 16 x 10 = 160 + 10 bias. Total 2,818,218.
    Weights: 432 + 16 + 2,304 + 160 + 10 = 2,922. The add reads relu1 and conv2 (a marker);
    the maxpool halves 32 to 16; the global pool is a 16 x 16 window."""
    network = es.load_workload(residual_cnn(tmp_path))
    assert network.layer_names == ["conv1", "relu1", "conv2", "residual", "pool", "gap", "fc"]
    assert [layer.macs for layer in network.layers] == [458_752, 0, 2_359_296, 0, 0, 0, 170]
    assert network.total_macs == 2_818_218
    assert network.total_weights == 2_922
    conv1 = network["conv1"]
    assert (conv1.elements("inputs"), conv1.elements("weights"), conv1.elements("outputs")) == (
        3 * 32 * 32,
        16 * 27,
        16 * 32 * 32,
    )
    assert network["residual"].inputs == ("relu1", "conv2")
    assert network["residual"].elements("inputs") == 2 * 16 * 32 * 32
    assert network["pool"].output_rows_cols == (16, 16)
    assert (network["gap"].R, network["gap"].S, network["gap"].C) == (16, 16, 16)
    assert (network["fc"].N, network["fc"].C, network["fc"].M) == (1, 16, 10)
    assert network.precision_bits == 32  # float32 tensors
    assert network.unsupported_ops == {}


def depthwise_block(tmp_path: Path) -> Path:
    """MobileNet-like: x [1,8,16,16] -> 1x1 expand to 32 -> 3x3/2 depthwise, auto_pad SAME_UPPER
    -> Clip (ReLU6) -> 1x1 project to 16 -> 3x3 dilation 2 (pads 2), groups 4."""
    nodes = [
        helper.make_node("Conv", ["x", "we"], ["e"], name="expand"),
        helper.make_node(
            "Conv", ["e", "wd"], ["d"], name="dw", group=32, strides=[2, 2], auto_pad="SAME_UPPER"
        ),
        helper.make_node("Clip", ["d", "lo", "hi"], ["r"], name="relu6"),
        helper.make_node("Conv", ["r", "wp"], ["p"], name="project"),
        helper.make_node(
            "Conv", ["p", "wg"], ["y"], name="dilated", group=4, dilations=[2, 2], pads=[2, 2, 2, 2]
        ),
    ]
    weights = [
        _weight("we", [32, 8, 1, 1]),
        _weight("wd", [32, 1, 3, 3]),
        helper.make_tensor("lo", FLOAT, [], [0.0]),
        helper.make_tensor("hi", FLOAT, [], [6.0]),
        _weight("wp", [16, 32, 1, 1]),
        _weight("wg", [16, 4, 3, 3]),
    ]
    return _save(tmp_path, nodes, [_input("x", [1, 8, 16, 16])], [_input("y", None)], weights)


def test_depthwise_block_macs_and_asymmetric_padding(tmp_path: Path) -> None:
    """expand: 8 x 32 x 16 x 16 = 65,536 MACs. dw: SAME_UPPER with stride 2 on 16 gives 8 outputs,
    total pad (8 - 1) x 2 + 3 - 16 = 1: begin 0, end 1 (asymmetric). Written as padding 0 and
    H = W = 17 (one zero row and column counted as input); MACs 32 x 9 x 8 x 8 = 18,432.
    Clip: 2 ops x 32 x 8 x 8 = 4,096. project: 32 x 16 x 64 = 32,768. dilated: groups 4 of
    4 -> 4 channels, 3x3, dilation 2, pad 2 keeps 8 x 8: 4 x 4 x 4 x 9 x 64 = 36,864."""
    network = es.load_workload(depthwise_block(tmp_path))
    macs = {layer.name: layer.macs for layer in network.layers}
    assert macs == {"expand": 65_536, "dw": 18_432, "relu6": 0, "project": 32_768, "dilated": 36_864}
    dw = network["dw"]
    assert (dw.groups, dw.C, dw.M, dw.H, dw.W, dw.padding, dw.stride) == (32, 32, 32, 17, 17, 0, 2)
    assert dw.output_rows_cols == (8, 8)
    assert dw.elements("inputs") == 32 * 17 * 17  # the documented over-count: 32 x 16 x 16 is real
    assert network["relu6"].flops == 4_096
    dilated = network["dilated"]
    assert (dilated.dilation, dilated.padding, dilated.groups, dilated.output_rows_cols) == (2, 2, 4, (8, 8))


@pytest.mark.parametrize(
    ("pads", "expected_h", "expected_padding", "rows"),
    [
        # (8 + 1 + 0 - 3) // 2 + 1 = 4 = (8 + 2 - 3) // 2 + 1: the end pad is never reached, exact
        ([1, 1, 0, 0], 8, 1, 4),
        # (8 + 2 + 0 - 3) + 1 = 8; symmetric 2 would give 10: the last 2 rows are never read, H = 6
        ([2, 2, 0, 0], 6, 2, 8),
    ],
)
def test_asymmetric_explicit_pads(
    tmp_path: Path, pads: list[int], expected_h: int, expected_padding: int, rows: int
) -> None:
    stride = 2 if rows == 4 else 1
    nodes = [helper.make_node("Conv", ["x", "w"], ["y"], name="c", pads=pads, strides=[stride, stride])]
    path = _save(
        tmp_path, nodes, [_input("x", [1, 2, 8, 8])], [_input("y", None)], [_weight("w", [4, 2, 3, 3])]
    )
    conv = es.load_workload(path)["c"]
    assert (conv.H, conv.padding, conv.output_rows_cols) == (expected_h, expected_padding, (rows, rows))
    assert conv.macs == 4 * 2 * 9 * rows * rows


def attention_block(tmp_path: Path) -> Path:
    """x [1, 8, 32] (sequence 8, model width 32), 4 heads of 8: q, k, v projections (MatMul with
    32 x 32 weights), heads split by Reshape + Transpose (K transposed for Q K^T), scores,
    Softmax, context, heads merged, output projection, residual add of x, LayerNormalization."""
    split = [1, 8, 4, 8]
    nodes = [
        helper.make_node("MatMul", ["x", "wq"], ["q"], name="q_proj"),
        helper.make_node("MatMul", ["x", "wk"], ["k"], name="k_proj"),
        helper.make_node("MatMul", ["x", "wv"], ["v"], name="v_proj"),
        helper.make_node("Reshape", ["q", "split"], ["q4"], name="q_split"),
        helper.make_node("Reshape", ["k", "split"], ["k4"], name="k_split"),
        helper.make_node("Reshape", ["v", "split"], ["v4"], name="v_split"),
        helper.make_node("Transpose", ["q4"], ["qh"], name="q_heads", perm=[0, 2, 1, 3]),
        helper.make_node("Transpose", ["k4"], ["kt"], name="k_heads_t", perm=[0, 2, 3, 1]),
        helper.make_node("Transpose", ["v4"], ["vh"], name="v_heads", perm=[0, 2, 1, 3]),
        helper.make_node("MatMul", ["qh", "kt"], ["s"], name="scores"),
        helper.make_node("Softmax", ["s"], ["pr"], name="softmax", axis=-1),
        helper.make_node("MatMul", ["pr", "vh"], ["ctx"], name="context"),
        helper.make_node("Transpose", ["ctx"], ["ct"], name="merge_heads", perm=[0, 2, 1, 3]),
        helper.make_node("Reshape", ["ct", "merged"], ["c3"], name="merge"),
        helper.make_node("MatMul", ["c3", "wo"], ["o"], name="out_proj"),
        helper.make_node("Add", ["x", "o"], ["a"], name="residual"),
        helper.make_node("LayerNormalization", ["a", "gamma", "beta"], ["y"], name="norm", axis=-1),
    ]
    weights = [
        *(_weight(name, [32, 32]) for name in ("wq", "wk", "wv", "wo")),
        helper.make_tensor("split", TensorProto.INT64, [4], split),
        helper.make_tensor("merged", TensorProto.INT64, [3], [1, 8, 32]),
        _weight("gamma", [32]),
        _weight("beta", [32]),
    ]
    return _save(tmp_path, nodes, [_input("x", [1, 8, 32])], [_input("y", None)], weights)


def test_attention_block_macs_and_sizes(tmp_path: Path) -> None:
    """Each projection is an fc of N = 8 tokens, C = 32, M = 32: 8,192 MACs (four of them).
    Scores Q K^T: 4 heads x (8 x 8) x (8 x 8): 4 x 8 x 8 x 8 = 2,048 MACs, K an activation;
    context P V the same 2,048. Total 4 x 8,192 + 2 x 2,048 = 36,864. Softmax over 4 x 8 x 8 = 256
    scores; layer norm over 8 rows of 32 (64 parameters); weights 4 x 1,024 + 64 = 4,160.
    The transposes move 256 elements each (copies); the reshapes are views (no layer)."""
    network = es.load_workload(attention_block(tmp_path))
    assert network.total_macs == 36_864
    assert network.total_weights == 4_160
    scores = network["scores"]
    assert (scores.type, scores.batch, scores.m, scores.k, scores.n, scores.b_operand) == (
        "matmul", 4, 8, 8, 8, "activations",
    )  # fmt: skip
    assert scores.macs == network["context"].macs == 2_048
    assert scores.inputs == ("q_heads", "k_heads_t")
    assert [network[name].macs for name in ("q_proj", "k_proj", "v_proj", "out_proj")] == [8_192] * 4
    assert (network["q_proj"].N, network["q_proj"].C, network["q_proj"].M) == (8, 32, 32)
    assert network["softmax"].size == 256
    assert network["norm"].shape == (8, 32)
    assert network["norm"].parameters == 64
    copies = [layer.name for layer in network.layers if getattr(layer, "op", None) == "copy"]
    assert copies == ["q_heads", "k_heads_t", "v_heads", "merge_heads"]
    assert all(network[name].size == 256 for name in copies)
    assert network["residual"].inputs == ("external", "out_proj")  # x is the graph's input
    assert "q_split" not in network.layer_names


def test_precision_from_tensor_types_and_override(tmp_path: Path) -> None:
    """A float16 model is 16 bits per element; precision_bits=8 makes every tensor 8 bits:
    conv 2 -> 4, 3x3 on 6x6 (4 x 4 out): weights 72 elements = 72 bytes, outputs 64 bytes."""
    half = TensorProto.FLOAT16
    nodes = [helper.make_node("Conv", ["x", "w"], ["y"], name="c")]
    path = _save(
        tmp_path,
        nodes,
        [_input("x", [1, 2, 6, 6], half)],
        [_input("y", None, half)],
        [_weight("w", [4, 2, 3, 3], half)],
    )
    assert es.load_workload(path)["c"].bits("weights") == 16
    conv = es.load_workload(path, precision_bits=8)["c"]
    assert (conv.tensor_bytes("weights"), conv.tensor_bytes("outputs")) == (72, 64)


def _with_unsupported(tmp_path: Path) -> Path:
    nodes = [
        helper.make_node("Relu", ["x"], ["r"], name="relu"),
        helper.make_node("Sigmoid", ["r"], ["s1"], name="sig1"),
        helper.make_node("Sigmoid", ["s1"], ["s2"], name="sig2"),
        helper.make_node("Floor", ["s2"], ["y"], name="floor"),
    ]
    return _save(tmp_path, nodes, [_input("x", [1, 4])], [_input("y", None)], [])


def test_unsupported_ops_listed_by_name_and_count(tmp_path: Path) -> None:
    with pytest.raises(es.EnergySimError, match=r"unsupported ONNX operators: Floor x1, Sigmoid x2") as info:
        es.load_workload(_with_unsupported(tmp_path))
    assert "model.onnx" in str(info.value)
    assert "\n" not in str(info.value)


def test_skip_unsupported_keeps_the_rest_and_reports(tmp_path: Path) -> None:
    network = es.load_workload(_with_unsupported(tmp_path), skip_unsupported=True)
    assert network.layer_names == ["relu"]
    assert network.unsupported_ops == {"Floor": 1, "Sigmoid": 2}


def test_symbolic_batch_is_an_error_naming_the_tensor_unless_batch_is_given(tmp_path: Path) -> None:
    """With batch 2 every MAC count doubles: 2 x 2,818,218 - 2 x 0 (biases scale too) = 5,636,436."""
    path = residual_cnn(tmp_path, batch_dim="N")
    with pytest.raises(es.EnergySimError, match=r"tensor 'x'.*dim 0 is symbolic \('N'\).*--batch"):
        es.load_workload(path)
    assert es.load_workload(path, batch=2).total_macs == 2 * 2_818_218


def test_options_are_for_onnx_only_and_bounded(tmp_path: Path) -> None:
    with pytest.raises(es.EnergySimError, match=r"apply only to \.onnx files"):
        es.load_workload("alexnet", precision_bits=8)
    with pytest.raises(es.EnergySimError, match=r"precision_bits \(--precision\): expected an integer"):
        es.load_workload(residual_cnn(tmp_path), precision_bits=0)


@pytest.mark.parametrize("content", [b"", b"\x00\x01garbage\xff" * 10, b"not an onnx model at all"])
def test_malformed_file_is_one_error_naming_it(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "broken.onnx"
    path.write_bytes(content)
    with pytest.raises(es.EnergySimError, match=r"broken\.onnx: ") as info:
        es.load_workload(path)
    assert "\n" not in str(info.value)


def test_file_and_node_bounds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = residual_cnn(tmp_path)
    monkeypatch.setattr("energysim.model.onnx_graph.MAX_ONNX_NODES", 3)
    with pytest.raises(es.EnergySimError, match=r"8 nodes, more than 3 \(MAX_ONNX_NODES\)"):
        es.load_workload(path)
    monkeypatch.setattr("energysim.model.onnx_graph.MAX_ONNX_FILE_BYTES", 100)
    with pytest.raises(es.EnergySimError, match=r"file too large.*MAX_ONNX_FILE_BYTES"):
        es.load_workload(path)


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(es.EnergySimError, match=r"nothing\.onnx: no such file"):
        es.load_workload(tmp_path / "nothing.onnx")
    (tmp_path / "dir.onnx").mkdir()
    with pytest.raises(es.EnergySimError, match=r"dir\.onnx: is a folder, expected an \.onnx model file"):
        es.load_workload(tmp_path / "dir.onnx")


def test_missing_onnx_package_says_how_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = residual_cnn(tmp_path)
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(es.EnergySimError, match=r"needs the onnx package: pip install"):
        es.load_workload(path)


@pytest.mark.parametrize("build", [residual_cnn, depthwise_block, attention_block])
def test_yaml_text_loads_back_with_identical_layers(tmp_path: Path, build: Any) -> None:
    network = es.load_workload(build(tmp_path))
    path = tmp_path / "net.yaml"
    path.write_text(workload_yaml(network))
    assert es.load_workload(path) == network


def test_import_command_writes_yaml_and_never_overwrites(tmp_path: Path) -> None:
    model = depthwise_block(tmp_path)
    out = tmp_path / "net.yaml"
    assert main(["import", str(model), "--out", str(out), "--precision", "8"]) == 0
    loaded = es.load_workload(out)
    assert loaded.total_macs == 65_536 + 18_432 + 32_768 + 36_864
    assert "  # dw: ONNX input 16 x 16, pads (begin, end) (0, 1) x (0, 1): written as H x W = 17 x 17" in (
        out.read_text()
    )
    assert loaded.precision_bits == 8
    out.write_text("mine\n")
    assert main(["import", str(model), "--out", str(out)]) == 2
    assert out.read_text() == "mine\n"  # refused: the user's file is untouched
    assert main(["import", str(model), "--out", str(out), "--force"]) == 0
    assert es.load_workload(out).precision_bits == 32
    assert sorted(os.listdir(tmp_path)) == ["model.onnx", "net.yaml"]  # no temporary file left
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask  # as any file the user makes
    assert main(["import", str(model), "--out", str(tmp_path)]) == 2  # a folder: refused


def test_run_command_on_onnx_reports_skipped_ops(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = _with_unsupported(tmp_path)
    assert main(["run", str(model), "--hierarchy", "eyeriss", "--quiet"]) == 2
    assert "Sigmoid x2" in capsys.readouterr().err
    assert main(["run", str(model), "--hierarchy", "eyeriss", "--skip-unsupported", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["unsupported_ops"] == {"Floor": 1, "Sigmoid": 2}


def _torchvision_import(name: str) -> es.Network:
    """Export torchvision's ``name`` (weights=None, eval mode: batch norm folded) and import it."""
    torch = pytest.importorskip("torch")
    torchvision = pytest.importorskip("torchvision")
    import inspect
    import tempfile

    model = getattr(torchvision.models, name)(weights=None).eval()
    options = {"dynamo": False} if "dynamo" in inspect.signature(torch.onnx.export).parameters else {}
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"{name}.onnx"
        torch.onnx.export(model, torch.zeros(1, 3, 224, 224), str(path), opset_version=17, **options)
        return es.load_workload(path)


def test_torchvision_resnet50_matches_the_shipped_yaml() -> None:
    """The shipped file is ResNet-50 v1 (Caffe: stride 2 in the first 1x1 conv of conv3_1, conv4_1,
    conv5_1); torchvision's is v1.5 (stride 2 in the 3x3 conv), whose first 1x1 conv of those three
    blocks runs at 4x the outputs: 3 more times each of their MACs (25,690,112 each), so
    3,857,974,248 + 3 x 3 x 25,690,112 = 4,089,185,256 (torchvision's model card: 4.09 GFLOPS,
    counted as MACs). Folded batch norm adds a bias per conv output: under 0.3 %."""
    imported = _torchvision_import("resnet50")
    reference = es.load_workload("resnet50")
    stride_moved = sum(3 * reference[f"res{stage}a_branch2a"].macs for stage in (3, 4, 5))
    assert stride_moved == 3 * 3 * 25_690_112
    assert imported.total_macs == pytest.approx(reference.total_macs + stride_moved, rel=0.01)
    assert imported.total_weights == pytest.approx(reference.total_weights, rel=0.01)


def test_torchvision_mobilenet_v2_matches_the_shipped_yaml() -> None:
    imported = _torchvision_import("mobilenet_v2")
    reference = es.load_workload("mobilenet-v2")
    assert imported.total_macs == pytest.approx(reference.total_macs, rel=0.01)
    assert imported.total_weights == pytest.approx(reference.total_weights, rel=0.01)


def test_mutated_files_load_or_fail_with_one_named_error(tmp_path: Path) -> None:
    """Hostile input: 60 byte-level mutations of a valid model (seeded) either import or raise
    one EnergySimError naming the file; nothing else escapes."""
    import random

    data = residual_cnn(tmp_path).read_bytes()
    generator = random.Random(0)
    path = tmp_path / "mutant.onnx"
    messages: list[str] = []
    for _ in range(60):
        mutant = bytearray(data)
        for _ in range(generator.randint(1, 4)):
            mutant[generator.randrange(len(mutant))] = generator.randrange(256)
        path.write_bytes(bytes(mutant[: generator.randint(len(mutant) // 2, len(mutant))]))
        try:
            es.load_workload(path, skip_unsupported=True)
        except es.EnergySimError as exc:
            messages.append(str(exc))
    assert messages  # some mutants are refused...
    assert all(message.startswith(str(path)) for message in messages)  # ...each naming the file


@pytest.mark.parametrize("name", ["alexnet", "lenet5", "bert-base-layer", "lecture-ops"])
def test_workload_yaml_of_shipped_networks_loads_back_equal(tmp_path: Path, name: str) -> None:
    """The writer of ``energysim import`` keeps every field a shipped file uses (markers, bias, groups)."""
    network = es.load_workload(name)
    path = tmp_path / "copy.yaml"
    path.write_text(workload_yaml(network))
    assert es.load_workload(path) == network


def _external_weight(name: str, dims: list[int]) -> Any:
    """An initializer whose data is in a file that does not exist: only its shape is ever read."""
    tensor = onnx.TensorProto(name=name, data_type=FLOAT, dims=dims, data_location=TensorProto.EXTERNAL)
    entry = tensor.external_data.add()
    entry.key, entry.value = "location", "weights-that-are-not-there.bin"
    return tensor


class _Builder:
    """Nodes and weights of a CNN built conv by conv (batch norm folded away, as in an eval export)."""

    def __init__(self) -> None:
        self.nodes: list[Any] = []
        self.weights: list[Any] = [
            helper.make_tensor("zero", FLOAT, [], [0.0]),
            helper.make_tensor("six", FLOAT, [], [6.0]),
        ]

    def conv(
        self, x: str, c_in: int, c_out: int, k: int, stride: int = 1, groups: int = 1, act: str = ""
    ) -> str:
        name = f"conv{len(self.weights)}"
        self.weights.append(_external_weight(f"{name}_w", [c_out, c_in // groups, k, k]))
        self.nodes.append(
            helper.make_node(
                "Conv",
                [x, f"{name}_w"],
                [name],
                name=name,
                strides=[stride] * 2,
                pads=[k // 2] * 4,
                group=groups,
            )
        )
        if act == "relu":
            self.nodes.append(helper.make_node("Relu", [name], [f"{name}_a"], name=f"{name}_relu"))
        elif act == "relu6":
            self.nodes.append(
                helper.make_node("Clip", [name, "zero", "six"], [f"{name}_a"], name=f"{name}_relu6")
            )
        return f"{name}_a" if act else name

    def add(self, a: str, b: str, relu: bool) -> str:
        name = f"add{len(self.nodes)}"
        self.nodes.append(helper.make_node("Add", [a, b], [name], name=name))
        if not relu:
            return name
        self.nodes.append(helper.make_node("Relu", [name], [f"{name}_a"], name=f"{name}_relu"))
        return f"{name}_a"

    def save(self, x: str, channels: int, path: Path, batch: Any = 1) -> Path:
        self.nodes += [
            helper.make_node("GlobalAveragePool", [x], ["gap"], name="gap"),
            helper.make_node("Flatten", ["gap"], ["flat"], name="flatten"),
            helper.make_node("Gemm", ["flat", "fc_w", "fc_b"], ["y"], name="fc", transB=1),
        ]
        self.weights += [_external_weight("fc_w", [1000, channels]), _external_weight("fc_b", [1000])]
        graph = helper.make_graph(
            self.nodes, path.stem, [_input("x", [batch, 3, 224, 224])], [_input("y", None)], self.weights
        )
        onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
        return path


def resnet50_v15(path: Path) -> Path:
    """torchvision's ResNet-50 (v1.5: stride 2 in the 3x3 conv of a downsampling block), symbolic batch."""
    net = _Builder()
    x = net.conv("x", 3, 64, 7, 2, act="relu")
    net.nodes.append(
        helper.make_node("MaxPool", [x], ["pool"], kernel_shape=[3, 3], strides=[2, 2], pads=[1] * 4)
    )
    x, c_in = "pool", 64
    for width, blocks, stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
        for block in range(blocks):
            s = stride if block == 0 else 1
            y = net.conv(x, c_in, width, 1, act="relu")
            y = net.conv(y, width, width, 3, s, act="relu")
            y = net.conv(y, width, 4 * width, 1)
            shortcut = net.conv(x, c_in, 4 * width, 1, s) if block == 0 else x
            x, c_in = net.add(y, shortcut, relu=True), 4 * width
    return net.save(x, c_in, path, batch="batch")


def mobilenet_v2(path: Path) -> Path:
    """torchvision's MobileNetV2 1.0 (Sandler et al., Table 2: t, c, n, s), ReLU6 as Clip."""
    net = _Builder()
    x, c_in = net.conv("x", 3, 32, 3, 2, act="relu6"), 32
    for t, c, n, s in (
        (1, 16, 1, 1),
        (6, 24, 2, 2),
        (6, 32, 3, 2),
        (6, 64, 4, 2),
        (6, 96, 3, 1),
        (6, 160, 3, 2),
        (6, 320, 1, 1),
    ):
        for index in range(n):
            stride, hidden = (s if index == 0 else 1), c_in * t
            y = net.conv(x, c_in, hidden, 1, act="relu6") if t != 1 else x
            y = net.conv(y, hidden, hidden, 3, stride, groups=hidden, act="relu6")
            y = net.conv(y, hidden, c, 1)
            x, c_in = (net.add(x, y, relu=False) if stride == 1 and c_in == c else y), c
    return net.save(net.conv(x, c_in, 1280, 1, act="relu6"), 1280, path)


def test_resnet50_v15_graph_matches_the_model_card_and_the_shipped_yaml(tmp_path: Path) -> None:
    """torchvision's model card: 25,557,032 parameters, 4.09 GFLOPS (MACs). Its parameters include
    batch norm's weight and bias on every conv output channel: 64 + 3 x (64 + 64 + 256) + 256 +
    4 x (128 + 128 + 512) + 512 + 6 x (256 + 256 + 1024) + 1024 + 3 x (512 + 512 + 2048) + 2048
    = 26,560 channels, so conv and fc weights are 25,557,032 - 2 x 26,560 = 25,503,912. MACs: the
    shipped v1 file plus 3 x the first 1x1 conv of conv3_1, conv4_1 and conv5_1 (v1.5 runs them at
    4x the outputs): 3,857,974,248 + 9 x 25,690,112 = 4,089,185,256. Weight data is external and
    absent (never read); the symbolic batch is fixed by batch=1."""
    network = es.load_workload(resnet50_v15(tmp_path / "resnet50.onnx"), batch=1)
    assert network.total_weights == 25_557_032 - 2 * 26_560
    assert network.total_macs == 3_857_974_248 + 9 * 25_690_112
    assert network.total_macs == pytest.approx(4.09e9, rel=0.002)
    assert len(network.layers) == 53 + 1 + 49 + 16 + 1 + 1  # convs, pool, relus, adds, gap, fc


def test_mobilenet_v2_graph_matches_the_model_card_and_the_shipped_yaml(tmp_path: Path) -> None:
    """torchvision's model card: 3,504,872 parameters, 0.30 GFLOPS. Batch norm follows every conv:
    2 x 17,056 of those parameters (17,056 = the conv output channels, summed by the test), so
    3,504,872 - 34,112 = 3,470,760 weights; the shipped file (the paper's Table 2) has exactly those
    weights and 300,775,272 MACs."""
    network = es.load_workload(mobilenet_v2(tmp_path / "mobilenet_v2.onnx"))
    channels = sum(layer.M for layer in network.layers if layer.type == "conv")
    assert channels == 17_056
    assert network.total_weights == 3_504_872 - 2 * channels
    shipped = es.load_workload("mobilenet-v2")
    assert (network.total_macs, network.total_weights) == (shipped.total_macs, shipped.total_weights)
    assert network.total_macs == pytest.approx(0.30e9, rel=0.01)


def test_shape_arithmetic_is_folded_not_a_layer(tmp_path: Path) -> None:
    """An exporter's dynamic reshape: Shape -> Gather -> Unsqueeze -> Concat builds [1, 8, 4, 8]
    for a Reshape. Those nodes move no data on the accelerator: the only layer is the ReLU, over
    1 x 8 x 4 x 8 = 256 elements, and nothing is unsupported."""
    nodes = [
        helper.make_node("Shape", ["x"], ["shape"]),
        helper.make_node("Gather", ["shape", "zero_index"], ["batch"], axis=0),
        helper.make_node("Unsqueeze", ["batch", "axes"], ["batch1"]),
        helper.make_node("Concat", ["batch1", "tail"], ["new_shape"], axis=0),
        helper.make_node("Reshape", ["x", "new_shape"], ["heads"]),
        helper.make_node("Relu", ["heads"], ["y"], name="relu"),
    ]
    weights = [
        helper.make_tensor("zero_index", TensorProto.INT64, [], [0]),
        helper.make_tensor("axes", TensorProto.INT64, [1], [0]),
        helper.make_tensor("tail", TensorProto.INT64, [3], [8, 4, 8]),
    ]
    path = _save(tmp_path, nodes, [_input("x", [1, 8, 32])], [_input("y", None)], weights)
    network = es.load_workload(path)
    assert network.layer_names == ["relu"]
    assert network["relu"].size == 256
    assert network.unsupported_ops == {}


@pytest.mark.parametrize(
    ("a_dims", "b_dims", "b_constant", "expected"),
    [
        # a vector times a batch of 3 matrices 4 x 5: 3 products of (1 x 4) x (4 x 5) = 60 MACs
        ([4], [3, 4, 5], False, ("matmul", 60)),
        # [2, 1, 6, 4] x [3, 4, 5] broadcasts to 2 x 3 products of (6 x 4) x (4 x 5): 6 x 120 = 720
        ([2, 1, 6, 4], [3, 4, 5], False, ("matmul", 720)),
        # a constant on the right: an fc of N = 2 x 6 rows, C = 4, M = 5: 240 MACs
        ([2, 6, 4], [4, 5], True, ("fc", 240)),
    ],
)
def test_matmul_broadcasting(
    tmp_path: Path, a_dims: list[int], b_dims: list[int], b_constant: bool, expected: tuple[str, int]
) -> None:
    nodes = [helper.make_node("MatMul", ["a", "b"], ["y"], name="mm")]
    inputs = [_input("a", a_dims)] + ([] if b_constant else [_input("b", b_dims)])
    weights = [_weight("b", b_dims)] if b_constant else []
    layer = es.load_workload(_save(tmp_path, nodes, inputs, [_input("y", None)], weights))["mm"]
    assert (layer.type, layer.macs) == expected


def test_concat_is_a_copy_and_the_next_conv_reads_its_channels(tmp_path: Path) -> None:
    """Two 1x1 convs of x [1, 4, 8, 8] to 6 and 10 channels, concatenated on channels (a copy of
    16 x 8 x 8 = 1,024 elements, reading 6 x 64 + 10 x 64 = 1,024), then a 1x1 conv of C = 16
    to 2: 16 x 2 x 64 = 2,048 MACs. The second conv reads x, not the first: a marker."""
    nodes = [
        helper.make_node("Conv", ["x", "wa"], ["a"], name="a"),
        helper.make_node("Conv", ["x", "wb"], ["b"], name="b"),
        helper.make_node("Concat", ["a", "b"], ["cat"], name="cat", axis=1),
        helper.make_node("Conv", ["cat", "wc"], ["y"], name="c"),
    ]
    weights = [_weight("wa", [6, 4, 1, 1]), _weight("wb", [10, 4, 1, 1]), _weight("wc", [2, 16, 1, 1])]
    network = es.load_workload(
        _save(tmp_path, nodes, [_input("x", [1, 4, 8, 8])], [_input("y", None)], weights)
    )
    cat = network["cat"]
    assert (cat.op, cat.inputs, cat.elements("inputs"), cat.elements("outputs")) == (
        "copy",
        ("a", "b"),
        1_024,
        1_024,
    )
    assert network["b"].inputs == ("external",)
    assert (network["c"].C, network["c"].macs) == (16, 2_048)


def test_pool_ceil_mode_is_extra_end_padding(tmp_path: Path) -> None:
    """AveragePool 2x2/2 with ceil_mode on 7 x 7 gives ceil(5 / 2) + 1 = 4 x 4 outputs; written as
    H = W = 8 without padding ((8 - 2) / 2 + 1 = 4): 2 channels x 16 outputs x 4 = 128 operations."""
    nodes = [
        helper.make_node(
            "AveragePool", ["x"], ["y"], name="p", kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1
        )
    ]
    pool = es.load_workload(_save(tmp_path, nodes, [_input("x", [1, 2, 7, 7])], [_input("y", None)], []))["p"]
    assert (pool.mode, pool.H, pool.padding, pool.output_rows_cols, pool.flops) == ("avg", 8, 0, (4, 4), 128)


def test_symbolic_sequence_length_is_named_and_batch_does_not_fix_it(tmp_path: Path) -> None:
    nodes = [helper.make_node("Relu", ["x"], ["y"], name="relu")]
    path = _save(tmp_path, nodes, [_input("x", ["batch", "sequence", 32])], [_input("y", None)], [])
    with pytest.raises(
        es.EnergySimError, match=r"tensor 'y'.*dim 1 is symbolic \('sequence'\); export the model"
    ):
        es.load_workload(path, batch=1)
