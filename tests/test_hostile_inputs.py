"""Hostile input is normal input: each case of issue 8 section 2 is one clear EnergySimError.

Every test asserts the one error, that it names the file, and the bound or
field (with its range) that was hit. None of them may hang or take long: a
billion-laughs bomb or a 5,000-deep nesting that slipped past the bounds would
show as a slow suite.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import REPOSITORY_ROOT, shipped_yaml, workload_error

import energysim as es
from energysim.cli import main
from energysim.mapping.files import load_mapping
from energysim.model import files
from energysim.model.base import validate_file_data
from energysim.model.limits import (
    MAX_DIMENSION,
    MAX_FILE_BYTES,
    MAX_LAYERS,
    MAX_LEVELS,
    MAX_SIZE_BYTES,
    MAX_YAML_DEPTH,
)
from energysim.model.workload import Network

WriteYaml = Callable[[str, Any], Path]
FOUR_HUNDRED_DIGITS = 10**399


def _write_text(tmp_path: Path, text: str, name: str = "arch.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _hierarchy_error(path: Path | str, match: str) -> str:
    with pytest.raises(es.EnergySimError, match=match) as info:
        es.load_hierarchy(path if isinstance(path, str) else str(path))
    message = str(info.value)
    assert "\n" not in message
    return message


def _eyeriss(**changes: Any) -> dict[str, Any]:
    data = shipped_yaml("hierarchies", "eyeriss")
    data.update(changes)
    return data


def _conv(**fields: Any) -> dict[str, Any]:
    layer = {"name": "conv", "type": "conv", "C": 3, "M": 8, "H": 32, "W": 32, "R": 3, "S": 3, **fields}
    return {"version": 1, "name": "n", "layers": [layer]}


def _level_error(write_yaml: WriteYaml, field: str, value: Any, match: str) -> None:
    data = _eyeriss()
    data["levels"][1][field] = value
    path = write_yaml("arch.yaml", data)
    message = _hierarchy_error(path, match)
    assert message.startswith(f"{path}: invalid hierarchy: levels[1].{field}: ")


# --- the YAML reader: size, depth, aliases ------------------------------------------------------


def test_an_8_mb_file_is_refused_before_it_is_read(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_bytes(b"# padding\n" * (800 * 1024))
    message = _hierarchy_error(path, r"file too large: 8,192,000 bytes, more than the 1,048,576 bytes")
    assert message.startswith(f"{path}: ")
    assert "MAX_FILE_BYTES" in message


def test_a_file_just_at_the_size_limit_is_read(tmp_path: Path) -> None:
    path = _write_text(tmp_path, "a: 1\n" + "#" * (MAX_FILE_BYTES - 6) + "\n")
    assert path.stat().st_size == MAX_FILE_BYTES
    assert files.read_yaml(path) == {"a": 1}


@pytest.mark.parametrize("depth", [400, 5000])
def test_deep_flow_nesting_stops_at_the_depth_bound(tmp_path: Path, depth: int) -> None:
    path = _write_text(tmp_path, "[" * depth + "]" * depth)
    # The 33rd "[" is the first collection past the bound: column 33 of line 1.
    message = _hierarchy_error(path, r"arch\.yaml:1:33: YAML beyond a limit: nested deeper than 32 levels")
    assert "MAX_YAML_DEPTH" in message


def test_deep_block_nesting_stops_at_the_depth_bound(tmp_path: Path) -> None:
    text = "".join(" " * level + f"k{level}:\n" for level in range(400)) + " " * 400 + "leaf\n"
    path = _write_text(tmp_path, text)
    _hierarchy_error(path, r"arch\.yaml:\d+:\d+: YAML beyond a limit: nested deeper than 32 levels")


def test_nesting_at_the_depth_bound_is_accepted() -> None:
    depth = MAX_YAML_DEPTH
    assert files.parse_yaml("[" * depth + "1" + "]" * depth) is not None
    with pytest.raises(files.YamlBoundError):
        files.parse_yaml("[" * (depth + 1) + "1" + "]" * (depth + 1))


def test_an_alias_that_deepens_past_the_bound_is_caught() -> None:
    inner = "[" * (MAX_YAML_DEPTH - 1) + "1" + "]" * (MAX_YAML_DEPTH - 1)
    assert files.parse_yaml(f"a: &a {inner}\nb: *a\n")["b"] is not None  # root + 31 = 32 deep
    with pytest.raises(files.YamlBoundError, match="nested deeper"):
        files.parse_yaml(f"a: &a {inner}\nb: [*a]\n")  # 33 deep once the alias is expanded


def _billion_laughs() -> str:
    lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for outer, inner in zip("bcdefghi", "abcdefgh", strict=True):
        lines.append(f"{outer}: &{outer} [{', '.join([f'*{inner}'] * 9)}]")
    return "\n".join(lines) + "\n"


def test_a_billion_laughs_bomb_fails_fast_naming_the_node_bound(tmp_path: Path) -> None:
    path = _write_text(tmp_path, _billion_laughs())
    message = _hierarchy_error(
        path, r"YAML beyond a limit: the document expands to more than 200,000 YAML nodes"
    )
    # 9 + 81 + ... + 9^5 = 66,429 nodes fit; the 6th line's aliases cross the bound.
    assert f"{path}:6:" in message
    assert "MAX_YAML_NODES" in message


def test_an_alias_inside_the_node_it_names_is_an_error(tmp_path: Path) -> None:
    path = _write_text(tmp_path, "levels: &a [1, *a]\n")
    _hierarchy_error(
        path, r"arch\.yaml:1:16: YAML beyond a limit: alias \*a is used inside the node it names"
    )


def test_a_number_thousands_of_digits_long_is_refused_before_conversion(tmp_path: Path) -> None:
    path = _write_text(tmp_path, f"version: {'9' * 5000}\n")
    _hierarchy_error(path, r"arch\.yaml:1:10: YAML syntax error: a number of 5,000 characters")


def test_a_long_sexagesimal_integer_does_not_hang(tmp_path: Path) -> None:
    path = _write_text(tmp_path, "version: 1" + ":59" * 100_000 + "\n")
    _hierarchy_error(path, r"a number of 300,001 characters")


# --- the YAML reader: keys, merge keys, tags ----------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kind"),
    [("{[a]: 1}", "list"), ("{{a: 1}: 2}", "mapping"), ("? [a, b]\n: 1\n", "list")],
)
def test_a_collection_as_a_key_is_an_error_with_its_place(tmp_path: Path, text: str, kind: str) -> None:
    path = _write_text(tmp_path, text)
    _hierarchy_error(path, rf"arch\.yaml:1:\d+: YAML syntax error: a {kind} as a mapping key")


_MERGED_HIERARCHY = """\
version: 1
name: merged
energy_table: eyeriss-normalized
clock_ghz: 1.0
levels:
  - &memory {name: MainMemory, kind: dram, word_bits: 16, bandwidth_bytes_per_cycle: 64, latency_cycles: 50}
  - <<: *memory
    name: OutputBuffer
    kind: regfile
    size_bytes: 2
    keeps: [outputs]
    bandwidth_bytes_per_cycle: 2
compute: {name: MAC, array: {rows: 1, cols: 16}, datatype: int16}
"""


def test_merge_keys_share_defaults_and_explicit_keys_override(tmp_path: Path) -> None:
    merged = es.load_hierarchy(str(_write_text(tmp_path, _MERGED_HIERARCHY)))
    buffer = merged.levels[1]
    assert (buffer.name, buffer.kind, buffer.bandwidth_bytes_per_cycle) == ("OutputBuffer", "regfile", 2.0)
    assert (buffer.latency_cycles, buffer.word_bits) == (50, 16)  # from the merged mapping
    written_out = _MERGED_HIERARCHY.replace(
        "  - <<: *memory\n", "  - latency_cycles: 50\n    word_bits: 16\n"
    )
    assert es.load_hierarchy(str(_write_text(tmp_path, written_out, "plain.yaml"))) == merged


def test_merge_keys_in_list_form_take_the_first_mapping_first() -> None:
    data = files.parse_yaml("a: &a {x: 1}\nb: &b {x: 2, z: 3}\nc: {<<: [*a, *b], w: 4}\n")
    assert data["c"] == {"x": 1, "z": 3, "w": 4}  # YAML's merge rule: earlier mappings win


def test_an_explicit_override_of_a_merged_key_merges_on() -> None:
    data = files.parse_yaml("a: &a {x: 1, y: 0}\nb: &b {<<: *a, y: 1}\nc: {<<: *b, y: 2}\n")
    assert data["b"] == {"x": 1, "y": 1}
    assert data["c"] == {"x": 1, "y": 2}


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("a: &a {x: 1}\nc: {<<: *a, y: 2, y: 3}\n", "y"),  # explicit keys beside a merge
        ("c: {<<: {x: 1, x: 2}}\n", "x"),  # inside a merged mapping
        ("a: &a {x: 1}\nc: {<<: *a, <<: *a}\n", "<<"),  # the merge key itself
    ],
)
def test_merge_keys_keep_the_duplicate_key_check(tmp_path: Path, text: str, key: str) -> None:
    path = _write_text(tmp_path, text)
    _hierarchy_error(path, rf"arch\.yaml:\d+:\d+: YAML syntax error: duplicate key '{key}'")


def test_merging_a_scalar_is_an_error(tmp_path: Path) -> None:
    path = _write_text(tmp_path, "c: {<<: 1}\n")
    _hierarchy_error(path, r"arch\.yaml:1:9: YAML syntax error: expected a mapping or list of mappings")


@pytest.mark.parametrize(
    "value", ["!!set {a, b}", "!!binary aGVsbG8=", "!!timestamp 2024-01-01", "!!omap [a: 1]", "!custom 1"]
)
def test_tags_beyond_plain_data_are_errors(tmp_path: Path, value: str) -> None:
    path = _write_text(tmp_path, f"version: 1\nname: {value}\n")
    _hierarchy_error(path, r"arch\.yaml:2:7: YAML syntax error: unsupported YAML tag !")


def test_python_tags_are_errors_and_never_run(tmp_path: Path) -> None:
    path = _write_text(tmp_path, "name: !!python/object/apply:os.system [echo hacked]\n")
    _hierarchy_error(path, r"unsupported YAML tag !!python/object/apply:os\.system")


def test_an_unquoted_date_stays_a_string(tmp_path: Path) -> None:
    text = "version: 1\nname: n\nlayers:\n  - {name: 2024-01-01, type: fc, C: 2, M: 2}\n"
    assert es.load_workload(str(_write_text(tmp_path, text, "net.yaml"))).layers[0].name == "2024-01-01"


# --- numbers beyond reason: every field states its range ---------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "rule"),
    [
        (
            "size_bytes",
            FOUR_HUNDRED_DIGITS,
            r"must be at most 1152921504606846976 \(2\^60\), got a 400-digit integer",
        ),
        ("size_bytes", 2**63, r"must be at most 1152921504606846976 \(2\^60\), got 9223372036854775808"),
        ("size_bytes", 1e30, r"expected an integer from 1 to 1152921504606846976 \(2\^60\), got 1e\+30"),
        ("size_bytes", "1e3", r"expected an integer from 1 to 1152921504606846976 \(2\^60\), got '1e3'"),
        ("size_bytes", -1, r"must be at least 1, got -1"),
        (
            "latency_cycles",
            FOUR_HUNDRED_DIGITS,
            r"must be at most 2147483648 \(2\^31\), got a 400-digit integer",
        ),
        ("word_bits", FOUR_HUNDRED_DIGITS, r"must be at most 65536 \(2\^16\), got a 400-digit integer"),
        ("access_bits", 2**63, r"must be at most 65536 \(2\^16\), got 9223372036854775808"),
        ("instances", 2**31 + 1, r"must be at most 2147483648 \(2\^31\), got 2147483649"),
        ("ports", 2**16 + 1, r"must be at most 65536 \(2\^16\), got 65537"),
        ("read_energy_pj", FOUR_HUNDRED_DIGITS, r"must be at most 1e\+12, got a 400-digit integer"),
        ("read_energy_pj", float("nan"), r"must be a finite number at least 0 and at most 1e\+12, got nan"),
        ("static_power_mw", float("inf"), r"must be a finite number at least 0 and at most 1e\+12, got inf"),
        ("bandwidth_bytes_per_cycle", 1e30, r"must be at most 1152921504606846976 \(2\^60\), got 1e\+30"),
        (
            "bandwidth_bytes_per_cycle",
            float("-inf"),
            r"must be a finite number above 0 and at most 1152921504606846976 \(2\^60\), got -inf",
        ),
        ("bandwidth_bytes_per_cycle", 0, r"must be greater than 0, got 0"),
    ],
)
def test_level_numbers_out_of_range_state_the_range(
    write_yaml: WriteYaml, field: str, value: Any, rule: str
) -> None:
    _level_error(write_yaml, field, value, rf"levels\[1\]\.{field}: {rule}$")


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        (FOUR_HUNDRED_DIGITS, r"must be at most 1000, got a 400-digit integer"),
        (1e30, r"must be at most 1000, got 1e\+30"),
        (0, r"must be at least 0\.001, got 0"),
        (float("nan"), r"must be a finite number at least 0\.001 and at most 1000, got nan"),
        ("1e3", r"expected a finite number at least 0\.001 and at most 1000, got '1e3'"),
    ],
)
def test_a_clock_out_of_range_states_the_range(write_yaml: WriteYaml, value: Any, rule: str) -> None:
    path = write_yaml("arch.yaml", _eyeriss(clock_ghz=value))
    _hierarchy_error(path, rf"arch\.yaml: invalid hierarchy: clock_ghz: {rule}$")


def test_nan_and_inf_written_in_yaml_are_caught(tmp_path: Path) -> None:
    text = yaml.safe_dump(_eyeriss(clock_ghz=1.0)).replace("clock_ghz: 1.0", "clock_ghz: .inf")
    _hierarchy_error(_write_text(tmp_path, text), r"clock_ghz: must be a finite number .* got inf")
    text = text.replace("clock_ghz: .inf", "clock_ghz: .nan")
    _hierarchy_error(_write_text(tmp_path, text), r"clock_ghz: must be a finite number .* got nan")


def test_per_tensor_partitions_and_mac_energy_are_bounded(write_yaml: WriteYaml) -> None:
    data = _eyeriss()
    data["levels"][2]["size_bytes"]["weights"] = 2**63
    path = write_yaml("arch.yaml", data)
    _hierarchy_error(path, r"levels\[2\]\.size_bytes\.weights: must be at most 1152921504606846976 \(2\^60\)")
    data = _eyeriss()
    data["compute"]["mac_energy_pj"] = FOUR_HUNDRED_DIGITS
    path = write_yaml("arch.yaml", data)
    _hierarchy_error(path, r"compute\.mac_energy_pj\.int16: must be at most 1e\+12, got a 400-digit integer")


def test_the_largest_allowed_values_load(write_yaml: WriteYaml) -> None:
    data = _eyeriss(clock_ghz=1000)
    data["levels"][0]["size_bytes"] = MAX_SIZE_BYTES
    data["levels"][1]["latency_cycles"] = 2**31
    path = write_yaml("arch.yaml", data)
    hierarchy = es.load_hierarchy(str(path))
    assert hierarchy.levels[0].size_bytes == 2**60
    assert hierarchy.clock_ghz == 1000.0


@pytest.mark.parametrize(
    ("field", "value", "rule"),
    [
        ("C", FOUR_HUNDRED_DIGITS, r"C: must be at most 2147483648 \(2\^31\), got a 400-digit integer"),
        ("H", 1e30, r"H: expected an integer from 1 to 2147483648 \(2\^31\), got 1e\+30"),
        ("R", 2**63, r"R: must be at most 2147483648 \(2\^31\), got 9223372036854775808"),
        ("stride", FOUR_HUNDRED_DIGITS, r"stride: must be at most 2147483648 \(2\^31\)"),
        ("padding", -1, r"padding: must be at least 0, got -1"),
        ("dilation", [1, 2**31 + 1], r"dilation\[1\]: must be at most 2147483648 \(2\^31\), got 2147483649"),
        ("precision_bits", FOUR_HUNDRED_DIGITS, r"precision_bits: must be at most 65536 \(2\^16\)"),
        ("N", float("nan"), r"N: expected an integer from 1 to 2147483648 \(2\^31\), got nan"),
    ],
)
def test_layer_numbers_out_of_range_state_the_range(
    write_yaml: WriteYaml, field: str, value: Any, rule: str
) -> None:
    workload_error(write_yaml, _conv(**{field: value}), rf"invalid workload: layers\[0\]\.{rule}")


def test_a_dimension_at_the_bound_is_accepted(write_yaml: WriteYaml) -> None:
    path = write_yaml("net.yaml", _conv(C=MAX_DIMENSION, H=1, W=1, R=1, S=1, M=1))
    assert es.load_workload(str(path)).layers[0].macs == 2**31  # 1 x 2^31 x 1 x 1 x 1 x 1 x 1 x 1


# --- cross-field "too large" --------------------------------------------------------------------


def test_a_layer_with_more_than_2_53_macs_is_too_large(write_yaml: WriteYaml) -> None:
    network = {
        "version": 1,
        "name": "n",
        "layers": [{"name": "mm", "type": "matmul", "m": 2**18, "k": 2**18, "n": 2**18}],
    }
    message = workload_error(write_yaml, network, r"layers\[0\]: layer too large: ")
    assert f"{2**54} MACs, more than 9007199254740992 (2^53) (MAX_LAYER_MACS)" in message
    assert "elements" not in message  # each tensor has 2^36 elements: within its bound


def test_a_tensor_with_more_than_2_53_elements_is_too_large(write_yaml: WriteYaml) -> None:
    network = {
        "version": 1,
        "name": "n",
        "layers": [{"name": "x", "type": "eltwise", "op": "relu", "shape": [2**27, 2**27]}],
    }
    workload_error(
        write_yaml,
        network,
        r"layers\[0\]\.shape: layer too large: more than 9007199254740992 \(2\^53\) elements",
    )


def test_a_long_shape_of_huge_extents_stops_at_the_bound(write_yaml: WriteYaml) -> None:
    network = {
        "version": 1,
        "name": "n",
        "layers": [{"name": "x", "type": "softmax", "shape": [2**31] * 1000}],
    }
    workload_error(write_yaml, network, r"MAX_TENSOR_ELEMENTS")


def test_huge_padding_makes_a_layer_too_large_not_a_hang(write_yaml: WriteYaml) -> None:
    message = workload_error(write_yaml, _conv(padding=2**31), r"layers\[0\]: layer too large: outputs: ")
    rows = 32 + 2 * 2**31 - 3 + 1  # (H + 2 pad - R) / stride + 1
    assert f"outputs: {8 * rows * rows} elements" in message


def test_a_window_larger_than_the_padded_input_gives_no_output(write_yaml: WriteYaml) -> None:
    workload_error(
        write_yaml,
        _conv(R=2**31),
        r"layers\[0\]: stride/padding: input rows 32 with padding 0, window 2147483648",
    )


def test_a_pool_window_count_is_bounded(write_yaml: WriteYaml) -> None:
    layer = {"name": "p", "type": "pool", "C": 2**20, "H": 2**20, "W": 2**20, "R": 1, "S": 1}
    network = {"version": 1, "name": "n", "layers": [layer]}
    workload_error(
        write_yaml, network, r"inputs: 1152921504606846976 elements, more than .*MAX_TENSOR_ELEMENTS"
    )


def test_more_than_max_layers_is_refused_before_validating_them() -> None:
    layers = [{"name": f"l{index}", "type": "fc", "C": 1, "M": 1} for index in range(MAX_LAYERS + 1)]
    with pytest.raises(
        es.EnergySimError,
        match=r"net\.yaml: invalid workload: layers: 10001 layers, more than 10,000 \(MAX_LAYERS\)",
    ):
        validate_file_data(Network, {"version": 1, "name": "n", "layers": layers}, "net.yaml", "workload")


def test_more_than_max_levels_is_refused(write_yaml: WriteYaml) -> None:
    data = _eyeriss()
    data["levels"] = data["levels"][:1] + [
        dict(data["levels"][1], name=f"L{index}") for index in range(MAX_LEVELS)
    ]
    path = write_yaml("arch.yaml", data)
    _hierarchy_error(path, r"arch\.yaml: invalid hierarchy: levels: 65 levels, more than 64 \(MAX_LEVELS\)")


def test_a_pe_array_of_more_than_2_31_pes_is_refused(write_yaml: WriteYaml) -> None:
    data = _eyeriss()
    data["compute"]["array"] = {"rows": 2**16, "cols": 2**16}
    path = write_yaml("arch.yaml", data)
    _hierarchy_error(
        path,
        r"compute\.array: 65536 x 65536 = 4294967296 PEs, more than 2147483648 \(2\^31\) \(MAX_INSTANCES\)",
    )


# --- mapping files -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        (2**63, r"must be at most 2147483648 \(2\^31\), got 9223372036854775808"),
        (FOUR_HUNDRED_DIGITS, r"must be at most 2147483648 \(2\^31\), got a 400-digit integer"),
        (0, r"must be at least 1, got 0"),
        ("1e3", r"expected an integer from 1 to 2147483648 \(2\^31\), got '1e3'"),
    ],
)
def test_mapping_factors_are_bounded(write_yaml: WriteYaml, value: Any, rule: str) -> None:
    path = write_yaml("map.yaml", {"version": 1, "levels": [{"level": "GLB", "spatial": {"C": value}}]})
    with pytest.raises(
        es.EnergySimError, match=rf"map\.yaml: invalid mapping: levels\[0\]\.spatial\.C: {rule}$"
    ):
        load_mapping(path, es.load_hierarchy("eyeriss"))


def test_a_mapping_of_more_than_max_levels_is_refused(write_yaml: WriteYaml) -> None:
    levels = [{"level": f"L{index}"} for index in range(MAX_LEVELS + 1)]
    path = write_yaml("map.yaml", {"version": 1, "levels": levels})
    with pytest.raises(
        es.EnergySimError, match=r"map\.yaml: invalid mapping: levels: 65 levels, more than 64"
    ):
        load_mapping(path, es.load_hierarchy("eyeriss"))


# --- paths ----------------------------------------------------------------------------------------


def test_a_file_name_too_long(tmp_path: Path) -> None:
    path = tmp_path / ("a" * 300 + ".yaml")
    _hierarchy_error(path, r"a{300}\.yaml: file name too long$")


@pytest.mark.parametrize("name", ["a" * 5000, "x" * 100_000 + "/y"])
def test_any_string_is_resolved_without_an_os_error(name: str) -> None:
    with pytest.raises(es.EnergySimError, match=r"unknown hierarchy|file name too long"):
        es.load_hierarchy(name)


def test_a_path_longer_than_any_is_shortened_in_the_message() -> None:
    message = _hierarchy_error(
        "x" * 100_000 + "/y.yaml", r"^x{200}\.\.\. \(100,007 characters\): file name too long$"
    )
    assert len(message) < 300


def test_a_folder_where_a_file_is_expected(tmp_path: Path) -> None:
    folder = tmp_path / "arch.yaml"
    folder.mkdir()
    _hierarchy_error(folder, r"arch\.yaml: is a folder, expected a \.yaml file$")
    with pytest.raises(es.EnergySimError, match=r"arch\.yaml: is a folder"):
        load_mapping(folder, es.load_hierarchy("eyeriss"))


def test_a_path_whose_parent_is_a_file(tmp_path: Path) -> None:
    parent = _write_text(tmp_path, "a: 1\n", "parent.yaml")
    _hierarchy_error(
        parent / "arch.yaml", r"parent\.yaml/arch\.yaml: not a file: a folder in its path is a file$"
    )


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")
def test_a_fifo_is_not_read_and_does_not_block(tmp_path: Path) -> None:
    fifo = tmp_path / "arch.yaml"
    os.mkfifo(fifo)  # nobody writes: opening it for reading would block forever
    _hierarchy_error(fifo, r"arch\.yaml: not a regular file \(a pipe, device or socket\)")
    with pytest.raises(es.EnergySimError, match="not a regular file"):
        files.read_yaml(fifo)


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero")
def test_an_endless_device_is_not_read(tmp_path: Path) -> None:
    link = tmp_path / "zero.yaml"
    link.symlink_to("/dev/zero")
    _hierarchy_error(link, r"zero\.yaml: not a regular file")
    with pytest.raises(es.EnergySimError, match=r"^/dev/zero: not a regular file"):
        files.read_yaml(Path("/dev/zero"))


def test_a_permission_error_names_the_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _write_text(tmp_path, "a: 1\n")

    def refuse(*args: Any) -> int:
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    monkeypatch.setattr(files.os, "open", refuse)  # root reads any file, so refuse it here
    with pytest.raises(es.EnergySimError, match=r"arch\.yaml: cannot read: permission denied$"):
        files.read_yaml(path)


def test_a_nul_byte_in_a_name_is_an_error_not_a_value_error(tmp_path: Path) -> None:
    path = str(tmp_path / "ar\0ch.yaml")
    message = _hierarchy_error(path, r"ar\\x00ch\.yaml: not a valid file name \(it contains a NUL byte\)$")
    assert "\0" not in message
    with pytest.raises(es.EnergySimError, match="unknown workload"):
        es.load_workload("lenet\0")
    with pytest.raises(es.EnergySimError, match="NUL byte"):
        load_mapping(path, es.load_hierarchy("eyeriss"))


# --- through the command line: exit 2, one line, no traceback --------------------------------------


def _cli_error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    assert main(argv) == 2
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("energysim: error: ")
    assert "Traceback" not in captured.err
    return lines[0]


def test_cli_billion_laughs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write_text(tmp_path, _billion_laughs())
    line = _cli_error(capsys, ["roofline", "lenet5", "--hierarchy", str(path)])
    assert str(path) in line
    assert "MAX_YAML_NODES" in line


def test_cli_deep_nesting(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write_text(tmp_path, "[" * 5000 + "]" * 5000, "net.yaml")
    line = _cli_error(capsys, ["roofline", str(path), "--hierarchy", "eyeriss"])
    assert f"{path}:1:33" in line
    assert "MAX_YAML_DEPTH" in line


def test_cli_huge_integer(write_yaml: WriteYaml, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_yaml("net.yaml", _conv(W=FOUR_HUNDRED_DIGITS))
    line = _cli_error(capsys, ["roofline", str(path), "--hierarchy", "eyeriss"])
    assert line.endswith("layers[0].W: must be at most 2147483648 (2^31), got a 400-digit integer")


def test_cli_file_name_too_long(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / ("h" * 300 + ".yaml")
    line = _cli_error(capsys, ["roofline", "lenet5", "--hierarchy", str(path)])
    assert line.endswith(f"{path}: file name too long")


def test_cli_folder_as_hierarchy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = _cli_error(capsys, ["roofline", "lenet5", "--hierarchy", f"{tmp_path}/"])
    assert "is a folder, expected a .yaml file" in line


# --- messages stay short, whatever the input -------------------------------------------------------


@pytest.mark.parametrize("version", [True, 1.0, "1", 2**100])
def test_the_version_is_exactly_the_integer_1(write_yaml: WriteYaml, version: Any) -> None:
    path = write_yaml("arch.yaml", _eyeriss(version=version))
    _hierarchy_error(path, r"invalid hierarchy: version: must be 1 \(the only file format so far\), got ")


def test_a_long_bad_string_is_shortened_in_the_message(write_yaml: WriteYaml) -> None:
    path = write_yaml("arch.yaml", _eyeriss(energy_table="x" * 100_000))
    message = _hierarchy_error(path, r"energy_table: unknown energy table 'x{40}\.\.\.'; known tables: ")
    assert len(message) < 300 + len(str(path))


def test_many_unknown_keys_are_listed_briefly(write_yaml: WriteYaml) -> None:
    data = _eyeriss(**{f"key{index:05}": 1 for index in range(5000)})
    message = _hierarchy_error(
        write_yaml("arch.yaml", data), r"unknown keys 'key00000', .* and 4,980 more; valid"
    )
    assert message.count("'key") == 20


def test_many_problems_are_listed_briefly() -> None:
    layers = [{"name": f"l{index}", "type": "fc", "C": 0, "M": 1} for index in range(500)]
    with pytest.raises(es.EnergySimError, match=r"net\.yaml: invalid workload, 500 problems:") as info:
        validate_file_data(Network, {"version": 1, "name": "n", "layers": layers}, "net.yaml", "workload")
    lines = str(info.value).splitlines()
    assert len(lines) == 1 + 20 + 1
    assert lines[-1] == "  - and 480 more"


@pytest.mark.parametrize("loader", [files._PythonLoader, files._Loader])
def test_both_parsers_compose_alike_and_keep_the_bounds(loader: Any) -> None:
    def parse(text: str) -> Any:
        return loader(text).get_single_data()

    text = (REPOSITORY_ROOT / "hierarchies" / "eyeriss.yaml").read_text()
    assert parse(text) == yaml.safe_load(text)
    assert parse("a: &a {x: 1}\nb: {<<: *a, y: 2}\n") == {"a": {"x": 1}, "b": {"x": 1, "y": 2}}
    # Newer libyaml stops at 1,000 flow levels while scanning (parse_yaml then falls back).
    with pytest.raises(yaml.MarkedYAMLError, match=r"MAX_YAML_DEPTH|maximum nesting depth"):
        parse("[" * 5000 + "]" * 5000)
    with pytest.raises(files.YamlBoundError, match="MAX_YAML_DEPTH"):
        files.parse_yaml("[" * 5000 + "]" * 5000)
    with pytest.raises(files.YamlBoundError, match="MAX_YAML_NODES"):
        parse(_billion_laughs())


@pytest.mark.parametrize(
    ("name", "match"),
    [
        ("x" * 900_000, r"layers\[0\]\.name: must be at most 128 characters, got 900,000"),
        ("x" * 129, r"layers\[0\]\.name: must be at most 128 characters, got 129"),
        ("conv\n1", r"layers\[0\]\.name: must be printable"),
        ("a\x00b", r"layers\[0\]\.name: must be printable"),
        ("", r"layers\[0\]\.name: must not be empty"),
    ],
)
def test_names_are_short_and_printable(write_yaml: WriteYaml, name: str, match: str) -> None:
    # A 900,000-character layer name took 17 s and ended in a matplotlib traceback.
    data = {"version": 1, "name": "n", "layers": [{"name": name, "type": "fc", "C": 4, "M": 4}]}
    message = workload_error(write_yaml, data, match)
    assert len(message) < 1_000


def test_a_name_of_128_printable_characters_is_fine(write_yaml: WriteYaml) -> None:
    name = "résumé/../" + "x" * 118
    data = {"version": 1, "name": "n", "layers": [{"name": name, "type": "fc", "C": 4, "M": 4}]}
    network = es.load_workload(str(write_yaml("net.yaml", data)))
    assert network.layer_names == [name]
