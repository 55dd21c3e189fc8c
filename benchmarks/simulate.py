"""Wall time, events and peak memory of simulate() for AlexNet and ResNet-50.

Run: python benchmarks/simulate.py [network:hierarchy:dataflow ...]
Default: AlexNet and ResNet-50 under every dataflow on eyeriss and tpu-like.
Each configuration runs in a fresh process, so its peak resident memory is
its own. Events are SimPy events processed; the mapping search is included
in the wall time. The issue's target: ResNet-50 under RS on eyeriss in under
30 s with peak memory under 1 GB on a 2-core machine.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time

NETWORKS = ["alexnet", "resnet50"]
HIERARCHIES = ["eyeriss", "tpu-like"]
DATAFLOWS = ["ws", "os", "is", "rs", "nlr"]


def run_one(network: str, hierarchy: str, dataflow: str) -> dict[str, float]:
    """Simulate one configuration in this process and measure it."""
    import energysim as es

    start = time.perf_counter()
    result = es.simulate(network, hierarchy, dataflow)
    wall = time.perf_counter() - start
    events = float(result.layers["events"].sum())
    return {
        "wall_s": wall,
        "events": events,
        "events_per_s": events / wall,
        "cycles": float(result.cycles or 0.0),
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main(configs: list[str]) -> None:
    if not configs:
        configs = [f"{n}:{h}:{d}" for n in NETWORKS for h in HIERARCHIES for d in DATAFLOWS]
    header = f"{'network':<10}{'hierarchy':<10}{'dataflow':<9}{'wall s':>8}{'events':>10}"
    print(header + f"{'events/s':>10}{'cycles':>12}{'peak MB':>9}")
    for config in configs:
        output = subprocess.run(
            [sys.executable, __file__, "--one", config], capture_output=True, text=True, check=True
        ).stdout
        figures = json.loads(output)
        network, hierarchy, dataflow = config.split(":")
        print(
            f"{network:<10}{hierarchy:<10}{dataflow:<9}{figures['wall_s']:>8.2f}{figures['events']:>10.0f}"
            f"{figures['events_per_s']:>10.0f}{figures['cycles']:>12.4g}{figures['peak_mb']:>9.0f}",
            flush=True,
        )


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--one":
        print(json.dumps(run_one(*sys.argv[2].split(":"))))
    else:
        main(sys.argv[1:])
