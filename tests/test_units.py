"""Units are facts: a value in units of one MAC is never named, labelled or mixed as pJ."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import shipped_yaml
from hypothesis import given, settings
from hypothesis import strategies as st

import energysim as es
from energysim.cli import main
from energysim.report.figures import dataflow_energy_figure
from energysim.report.tables import explain, level_table, share, shares

# Keckler et al., IEEE Micro 2011, Table 1: 256 bits over 10 mm of wire cost 310 pJ; 1 mm assumed.
WIRE_PJ_PER_16_BIT_WORD = 310 / (256 * 10) * 16 * 1.0


@pytest.fixture(scope="module")
def eyeriss_conv3() -> es.Result:
    return es.analyze("alexnet", "eyeriss", "rs", layers=["conv3"])


@pytest.fixture(scope="module")
def npu_conv3() -> es.Result:
    return es.analyze("alexnet", "edge-npu", "rs", layers=["conv3"])


def test_the_unit_comes_from_the_energy_table() -> None:
    assert es.load_hierarchy("eyeriss").energy_unit == "MAC-units"
    assert es.load_hierarchy("lecture-toy").energy_unit == "MAC-units"
    for name in ("edge-npu", "tpu-like", "v100"):
        assert es.load_hierarchy(name).energy_unit == "pJ"


def test_every_frame_and_total_carries_its_unit(eyeriss_conv3: es.Result, npu_conv3: es.Result) -> None:
    for result, unit in ((eyeriss_conv3, "MAC-units"), (npu_conv3, "pJ")):
        assert result.energy_unit == unit
        assert set(result.accesses["energy_unit"]) == {unit}
        assert set(result.layers["energy_unit"]) == {unit}
        assert set(level_table(result)["energy_unit"]) == {unit}
        assert result.summary()["energy_unit"] == unit
        assert result.energy_by_level().name == f"energy ({unit})"
        assert "energy_pj" not in result.accesses.columns
        assert not [column for column in level_table(result).columns if column.endswith("_pj")]


@pytest.mark.parametrize("old", ["total_energy_pj", "energy_per_mac_pj", "compute_energy_pj",
                                 "data_movement_energy_pj", "static_energy_pj"])  # fmt: skip
def test_no_property_claims_pj(eyeriss_conv3: es.Result, old: str) -> None:
    with pytest.raises(AttributeError, match=f"{old} was renamed {old.removesuffix('_pj')}.*in_pj"):
        getattr(eyeriss_conv3, old)


def test_unit_neutral_totals_add_up(eyeriss_conv3: es.Result) -> None:
    rows = eyeriss_conv3.accesses
    assert eyeriss_conv3.total_energy == pytest.approx(rows["energy"].sum())
    parts = eyeriss_conv3.compute_energy + eyeriss_conv3.data_movement_energy + eyeriss_conv3.static_energy
    assert parts == pytest.approx(eyeriss_conv3.total_energy)
    # Eyeriss' table: one MAC costs 1 MAC-unit, so the compute energy is the MAC count.
    assert eyeriss_conv3.compute_energy == eyeriss_conv3.macs


def test_in_pj_prices_like_a_hierarchy_in_pj(eyeriss_conv3: es.Result) -> None:
    converted = eyeriss_conv3.in_pj(pj_per_mac=0.5)
    assert converted.energy_unit == "pJ"
    assert converted.hierarchy.energy_unit == "pJ"
    assert set(converted.accesses["energy_unit"]) == {"pJ"}
    assert converted.total_energy == pytest.approx(0.5 * eyeriss_conv3.total_energy)
    # Independent path: price the same mapping on the converted hierarchy from scratch.
    again = es.analyze("alexnet", converted.hierarchy, mapping=eyeriss_conv3.mapping, layers=["conv3"])
    assert list(again.accesses["energy"]) == pytest.approx(list(converted.accesses["energy"]))
    assert eyeriss_conv3.energy_unit == "MAC-units"  # the original is unchanged


@pytest.mark.parametrize("bad", [None, 0.0, -1.0, float("nan"), float("inf"), True, "1"])
def test_in_pj_needs_a_real_scale(eyeriss_conv3: es.Result, bad: Any) -> None:
    with pytest.raises(es.EnergySimError, match="in_pj: this result is in MAC-units; give pj_per_mac"):
        eyeriss_conv3.in_pj(pj_per_mac=bad)


def test_in_pj_of_a_pj_result(npu_conv3: es.Result) -> None:
    assert npu_conv3.in_pj() is npu_conv3
    with pytest.raises(es.EnergySimError, match="already in pJ"):
        npu_conv3.in_pj(pj_per_mac=1.0)


def test_results_in_different_units_do_not_mix(eyeriss_conv3: es.Result, npu_conv3: es.Result) -> None:
    message = r"mix energy units \(MAC-units: eyeriss; pJ: edge-npu\); convert with result.in_pj"
    with pytest.raises(es.EnergySimError, match=message):
        es.concat_frames([eyeriss_conv3, npu_conv3])
    with pytest.raises(es.EnergySimError, match=message):
        dataflow_energy_figure({"a": eyeriss_conv3, "b": npu_conv3})
    both = es.concat_frames([eyeriss_conv3.in_pj(pj_per_mac=1.0), npu_conv3])
    assert set(both["energy_unit"]) == {"pJ"}
    assert set(both["hierarchy"]) == {"eyeriss", "edge-npu"}
    assert len(both) == len(eyeriss_conv3.accesses) + len(npu_conv3.accesses)


def test_explain_and_tables_speak_the_right_unit(eyeriss_conv3: es.Result, npu_conv3: es.Result) -> None:
    assert "MAC-units" in explain(eyeriss_conv3)
    assert "pJ" not in explain(eyeriss_conv3)
    assert "pJ" in explain(npu_conv3)
    assert "MAC-units" not in explain(npu_conv3)


def test_validate_prints_the_unit(capsys: pytest.CaptureFixture[str]) -> None:
    root = Path(__file__).resolve().parents[1]
    assert main(["validate", str(root / "hierarchies" / "eyeriss.yaml")]) == 0
    out = capsys.readouterr().out
    assert "energies in MAC-units" in out
    assert "pJ" not in out
    assert "read 200 / write 200 MAC-units" not in out  # DRAM moves 64 bits: 4 words of 200
    assert "read 800 / write 800 MAC-units per 64-bit access" in out
    assert main(["validate", str(root / "hierarchies" / "edge-npu.yaml")]) == 0
    out = capsys.readouterr().out
    assert "energies in pJ" in out
    assert "MAC-units" not in out


def _npu_data(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(shipped_yaml("hierarchies", "edge-npu"))
    data.update(changes)
    return data


def test_a_file_with_its_own_normalised_numbers_says_so(write_yaml: Callable[[str, Any], Path]) -> None:
    data = _npu_data(energy_unit="MAC-units")
    data.pop("energy_table")
    for level, energy in zip(data["levels"], (200.0, 6.0, 1.0), strict=True):
        level.update(read_energy_pj=energy, write_energy_pj=energy)
    data["compute"]["mac_energy_pj"] = 1.0
    hierarchy = es.load_hierarchy(write_yaml("normalised.yaml", data))
    assert hierarchy.energy_unit == "MAC-units"
    assert es.analyze("alexnet", hierarchy, layers=["conv3"]).energy_unit == "MAC-units"


def test_a_unit_that_contradicts_the_table_is_an_error(write_yaml: Callable[[str, Any], Path]) -> None:
    path = write_yaml("contradiction.yaml", _npu_data(energy_unit="MAC-units"))
    with pytest.raises(es.EnergySimError, match=r"energy_unit: 'MAC-units', but energy_table horowitz-45nm"):
        es.load_hierarchy(path)
    with pytest.raises(es.EnergySimError, match=r"energy_unit"):
        es.load_hierarchy(write_yaml("unknown.yaml", _npu_data(energy_unit="nJ")))


def test_leakage_cannot_join_mac_units(write_yaml: Callable[[str, Any], Path]) -> None:
    data = copy.deepcopy(shipped_yaml("hierarchies", "eyeriss"))
    data["levels"][1]["static_power_mw"] = 1.0
    message = r"levels\[1\]\.static_power_mw: leakage \(mW x time\) is in pJ, .* in MAC-units"
    with pytest.raises(es.EnergySimError, match=message):
        es.load_hierarchy(write_yaml("leaky.yaml", data))


def test_horowitz_prices_the_network_from_wire_energy(write_yaml: Callable[[str, Any], Path]) -> None:
    data = _npu_data()
    glb = next(level for level in data["levels"] if "network" in level)
    glb["network"].pop("transfer_energy_pj")
    hierarchy = es.load_hierarchy(write_yaml("wires.yaml", data))
    network = next(level.network for level in hierarchy.levels if level.network is not None)
    word_bits = next(level.word_bits for level in hierarchy.levels if level.network is not None)
    assert network.transfer_energy_pj == pytest.approx(WIRE_PJ_PER_16_BIT_WORD * word_bits / 16)


@pytest.mark.parametrize(
    ("part", "text"),
    [(0.0, "0%"), (0.0004, "<0.1%"), (0.003, "0.3%"), (0.052, "5.2%"), (0.55, "55%"), (1.0, "100%")],
)
def test_shares_print_a_meaningful_precision(part: float, text: str) -> None:
    assert share(part, 1.0) == text


def test_explain_shares_add_up() -> None:
    result = es.simulate("alexnet", "eyeriss", "rs", layers=["conv3"])
    text = explain(result)
    assert "the MACs 0%" not in text
    time = re.search(r"the PEs compute ([^.]+(?:\.\d[^.]*)*)\.$", text, flags=re.MULTILINE)
    assert time is not None, text
    printed = re.findall(r"(<?)([\d.]+)%", time.group(1))
    assert len(printed) >= 2, text  # compute and at least one kind of wait
    assert sum(0.0 if less else float(value) for less, value in printed) == pytest.approx(100, abs=1e-9)
    energy = re.search(r"Moving data costs ([\d.]+)% of the energy, the MACs ([\d.]+)%", text)
    assert energy is not None, text
    assert sum(float(value) for value in energy.groups()) == pytest.approx(100, abs=1e-9)


@given(st.lists(st.floats(min_value=0, max_value=1e12, allow_nan=False), min_size=1, max_size=8))
@settings(max_examples=200, deadline=None)
def test_printed_shares_add_up_to_exactly_100(parts: list[float]) -> None:
    total = sum(parts)
    printed = shares(parts, total)
    if total == 0:
        assert all(text == "n/a" for text in printed)
        return
    values = [0.0 if text in ("0%", "<0.1%") else float(text.rstrip("%")) for text in printed]
    assert sum(values) == pytest.approx(100.0, abs=1e-9)
    for part, value, text in zip(parts, values, printed, strict=True):
        assert abs(value - 100 * part / total) < 0.1 + 1e-9  # never off by a whole digit
        assert (text == "0%") == (part == 0)
