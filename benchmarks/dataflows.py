"""Energy per MAC of AlexNet on eyeriss under each dataflow, against Eyeriss (ISCA 2016).

Run: python benchmarks/dataflows.py
Eyeriss reports row stationary 1.4-2.5x more energy-efficient than WS, OS and
NLR on AlexNet's CONV layers, and at least 1.3x on its FC layers (256 PEs,
batch 16, equal storage area; see tests/reference/dataflow_findings.csv).
This prints the ratios energysim gets on the shipped 168-PE eyeriss at batch 1,
energies in units of one MAC (eyeriss-normalized).
"""

from __future__ import annotations

import energysim as es

DATAFLOWS = ["ws", "os", "is", "rs", "nlr"]


def main() -> None:
    network = es.load_workload("alexnet")
    groups = {
        "CONV1-5": [layer.name for layer in network.layers if layer.type == "conv"],
        "FC6-8": [layer.name for layer in network.layers if layer.type == "fc"],
    }
    for group, layers in groups.items():
        results = {d: es.analyze(network, "eyeriss", d, layers=layers) for d in DATAFLOWS}
        unit = es.require_one_unit(results.values(), "dataflows")
        rs = results["rs"].energy_per_mac
        print(f"\nAlexNet {group} on eyeriss (energy per MAC, in {unit}; ratio to RS)")
        print(
            f"{'dataflow':<9}{'energy/MAC':>11}{'x RS':>7}{'DRAM':>8}{'GLB':>8}{'NoC':>8}{'RF':>8}{'MAC':>8}"
        )
        for dataflow, result in results.items():
            by_level = result.energy_by_level() / result.macs
            cells = [by_level.get(name, 0.0) for name in ("DRAM", "GLB", "GLB network", "RF", "PE")]
            print(
                f"{dataflow:<9}{result.energy_per_mac:>11.2f}{result.energy_per_mac / rs:>7.2f}"
                + "".join(f"{cell:>8.2f}" for cell in cells)
            )
        claim = "1.4-2.5x" if group.startswith("CONV") else ">= 1.3x"
        others = [results[d].energy_per_mac / rs for d in ("ws", "os", "nlr")]
        print(f"RS advantage over WS, OS, NLR: {min(others):.2f}-{max(others):.2f}x (Eyeriss: {claim})")


if __name__ == "__main__":
    main()
