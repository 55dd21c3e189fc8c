"""Shipped hierarchies load and say what their sources say; energy tables are cited values."""

from __future__ import annotations

import math

import pytest
from conftest import REPOSITORY_ROOT, read_reference

import energysim as es
from energysim.model.energy_tables import ENERGY_TABLES, interpolate_sram_pj_per_64_bits
from energysim.model.files import shipped_names

SHIPPED = ["edge-npu", "eyeriss", "lecture-toy", "tpu-like", "v100"]


def test_every_repository_hierarchy_is_shipped() -> None:
    """The folder the package reads (wheel copy or repository) holds every file."""
    in_repository = sorted(path.stem for path in (REPOSITORY_ROOT / "hierarchies").glob("*.yaml"))
    assert shipped_names("hierarchies") == in_repository == SHIPPED


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_hierarchy_loads_by_name_and_by_path(name: str) -> None:
    by_name = es.load_hierarchy(name)
    by_path = es.load_hierarchy(str(REPOSITORY_ROOT / "hierarchies" / f"{name}.yaml"))
    assert by_name == by_path
    assert by_name.name == name
    assert by_name.levels[0].kind == "dram"


def test_eyeriss_matches_the_paper() -> None:
    """Chen et al. ISCA 2016 / JSSC 2017: 12x14 PEs, 224/12/24-word spads, 108 KB GLB."""
    eyeriss = es.load_hierarchy("eyeriss")
    assert [level.name for level in eyeriss.levels] == ["DRAM", "GLB", "RF"]
    assert (eyeriss.compute.array.rows, eyeriss.compute.array.cols) == (12, 14)
    assert eyeriss.peak_macs_per_cycle == 168
    rf = eyeriss.level("RF")
    assert rf.instances == 168
    words = {
        tensor: (rf.capacity_bytes(tensor) or 0) * 8 // rf.word_bits for tensor in es.model.layers.TENSORS
    }
    assert words == {"weights": 224, "inputs": 12, "outputs": 24}
    assert eyeriss.level("GLB").size_bytes == 108 * 1024


def test_eyeriss_energies_are_table_iv() -> None:
    """Per 16-bit word: DRAM 200, GLB 6, array network 2, RF 1, MAC 1 (in MACs)."""
    rows = {
        row["component"]: float(row["value"])
        for row in read_reference("energy_per_access.csv")
        if row["source_id"] == "EYR16"
    }
    eyeriss = es.load_hierarchy("eyeriss")
    dram, glb, rf = eyeriss.levels
    words_per_dram_access = dram.block_bits // dram.word_bits
    assert dram.read_energy_pj / words_per_dram_access == rows["DRAM"]
    assert glb.read_energy_pj == glb.write_energy_pj == rows["Global buffer"]
    assert glb.network is not None
    assert glb.network.transfer_energy_pj == rows["Array / inter-PE NoC"]
    assert rf.read_energy_pj == rows["RF (register file in PE)"]
    assert eyeriss.compute.energy_per_mac == rows["ALU (MAC)"]


def test_horowitz_sram_points_are_reproduced_and_interpolated() -> None:
    published = {
        row["size_or_width"].split()[0]: float(row["value"])
        for row in read_reference("energy_per_access.csv")
        if row["source_id"] == "HOR14" and row["component"] == "SRAM/cache read"
    }
    assert interpolate_sram_pj_per_64_bits(8 * 1024) == pytest.approx(published["8"])
    assert interpolate_sram_pj_per_64_bits(32 * 1024) == pytest.approx(published["32"])
    assert interpolate_sram_pj_per_64_bits(1024 * 1024) == pytest.approx(published["1"])
    # Log-log midpoint of 8 KB and 32 KB (16 KB) is the geometric mean of 10 and 20 pJ.
    assert interpolate_sram_pj_per_64_bits(16 * 1024) == pytest.approx(math.sqrt(10 * 20))
    # Below 8 KB the first segment's slope (0.5) goes on: 2 KB -> 10 / 2 = 5 pJ.
    assert interpolate_sram_pj_per_64_bits(2 * 1024) == pytest.approx(5.0)


def test_horowitz_table_prices_by_width_and_type() -> None:
    table = ENERGY_TABLES["horowitz-45nm"]
    hor = {
        (row["component"], row["size_or_width"]): float(row["value"].split("-")[0])
        for row in read_reference("energy_per_access.csv")
        if row["source_id"] == "HOR14"
    }
    assert table.mac_energy_pj("int8") == pytest.approx(
        hor[("integer mult", "8-bit")] + hor[("integer add", "8-bit")]
    )
    assert table.mac_energy_pj("fp16") == pytest.approx(
        hor[("FP mult", "16-bit")] + hor[("FP add", "16-bit")]
    )
    assert table.mac_energy_pj("fp32") == pytest.approx(
        hor[("FP mult", "32-bit")] + hor[("FP add", "32-bit")]
    )
    assert table.level_energy_pj("dram", None, 64) == hor[("DRAM access", "64-bit")]
    # An SRAM access of 32 bits costs half of a 64-bit one (Sze 2017: 5 pJ from 8 KB).
    assert table.level_energy_pj("sram", 8 * 1024, 32) == pytest.approx(5.0)


def test_v100_is_the_lectures_gpu() -> None:
    """125 TFLOP/s FP16 and 900 GB/s HBM2: ops:byte 138.9 (reference table)."""
    v100 = es.load_hierarchy("v100")
    assert v100.peak_flops_per_s == pytest.approx(125e12, rel=0.01)
    bandwidth = v100.outermost.bandwidth_bytes_per_cycle * v100.clock_hz
    assert bandwidth == pytest.approx(900e9, rel=1e-4)
    balance = next(
        r for r in read_reference("roofline_examples.csv") if r["operation"] == "GPU machine balance"
    )
    assert v100.peak_flops_per_s / bandwidth == pytest.approx(float(balance["recomputed_AI"]), rel=0.01)


def test_lecture_toy_is_a_16_wide_mac_with_one_output_word() -> None:
    toy = es.load_hierarchy("lecture-toy")
    assert toy.peak_macs_per_cycle == 16
    buffer = toy.levels[-1]
    assert buffer.keeps == ("outputs",)
    assert buffer.capacity_bytes("outputs") == buffer.word_bits // 8
    assert buffer.capacity_bytes("weights") == 0


def test_tpu_like_is_a_256_square_systolic_int8_array() -> None:
    tpu = es.load_hierarchy("tpu-like")
    assert tpu.compute.systolic
    assert tpu.peak_macs_per_cycle == 256 * 256
    assert tpu.compute.datatype == "int8"
    # 92 TOPS at 700 MHz (Jouppi et al. 2017).
    assert tpu.peak_flops_per_s == pytest.approx(92e12, rel=0.01)


def test_edge_npu_uses_lpddr4_at_8_pj_per_bit() -> None:
    npu = es.load_hierarchy("edge-npu")
    dram = npu.outermost
    assert dram.read_energy_pj == pytest.approx(8 * dram.block_bits)
    assert npu.peak_macs_per_cycle == 256
