"""The mapper on ResNet-50: wall time, mapspace explored per second, memory, never worse.

Run: python benchmarks/mapper.py [hierarchy ...]   (default: eyeriss tpu-like)

For each hierarchy, a cold search of every layer with MACs of ResNet-50 under
the ``energy`` objective (layers of one shape share one search), then:

* wall time (goal: under 20 s on 2 cores) and distinct shapes searched;
* mappings scored exactly per second, and how many invalid candidates the
  numpy capacity filter rejected;
* tracemalloc's peak (Python allocations during the search);
* never worse: per layer, the searched energy against the hierarchy's default
  dataflow builder (``default_dataflow``, else rs) and the best of the five
  dataflows whose mappings lie in the space, both from ``es.analyze``;
* the cycle estimate against the engine (``es.simulate``) on a few layers.
"""

from __future__ import annotations

import sys
import time
import tracemalloc

import energysim as es
from energysim.mapping.mapspace import build_space
from energysim.mapping.search import Searcher
from energysim.model.layers import LayerBase
from energysim.search import clear_search_cache

DATAFLOWS = ["ws", "os", "is", "rs", "nlr"]


def _never_worse(network: es.Network, machine: es.Hierarchy, found: es.SearchResult) -> None:
    default = getattr(machine, "default_dataflow", None) or "rs"
    ours = es.analyze(network, machine, mapping=found.mappings).layers.set_index("layer")["energy"]
    theirs = es.analyze(network, machine, default).layers.set_index("layer")["energy"]
    mac_layers = list(found.mappings)
    worse = [name for name in mac_layers if ours[name] > theirs[name] * (1 + 1e-12)]
    outside = [name for name in worse if not _in_space(network[name], machine, default)]
    ratio = ours[mac_layers].sum() / theirs[mac_layers].sum()
    print(
        f"  never worse than {default}: {len(mac_layers) - len(worse)}/{len(mac_layers)} layers "
        f"(worse: {', '.join(worse) or 'none'}; of which {len(outside)} where {default}'s mapping is "
        f"outside the space, e.g. breaking the systolic one-group-per-edge rule); "
        f"network energy x{ratio:.3f} of {default}'s"
    )
    best = None
    for dataflow in DATAFLOWS:
        energy = es.analyze(network, machine, dataflow).layers.set_index("layer")["energy"][mac_layers]
        best = energy if best is None else best.combine(energy, min)
    assert best is not None
    print(f"  against the best of the five dataflows per layer: x{ours[mac_layers].sum() / best.sum():.3f}")


def _in_space(layer: LayerBase, machine: es.Hierarchy, dataflow: str) -> bool:
    space = build_space(layer, machine)
    return (
        Searcher(space, lambda mapping: 0.0).from_mapping(es.build_mapping(layer, machine, dataflow))
        is not None
    )


def _calibration(network: es.Network, machine: es.Hierarchy, found: es.SearchResult) -> None:
    names = list(found.mappings)[:: max(1, len(found.mappings) // 5)][:5]
    result = es.simulate(network, machine, mapping=found.mappings, layers=names)
    engine = result.layers.set_index("layer")["cycles"]
    ratios = [found.layers[name].metrics.cycles / engine[name] for name in names]
    print(f"  cycle estimate / engine on {len(names)} layers: " + ", ".join(f"{r:.3f}" for r in ratios))


def _space_size(network: es.Network, machine: es.Hierarchy) -> float:
    sizes = [es.mapspace(layer, machine).total for layer in network.layers if layer.loop_bounds is not None]
    return sum(sizes) / len(sizes)


def _traced_peak(network: es.Network, machine: es.Hierarchy) -> int:
    """tracemalloc's peak over a cold search of a few layers (tracing slows Python several times)."""
    clear_search_cache()
    names = [layer.name for layer in network.layers if layer.loop_bounds is not None][:4]
    tracemalloc.start()
    es.search(network, machine, "energy", layers=names)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


def main(hierarchies: list[str]) -> None:
    network = es.load_workload("resnet50")
    for name in hierarchies:
        machine = es.load_hierarchy(name)
        clear_search_cache()
        es.mapping.dataflows.clear_mapping_cache()
        started, cpu = time.perf_counter(), time.process_time()
        found = es.search(network, machine, "energy")
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        peak = _traced_peak(network, machine)
        searches = {id(layer.explored): layer.explored for layer in found.layers.values()}
        evaluated = sum(e.evaluated for e in searches.values())
        invalid = sum(e.invalid for e in searches.values())
        estimated = sum(e.estimated for e in searches.values())
        considered = evaluated + estimated + invalid
        exhaustive = sum(e.exhaustive for e in searches.values())
        print(f"ResNet-50 on {name}, energy objective")
        print(
            f"  {seconds:.1f} s wall ({cpu:.1f} s CPU: the machine is shared) for {len(found.layers)} "
            f"layers, {len(searches)} distinct shapes "
            f"({exhaustive} exhaustive), {seconds / len(searches):.2f} s per shape"
        )
        print(
            f"  mapspace explored: {considered} points ({considered / cpu:.0f} per CPU second): "
            f"{evaluated} scored exactly ({evaluated / cpu:.0f}/s), {estimated} ranked by the "
            f"surrogate, {invalid} invalid ones filtered in numpy"
        )
        print(
            f"  space: about {_space_size(network, machine):.2g} points per layer (mean); "
            f"tracemalloc peak {peak / 2**20:.1f} MiB (a cold search of the first 4 layers)"
        )
        _never_worse(network, machine, found)
        _calibration(network, machine, found)


if __name__ == "__main__":
    main(sys.argv[1:] or ["eyeriss", "tpu-like"])
