"""Outputs leave as they are finished: only the last piece's drain is exposed (issue 9, defect 5)."""

from __future__ import annotations

import pytest

import energysim as es


def _tpu_matmul() -> es.Result:
    """matmul m=3136 k=32 n=8 (int8) on tpu-like: N3136 at the Accumulators over 32 x 8 PEs."""
    layer = {"name": "mm", "type": "matmul", "m": 3136, "k": 32, "n": 8, "precision_bits": 8}
    network = es.Network.model_validate({"version": 1, "name": "mm", "layers": [layer]})
    mapping = es.Mapping(
        (
            es.LevelMapping("DRAM"),
            es.LevelMapping("UnifiedBuffer", keeps=("inputs", "outputs")),
            es.LevelMapping("WeightFIFO", keeps=("weights",)),
            es.LevelMapping(
                "Accumulators",
                (es.Loop("N", 3136),),
                (es.Loop("C", 32), es.Loop("M", 8)),
                keeps=("outputs",),
            ),
            es.LevelMapping("PEReg", keeps=("weights",)),
        )
    )
    return es.simulate(network, "tpu-like", mapping=mapping, dataflow=None)


def test_a_large_output_tile_streams_to_dram_while_the_array_computes() -> None:
    """Only the last row of outputs is written back after the last MAC.

    The layer writes a 25,088-byte output tile (3,136 rows of 8 int8 outputs)
    back to DRAM at B = 42.857 bytes per cycle: 585 cycles, which were all
    exposed after the last MAC (7,230.9 cycles in all). Each iteration of N
    finishes one row of 8 outputs (the reduction, C32, is spatial), so the
    rows leave while the later ones are computed; the DRAM carries the
    inputs (100,352 bytes) and the outputs in 2,927 cycles, within the
    compute. The time, by hand:

    * the inputs come first on the single DRAM channel (100,352 / B cycles),
      then the weights' first bytes after its 100-cycle latency, and the
      PE registers' after the WeightFIFO's 2 cycles: the first burst starts;
    * one fold: 2 x 256 + 256 - 2 = 766 cycles of skew (SCALE-Sim) and
      T = 3,136 steps;
    * the last row (8 bytes) drains into the UnifiedBuffer at 256 bytes per
      cycle, then to DRAM at B; writes are posted (no latency).
    """
    dram = es.load_hierarchy("tpu-like").levels[0].bandwidth_bytes_per_cycle
    result = _tpu_matmul()
    row = result.layers.iloc[0]
    assert row["compute_cycles"] + row["skew_cycles"] == 3136 + 766
    last_piece = 8 / 256 + 8 / dram
    assert row["drain_cycles"] == pytest.approx(last_piece, rel=1e-9)
    expected = 100352 / dram + 100 + 2 + 3136 + 766 + last_piece
    assert result.cycles == pytest.approx(expected, rel=1e-9)
    # Before: the whole tile drained after the last MAC (25,088 / B + the DRAM latency).
    assert result.cycles < 7230.9 - 25088 / dram + 1
