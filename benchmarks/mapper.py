"""The mapper on ResNet-50: wall time, mapspace explored per second, memory, never worse.

Run: python benchmarks/mapper.py [hierarchy ...]   (default: eyeriss tpu-like)
     python benchmarks/mapper.py --calibrate [hierarchy ...] [--networks NAME ...]
       (default: eyeriss tpu-like edge-npu; alexnet resnet50)

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

``--calibrate`` (about 100 s of CPU): on AlexNet and ResNet-50, every layer
with MACs mapped by the five dataflows and the ``energy``, ``cycles`` and
``edp`` searches (default budget, seed 0), each mapping replayed by the
engine; prints the cycle estimate / engine (min, median, max, share within
10 %) and, per layer x hierarchy, whether a cycle-weighing search ends worse
by the engine, under its own objective, than another search or the best
named dataflow.
"""

from __future__ import annotations

import sys
import time
import tracemalloc

import pandas as pd

import energysim as es
from energysim.analysis.accesses import plan_accesses
from energysim.engine import simulate_layer
from energysim.mapping.mapspace import build_space
from energysim.mapping.search import Searcher
from energysim.model.layers import LayerBase
from energysim.model.mapping import Mapping
from energysim.objectives import evaluate
from energysim.search import _shape_key, clear_search_cache

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


# -- the cycle estimate against the engine, and the objectives against each other ------------------

CALIBRATION_NETWORKS = ["alexnet", "resnet50"]
CALIBRATION_HIERARCHIES = ["eyeriss", "tpu-like", "edge-npu"]
OBJECTIVE_NAMES = ["energy", "cycles", "edp"]


def _engine_row(mapping: es.Mapping, layer: LayerBase, machine: es.Hierarchy) -> tuple[float, float, float]:
    """(exact energy, estimated cycles, engine cycles) of one mapping."""
    assert layer.loop_bounds is not None
    metrics = evaluate(mapping, layer, machine)
    plan = plan_accesses(mapping, layer.loop_bounds, machine, layer.macs)
    return metrics.energy, metrics.cycles, simulate_layer(plan, layer, machine).cycles


def measure(networks: list[str], hierarchies: list[str]) -> pd.DataFrame:
    """One row per (network, hierarchy, layer, mapping): the five dataflows and the three searches.

    Energy is exact (the objective's), ``estimate`` the objective's cycle
    estimate and ``engine`` :func:`energysim.engine.simulate_layer`'s cycles,
    each mapping measured alike; layers of one shape are measured once.
    """
    rows = []
    for network_name in networks:
        network = es.load_workload(network_name)
        for name in hierarchies:
            machine = es.load_hierarchy(name)
            mac_layers = [layer for layer in network.layers if layer.loop_bounds is not None]
            found = {o: es.search(network, machine, o) for o in OBJECTIVE_NAMES}
            done: dict[tuple[object, ...], tuple[float, float, float]] = {}
            for layer in mac_layers:
                mappings: dict[str, es.Mapping] = {}
                for dataflow in DATAFLOWS:
                    try:
                        mappings[dataflow] = es.build_mapping(layer, machine, dataflow)
                    except es.EnergySimError:
                        continue
                for objective in OBJECTIVE_NAMES:
                    mappings[f"search:{objective}"] = found[objective].layers[layer.name].mapping
                for label, mapping in mappings.items():
                    key = (_shape_key(layer), Mapping(mapping.levels))
                    if key not in done:
                        done[key] = _engine_row(mapping, layer, machine)
                    energy, estimate, engine = done[key]
                    rows.append(
                        {
                            "network": network_name,
                            "hierarchy": name,
                            "layer": layer.name,
                            "mapping": label,
                            "energy": energy,
                            "estimate": estimate,
                            "engine": engine,
                        }
                    )
    return pd.DataFrame(rows)


def calibration_summary(table: pd.DataFrame) -> str:
    """estimate / engine: min, median, max and the share within 10 %, per hierarchy and overall."""
    lines = []
    table = table.assign(ratio=table["estimate"] / table["engine"])
    groups = [(f"{h}", g) for h, g in table.groupby("hierarchy", sort=False)]
    groups += [("searched only", table[table["mapping"].str.startswith("search")]), ("all", table)]
    for label, group in groups:
        ratio = group["ratio"]
        within = float(((ratio - 1).abs() <= 0.10).mean())
        lines.append(
            f"  {label:14s} {len(ratio):4d} mappings: estimate/engine min {ratio.min():.3f}, "
            f"median {ratio.median():.3f}, max {ratio.max():.3f}, within 10 %: {within:.0%}"
        )
    return "\n".join(lines)


def objectives_summary(table: pd.DataFrame) -> str:
    """Per layer x hierarchy, whether each cycle-weighing search loses, by the engine, to another search."""
    searched = table[table["mapping"].str.startswith("search")].copy()
    searched["edp"] = searched["energy"] * searched["engine"]
    wide = searched.pivot_table(
        index=["network", "hierarchy", "layer"], columns="mapping", values=["engine", "edp"], sort=False
    )
    lines = [f"  {len(wide)} layer x hierarchy pairs"]
    for objective, column in (("cycles", "engine"), ("edp", "edp")):
        values = wide[column]
        own = values[f"search:{objective}"]
        others = values.drop(columns=f"search:{objective}").min(axis=1)
        ratio = own / others
        losing = ratio > 1 + 1e-9
        worst = ratio.idxmax()
        lines.append(
            f"  search:{objective} worse ({column}) than another search in {int(losing.sum())} pairs; "
            f"worst x{ratio.max():.3f} ({' '.join(worst)})"
        )
        named = table[~table["mapping"].str.startswith("search")].copy()
        named["edp"] = named["energy"] * named["engine"]
        best_named = named.groupby(["network", "hierarchy", "layer"], sort=False)[column].min()
        versus = own / best_named.reindex(own.index)
        total = own.sum() / best_named.reindex(own.index).sum()
        lines.append(
            f"    against the best named dataflow: worse in {int((versus > 1 + 1e-9).sum())} pairs, "
            f"worst x{versus.max():.3f}; summed over the pairs x{total:.3f}"
        )
        for pair, value in versus[versus > 1 + 1e-9].items():
            lines.append(f"      {' '.join(pair)}: x{value:.3f}")
    return "\n".join(lines)


if __name__ == "__main__":
    arguments = sys.argv[1:]
    if arguments[:1] == ["--calibrate"]:
        started = time.process_time()
        named, networks = arguments[1:], []
        if "--networks" in named:  # --calibrate [hierarchy ...] --networks NAME ...
            at = named.index("--networks")
            named, networks = named[:at], named[at + 1 :]
        measured = measure(networks or CALIBRATION_NETWORKS, named or CALIBRATION_HIERARCHIES)
        print("cycle estimate against the engine (five dataflows and three searches per layer)")
        print(calibration_summary(measured))
        print("searches against each other, by the engine")
        print(objectives_summary(measured))
        print(f"CPU time: {time.process_time() - started:.0f} s")
    else:
        main(arguments or ["eyeriss", "tpu-like"])
