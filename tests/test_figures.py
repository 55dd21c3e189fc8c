"""Figures scale, never fail on degenerate data, and show what their titles claim."""

from __future__ import annotations

import dataclasses
import io
import math
from pathlib import Path

import numpy as np
import pytest

import energysim as es
from energysim.report.figures import (
    MAX_BARS,
    _access_costs,
    _energy_grid,
    access_cost_figure,
    dataflow_energy_figure,
    energy_heatmap_figure,
    layer_energy_figure,
    roofline_figure,
    save_figure,
)


def _many_fc_layers(count: int) -> es.Network:
    layers = [{"name": f"fc{i}", "type": "fc", "C": 16 + 16 * (i % 5), "M": 16} for i in range(count)]
    data = {"version": 1, "name": f"fc-{count}", "precision_bits": 16, "layers": layers}
    return es.Network.model_validate(data)


@pytest.fixture(scope="module")
def alexnet() -> es.Result:
    return es.analyze("alexnet", "eyeriss", "rs")


def _bar_heights(figure: object) -> np.ndarray:
    """Stacked heights per x position (sum of the bars drawn at each tick)."""
    ax = figure.axes[0]  # type: ignore[attr-defined]
    heights: dict[float, float] = {}
    for patch in ax.patches:
        centre = round(patch.get_x() + patch.get_width() / 2, 6)
        heights[centre] = heights.get(centre, 0.0) + patch.get_height()
    return np.array([heights[key] for key in sorted(heights)])


def test_hundreds_of_layers_merge_into_other_and_conserve_energy() -> None:
    result = es.analyze(_many_fc_layers(150), "eyeriss", "rs")
    figure = layer_energy_figure(result, max_bars=20)  # its speed is benchmarks' business, not a test's
    labels = [label.get_text() for label in figure.axes[0].get_xticklabels()]
    assert len(labels) == 20
    assert labels[-1] == "other (131 layers)"
    # Oracle: bar height is energy per MAC, so height x the bar's MACs sums to all energy.
    macs = result.layers.set_index("layer")["macs"]
    bar_macs = [macs[name] for name in labels[:-1]]
    bar_macs.append(macs.drop(labels[:-1]).sum())
    assert float(np.dot(_bar_heights(figure), bar_macs)) == pytest.approx(result.total_energy)


def test_resnet50_shows_every_layer_with_macs() -> None:
    result = es.analyze("resnet50", "eyeriss", "rs")
    with_macs = int((result.layers["macs"] > 0).sum())
    assert 50 <= with_macs <= MAX_BARS
    labels = [label.get_text() for label in layer_energy_figure(result).axes[0].get_xticklabels()]
    assert labels == list(result.layers.loc[result.layers["macs"] > 0, "layer"])


def test_energy_per_layer_is_per_mac(alexnet: es.Result) -> None:
    heights = _bar_heights(layer_energy_figure(alexnet))
    layers = alexnet.layers[alexnet.layers["macs"] > 0]
    assert list(heights) == pytest.approx(list(layers["energy"] / layers["macs"]))


def test_heatmap_includes_the_compute_and_adds_up(alexnet: es.Result) -> None:
    grid = _energy_grid(alexnet)
    assert "MACs (compute)" in grid.columns
    # Eyeriss prices a MAC (and a pooling operation, streamed as one) at 1 MAC-unit.
    rows = alexnet.accesses
    assert grid.loc["PE", "MACs (compute)"] == rows.loc[rows["action"].isin(["mac", "op"]), "count"].sum()
    assert grid.to_numpy().sum() == pytest.approx(alexnet.total_energy)
    figure = energy_heatmap_figure(alexnet)
    assert "compute" in figure.axes[0].get_xlabel()


def test_access_cost_is_cost_times_count(alexnet: es.Result) -> None:
    costs = _access_costs(alexnet)
    assert list(costs["per_access"] * costs["accesses"]) == pytest.approx(list(costs["energy"]))
    # Eyeriss, ISCA 2016 Table IV: DRAM 200 per 16-bit word (a 64-bit access is 4 words), GLB 6,
    # network 2, RF 1, MAC 1.
    expected = {"DRAM": 800.0, "GLB": 6.0, "GLB network": 2.0, "RF": 1.0, "PE": 1.0}
    assert costs["per_access"].to_dict() == pytest.approx(expected)
    figure = access_cost_figure(alexnet)
    assert [ax.get_xlabel() for ax in figure.axes] == [
        "energy per access (MAC-units, log)",
        "accesses (MACs for the compute; log)",
        "energy (% of total)",
    ]


def test_roofline_labels_layers_and_states_its_axis(alexnet: es.Result) -> None:
    figure = roofline_figure(alexnet)
    ax = figure.axes[0]
    assert "at the roof's own level" in ax.get_xlabel()
    assert "1 fc6" not in ax.get_xlabel()
    assert "fc6" in ax.get_xlabel()
    assert any(text.get_text() for text in ax.texts)
    assert {"DRAM roof", "GLB roof", "RF roof"} <= {t.get_text().split(",")[0] for t in ax.get_legend().texts}


def _degenerate_results() -> list[es.Result]:
    single = es.analyze("lenet5", "eyeriss", "rs", layers=["f6"])
    no_traffic = dataclasses.replace(single, accesses=single.accesses.assign(count=0))
    streamed = es.simulate("lecture-ops", "v100", "rs", layers=["relu"])
    return [single, no_traffic, streamed]


@pytest.mark.parametrize("index", range(3))
def test_degenerate_rooflines_draw(index: int) -> None:
    result = _degenerate_results()[index]
    buffer = io.BytesIO()
    roofline_figure(result).savefig(buffer, format="png", dpi=40)  # log scaling fails only when drawn
    assert buffer.getvalue().startswith(b"\x89PNG")


def test_new_figure_is_byte_stable(tmp_path: Path) -> None:
    result = es.analyze("lenet5", "eyeriss", "rs", layers=["c1", "f6"])
    first = save_figure(access_cost_figure(result), tmp_path / "a")
    second = save_figure(access_cost_figure(result), tmp_path / "b")
    assert [path.read_bytes() for path in first] == [path.read_bytes() for path in second]


def test_dataflow_figure_of_layers_without_macs_plots_energy_not_infinity() -> None:
    # A ReLU has no MACs: energy per MAC was inf and matplotlib warned while drawing it.
    results = {name: es.analyze("lecture-ops", "v100", name, layers=["relu"]) for name in ("ws", "rs")}
    figure = dataflow_energy_figure(results)
    ax = figure.axes[0]
    assert "no MACs" in ax.get_ylabel()
    heights = sorted(bar.get_height() for bar in ax.patches)
    assert all(math.isfinite(height) for height in heights)
    assert sum(heights) == pytest.approx(sum(r.total_energy for r in results.values()))
