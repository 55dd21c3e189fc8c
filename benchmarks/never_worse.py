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
reason it does not (the same walk as the mapper's ``Searcher.from_mapping``,
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
from energysim.mapping.factors import spatial_splits
from energysim.mapping.mapspace import DIM_INDEX, Space, build_space
from energysim.model.layers import DIMENSIONS, LayerBase
from energysim.model.mapping import Mapping

ROOT = Path(__file__).resolve().parents[1]
DATAFLOWS = ("ws", "os", "is", "rs", "nlr")
TOLERANCE = 1e-9
#: Spatial splits tried per level when explaining why a mapping is outside the space.
MAX_SPLITS = 64


def why_outside(layer: LayerBase, machine: es.Hierarchy, mapping: Mapping) -> str | None:
    """None if ``mapping`` lies in the layer's (unconstrained) mapspace, else the first reason why not."""
    space = build_space(layer, machine)
    per_level = []
    for index, level in enumerate(mapping.levels):
        axes = [k for k in space.spatial_slots if space.slots[k].level == index]
        loops = [(DIM_INDEX[loop.dim], loop.factor) for loop in level.spatial]
        capacities = [space.slots[k].capacity for k in axes]
        allowed = [space.slots[k].dims for k in axes]
        splits = list(itertools.islice(spatial_splits(loops, capacities, allowed), MAX_SPLITS))
        if not splits:
            spread = " x ".join(f"{loop.dim}{loop.factor}" for loop in level.spatial)
            return f"level {level.level}: spatial loops {spread} do not spread over its fan-out axes"
        per_level.append((axes, splits))
    reason = "no spatial split"
    for choice in itertools.product(*(splits for _, splits in per_level)):
        factors = [[1] * len(DIMENSIONS) for _ in space.slots]
        for (axes, _), split in zip(per_level, choice, strict=True):
            for k, part in zip(axes, split, strict=True):
                for d, factor in part.items():
                    factors[k][d] *= factor
        problem = space.spatial_ok(tuple(tuple(row) for row in factors))
        if problem is None:
            return _why_not_completed(space, mapping)
        reason = problem
    return f"spatial: {reason}"


def _why_not_completed(space: Space, mapping: Mapping) -> str | None:
    for dim in DIMENSIONS:
        product = mapping.factor(dim)
        if product < space.bounds[dim] or (product > space.bounds[dim] and not space.constraints.imperfect):
            return f"{dim}: factors multiply to {product}, the bound is {space.bounds[dim]}"
    for index, level in enumerate(mapping.levels):
        if level.keeps not in space.keep_options[index]:
            return f"level {level.level}: keeps {level.keeps}, not a keep choice of the space"
    return None


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
