"""The lecture's roofline table: FP16 on a V100 (NVIDIA's guide, Table 1)."""

from __future__ import annotations

import pytest
from conftest import read_reference

import energysim as es

EXAMPLES = {row["operation"] + "|" + row["config"]: row for row in read_reference("roofline_examples.csv")}
LIMITER = {"arithmetic": "compute", "memory": "memory"}


@pytest.fixture(scope="module")
def points() -> dict[str, es.RooflinePoint]:
    hierarchy = es.load_hierarchy("v100")
    return {layer.name: es.roofline(layer, hierarchy) for layer in es.load_workload("lecture-ops").layers}


@pytest.mark.parametrize(
    ("layer", "example"),
    [
        ("fc_batch512", "Linear layer|4096 outputs, 1024 inputs, batch 512, FP16"),
        ("fc_batch1", "Linear layer|4096 outputs, 1024 inputs, batch 1, FP16"),
        ("relu", "ReLU activation|FP16"),
        ("maxpool3x3", "Max pooling|3x3 window, unit stride, FP16"),
    ],
)
def test_arithmetic_intensity_and_limiter(
    points: dict[str, es.RooflinePoint], layer: str, example: str
) -> None:
    row = EXAMPLES[example]
    point = points[layer]
    assert point.arithmetic_intensity == pytest.approx(
        float(row["arithmetic_intensity_FLOPs_per_B"]), rel=0.01
    )
    assert point.bound == LIMITER[row["usually_limited_by"]]


def test_layer_norm_is_under_ten_and_memory_bound(points: dict[str, es.RooflinePoint]) -> None:
    point = points["layernorm"]
    assert point.arithmetic_intensity < 10
    assert point.bound == "memory"


def test_fc_batch512_counts_match_the_guides_formulas(points: dict[str, es.RooflinePoint]) -> None:
    """FLOPs 2*512*1024*4096; bytes 2*(512*1024 + 1024*4096 + 512*4096)."""
    point = points["fc_batch512"]
    assert point.flops == 2 * 512 * 1024 * 4096
    assert point.dram_bytes == 2 * (512 * 1024 + 1024 * 4096 + 512 * 4096)


def test_attainable_is_the_lower_roof(points: dict[str, es.RooflinePoint]) -> None:
    memory = points["relu"]
    assert memory.attainable_flops_per_s == pytest.approx(0.25 * memory.dram_bandwidth_bytes_per_s)
    assert memory.time_s == pytest.approx(memory.dram_bytes / memory.dram_bandwidth_bytes_per_s)
    compute = points["fc_batch512"]
    assert compute.attainable_flops_per_s == compute.peak_flops_per_s
    assert compute.time_s == pytest.approx(compute.flops / compute.peak_flops_per_s)


def test_roofline_table_has_a_row_per_layer() -> None:
    network = es.load_workload("lecture-ops")
    table = es.roofline_table(network, es.load_hierarchy("v100"))
    assert list(table["layer"]) == network.layer_names
    assert {
        "arithmetic_intensity",
        "machine_ops_per_byte",
        "attainable_flops_per_s",
        "bound",
        "time_s",
    } <= set(table.columns)
