"""Timeloop specs, both ways: import of v0.3 and v0.4 files, export, round trips, errors.

The small specs below are written from Timeloop's documentation (the tutorial's
exercise 04, ``3levelspatial``, in v0.3 form; a v0.4 node list in the form of the
tutorial's example designs). Expected values are worked by hand in each
docstring, or read from Timeloop's own output for the vendored example
(``tests/reference/timeloop``).
"""

from __future__ import annotations

import inspect
import re
import sys
from pathlib import Path
from typing import Any

import pytest

import energysim as es
from energysim.cli import EXIT_USER_ERROR, main
from energysim.interop.timeloop_spec import dump_yaml, from_timeloop, to_timeloop
from energysim.interop.timeloop_yaml import parse_timeloop_yaml
from energysim.model.files import parse_yaml
from energysim.model.workload import Network

ARCH_V3 = """
architecture:
  version: 0.3
  subtree:
  - name: System
    local:
    - name: MainMemory
      class: DRAM
      attributes: {width: 256, block-size: 32, word-bits: 8}
    subtree:
    - name: Chip
      attributes: {technology: 40nm}
      local:
      - name: GlobalBuffer
        class: SRAM
        attributes:
          {depth: 8192, width: 256, block-size: 32, word-bits: 8, read_bandwidth: 32, write_bandwidth: 32}
      subtree:
      - name: PE
        local:
        - name: RegisterFile[0..15]
          class: regfile
          attributes:
            {depth: 64, width: 8, block-size: 1, word-bits: 8, read_bandwidth: 2, write_bandwidth: 1}
        - name: MACC[0..15]
          class: intmac
          attributes: {datawidth: 8}
"""
PROBLEM_CONV1D = """
problem:
  shape:
    name: Conv1D_OC_IC
    dimensions: [C, K, R, P]
    data-spaces:
    - name: Weights
      projection: [[[C]], [[K]], [[R]]]
    - name: Inputs
      projection: [[[C]], [[R], [P]]]
    - name: Outputs
      projection: [[[K]], [[P]]]
      read-write: True
  instance: {C: 32, K: 32, R: 3, P: 16}
"""
MAP_KP_WS = """
mapping:
  - target: MainMemory
    type: temporal
    factors: R=1 P=1 K=1 C=1
    permutation: PRKC
  - target: GlobalBuffer
    type: temporal
    factors: R=3 P=1 K=2 C=32
    permutation: PRKC
  - target: GlobalBuffer
    type: spatial
    factors: R=1 P=1 K=16 C=1
    permutation: PRKC
  - target: RegisterFile
    type: temporal
    factors: R=1 P=16 K=1 C=1
    permutation: RPKC
"""
ARCH_V4 = """
architecture:
  version: 0.4
  nodes:
  - !Container
    name: system
  - !Component
    name: DRAM
    class: DRAM
    attributes: {type: LPDDR4, width: 64, datawidth: 16}
  - !Component
    name: glb
    class: smartbuffer_SRAM
    attributes: {depth: 1024, width: 64, datawidth: 16, read_bandwidth: 4, write_bandwidth: 2}
    constraints:
      dataspace: {keep: [Inputs, Outputs], bypass: [Weights]}
  - !Container
    name: PE
    spatial: {meshX: 4, meshY: 2}
  - !Component
    name: rf
    class: smartbuffer_RF
    attributes: {depth: 16, width: 16, datawidth: 16, read_bandwidth: 2, write_bandwidth: 2}
  - !Component
    name: mac
    class: intmac
    attributes: {multiplier_width: 16, adder_width: 32}
"""
PROBLEM_V4 = """
problem:
  version: 0.4
  shape:
    name: conv2D
    dimensions: [C, M, R, S, N, P, Q]
    coefficients:
    - {name: Wstride, default: 1}
    - {name: Hstride, default: 1}
    - {name: Wdilation, default: 1}
    - {name: Hdilation, default: 1}
    data_spaces:
    - name: Weights
      projection: [[[C]], [[M]], [[R]], [[S]]]
    - name: Inputs
      projection: [[[N]], [[C]], [[R, Wdilation], [P, Wstride]], [[S, Hdilation], [Q, Hstride]]]
    - name: Outputs
      projection: [[[N]], [[M]], [[Q]], [[P]]]
      read_write: true
  instance: {C: 2, M: 8, R: 3, S: 1, N: 1, P: 4, Q: 2, Wstride: 2}
"""
MAP_V4 = """
mapping:
  - {target: DRAM, type: temporal, factors: C1 M1 R1 S1 N1 P1 Q1, permutation: CMRSNPQ}
  - {target: glb, type: temporal, factors: [C=2, M=1, R=3, Q=2], permutation: [R, C, Q]}
  - {target: PE, type: spatial, factors: [M=8], permutation: [M]}
  - {target: rf, type: temporal, factors: P4, permutation: P}
  - {target: rf, type: datatype, keep: [Weights, Outputs], bypass: [Inputs]}
"""
ERT_V4 = """
ERT:
  version: '0.4'
  tables:
  - name: system_top_level.DRAM[1..1]
    actions:
    - {name: read, arguments: {global_cycle_seconds: 2e-09}, energy: 512.0}
    - {name: write, energy: 512.0}
    - {name: update, energy: 512.0}
    - {name: leak, energy: 0.0}
  - name: system_top_level.glb[1..1]
    actions:
    - {name: read, energy: 10.5}
    - {name: read, energy: 12.5}
    - {name: write, energy: 11.0}
    - {name: update, energy: 11.0}
    - {name: leak, energy: 0.25}
  - name: system_top_level.rf[1..8]
    actions:
    - {name: read, energy: 0.5}
    - {name: write, energy: 0.75}
    - {name: update, energy: 1.0}
  - name: system_top_level.mac[1..8]
    actions:
    - {name: compute, energy: 0.3}
    - {name: leak, energy: 0.01}
"""


def _files(tmp_path: Path, **texts: str) -> dict[str, Path]:
    paths = {}
    for name, text in texts.items():
        paths[name] = tmp_path / f"{name}.yaml"
        paths[name].write_text(text)
    return paths


# --- the loader -------------------------------------------------------------------------------------


def test_timeloop_loader_takes_node_tags_and_the_default_loader_still_refuses_them() -> None:
    data = parse_timeloop_yaml("nodes:\n- !Container\n  name: s\n- !Component {name: D}\n")
    assert [node["!tag"] for node in data["nodes"]] == ["Container", "Component"]
    with pytest.raises(Exception, match="unsupported YAML tag !Container"):
        parse_yaml("- !Container {name: s}")
    with pytest.raises(Exception, match="unsupported YAML tag !Include"):
        parse_timeloop_yaml("- !Include other.yaml")
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 10)}]\n" for i in range(7)
    )
    with pytest.raises(Exception, match="MAX_YAML_NODES"):
        parse_timeloop_yaml(bomb)


# --- v0.3 import -----------------------------------------------------------------------------------


def test_v03_tutorial_spec_imports_as_worked_by_hand(tmp_path: Path) -> None:
    """Exercise 04 of the Timeloop tutorial (3levelspatial, kp-ws mapping).

    GlobalBuffer: 8192 rows x 256 bits = 262,144 B, 32 words of 8 bits an access,
    read_bandwidth 32 words = 32 B/cycle. RegisterFile[0..15]: 16 instances of
    64 x 8 bits = 64 B; 2 words read, 1 written per cycle -> separate read (2 B)
    and write (1 B) bandwidths. MACC[0..15]: 16 PEs, one row of 16 (meshX
    defaults to the range). Problem: conv1d P=16, R=3 -> input width
    (16 - 1) + (3 - 1) + 1 = 18; MACs 32 x 32 x 3 x 16 = 49,152 (Timeloop's
    "Algorithmic Computes" for this exercise). GlobalBuffer's permutation PRKC is
    innermost first: outer to inner C32, K2 (our M), R3.
    """
    paths = _files(tmp_path, arch=ARCH_V3, prob=PROBLEM_CONV1D, map=MAP_KP_WS)
    spec = from_timeloop(paths["arch"], paths["prob"], paths["map"])
    dram, glb, rf = spec.hierarchy.levels
    assert (dram.kind, dram.size_bytes, dram.word_bits, dram.access_bits) == ("dram", None, 8, 256)
    assert (glb.kind, glb.size_bytes, glb.access_bits, glb.bandwidth_bytes_per_cycle) == (
        "sram",
        262_144,
        256,
        32,
    )
    assert (rf.kind, rf.instances, rf.size_bytes, rf.access_bits) == ("regfile", 16, 64, None)
    assert (rf.read_bandwidth_bytes_per_cycle, rf.write_bandwidth_bytes_per_cycle) == (2, 1)
    assert spec.hierarchy.compute.array.model_dump() == {"rows": 1, "cols": 16}
    assert spec.hierarchy.compute.datatype == "int8"
    assert glb.network is not None  # Timeloop's default network
    assert glb.network.multicast
    layer = spec.layer
    assert (layer.C, layer.M, layer.R, layer.H, layer.W, layer.S) == (32, 32, 3, 18, 1, 1)
    assert layer.macs == 49_152
    assert spec.mapping is not None
    glb_map = spec.mapping.levels[1]
    assert [(loop.dim, loop.factor) for loop in glb_map.temporal] == [("C", 32), ("M", 2), ("R", 3)]
    assert [(loop.dim, loop.factor) for loop in glb_map.spatial] == [("M", 16)]
    assert [(loop.dim, loop.factor) for loop in spec.mapping.levels[2].temporal] == [("P", 16)]
    assert any("horowitz-45nm" in warning for warning in spec.warnings)  # no ERT given
    assert any("technology" in warning for warning in spec.warnings)  # used only by Accelergy


def test_v03_exact_counts_of_the_tutorial_spec(tmp_path: Path) -> None:
    """energysim's exact counts of exercise 04, worked by hand.

    Each RegisterFile (one output channel k each) runs for c in 32: for k2 in 2:
    for r in 3: for p in 16. Its input tile is inputs[c][r .. r+15]: at k2 = 0,
    r = 0 fills 16, r = 1 and r = 2 one new element each (18); at k2 = 1 the tile
    goes back to r = 0: of 0..15 it still holds 2..15 (it held 2..17), so it
    fills 2, then 1 and 1 (4). Per channel c: 22; per RF 32 x 22 = 704; 16 RFs
    receive them: 11,264 fills. Multicast (Timeloop's default network): the
    GlobalBuffer reads each distinct element once per step, 704 reads. Weights:
    each of the 3,072 is used by one (c, k, r): 3,072 fills of the RFs.
    """
    paths = _files(tmp_path, arch=ARCH_V3, prob=PROBLEM_CONV1D, map=MAP_KP_WS)
    spec = from_timeloop(paths["arch"], paths["prob"], paths["map"])
    counts = _counts(es.analyze(spec.workload, spec.hierarchy, mapping=spec.mapping))
    assert counts[("RegisterFile", "inputs", "fill")] == 11_264
    assert counts[("GlobalBuffer", "inputs", "read")] == 704
    assert counts[("RegisterFile", "weights", "fill")] == 3_072
    assert counts[("MACC", "none", "mac")] == 49_152


def _counts(result: es.Result) -> dict[tuple[str, str, str], int]:
    frame = result.accesses
    return {(row.level, row.tensor, row.action): int(row.count) for row in frame.itertuples()}


# --- v0.4 import -----------------------------------------------------------------------------------


def test_v04_spec_with_ert_imports_as_worked_by_hand(tmp_path: Path) -> None:
    """A v0.4 node list: PE container meshX 4 x meshY 2 = 8 rf instances and 8 MACs
    (2 rows of 4). glb: 1024 x 64 bits = 8,192 B, keeps Inputs and Outputs (its
    dataspace constraint); read 4 words x 16 bits = 8 B/cycle, write 2 words = 4 B.
    ERT: clock 1 / 2 ns = 0.5 GHz; glb read takes the larger of two variants (12.5,
    a warning); rf update 1.0 is not its write 0.75 (a warning); glb leak 0.25 pJ a
    cycle x 0.5 GHz = 0.125 mW; MAC leak 0.01 x 0.5 x 8 = 0.04 mW. Problem: P=4,
    R=3, Wstride 2: input rows (4 - 1) x 2 + (3 - 1) + 1 = 9; Q=2, S=1: 2 columns.
    The spatial directive targets the container PE: its loops belong to glb. An
    ERT table for a component the architecture does not have is a listed warning.
    """
    ert = ERT_V4 + "  - name: system_top_level.noc[1..1]\n    actions: [{name: transfer, energy: 1.0}]\n"
    paths = _files(tmp_path, arch=ARCH_V4, prob=PROBLEM_V4, map=MAP_V4, ert=ert)
    spec = from_timeloop(paths["arch"], paths["prob"], paths["map"], paths["ert"])
    hierarchy = spec.hierarchy
    dram, glb, rf = hierarchy.levels
    assert hierarchy.clock_ghz == pytest.approx(0.5)
    assert (glb.size_bytes, glb.keeps) == (8192, ("inputs", "outputs"))
    assert (glb.read_bandwidth_bytes_per_cycle, glb.write_bandwidth_bytes_per_cycle) == (8, 4)
    assert (glb.read_energy_pj, glb.write_energy_pj) == (12.5, 11.0)
    assert glb.static_power_mw == pytest.approx(0.125)
    assert (rf.instances, rf.size_bytes, rf.read_energy_pj, rf.write_energy_pj) == (8, 32, 0.5, 0.75)
    assert hierarchy.compute.array.model_dump() == {"rows": 2, "cols": 4}
    assert hierarchy.compute.mac_energy_pj == {"int16": 0.3}
    assert hierarchy.compute.static_power_mw == pytest.approx(0.04)
    assert dram.read_energy_pj == 512.0
    layer = spec.layer
    assert (layer.H, layer.W, layer.stride, layer.C, layer.M) == (9, 2, (2, 1), 2, 8)
    assert spec.mapping is not None
    glb_map, rf_map = spec.mapping.levels[1], spec.mapping.levels[2]
    assert [(loop.dim, loop.factor) for loop in glb_map.temporal] == [("Q", 2), ("C", 2), ("R", 3)]
    assert [(loop.dim, loop.factor) for loop in glb_map.spatial] == [("M", 8)]
    assert rf_map.keeps == ("weights", "outputs")
    joined = "\n".join(spec.warnings)
    assert "glb.read: 2 argument variants; energysim takes the largest, 12.5 pJ" in joined
    assert "update energy 1 differs from write 0.75" in joined
    assert "multiplier_width" not in joined  # used: it is the MAC's width
    assert "ert.yaml: ERT: tables for noc: no such storage or MAC (ignored)" in joined


def test_inter_container_spatial_target_and_parallel_siblings(tmp_path: Path) -> None:
    """Timeloop's generated target name ``inter_PE_spatial`` is the container PE;
    ``!Parallel`` registers become a chain (outermost first), with a warning; a
    ``!Nothing`` placeholder (as in Timeloop's simba_like example) is skipped, listed."""
    arch = ARCH_V4.replace(
        "  - !Component\n    name: mac\n",
        "  - !Parallel\n    nodes:\n    - !Component\n      name: wreg\n      class: storage\n"
        "      attributes: {depth: 1, width: 16, datawidth: 16}\n"
        "      constraints: {dataspace: {keep: [Weights]}}\n"
        "    - !Component\n      name: oreg\n      class: storage\n"
        "      attributes: {depth: 1, width: 16, datawidth: 16}\n"
        "      constraints: {dataspace: {keep: [Outputs]}}\n"
        "    - !Nothing {constraints: {dataspace: {keep: [Inputs]}}}\n"
        "  - !Component\n    name: mac\n",
    )
    mapping = MAP_V4.replace("target: PE,", "target: inter_PE_spatial,")
    paths = _files(tmp_path, arch=arch, prob=PROBLEM_V4, map=mapping)
    spec = from_timeloop(paths["arch"], paths["prob"], paths["map"])
    assert [level.name for level in spec.hierarchy.levels] == ["DRAM", "glb", "rf", "wreg", "oreg"]
    assert spec.hierarchy.level("wreg").keeps == ("weights",)
    assert spec.mapping is not None
    assert [(loop.dim, loop.factor) for loop in spec.mapping.levels[1].spatial] == [("M", 8)]
    assert any("!Parallel siblings become a chain" in warning for warning in spec.warnings)
    assert any("nodes[2]: !Nothing: a placeholder" in warning for warning in spec.warnings)


# --- Timeloop's own example designs and counts ------------------------------------------------------

REFERENCES = Path(__file__).resolve().parent / "reference" / "timeloop"
_ACTIONS = {"reads": "read", "fills": "fill", "updates": "update"}


def _reference(design: str) -> Any:
    folder = REFERENCES / design
    return from_timeloop(
        folder / "arch.yaml", folder / "problem.yaml", folder / "map.yaml", folder / "ERT.yaml"
    )


def timeloop_stats(design: str) -> dict[tuple[str, str, str], int]:
    """Timeloop's counts from its stats file: (level, tensor, action) -> per-instance count x
    utilized instances. Read straight from timeloop-mapper.stats.txt, unchanged."""
    counts: dict[tuple[str, str, str], int] = {}
    level = space = ""
    instances = 0
    for line in (REFERENCES / design / "timeloop-mapper.stats.txt").read_text().splitlines():
        if match := re.match(r"^=== (\S+) ===", line):
            level, space = match[1], ""
        elif match := re.match(r"^    (Weights|Inputs|Outputs):\s*$", line):
            space = match[1].lower()
        elif space and (match := re.match(r"^\s+Utilized instances \(max\)\s+:\s+(\d+)", line)):
            instances = int(match[1])
        elif space and (
            match := re.match(r"^\s+Scalar (reads|fills|updates) \(per-instance\)\s+:\s+(\d+)", line)
        ):
            counts[(level, space, _ACTIONS[match[1]])] = int(match[2]) * instances
    return {key: count for key, count in counts.items() if count}


def test_timeloop_example_design_matches_timeloops_own_stats() -> None:
    """Timeloop's simple_weight_stationary example, with the mapping its mapper chose.

    The oracle is Timeloop's timeloop-mapper.stats.txt for it (18 non-zero counts:
    per-instance reads, fills, updates x utilized instances), and its "Computes
    (total)" 10,838,016. Its DRAM partitions: Weights 864, Inputs 151,875
    (3 x 225 x 225: Timeloop's input includes the padded border), Outputs 401,408.
    energysim's exact counts agree with all but two: the 1-word output register
    under the C3 spatial reduction. Timeloop refills every sibling with the
    running partial sum (802,816 per instance, 12 instances: 9,633,792 fills and
    reads); the ideal buffer receives it in one sibling only, as many as
    shared_glb's output reads (3,211,264).
    """
    spec = _reference("simple_weight_stationary")
    layer = spec.layer
    assert layer.macs == 10_838_016
    assert [layer.elements(t) for t in ("weights", "inputs", "outputs")] == [864, 151_875, 401_408]
    timeloop = timeloop_stats("simple_weight_stationary")
    assert len(timeloop) == 18
    ours = _counts(es.analyze(spec.workload, spec.hierarchy, mapping=spec.mapping))
    register = {("output_activation_reg", "outputs", "fill"), ("output_activation_reg", "outputs", "read")}
    assert {key: ours.get(key) for key in timeloop if key not in register} == {
        key: count for key, count in timeloop.items() if key not in register
    }
    assert {timeloop[key] for key in register} == {9_633_792}
    assert {ours[key] for key in register} == {3_211_264} == {ours[("shared_glb", "outputs", "read")]}
    assert ours[("mac", "none", "mac")] == 10_838_016


@pytest.mark.skipif(
    "counting" not in inspect.signature(es.analyze).parameters, reason="counting= is not in es.analyze yet"
)
@pytest.mark.parametrize("design", ["simple_weight_stationary", "simba_like"])
def test_timeloop_counting_reproduces_timeloops_stats(design: str) -> None:
    """Under counting="timeloop", every non-zero count of Timeloop's own stats file for
    two of its example designs, imported as they are."""
    spec = _reference(design)
    counting: Any = {"counting": "timeloop"}
    result = es.analyze(spec.workload, spec.hierarchy, mapping=spec.mapping, **counting)
    ours = _counts(result)
    timeloop = timeloop_stats(design)
    assert {key: ours.get(key) for key in timeloop} == timeloop


# --- round trips --------------------------------------------------------------------------------


SMALL_CONV = Network.model_validate(
    {
        "version": 1,
        "name": "t",
        "layers": [{"type": "conv", "name": "small", "C": 4, "M": 8, "H": 10, "W": 10, "R": 3, "S": 3}],
    }
).layers[0]


@pytest.mark.parametrize("dataflow", ["rs", "ws", "os", "is", "nlr"])
@pytest.mark.parametrize("hierarchy_name", ["eyeriss", "tpu-like", "edge-npu", "v100", "lecture-toy"])
def test_export_then_import_gives_the_same_objects(
    tmp_path: Path, hierarchy_name: str, dataflow: str
) -> None:
    """Every shipped hierarchy, with each dataflow's mapping of a small conv."""
    hierarchy = es.load_hierarchy(hierarchy_name)
    mapping = es.build_mapping(SMALL_CONV, hierarchy, dataflow)
    files, _warnings = to_timeloop(hierarchy, SMALL_CONV, mapping)
    for name, data in files.items():
        (tmp_path / name).write_text(dump_yaml(data))
    spec = from_timeloop(
        tmp_path / "arch.yaml", tmp_path / "problem.yaml", tmp_path / "mapping.yaml", tmp_path / "ERT.yaml"
    )
    assert spec.hierarchy == hierarchy
    assert spec.layer == SMALL_CONV
    assert spec.mapping == mapping
    assert spec.warnings == ()


def test_fc_layer_round_trips_and_a_matmul_comes_back_as_its_fc(tmp_path: Path) -> None:
    """P = Q = R = S = 1 with unit strides is Timeloop's way to say fc; a matmul A (m x k) x B
    (k x n) is the same nest with N = m, C = k, M = n, so it returns as that fc layer."""
    layers = Network.model_validate(
        {
            "version": 1,
            "name": "t",
            "layers": [
                {"type": "fc", "name": "fc", "N": 4, "C": 64, "M": 16, "precision_bits": 8},
                {"type": "matmul", "name": "mm", "m": 4, "k": 64, "n": 16},
            ],
        }
    ).layers
    hierarchy = es.load_hierarchy("edge-npu")
    back = []
    for layer in layers:
        files, _ = to_timeloop(hierarchy, layer, es.build_mapping(layer, hierarchy, "ws"))
        for name, data in files.items():
            (tmp_path / name).write_text(dump_yaml(data))
        back.append(from_timeloop(tmp_path / "arch.yaml", tmp_path / "problem.yaml").layer)
    assert back[0] == layers[0]
    assert (back[1].type, back[1].name, back[1].loop_bounds) == ("fc", "mm", layers[1].loop_bounds)


def test_export_lists_what_timeloop_cannot_say() -> None:
    """Eyeriss: MAC-units, a multicast network, per-tensor RF partitions (448 + 24 + 48 = 520 B);
    a padded layer with a bias."""
    hierarchy = es.load_hierarchy("eyeriss")
    layer = es.load_workload("alexnet")["conv3"]
    files, warnings = to_timeloop(hierarchy, layer, es.build_mapping(layer, hierarchy, "rs"))
    joined = "\n".join(warnings)
    assert "MAC-units" in joined
    assert "level GLB: network" in joined
    assert "Timeloop sees one shared buffer of 520 bytes" in joined
    assert "padding (1, 1)" in joined
    assert "bias" in joined
    rf = files["arch.yaml"]["architecture"]["subtree"][0]["local"][2]
    assert rf["name"] == "RF[0..167]"
    assert rf["attributes"]["depth"] == 520 * 8 // 16  # 260 rows of one 16-bit word
    mapping = files["mapping.yaml"]["mapping"]
    assert {directive["type"] for directive in mapping} == {"temporal", "spatial", "bypass"}


def test_export_permutation_is_innermost_first() -> None:
    """A level with loops M2 (outer) then P3 (inner) is written permutation 'PK...' ."""
    hierarchy = es.load_hierarchy("lecture-toy")
    layer = Network.model_validate(
        {
            "version": 1,
            "name": "t",
            "layers": [{"type": "conv", "name": "c", "C": 1, "M": 2, "H": 3, "W": 1, "R": 1, "S": 1}],
        }
    ).layers[0]
    outer = hierarchy.levels[0].name
    mapping = es.Mapping(
        tuple(
            es.LevelMapping(
                level.name,
                temporal=(es.Loop("M", 2), es.Loop("P", 3)) if level.name == outer else (),
                keeps=level.keeps,
            )
            for level in hierarchy.levels
        )
    )
    files, _ = to_timeloop(hierarchy, layer, mapping)
    first = files["mapping.yaml"]["mapping"][0]
    assert first["target"] == outer
    assert first["permutation"].startswith("PK")
    assert "K=2" in first["factors"]
    assert "P=3" in first["factors"]


@pytest.mark.parametrize(
    ("layer", "message"),
    [
        (
            {"type": "conv", "name": "dw", "C": 4, "M": 4, "groups": 4, "H": 5, "W": 5, "R": 3, "S": 3},
            "groups",
        ),
        ({"type": "matmul", "name": "bmm", "batch": 2, "m": 4, "k": 4, "n": 4}, "batched matmul"),
        ({"type": "pool", "name": "p", "C": 4, "H": 4, "W": 4, "R": 2, "S": 2}, "has no MACs"),
    ],
)
def test_export_refuses_layers_timeloops_cnn_layer_cannot_describe(
    layer: dict[str, Any], message: str
) -> None:
    one = Network.model_validate({"version": 1, "name": "t", "layers": [layer]}).layers[0]
    with pytest.raises(es.EnergySimError, match=message):
        to_timeloop(es.load_hierarchy("lecture-toy"), one)


# --- errors ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("which", "old", "new", "message"),
    [
        ("arch", "depth: 8192", "depth: 1024*8", r"arch\.yaml: .*attributes\.depth: expected an integer"),
        (
            "arch",
            "    subtree:\n    - name: Chip",
            "    subtree:\n    - name: X\n    - name: Chip",
            "2 sibling subtrees",
        ),
        (
            "arch",
            "class: SRAM\n        attributes:\n          {depth: 8192,",
            "class: XY_NoC\n        attributes:\n          {",
            "neither a storage",
        ),
        (
            "arch",
            "class: intmac\n          attributes: {datawidth: 8}",
            "class: regfile\n          attributes: {depth: 4}",
            "innermost component must be the MAC",
        ),
        (
            "prob",
            "dimensions: [C, K, R, P]",
            "dimensions: [C, K, R, P, X]",
            "energysim handles the CNN layer",
        ),
        (
            "prob",
            "projection: [[[K]], [[P]]]",
            "projection: [[[K]], [[R]]]",
            "not the CNN layer's projection of Outputs",
        ),
        ("prob", "C: 32, K", "C: -1, K", r"problem\.instance\.C: expected an integer"),
        ("map", "factors: R=3 P=1 K=2 C=32", "factors: R=3 P=1 K=2 C=16", "C"),
        (
            "map",
            "factors: R=3 P=1 K=2 C=32\n    permutation: PRKC",
            "factors: R=3 P=1 K=2 C=32\n    permutation: PRK",
            "does not place C",
        ),
        ("map", "permutation: RPKC", "permutation: RPKX", r"mapping\[3\]\.permutation: dimension X"),
        ("arch", "RegisterFile[0..15]", "RegisterFile[0..99999999999]", r"instance range .* 2147483648"),
        (
            "map",
            "target: RegisterFile",
            "target: Nowhere",
            r"map\.yaml: mapping\[3\]\.target: 'Nowhere' is not a storage level",
        ),
        (
            "map",
            "factors: R=1 P=16 K=1 C=1",
            "factors: R=1 P=16x K=1 C=1",
            r"mapping\[3\]\.factors: expected factors",
        ),
    ],
)
def test_bad_specs_give_one_error_naming_file_and_field(
    tmp_path: Path, which: str, old: str, new: str, message: str
) -> None:
    texts = {"arch": ARCH_V3, "prob": PROBLEM_CONV1D, "map": MAP_KP_WS}
    assert old in texts[which]
    texts[which] = texts[which].replace(old, new)
    paths = _files(tmp_path, **texts)
    with pytest.raises(es.EnergySimError, match=message):
        from_timeloop(paths["arch"], paths["prob"], paths["map"])


def test_ert_without_a_components_table_is_an_error(tmp_path: Path) -> None:
    ert = re.sub(r"  - name: system_top_level\.rf\[1\.\.8\]\n(    .*\n)+?(?=  - name)", "", ERT_V4)
    assert "rf[1..8]" not in ert
    paths = _files(tmp_path, arch=ARCH_V4, prob=PROBLEM_V4, ert=ert)
    with pytest.raises(es.EnergySimError, match=r"ert\.yaml: ERT: no table for component rf"):
        from_timeloop(paths["arch"], paths["prob"], ert=paths["ert"])


# --- the command line --------------------------------------------------------------------------------


def test_cli_exports_and_imports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    exported, imported = tmp_path / "tl", tmp_path / "es"
    args = [
        "export-timeloop",
        "lenet5",
        "--hierarchy",
        "edge-npu",
        "--layer",
        "c1",
        "--out",
        str(exported),
    ]
    assert main(args) == 0
    assert sorted(p.name for p in exported.iterdir()) == [
        ".energysim-output", "ERT.yaml", "arch.yaml", "mapping.yaml", "problem.yaml", "warnings.txt",
    ]  # fmt: skip
    names = [str(exported / name) for name in ("arch.yaml", "problem.yaml", "mapping.yaml")]
    assert main(["import-timeloop", *names, "--ert", str(exported / "ERT.yaml"), "--out", str(imported)]) == 0
    hierarchy = es.load_hierarchy(imported / "hierarchy.yaml")
    assert hierarchy == es.load_hierarchy("edge-npu")
    layer_name, mapping = es.load_mapping(imported / "mapping.yaml", hierarchy)
    assert layer_name == "c1"
    original = es.load_workload("lenet5")["c1"]
    assert mapping == es.build_mapping(original, es.load_hierarchy("edge-npu"), "rs")
    # Timeloop's CNN layer has no bias (export warned): the loop nest is the same
    assert es.load_workload(imported / "workload.yaml")["c1"].loop_bounds == original.loop_bounds
    capsys.readouterr()
    # the user's folder is never overwritten; a second run needs --force
    assert main(["import-timeloop", *names[:2], "--out", str(imported)]) == EXIT_USER_ERROR
    assert "--force" in capsys.readouterr().err
    assert main(["import-timeloop", *names[:2], "--out", str(imported), "--force"]) == 0


def test_cli_bad_spec_is_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    paths = _files(tmp_path, arch=ARCH_V3.replace("depth: 64", "depth: lots"), prob=PROBLEM_CONV1D)
    code = main(["import-timeloop", str(paths["arch"]), str(paths["prob"]), "--out", str(tmp_path / "out")])
    assert code == EXIT_USER_ERROR
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert "arch.yaml" in error
    assert "attributes.depth" in error
    assert not (tmp_path / "out").exists()
    assert sys.executable  # the CLI ran in-process: no console script involved
