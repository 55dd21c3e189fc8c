"""Wall time of analyze() per network and dataflow, mapping search included (cold cache).

Run: python benchmarks/analyze.py [hierarchy ...]   (default: eyeriss tpu-like)
Prints seconds per network x dataflow and milliseconds per layer with MACs.
The issue's target: all of ResNet-50, any dataflow, in a few seconds.
"""

from __future__ import annotations

import sys
import time

import energysim as es
from energysim.mapping.dataflows import clear_mapping_cache

NETWORKS = ["alexnet", "vgg16", "resnet50", "mobilenet-v2", "bert-base-layer", "gpt2-decode"]
DATAFLOWS = ["ws", "os", "is", "rs", "nlr"]


def main(hierarchies: list[str]) -> None:
    for hierarchy_name in hierarchies:
        hierarchy = es.load_hierarchy(hierarchy_name)
        print(f"\n{hierarchy.name}: seconds per analyze() (ms per MAC layer), cold mapping cache")
        print(f"{'network':<16}" + "".join(f"{d:>16}" for d in DATAFLOWS))
        for name in NETWORKS:
            network = es.load_workload(name)
            mac_layers = sum(1 for layer in network.layers if layer.loop_bounds is not None)
            cells = []
            for dataflow in DATAFLOWS:
                clear_mapping_cache()
                start = time.perf_counter()
                es.analyze(network, hierarchy, dataflow)
                seconds = time.perf_counter() - start
                cells.append(f"{seconds:7.2f} ({1e3 * seconds / mac_layers:5.1f})")
            print(f"{name:<16}" + "".join(f"{cell:>16}" for cell in cells))


if __name__ == "__main__":
    main(sys.argv[1:] or ["eyeriss", "tpu-like"])
