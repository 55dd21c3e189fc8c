"""Separate read and write bandwidth: a drain does not wait for an operand read's port.

An Eyeriss-like global buffer serves operand reads and partial-sum fills to the
PEs' register files and takes their partial sums back. With one port for both
directions the time is at least all its bytes over its bandwidth; with a read
and a write port it must beat that, and never beat either direction's bytes
over its own bandwidth.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

import energysim as es

GLB_BANDWIDTH = 4.0


def _glb(**fields: Any) -> dict[str, Any]:
    return {
        "name": "GLB",
        "kind": "sram",
        "size_bytes": 1 << 20,
        "bandwidth_bytes_per_cycle": GLB_BANDWIDTH,
        "double_buffered": True,
        "network": {"multicast": True},
        **fields,
    }


def _machine(**glb_fields: Any) -> dict[str, Any]:
    return {
        "version": 1,
        "name": "read-write",
        "energy_table": "eyeriss-normalized",
        "clock_ghz": 1.0,
        "levels": [
            {"name": "DRAM", "kind": "dram", "bandwidth_bytes_per_cycle": 1e6},
            _glb(**glb_fields),
            {
                "name": "RF",
                "kind": "regfile",
                "instances": 16,
                "size_bytes": 64,
                "bandwidth_bytes_per_cycle": 64,
                "double_buffered": True,
            },
        ],
        "compute": {"array": {"rows": 4, "cols": 4}},
    }


def _run(**glb_fields: Any) -> es.Result:
    """fc N64 C64 M16, int8: M over 16 PEs, C16 N64 at the GLB, C4 in the RF (weights, outputs)."""
    layer = {"name": "fc", "type": "fc", "N": 64, "C": 64, "M": 16, "precision_bits": 8}
    network = es.Network.model_validate({"version": 1, "name": "fc", "layers": [layer]})
    mapping = es.Mapping(
        (
            es.LevelMapping("DRAM"),
            es.LevelMapping("GLB", (es.Loop("C", 16), es.Loop("N", 64)), (es.Loop("M", 16),)),
            es.LevelMapping("RF", (es.Loop("C", 4),), keeps=("weights", "outputs")),
        )
    )
    machine = es.Hierarchy.model_validate(_machine(**glb_fields))
    return es.simulate(network, machine, mapping=mapping, dataflow=None)


def _glb_bytes(result: es.Result) -> tuple[float, float]:
    """Bytes the GLB reads (operands, fills of the RFs) and takes in (partial-sum updates)."""
    rows = result.accesses[(result.accesses["level"] == "GLB") & (result.accesses["action"] != "fill")]
    written = float(rows[rows["action"] == "update"]["count"].sum())  # 1 byte per element
    return float(rows["count"].sum()) - written, written


def test_separate_read_and_write_ports_remove_the_contention() -> None:
    shared = _run()
    separate = _run(
        read_bandwidth_bytes_per_cycle=GLB_BANDWIDTH, write_bandwidth_bytes_per_cycle=GLB_BANDWIDTH
    )
    pd.testing.assert_frame_equal(shared.accesses, separate.accesses)  # only the time differs
    read, written = _glb_bytes(shared)
    assert written > 0.5 * read  # partial sums drain often: the contention is real
    assert shared.cycles is not None
    assert separate.cycles is not None
    # One port carries both directions: never faster than all bytes over it.
    assert shared.cycles >= (read + written) / GLB_BANDWIDTH
    # Two ports: faster than one port could ever be, never faster than either direction.
    assert max(read, written) / GLB_BANDWIDTH <= separate.cycles < 0.95 * (read + written) / GLB_BANDWIDTH
    glb = separate.timing.set_index("level").loc["GLB"]
    assert 0 < glb["utilisation"] <= 1


def test_one_direction_given_takes_the_shared_bandwidth_for_the_other() -> None:
    machine = es.Hierarchy.model_validate(_machine(write_bandwidth_bytes_per_cycle=8.0))
    glb = machine.level("GLB")
    assert glb.separate_read_write
    assert (glb.direction_bandwidth(write=False), glb.direction_bandwidth(write=True)) == (4.0, 8.0)
    assert not es.Hierarchy.model_validate(_machine()).level("GLB").separate_read_write


@pytest.mark.parametrize("field", ["read_bandwidth_bytes_per_cycle", "write_bandwidth_bytes_per_cycle"])
@pytest.mark.parametrize(
    ("value", "rule"),
    [
        (0, r"must be greater than 0, got 0"),
        (1e30, r"must be at most 1152921504606846976 \(2\^60\), got 1e\+30"),
        (float("inf"), r"must be a finite number above 0 and at most 1152921504606846976 \(2\^60\), got inf"),
    ],
)
def test_read_and_write_bandwidths_are_checked_like_the_bandwidth(
    tmp_path: Path, field: str, value: float, rule: str
) -> None:
    path = tmp_path / "arch.yaml"
    path.write_text(yaml.safe_dump(_machine(**{field: value})))
    with pytest.raises(es.EnergySimError, match=rf"arch\.yaml: .*levels\[1\]\.{field}: {rule}$"):
        es.load_hierarchy(path)
