"""A mapping that does not fit says which level, tensor, bytes needed and available."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import shipped_yaml

import energysim as es
from energysim.cli import main
from energysim.model.mapping import LevelMapping, Loop, Mapping

EYERISS = es.load_hierarchy("eyeriss")
CONV3 = es.load_workload("alexnet")["conv3"]  # M384 C256 P13 Q13 R3 S3
WriteYaml = Callable[[str, Any], Path]


def _conv3(
    dram: tuple[Loop, ...], glb: tuple[Loop, ...], glb_spatial: tuple[Loop, ...], rf: tuple[Loop, ...]
) -> Mapping:
    return Mapping(
        (LevelMapping("DRAM", dram), LevelMapping("GLB", glb, glb_spatial), LevelMapping("RF", rf))
    )


GOOD = _conv3(
    (Loop("M", 24), Loop("C", 16)),
    (Loop("M", 4), Loop("C", 4), Loop("Q", 13)),
    (Loop("R", 3), Loop("P", 13), Loop("M", 4)),
    (Loop("C", 4), Loop("S", 3)),
)


def test_a_good_mapping_passes() -> None:
    es.check_mapping(GOOD, CONV3, EYERISS)


def test_factors_must_multiply_to_the_bound() -> None:
    short = _conv3(
        (Loop("M", 12), Loop("C", 16)),
        GOOD.levels[1].temporal,
        GOOD.levels[1].spatial,
        GOOD.levels[2].temporal,
    )
    with pytest.raises(es.EnergySimError, match=r"M: factors multiply to 192, the layer conv3 needs 384"):
        es.check_mapping(short, CONV3, EYERISS)


def test_spatial_loops_must_fit_the_fanout() -> None:
    wide = _conv3(
        (Loop("M", 24), Loop("C", 16)),
        (Loop("M", 2), Loop("C", 4), Loop("Q", 13)),
        (Loop("R", 3), Loop("P", 13), Loop("M", 8)),
        GOOD.levels[2].temporal,
    )
    with pytest.raises(
        es.EnergySimError,
        match=r"level GLB: spatial loops R3 x P13 x M8 need 312 instances below, there are 168",
    ):
        es.check_mapping(wide, CONV3, EYERISS)


def test_tile_must_fit_its_partition() -> None:
    """The RF's input scratchpad has 12 words (24 B); C16 x S3 inputs need 48 words."""
    big = _conv3(
        (Loop("M", 24), Loop("C", 4)),
        (Loop("M", 4), Loop("C", 4), Loop("Q", 13)),
        GOOD.levels[1].spatial,
        (Loop("C", 16), Loop("S", 3)),
    )
    with pytest.raises(
        es.EnergySimError, match=r"level RF, tensor inputs: tile needs 96 bytes, the level has 24 for inputs"
    ):
        es.check_mapping(big, CONV3, EYERISS)


def test_shared_level_reports_the_sum_with_double_buffering() -> None:
    everything = _conv3(
        (), (Loop("M", 96), Loop("C", 64), Loop("Q", 13)), GOOD.levels[1].spatial, GOOD.levels[2].temporal
    )
    with pytest.raises(
        es.EnergySimError, match=r"level GLB: tiles need \d+ bytes \(double-buffered\) \(weights \d+ B"
    ):
        es.check_mapping(everything, CONV3, EYERISS)


def test_kept_tensor_must_be_held_by_the_hardware() -> None:
    toy = es.load_hierarchy("lecture-toy")
    conv = es.load_workload("lecture-ops")["psum_conv"]
    mapping = Mapping(
        (
            LevelMapping("MainMemory", (Loop("M", 128), Loop("C", 128), Loop("R", 3), Loop("S", 3))),
            LevelMapping("OutputBuffer", keeps=("outputs", "weights")),
        )
    )
    with pytest.raises(
        es.EnergySimError, match=r"level OutputBuffer: keeps weights, which the hardware level cannot hold"
    ):
        es.check_mapping(mapping, conv, toy)


def test_levels_must_be_the_hierarchys() -> None:
    mapping = Mapping((LevelMapping("DRAM"), LevelMapping("RF")))
    with pytest.raises(
        es.EnergySimError, match=r"levels: the mapping names \['DRAM', 'RF'\], the hierarchy eyeriss has"
    ):
        es.check_mapping(mapping, CONV3, EYERISS)


def test_unknown_dataflow_lists_the_known_ones() -> None:
    with pytest.raises(es.EnergySimError, match=r"unknown dataflow 'xs'; known: ws, os, is, rs, nlr"):
        es.analyze("alexnet", "eyeriss", "xs")


def test_layer_without_macs_cannot_be_mapped() -> None:
    with pytest.raises(es.EnergySimError, match=r"layer pool1 has no MACs"):
        es.build_mapping(es.load_workload("alexnet")["pool1"], EYERISS, "rs")


def test_nothing_fits_is_a_clear_error() -> None:
    tiny = es.Hierarchy.model_validate(
        {
            "version": 1,
            "name": "tiny",
            "energy_table": "eyeriss-normalized",
            "clock_ghz": 1.0,
            "levels": [
                {"name": "DRAM", "kind": "dram", "bandwidth_bytes_per_cycle": 8},
                {
                    "name": "Buf",
                    "kind": "sram",
                    "size_bytes": 2,
                    "double_buffered": True,
                    "bandwidth_bytes_per_cycle": 8,
                },
            ],
            "compute": {"array": {"rows": 1, "cols": 1}},
        }
    )
    with pytest.raises(es.EnergySimError, match=r"dataflow rs: no mapping of layer conv3 fits tiny"):
        es.build_mapping(CONV3, tiny, "rs")


# --- mapping files ---------------------------------------------------------------------------------


def test_mapping_file_round_trips(write_yaml: WriteYaml) -> None:
    path = write_yaml("conv3.yaml", {**GOOD.to_dict(), "layer": "conv3"})
    layer, loaded = es.load_mapping(path, EYERISS)
    assert layer == "conv3"
    assert loaded == GOOD
    result = es.analyze("alexnet", EYERISS, mapping=path, layers=["conv3"])
    assert result.mapping["conv3"] == GOOD


def test_mapping_file_with_unknown_dimension(write_yaml: WriteYaml) -> None:
    data = GOOD.to_dict()
    data["levels"][2]["temporal"] = {"Z": 4}
    path = write_yaml("bad.yaml", data)
    with pytest.raises(es.EnergySimError, match=r"bad\.yaml: invalid mapping: levels\[2\]\.temporal\.Z"):
        es.load_mapping(path, EYERISS)


def test_mapping_file_with_unknown_level(write_yaml: WriteYaml) -> None:
    data = GOOD.to_dict()
    data["levels"][1]["level"] = "L2"
    path = write_yaml("bad.yaml", data)
    with pytest.raises(
        es.EnergySimError, match=r"bad\.yaml: invalid mapping: levels: 'L2' not in hierarchy eyeriss"
    ):
        es.load_mapping(path, EYERISS)


def test_mapping_file_that_does_not_fit_names_the_file(write_yaml: WriteYaml) -> None:
    data = GOOD.to_dict()
    data["levels"][2]["temporal"] = {"C": 16, "S": 3}
    data["levels"][0]["temporal"] = {"M": 24, "C": 4}
    path = write_yaml("big.yaml", {**data, "layer": "conv3"})
    with pytest.raises(
        es.EnergySimError, match=r"big\.yaml: layer conv3 does not fit eyeriss:\n  - level RF, tensor inputs"
    ):
        es.analyze("alexnet", EYERISS, mapping=path, layers=["conv3"])


def test_mapping_file_naming_a_layer_the_network_lacks(write_yaml: WriteYaml) -> None:
    path = write_yaml("conv9.yaml", {**GOOD.to_dict(), "layer": "conv9"})
    with pytest.raises(es.EnergySimError, match=r"conv9\.yaml: maps layer 'conv9', which is not in alexnet"):
        es.analyze("alexnet", EYERISS, mapping=path, layers=["conv3"])


def test_mapping_for_a_layer_without_macs() -> None:
    with pytest.raises(es.EnergySimError, match=r"maps layer 'pool1', which has no MACs"):
        es.analyze("alexnet", EYERISS, mapping={"pool1": GOOD})


def test_the_result_names_the_dataflow_only_if_it_built_a_mapping() -> None:
    mixed = {"conv3": GOOD}
    analysed = es.analyze("alexnet", EYERISS, "rs", mapping=mixed, layers=["conv2", "conv3"])
    simulated = es.simulate("alexnet", EYERISS, "rs", mapping=mixed, layers=["conv2", "conv3"])
    assert analysed.dataflow == simulated.dataflow == "rs"
    only_given = es.analyze("alexnet", EYERISS, "rs", mapping=mixed, layers=["conv3"])
    assert only_given.dataflow is None


def test_no_mapping_fits_a_users_hierarchy_file_names_the_file(write_yaml: WriteYaml) -> None:
    # Found by benchmarks/fuzz.py: the message named the hierarchy but not the file that said it.
    data = shipped_yaml("hierarchies", "lecture-toy")
    del data["levels"][1]["keeps"]  # the one-word output buffer now has to hold every tensor
    path = write_yaml("toy.yaml", data)
    with pytest.raises(es.EnergySimError, match=r"no mapping of layer f6 fits lecture-toy") as info:
        es.analyze("lenet5", str(path), "nlr", layers=["f6"])
    assert str(info.value).startswith(f"{path}: ")
    assert "level OutputBuffer" in str(info.value)


def test_validate_tells_a_broken_hierarchy_from_a_mapping(
    write_yaml: WriteYaml, capsys: pytest.CaptureFixture[str]
) -> None:
    # A hierarchy without its compute was taken for a mapping file ("give --hierarchy").
    data = shipped_yaml("hierarchies", "lecture-toy")
    del data["compute"]
    path = write_yaml("toy.yaml", data)
    assert main(["validate", str(path)]) == 2
    assert "invalid hierarchy: compute: missing required field" in capsys.readouterr().err
