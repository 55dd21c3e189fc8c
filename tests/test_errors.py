"""Every way a file can be wrong: one clear EnergySimError naming file, field and rule."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import hierarchy_error, shipped_yaml, workload_error

import energysim as es

WriteYaml = Callable[[str, Any], Path]


def _eyeriss() -> dict[str, Any]:
    return shipped_yaml("hierarchies", "eyeriss")


def _fc_network(**layer: Any) -> dict[str, Any]:
    return {"version": 1, "name": "n", "layers": [{"name": "fc", "type": "fc", "C": 4, "M": 2, **layer}]}


# --- hierarchy files ---------------------------------------------------------------------------


def test_unknown_key_lists_the_valid_keys(write_yaml: WriteYaml) -> None:
    data = _eyeriss()
    data["levels"][1]["bandwith_bytes_per_cycle"] = 8
    message = hierarchy_error(write_yaml, data, r"levels\[1\]: unknown key 'bandwith_bytes_per_cycle'")
    assert "valid keys:" in message
    assert "bandwidth_bytes_per_cycle" in message


def test_missing_field_is_named(write_yaml: WriteYaml) -> None:
    data = _eyeriss()
    del data["levels"][2]["bandwidth_bytes_per_cycle"]
    hierarchy_error(write_yaml, data, r"levels\[2\]\.bandwidth_bytes_per_cycle: missing required field")


def test_missing_energy_without_a_table_says_how_to_fix_it(write_yaml: WriteYaml) -> None:
    data = _eyeriss()
    del data["energy_table"]
    hierarchy_error(write_yaml, data, r"levels\[0\]\.read_energy_pj: missing required field")


def test_wrong_type_is_named_with_the_value(write_yaml: WriteYaml) -> None:
    data = _eyeriss()
    data["levels"][1]["size_bytes"] = "108 KB"
    hierarchy_error(write_yaml, data, r"levels\[1\]\.size_bytes.*got '108 KB'")


def test_a_bool_is_not_a_count(write_yaml: WriteYaml) -> None:
    data = _eyeriss()
    data["levels"][2]["instances"] = True
    hierarchy_error(write_yaml, data, r"levels\[2\]\.instances: .*integer")


def test_a_bool_is_not_a_clock(write_yaml: WriteYaml) -> None:
    data = _eyeriss()
    data["clock_ghz"] = True
    hierarchy_error(
        write_yaml, data, r"clock_ghz: expected a finite number at least 0\.001 and at most 1000, got True"
    )


def test_non_positive_size_is_rejected(write_yaml: WriteYaml) -> None:
    data = _eyeriss()
    data["levels"][1]["size_bytes"] = 0
    # Only the size: the energy table does not price a level whose size is out of range.
    hierarchy_error(
        write_yaml, data, r"invalid hierarchy: levels\[1\]\.size_bytes: must be at least 1, got 0$"
    )


def test_non_positive_bandwidth_is_rejected(write_yaml: WriteYaml) -> None:
    data = _eyeriss()
    data["levels"][0]["bandwidth_bytes_per_cycle"] = -4
    hierarchy_error(
        write_yaml, data, r"levels\[0\]\.bandwidth_bytes_per_cycle: must be greater than 0, got -4"
    )


def test_negative_energy_is_rejected(write_yaml: WriteYaml) -> None:
    data = _eyeriss()
    data["levels"][1]["read_energy_pj"] = -1.0
    hierarchy_error(write_yaml, data, r"levels\[1\]\.read_energy_pj: must be at least 0, got -1\.0")


def test_duplicate_level_names_are_rejected(write_yaml: WriteYaml) -> None:
    data = _eyeriss()
    data["levels"][2]["name"] = "GLB"
    hierarchy_error(write_yaml, data, r"levels\[2\]\.name: duplicate level name 'GLB' \(also levels\[1\]\)")


def test_level_that_keeps_no_tensor_is_rejected(write_yaml: WriteYaml) -> None:
    data = _eyeriss()
    data["levels"][1]["keeps"] = []
    hierarchy_error(write_yaml, data, r"levels\[1\]\.keeps: .*at least 1 item")


def test_unknown_tensor_name_is_rejected(write_yaml: WriteYaml) -> None:
    data = _eyeriss()
    data["levels"][1]["keeps"] = ["inputs", "psums"]
    hierarchy_error(write_yaml, data, r"levels\[1\]\.keeps\[1\]: .*'weights', 'inputs' or 'outputs'")


def test_unknown_energy_table_lists_the_known_ones(write_yaml: WriteYaml) -> None:
    data = _eyeriss()
    data["energy_table"] = "accelergy"
    hierarchy_error(
        write_yaml, data, r"energy_table: unknown energy table 'accelergy'; known tables: eyeriss-normalized"
    )


def test_only_the_outermost_level_may_be_dram(write_yaml: WriteYaml) -> None:
    data = _eyeriss()
    data["levels"][1]["kind"] = "dram"
    hierarchy_error(write_yaml, data, r"levels\[1\]\.kind: only the outermost level")


def test_inner_instances_must_fan_out_from_outer_ones(write_yaml: WriteYaml) -> None:
    data = _eyeriss()
    data["levels"][1]["instances"] = 5
    hierarchy_error(write_yaml, data, r"levels\[2\]\.instances: 168 is not a multiple of levels\[1\]")


def test_pe_count_must_be_a_multiple_of_the_innermost_instances(write_yaml: WriteYaml) -> None:
    data = _eyeriss()
    data["compute"]["array"] = {"rows": 10, "cols": 10}
    hierarchy_error(write_yaml, data, r"compute\.array: 100 PEs is not a multiple")


def test_per_tensor_size_must_cover_the_kept_tensors(write_yaml: WriteYaml) -> None:
    data = _eyeriss()
    del data["levels"][2]["size_bytes"]["inputs"]
    hierarchy_error(write_yaml, data, r"size_bytes\.inputs: missing, but the level keeps inputs")


def test_on_chip_level_needs_a_size(write_yaml: WriteYaml) -> None:
    data = _eyeriss()
    del data["levels"][1]["size_bytes"]
    hierarchy_error(write_yaml, data, r"levels\[1\]: size_bytes: required for a sram level")


def test_mac_energy_must_cover_the_arrays_datatype(write_yaml: WriteYaml) -> None:
    data = _eyeriss()
    data["compute"]["mac_energy_pj"] = {"int8": 0.2}
    hierarchy_error(write_yaml, data, r"compute: mac_energy_pj: no energy for the array's datatype 'int16'")


def test_unsupported_version_is_rejected(write_yaml: WriteYaml) -> None:
    data = _eyeriss()
    data["version"] = 2
    hierarchy_error(write_yaml, data, r"version: must be 1 \(the only file format so far\), got 2$")


def test_several_problems_are_reported_at_once(write_yaml: WriteYaml) -> None:
    data = _eyeriss()
    data["levels"][0]["bandwidth_bytes_per_cycle"] = 0
    data["clock_ghz"] = -1
    message = hierarchy_error(write_yaml, data, r"2 problems")
    assert "clock_ghz" in message
    assert "levels[0].bandwidth_bytes_per_cycle" in message


# --- workload files ----------------------------------------------------------------------------


def test_layer_whose_stride_and_padding_give_no_output(write_yaml: WriteYaml) -> None:
    data = {
        "version": 1,
        "name": "n",
        "layers": [{"name": "c", "type": "conv", "C": 3, "M": 8, "H": 4, "W": 4, "R": 5, "S": 5}],
    }
    workload_error(write_yaml, data, r"layers\[0\]: stride/padding: input rows 4 with padding 0, window 5")


def test_unknown_layer_type_lists_the_known_ones(write_yaml: WriteYaml) -> None:
    data = _fc_network(type="lstm")
    workload_error(write_yaml, data, r"layers\[0\]: .*'lstm'.*'conv', 'fc', 'matmul'")


def test_unknown_layer_key_names_the_layer_path(write_yaml: WriteYaml) -> None:
    workload_error(write_yaml, _fc_network(K=3), r"layers\[0\]: unknown key 'K'; valid keys: C, M, N")


def test_non_positive_layer_dimension(write_yaml: WriteYaml) -> None:
    workload_error(write_yaml, _fc_network(C=0), r"layers\[0\]\.C: must be at least 1, got 0")


def test_groups_must_divide_the_channels(write_yaml: WriteYaml) -> None:
    data = {
        "version": 1,
        "name": "n",
        "layers": [
            {"name": "c", "type": "conv", "C": 6, "M": 8, "H": 4, "W": 4, "R": 1, "S": 1, "groups": 4}
        ],
    }
    workload_error(write_yaml, data, r"layers\[0\]: groups: C = 6 is not divisible by groups = 4")


def test_duplicate_layer_names(write_yaml: WriteYaml) -> None:
    data = _fc_network()
    data["layers"].append(dict(data["layers"][0]))
    workload_error(write_yaml, data, r"layers\[1\]\.name: duplicate layer name 'fc'")


def test_empty_network(write_yaml: WriteYaml) -> None:
    workload_error(write_yaml, {"version": 1, "name": "n", "layers": []}, r"layers: .*at least 1 item")


# --- files and names ---------------------------------------------------------------------------


def test_unknown_shipped_name_lists_the_shipped_ones() -> None:
    with pytest.raises(
        es.EnergySimError, match=r"unknown hierarchy 'eyriss'; shipped hierarchies: .*eyeriss"
    ):
        es.load_hierarchy("eyriss")
    with pytest.raises(es.EnergySimError, match=r"unknown workload 'alexnett'; shipped workloads: .*alexnet"):
        es.load_workload("alexnett")


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.yaml"
    with pytest.raises(es.EnergySimError, match=r"nowhere\.yaml: no such file"):
        es.load_hierarchy(str(path))


def test_yaml_syntax_error_gives_line_and_column(write_yaml: WriteYaml) -> None:
    path = write_yaml("broken.yaml", "version: 1\nname: [unclosed\n")
    with pytest.raises(es.EnergySimError, match=r"broken\.yaml:\d+:\d+: YAML syntax error"):
        es.load_hierarchy(str(path))


def test_duplicate_yaml_key_is_an_error(write_yaml: WriteYaml) -> None:
    path = write_yaml("dup.yaml", "version: 1\nname: a\nname: b\n")
    with pytest.raises(es.EnergySimError, match=r"dup\.yaml:3:1: YAML syntax error: duplicate key 'name'"):
        es.load_workload(str(path))


def test_file_that_is_not_a_mapping(write_yaml: WriteYaml) -> None:
    path = write_yaml("list.yaml", "- a\n- b\n")
    with pytest.raises(es.EnergySimError, match=r"list\.yaml: expected a hierarchy \(a YAML mapping"):
        es.load_hierarchy(str(path))
