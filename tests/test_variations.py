"""Hierarchy variations: a new validated hierarchy, named after the change, energies re-priced
as if the field had been edited in the file (oracles: the published table values, and the
dict surgery a user does today)."""

from __future__ import annotations

import math

import pytest

import energysim as es
from energysim.model.limits import MAX_NAME_CHARS
from energysim.model.variations import size_text


def test_with_level_changes_one_field_and_names_it() -> None:
    base = es.load_hierarchy("eyeriss")
    bigger = base.with_level("GLB", size_bytes=2 * 1024**2)
    assert bigger.name == "eyeriss[GLB.size_bytes=2MiB]"
    assert bigger.level("GLB").size_bytes == 2 * 1024**2
    # Eyeriss' table prices an SRAM word at 6 MACs whatever its size (ISCA 2016, Table IV).
    assert bigger.level("GLB").read_energy_pj == 6.0
    assert bigger.levels[0] == base.levels[0]
    assert bigger.levels[2] == base.levels[2]
    assert bigger.compute == base.compute


def test_with_level_equals_the_dict_surgery_it_replaces() -> None:
    """The README's old recipe (edit model_dump, validate) and the variation analyse alike."""
    base = es.load_hierarchy("eyeriss")
    data = base.model_dump()
    data["levels"][1]["size_bytes"] *= 2
    by_hand = es.Hierarchy.model_validate(data)
    varied = base.with_level("GLB", size_bytes=2 * base.level("GLB").total_size_bytes)
    assert varied.model_dump(exclude={"name"}) == by_hand.model_dump(exclude={"name"})
    assert es.analyze("lenet5", varied).total_energy == es.analyze("lenet5", by_hand).total_energy


def test_table_priced_sram_is_priced_again_for_its_new_size() -> None:
    """Horowitz (ISSCC 2014): a 64-bit read of a 1 MB SRAM costs 100 pJ and of 32 KB 20 pJ;
    the GLB moves 16-bit words, so 25 pJ and 5 pJ per access."""
    horowitz = es.load_hierarchy("eyeriss").with_energy_table("horowitz-45nm")
    assert horowitz.with_level("GLB", size_bytes=1024**2).level("GLB").read_energy_pj == pytest.approx(25.0)
    small = horowitz.with_level("GLB", size_bytes=32 * 1024).level("GLB")
    assert small.read_energy_pj == pytest.approx(5.0)
    assert small.write_energy_pj == pytest.approx(5.0)


def test_energy_given_in_the_file_stays() -> None:
    data = es.load_hierarchy("eyeriss").with_energy_table("horowitz-45nm").model_dump()
    data["levels"][1]["read_energy_pj"] = 3.0  # the user's own number
    given = es.Hierarchy.model_validate(data)
    varied = given.with_level("GLB", size_bytes=1024**2).level("GLB")
    assert varied.read_energy_pj == 3.0
    assert varied.write_energy_pj == pytest.approx(25.0)  # still the table's: priced again
    assert given.with_level("GLB", read_energy_pj=4.0).level("GLB").read_energy_pj == 4.0


def test_with_compute_reshapes_the_array_and_its_per_pe_storage() -> None:
    base = es.load_hierarchy("eyeriss")
    wide = base.with_compute(rows=32, cols=32)
    assert wide.name == "eyeriss[array=32x32]"
    assert wide.compute.pes == 1024
    assert wide.level("RF").instances == 1024  # one register file per PE, as before
    assert wide.level("GLB").instances == 1
    assert base.with_compute(rows=16).compute.array.cols == 14


def test_with_compute_reprices_a_table_mac_for_a_new_datatype() -> None:
    """Horowitz: an int8 MAC is a 0.2 pJ multiply and a 0.03 pJ add."""
    horowitz = es.load_hierarchy("edge-npu").with_energy_table("horowitz-45nm")
    int16 = horowitz.with_compute(datatype="int16")
    assert int16.name.endswith("[compute.datatype=int16]")
    assert int16.compute.energy_per_mac == pytest.approx(math.sqrt(0.2 * 3.1) + 0.05)
    assert int16.with_compute(datatype="int8").compute.energy_per_mac == pytest.approx(0.23)


def test_with_energy_table_prices_everything_and_takes_its_unit() -> None:
    """Horowitz: DRAM 1.3 nJ per 64-bit access (eyeriss' DRAM moves 64 bits), a 16-bit integer
    MAC sqrt(0.2 x 3.1) + 0.05 pJ, a 16-bit network word 0.121 pJ/bit/mm x 16 bits x 1 mm."""
    base = es.load_hierarchy("eyeriss")
    assert base.energy_unit == "MAC-units"
    priced = base.with_energy_table("horowitz-45nm")
    assert priced.name == "eyeriss[energy_table=horowitz-45nm]"
    assert priced.energy_unit == "pJ"
    assert priced.level("DRAM").read_energy_pj == pytest.approx(1300.0)
    assert priced.compute.energy_per_mac == pytest.approx(math.sqrt(0.62) + 0.05)
    network = priced.level("GLB").network
    assert network is not None
    assert network.transfer_energy_pj == pytest.approx(310 / 2560 * 16)
    back = priced.with_energy_table("eyeriss-normalized")
    assert back.model_dump(exclude={"name"}) == base.model_dump(exclude={"name"})


@pytest.mark.parametrize(
    ("vary", "match"),
    [
        (lambda h: h.with_level("GLX", size_bytes=1), r"no level 'GLX' to vary; levels: DRAM, GLB, RF"),
        (lambda h: h.with_level("GLB", size_bytes=-1), r"levels\[1\]\.size_bytes: must be at least 1"),
        (lambda h: h.with_level("GLB", sise_bytes=1), r"unknown key 'sise_bytes'"),
        (lambda h: h.with_level("GLB"), r"needs a field to change"),
        (lambda h: h.with_compute(rows=0), r"compute\.array\.rows: must be at least 1"),
        (lambda h: h.with_energy_table("nope"), r"unknown energy table 'nope'"),
    ],
)
def test_a_bad_variation_is_one_error_naming_the_variation_and_field(vary, match) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(es.EnergySimError, match=match) as info:
        vary(es.load_hierarchy("eyeriss"))
    assert "eyeriss" in str(info.value)


def test_a_table_that_cannot_price_the_hierarchy_is_an_error() -> None:
    """eyeriss-normalized has only 16-bit MACs; tpu-like computes in int8."""
    with pytest.raises(es.EnergySimError, match=r"compute\.mac_energy_pj: missing required field"):
        es.load_hierarchy("tpu-like").with_energy_table("eyeriss-normalized")


def test_long_names_stay_bounded_and_distinct() -> None:
    hierarchy = es.load_hierarchy("eyeriss")
    names = set()
    for size in range(1, 40):
        hierarchy = hierarchy.with_level("GLB", size_bytes=size * 1024 + 1)
        assert len(hierarchy.name) <= MAX_NAME_CHARS
        names.add(hierarchy.name)
    assert len(names) == 39


def test_size_text() -> None:
    assert [size_text(n) for n in (2 * 1024**2, 110592, 1000, 1024**4)] == ["2MiB", "108KiB", "1000B", "1TiB"]
