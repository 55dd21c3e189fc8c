"""Never worse: the searched mapping against the dataflow builders, layer by layer, everywhere.

Run: python benchmarks/never_worse.py [network ...] [--hierarchies NAME ...]
(default: every shipped network x every shipped hierarchy)

The issue's goal: "on every shipped network x hierarchy, the searched
mapping's energy under the ``energy`` objective is <= the current dataflow
builder's, layer by layer". For every combination, ``es.search`` (energy
objective, default budget) against ``es.analyze`` of the hierarchy's default
dataflow (``default_dataflow``, else rs) and against the best of the five
dataflows per layer; all energies from ``es.analyze``. Printed per
combination: layers with MACs, layers worse, the worst per-layer ratio
(searched / builder) and the whole network's ratio. For every worse layer:
whether the builder's mapping lies in the mapspace, and if not, the first
reason it does not (``Searcher.place``, the walk of the mapper's ``from_mapping``,
which seeds the search with the builders' mappings that lie in the space).
A layer is worse when its searched energy exceeds the builder's by more than
a relative 1e-9 (float summation order aside).
"""

from __future__ import annotations

import argparse
import itertools
import time
from pathlib import Path

import pandas as pd

import energysim as es
from energysim.mapping.mapspace import build_space
from energysim.mapping.search import Searcher
from energysim.model.layers import LayerBase
from energysim.model.mapping import Mapping

ROOT = Path(__file__).resolve().parents[1]
DATAFLOWS = ("ws", "os", "is", "rs", "nlr")
TOLERANCE = 1e-9


def why_outside(layer: LayerBase, machine: es.Hierarchy, mapping: Mapping) -> str | None:
    """None if ``mapping`` lies in the layer's (unconstrained) mapspace, else the first reason why not."""
    placed = Searcher(build_space(layer, machine), lambda _: 0.0).place(mapping)
    return placed if isinstance(placed, str) else None


def energies(network: es.Network, machine: es.Hierarchy, **how: object) -> pd.Series:
    """Per layer with MACs, its energy from es.analyze."""
    layers = es.analyze(network, machine, **how).layers.set_index("layer")  # type: ignore[arg-type]
    return layers.loc[layers["macs"] > 0, "energy"]


def compare(network: es.Network, machine: es.Hierarchy) -> list[str]:
    """One combination's lines: against the default dataflow, against the best of five, worse layers."""
    default = machine.default_dataflow or "rs"
    found = es.search(network, machine, "energy")
    ours = energies(network, machine, mapping=found.mappings)
    builders = {name: energies(network, machine, dataflow=name) for name in DATAFLOWS}
    best = pd.concat(builders.values(), axis=1).min(axis=1)
    lines = []
    for label, theirs in ((default, builders[default]), ("best of 5", best)):
        ratio = ours / theirs
        worse = ratio[ratio > 1 + TOLERANCE]
        lines.append(
            f"  vs {label:9s}: {len(ours):3d} layers, {len(worse):2d} worse, worst x{ratio.max():.4f}, "
            f"network x{ours.sum() / theirs.sum():.4f}"
        )
        for name in worse.index:
            per_dataflow = {dataflow: builders[dataflow][name] for dataflow in DATAFLOWS}
            owner: str = default if label == default else min(per_dataflow, key=per_dataflow.__getitem__)
            mapping = es.build_mapping(network[name], machine, owner)
            reason = why_outside(network[name], machine, mapping)
            where = "in the space" if reason is None else f"outside the space: {reason}"
            lines.append(f"      {name}: x{ratio[name]:.4f} against {owner}, whose mapping is {where}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "networks", nargs="*", default=sorted(p.stem for p in (ROOT / "workloads").glob("*.yaml"))
    )
    parser.add_argument(
        "--hierarchies", nargs="*", default=sorted(p.stem for p in (ROOT / "hierarchies").glob("*.yaml"))
    )
    args = parser.parse_args()
    total_worse = 0
    for network_name, hierarchy_name in itertools.product(args.networks, args.hierarchies):
        network, machine = es.load_workload(network_name), es.load_hierarchy(hierarchy_name)
        started = time.perf_counter()
        lines = compare(network, machine)
        total_worse += sum(line.startswith("      ") for line in lines)
        print(f"{network_name} on {hierarchy_name} ({time.perf_counter() - started:.0f} s)")
        print("\n".join(lines), flush=True)
    print(f"worse layers in all (against the default dataflow and the best of 5): {total_worse}")


if __name__ == "__main__":
    main()
