"""Wall time, events and peak memory of simulate() for AlexNet, ResNet-50 and huge layers.

Run: python benchmarks/simulate.py [network:hierarchy:dataflow ...]
Default: AlexNet and ResNet-50 under every dataflow on eyeriss and tpu-like,
then the huge-but-legal layers of issue 8 (a 65,536-token matmul, a padding of
100,000) on both. Each configuration runs in a fresh process, so its peak
resident memory is its own. Events are SimPy events processed; events per MAC
show that the cost follows tile transfers, not MACs. The mapping search is
included in the wall time. The targets: ResNet-50 under RS on eyeriss in
under 30 s with peak memory under 1 GB on a 2-core machine; every huge layer
in seconds, with events bounded by the stream's step budget.

python benchmarks/simulate.py --bounds: every shipped network x dataflow x
hierarchy with every bandwidth made ample, no latency and double-buffered
SRAMs; prints each layer's cycles over max(compute + skew, each simulated
level's bytes / bandwidth) and the worst case (the target: within 5%).

python benchmarks/simulate.py --fc: the memory-bound FC 4096x1024 at batch 1 on
every shipped hierarchy and dataflow, its cycles over DRAM bytes / DRAM
bandwidth (the target: within 3% where the mapping is memory bound).
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from typing import Any

NETWORKS = ["alexnet", "resnet50"]
HIERARCHIES = ["eyeriss", "tpu-like"]
DATAFLOWS = ["ws", "os", "is", "rs", "nlr"]
#: Single huge-but-legal layers (issue 8), by the name a configuration gives them.
HUGE_LAYERS: dict[str, dict[str, Any]] = {
    "matmul-65536": {"name": "mm", "type": "matmul", "m": 65536, "k": 64, "n": 65536},
    "padding-1e5": {
        "name": "conv",
        "type": "conv",
        "C": 3,
        "M": 8,
        "H": 8,
        "W": 8,
        "R": 3,
        "S": 3,
        "padding": 100_000,
    },
}
HUGE = [f"{layer}:{h}:{d}" for layer in HUGE_LAYERS for h in HIERARCHIES for d in ("ws", "rs")]


def run_one(network: str, hierarchy: str, dataflow: str) -> dict[str, float]:
    """Simulate one configuration in this process and measure it."""
    import energysim as es

    workload: Any = network
    if network in HUGE_LAYERS:
        workload = es.Network.model_validate(
            {"version": 1, "name": network, "layers": [HUGE_LAYERS[network]]}
        )
    start = time.perf_counter()
    result = es.simulate(workload, hierarchy, dataflow)
    wall = time.perf_counter() - start
    events = float(result.layers["events"].sum())
    return {
        "wall_s": wall,
        "events": events,
        "events_per_s": events / wall,
        "events_per_mac": events / result.macs,
        "cycles": float(result.cycles or 0.0),
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


BOUND_NETWORKS = ["lenet5", "alexnet", "vgg16", "resnet50", "mobilenet-v2", "bert-base-layer", "gpt2-decode"]
BOUND_HIERARCHIES = ["eyeriss", "tpu-like", "edge-npu", "lecture-toy", "v100"]
AMPLE = 1e12


def ample(name: str) -> Any:
    """A shipped hierarchy with ample bandwidth, no latency, and double-buffered SRAMs."""
    import energysim as es

    data = es.load_hierarchy(name).model_dump()
    for level in data["levels"]:
        level["latency_cycles"] = 0
        for field in (
            "bandwidth_bytes_per_cycle",
            "read_bandwidth_bytes_per_cycle",
            "write_bandwidth_bytes_per_cycle",
        ):
            if level.get(field) is not None:
                level[field] = AMPLE
        if level.get("network") and level["network"].get("bandwidth_bytes_per_cycle") is not None:
            level["network"]["bandwidth_bytes_per_cycle"] = AMPLE
        if level["kind"] == "sram":
            level["double_buffered"] = True
    return es.Hierarchy.model_validate(data)


def bounds() -> None:
    """Cycles over the roofline bound of each mapped layer, per configuration, and the worst."""
    import energysim as es

    print(
        f"{'network':<17}{'hierarchy':<13}{'dataflow':<9}{'layers':>7}{'worst cycles/bound':>20}{'layer':>18}"
    )
    worst: tuple[float, str] = (0.0, "")
    for hierarchy in BOUND_HIERARCHIES:
        machine = ample(hierarchy)
        for network in BOUND_NETWORKS:
            for dataflow in DATAFLOWS:
                try:
                    result = es.simulate(network, machine, dataflow)
                except es.EnergySimError as error:
                    print(f"{network:<17}{hierarchy:<13}{dataflow:<9} does not map: {str(error)[:60]}")
                    continue
                levels = result.timing.merge(
                    pd_frame([(level.name, level.bandwidth_bytes_per_cycle) for level in machine.levels]),
                    on="level",
                )
                levels["bound"] = levels["bytes"] / (levels["bandwidth"] * levels["ports"])
                level_bound = levels.groupby("layer")["bound"].max()
                layers = result.layers[result.layers["mapped_macs"] > 0].set_index("layer")
                bound = (layers["compute_cycles"] + layers["skew_cycles"]).combine(level_bound, max)
                ratio = (layers["cycles"] / bound).dropna()
                if ratio.empty:
                    continue
                print(
                    f"{network:<17}{hierarchy:<13}{dataflow:<9}{len(ratio):>7}{ratio.max():>20.4f}"
                    f"{ratio.idxmax():>18}",
                    flush=True,
                )
                worst = max(worst, (float(ratio.max()), f"{network}:{hierarchy}:{dataflow}:{ratio.idxmax()}"))
    print(f"worst: {worst[0]:.4f} ({worst[1]})")


def fc_ratios() -> None:
    """FC 4096x1024 at batch 1 (memory bound): cycles over DRAM bytes / DRAM bandwidth, per hierarchy."""
    import energysim as es

    print(f"{'hierarchy':<13}{'dataflow':<9}{'cycles':>12}{'DRAM bound':>12}{'ratio':>8}")
    for hierarchy in BOUND_HIERARCHIES:
        machine = es.load_hierarchy(hierarchy)
        dram = machine.levels[0]
        for dataflow in DATAFLOWS:
            try:
                result = es.simulate("lecture-ops", machine, dataflow, layers=["fc_batch1"])
            except es.EnergySimError:
                continue
            moved = result.timing.set_index("level").loc[dram.name, "bytes"]
            bound = moved / (dram.bandwidth_bytes_per_cycle * dram.ports)
            row = result.layers.iloc[0]
            kind = "" if bound >= row["compute_cycles"] + row["skew_cycles"] else "  (compute bound)"
            cycles = float(result.cycles or 0.0)
            print(f"{hierarchy:<13}{dataflow:<9}{cycles:>12.1f}{bound:>12.1f}{cycles / bound:>8.4f}{kind}")


def pd_frame(rows: list[tuple[str, float]]) -> Any:
    import pandas as pd

    return pd.DataFrame(rows, columns=["level", "bandwidth"])


def main(configs: list[str]) -> None:
    if not configs:
        configs = [f"{n}:{h}:{d}" for n in NETWORKS for h in HIERARCHIES for d in DATAFLOWS] + HUGE
    header = f"{'network':<14}{'hierarchy':<10}{'dataflow':<9}{'wall s':>8}{'events':>10}"
    print(header + f"{'events/s':>10}{'events/MAC':>12}{'cycles':>12}{'peak MB':>9}")
    for config in configs:
        output = subprocess.run(
            [sys.executable, __file__, "--one", config], capture_output=True, text=True, check=True
        ).stdout
        figures = json.loads(output)
        network, hierarchy, dataflow = config.split(":")
        print(
            f"{network:<14}{hierarchy:<10}{dataflow:<9}{figures['wall_s']:>8.2f}{figures['events']:>10.0f}"
            f"{figures['events_per_s']:>10.0f}{figures['events_per_mac']:>12.2e}{figures['cycles']:>12.4g}"
            f"{figures['peak_mb']:>9.0f}",
            flush=True,
        )


if __name__ == "__main__":
    if sys.argv[1:] == ["--bounds"]:
        bounds()
    elif sys.argv[1:] == ["--fc"]:
        fc_ratios()
    elif len(sys.argv) == 3 and sys.argv[1] == "--one":
        print(json.dumps(run_one(*sys.argv[2].split(":"))))
    else:
        main(sys.argv[1:])
