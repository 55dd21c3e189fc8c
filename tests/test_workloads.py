"""Shipped workloads: the lecture's network table, layer shapes and derived sizes."""

from __future__ import annotations

import pytest
from conftest import REPOSITORY_ROOT, parse_magnitude, read_reference

import energysim as es
from energysim.model.files import shipped_names

LECTURE_TABLE = {row["model"]: row for row in read_reference("dnn_models.csv")}
SHIPPED = [
    "alexnet",
    "bert-base-layer",
    "gpt2-decode",
    "lecture-ops",
    "lenet5",
    "mobilenet-v2",
    "resnet50",
    "vgg16",
]


def test_every_repository_workload_is_shipped() -> None:
    in_repository = sorted(path.stem for path in (REPOSITORY_ROOT / "workloads").glob("*.yaml"))
    assert shipped_names("workloads") == in_repository == SHIPPED


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_workload_loads(name: str) -> None:
    network = es.load_workload(name)
    assert network.name == name
    assert network.layers
    assert network[network.layers[-1].name] is network.layers[-1]


@pytest.mark.parametrize(
    ("name", "model"),
    [("lenet5", "LeNet-5"), ("alexnet", "AlexNet"), ("vgg16", "VGG-16"), ("resnet50", "ResNet-50")],
)
def test_network_totals_match_the_lecture_table(name: str, model: str) -> None:
    """Sze et al. 2017 (the lecture's table): total weights and MACs within 2 %."""
    network = es.load_workload(name)
    row = LECTURE_TABLE[model]
    assert network.total_weights == pytest.approx(parse_magnitude(row["total_weights"]), rel=0.02)
    assert network.total_macs == pytest.approx(parse_magnitude(row["total_MACs"]), rel=0.02)


def test_alexnet_conv_and_fc_split_matches_the_recomputed_table() -> None:
    """CONV 666M MACs (grouped conv2/4/5), FC 58.6M = 9216*4096 + 4096*4096 + 4096*1000."""
    alexnet = es.load_workload("alexnet")
    conv = sum(layer.macs for layer in alexnet.layers if layer.type == "conv")
    fc = sum(layer.macs for layer in alexnet.layers if layer.type == "fc")
    assert conv == pytest.approx(665.8e6, rel=0.005)
    assert fc - 4096 - 4096 - 1000 == 9216 * 4096 + 4096 * 4096 + 4096 * 1000


def test_lenet5_reproduces_lecun_connection_counts() -> None:
    """LeCun et al. 1998, Sec. II-B: connections per layer (bias included)."""
    lenet = es.load_workload("lenet5")
    c3 = sum(lenet[name].macs for name in ("c3a", "c3b", "c3c"))
    assert (lenet["c1"].macs, lenet["s2"].macs, c3, lenet["s4"].macs) == (122_304, 5_880, 151_600, 2_000)
    assert (lenet["c5"].macs, lenet["f6"].macs) == (48_120, 10_164)
    assert sum(lenet[name].parameters for name in ("c3a", "c3b", "c3c")) == 1_516


def test_conv_shapes_follow_stride_padding_and_groups() -> None:
    alexnet = es.load_workload("alexnet")
    conv1 = alexnet["conv1"]
    assert conv1.output_rows_cols == (55, 55)  # (227 - 11) / 4 + 1
    conv2 = alexnet["conv2"]
    sizes = conv2.bounds.sizes
    assert (sizes["G"], sizes["M"], sizes["C"]) == (2, 128, 48)
    assert conv2.elements("weights") == 256 * 48 * 5 * 5


def test_depthwise_conv_has_one_filter_per_channel() -> None:
    mobilenet = es.load_workload("mobilenet-v2")
    depthwise = next(layer for layer in mobilenet.layers if layer.type == "conv" and layer.groups > 1)
    assert depthwise.groups == depthwise.C == depthwise.M
    sizes = depthwise.bounds.sizes
    assert sizes["M"] == sizes["C"] == 1
    rows, cols = depthwise.output_rows_cols
    assert depthwise.macs == depthwise.C * rows * cols * depthwise.R * depthwise.S


def test_attention_matmuls_are_not_parameters() -> None:
    """BERT-base layer: 4 x (768x768 + 768) + 2 x (768x3072) + 3072 + 768 + 2 x 2 x 768 weights."""
    bert = es.load_workload("bert-base-layer")
    expected = 4 * (768 * 768 + 768) + 768 * 3072 + 3072 + 3072 * 768 + 768 + 2 * 2 * 768
    assert bert.total_weights == expected
    scores = next(layer for layer in bert.layers if layer.type == "matmul")
    assert scores.parameters == 0
    assert scores.macs == 12 * 512 * 512 * 64


def test_gpt2_decode_parameters_are_gpt2_small_without_position_embeddings() -> None:
    """GPT-2 small has 124,439,808 parameters, 1024 x 768 of them position embeddings."""
    gpt2 = es.load_workload("gpt2-decode")
    assert gpt2.total_weights == 124_439_808 - 1024 * 768


def test_lecture_ops_psum_conv_is_128_dot_products_of_1152() -> None:
    conv = es.load_workload("lecture-ops")["psum_conv"]
    assert conv.output_rows_cols == (1, 1)
    assert conv.elements("outputs") == 128
    assert conv.macs == 128 * 3 * 3 * 128


def test_per_tensor_precision_overrides_the_network_default() -> None:
    network = es.Network.model_validate(
        {
            "version": 1,
            "name": "mixed",
            "precision_bits": 8,
            "layers": [
                {"name": "a", "type": "fc", "C": 4, "M": 2},
                {"name": "b", "type": "fc", "C": 4, "M": 2, "precision_bits": {"outputs": 32}},
            ],
        }
    )
    assert network["a"].tensor_bytes("outputs") == 2
    assert network["b"].bits("weights") == 16  # unspecified tensors of a per-tensor override: 16
    assert network["b"].tensor_bytes("outputs") == 8
