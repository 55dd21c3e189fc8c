"""Conservation on every shipped network x dataflow (on eyeriss): nothing is lost or made up.

* every MAC is done once: the compute rows count each layer's MACs;
* compulsory traffic is paid: every weight and every input the layer touches is
  read from DRAM at least once, every output is written to DRAM at least once
  (more is a partial-sum spill, and the result reports it);
* energy is the sum of its parts, each part a count times the hierarchy's own
  per-access energy, recomputed here from the hierarchy file.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

import energysim as es

NETWORKS = ["lenet5", "alexnet", "vgg16", "resnet50", "mobilenet-v2", "bert-base-layer", "gpt2-decode"]
DATAFLOWS = ["ws", "os", "is", "rs", "nlr"]
EYERISS = es.load_hierarchy("eyeriss")


@pytest.fixture(
    scope="module", params=[(n, d) for n in NETWORKS for d in DATAFLOWS], ids=lambda p: f"{p[0]}-{p[1]}"
)
def result(request: pytest.FixtureRequest) -> es.Result:
    network, dataflow = request.param
    return es.analyze(network, EYERISS, dataflow)


def _input_data_space(layer: es.model.Layer) -> int:
    """Distinct input elements the loop nest touches (halo included, skipped strides excluded).

    Zero padding is not in memory (DESIGN.md): only rows (columns) in
    ``[padding, padding + H)`` of the padded input count.
    """
    bounds = layer.loop_bounds
    assert bounds is not None
    size = bounds.sizes
    (stride_h, stride_w), (dil_h, dil_w) = bounds.stride, bounds.dilation
    (pad_h, pad_w), (height, width) = bounds.padding, bounds.input_size or (1 << 62, 1 << 62)
    rows = {p * stride_h + r * dil_h for p in range(size["P"]) for r in range(size["R"])}
    cols = {q * stride_w + s * dil_w for q in range(size["Q"]) for s in range(size["S"])}
    rows = {h for h in rows if pad_h <= h < pad_h + height}
    cols = {w for w in cols if pad_w <= w < pad_w + width}
    return size["N"] * size["G"] * size["C"] * len(rows) * len(cols)


def test_every_mac_is_done_once(result: es.Result) -> None:
    """The mapping covers the loop nest (padded at most), and each layer's MACs are charged once."""
    summary = result.layers.set_index("layer")
    for layer in result.workload.layers:
        bounds = layer.loop_bounds
        if bounds is None:
            continue
        mapping = result.mapping[layer.name]
        issued = math.prod(
            loop.factor for level in mapping.levels for loop in (*level.temporal, *level.spatial)
        )
        assert summary.loc[layer.name, "mapped_macs"] == issued >= bounds.macs
        assert summary.loc[layer.name, "nest_macs"] == bounds.macs
        for dim, bound in bounds.sizes.items():
            assert mapping.factor(dim) >= bound
    macs = result.accesses[result.accesses["action"] == "mac"].groupby("layer")["count"].sum()
    assert macs.sum() == result.workload.total_macs


def test_compulsory_traffic_is_paid(result: es.Result) -> None:
    dram = EYERISS.outermost.name
    for layer in result.workload.layers:
        if layer.loop_bounds is None:
            continue
        weights = result.count(dram, "weights", "read", layer.name)
        inputs = result.count(dram, "inputs", "read", layer.name)
        outputs = result.count(dram, "outputs", "update", layer.name)
        assert weights >= layer.elements("weights"), layer.name
        assert inputs >= _input_data_space(layer), layer.name
        assert outputs >= layer.elements("outputs"), layer.name


def test_spills_are_the_output_writes_beyond_one_each(result: es.Result) -> None:
    summary = result.layers.set_index("layer")
    for layer in result.workload.layers:
        if layer.loop_bounds is None:
            continue
        writes = result.count(EYERISS.outermost.name, "outputs", "update", layer.name)
        assert summary.loc[layer.name, "dram_output_writes"] == writes
        assert summary.loc[layer.name, "psum_spills"] == writes - summary.loc[layer.name, "output_elements"]


def _expected_energy(row: Any, layer: es.model.Layer) -> float:
    levels = {level.name: level for level in EYERISS.levels}
    if row.action in ("mac", "op"):
        return float(row.count * EYERISS.compute.energy_per_mac)
    if row.action == "transfer":
        network = levels[row.level.removesuffix(" network")].network
        assert network is not None
        return float(row.count * network.transfer_energy_pj)
    level = levels[row.level]
    bits = layer.bits(row.tensor)
    if bits > level.block_bits:
        accesses = row.count * -(-bits // level.block_bits)
    else:
        accesses = -(-row.count // (level.block_bits // bits))
    energy = level.read_energy_pj if row.action == "read" else level.write_energy_pj
    return accesses * energy


def test_energy_is_the_sum_of_its_parts(result: es.Result) -> None:
    layers = {layer.name: layer for layer in result.workload.layers}
    expected = [_expected_energy(row, layers[row.layer]) for row in result.accesses.itertuples(index=False)]
    assert list(result.accesses["energy"]) == pytest.approx(expected)
    assert result.total_energy == pytest.approx(sum(expected))
    assert result.compute_energy + result.data_movement_energy == pytest.approx(result.total_energy)
    assert result.energy_by_level().sum() == pytest.approx(result.total_energy)
    assert result.energy_by_tensor().sum() == pytest.approx(result.total_energy)
    assert result.layers["energy"].sum() == pytest.approx(result.total_energy)


@pytest.mark.parametrize("hierarchy", ["eyeriss", "tpu-like", "edge-npu", "v100", "lecture-toy"])
@pytest.mark.parametrize("dataflow", DATAFLOWS)
def test_every_dataflow_maps_every_layer_kind_on_every_shipped_hierarchy(
    hierarchy: str, dataflow: str
) -> None:
    """Convolutions (plain, grouped, depthwise, strided), FC and attention matmuls all map."""
    mobilenet_head = es.load_workload("mobilenet-v2").layer_names[:10]  # plain, depthwise, pointwise
    for network, layers in (("alexnet", None), ("bert-base-layer", None), ("mobilenet-v2", mobilenet_head)):
        result = es.analyze(network, hierarchy, dataflow, layers=layers)
        assert result.macs == sum(result.workload[name].macs for name in result.layers["layer"])
        dram = result.hierarchy.outermost.name
        for layer in (result.workload[name] for name in result.layers["layer"]):
            if layer.loop_bounds is not None:
                assert result.count(dram, "weights", "read", layer.name) >= layer.elements("weights")
