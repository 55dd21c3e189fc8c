"""The mapper against its oracles.

* Small spaces: a brute-force enumeration written here, independently of
  :mod:`energysim.mapping.mapspace` (its own divisor splits, every loop order
  of every level, every keep subset, capacity checked by ``check_mapping``),
  finds the optimum of each objective; the search must find the same value.
* Never worse than today: the searched energy is at most the named
  dataflow's on shipped layers (both measured by ``es.analyze``).
* A 32x32 weight-stationary systolic array under ``cycles``: every row and
  column is used when R*S*C and M allow, and the engine's cycles are within 2%
  of SCALE-Sim's fold formula at the least possible fold count (counted by hand).
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import energysim as es
from energysim.analysis.accesses import plan_accesses
from energysim.engine import simulate_layer
from energysim.errors import EnergySimError
from energysim.mapping.check import fanout
from energysim.mapping.mapspace import build_space, mapspace
from energysim.mapping.search import Searcher
from energysim.objectives import OBJECTIVES, evaluate, score
from energysim.search import search_layer

DIMS = "GNMCPQRS"
TENSORS = ("weights", "inputs", "outputs")
#: Every subset of the tensors (what a level below the outermost may keep).
SUBSETS = [tuple(t for i, t in enumerate(TENSORS) if mask >> i & 1) for mask in range(8)]


def _hierarchy(rng: random.Random, index: int) -> es.Hierarchy:
    rows, cols = rng.choice([(1, 2), (2, 1), (2, 2), (1, 3)])
    levels: list[dict[str, Any]] = [{"name": "DRAM", "kind": "dram", "bandwidth_bytes_per_cycle": 4}]
    levels.append(
        {
            "name": "GLB",
            "kind": "sram",
            "size_bytes": rng.choice([16, 32, 64, 4096]),
            "bandwidth_bytes_per_cycle": rng.choice([2, 8]),
            "double_buffered": rng.random() < 0.5,
            "keeps": rng.choice([["weights", "inputs", "outputs"], ["inputs", "outputs"], ["weights"]]),
            "network": {"multicast": rng.random() < 0.7},
        }
    )
    if rng.random() < 0.6:
        levels.append(
            {
                "name": "RF",
                "kind": "regfile",
                "instances": rows * cols,
                "size_bytes": rng.choice([4, 8, 64]),
                "keeps": rng.choice([["weights", "outputs"], ["weights"], ["outputs"]]),
                "bandwidth_bytes_per_cycle": 2,
            }
        )
    return es.Hierarchy.model_validate(
        {
            "version": 1,
            "name": f"small-{index}",
            "energy_table": "eyeriss-normalized",
            "clock_ghz": 1.0,
            "levels": levels,
            "compute": {"array": {"rows": rows, "cols": cols}, "systolic": rng.random() < 0.3},
        }
    )


def _layer(rng: random.Random, index: int) -> es.Network:
    if rng.random() < 0.5:
        layer = {"name": f"fc{index}", "type": "fc", "C": rng.choice([2, 3, 4]), "M": rng.choice([1, 2])}
    else:
        layer = {
            "name": f"conv{index}",
            "type": "conv",
            "C": 1,
            "M": rng.choice([1, 2]),
            "H": 3,
            "W": 1,
            "R": rng.choice([1, 2]),
            "S": 1,
            "stride": 1,
        }
    return es.Network.model_validate({"version": 1, "name": "n", "layers": [layer]})


def _splits(value: int, parts: int) -> list[tuple[int, ...]]:
    """Every ordered ``parts``-tuple of positive integers multiplying to ``value`` (divisor recursion)."""
    if parts == 1:
        return [(value,)]
    return [
        (first, *rest)
        for first in range(1, value + 1)
        if value % first == 0
        for rest in _splits(value // first, parts - 1)
    ]


def _axes(hierarchy: es.Hierarchy) -> list[tuple[int, int, str]]:
    """(level, size, axis) of every fan-out axis: the PE grid's rows and columns apart."""
    axes = []
    for index, level in enumerate(hierarchy.levels):
        count = fanout(hierarchy, index)
        array = hierarchy.compute.array
        if (
            count > 1
            and level.instances == 1
            and count == array.rows * array.cols
            and array.rows > 1 < array.cols
        ):
            axes += [(index, array.rows, "rows"), (index, array.cols, "cols")]
        elif count > 1:
            axes.append((index, count, "instances"))
    return axes


def _group(dims: set[str]) -> str | None:
    for group in ("CRS", "GM", "NPQ"):
        if dims <= set(group):
            return group
    return None


def _all_mappings(layer: es.Network, hierarchy: es.Hierarchy) -> Iterator[es.Mapping]:
    """Every mapping of the layer (checked by check_mapping): divisor splits, all orders and keep subsets."""
    mac_layer = layer.layers[0]
    bounds = mac_layer.loop_bounds
    assert bounds is not None
    levels = len(hierarchy.levels)
    axes = _axes(hierarchy)
    slots = levels + len(axes)
    per_dim = [_splits(bounds.sizes[d], slots) for d in DIMS]
    keep_choices = [[hierarchy.levels[0].keeps]] + [
        [tuple(t for t in level.keeps if t in subset) for subset in SUBSETS] for level in hierarchy.levels[1:]
    ]
    keep_choices = [list(dict.fromkeys(choice)) for choice in keep_choices]
    for choice in itertools.product(*per_dim):
        spatial = [
            {DIMS[d]: choice[d][levels + a] for d in range(8) if choice[d][levels + a] > 1}
            for a in range(len(axes))
        ]
        if any(math.prod(s.values()) > axes[a][1] for a, s in enumerate(spatial)):
            continue
        if hierarchy.compute.systolic:
            groups = [_group(set(s)) for a, s in enumerate(spatial) if s and axes[a][2] != "instances"]
            if None in groups or len(set(groups)) != len(groups):
                continue
        temporal = [{DIMS[d]: choice[d][i] for d in range(8) if choice[d][i] > 1} for i in range(levels)]
        for keeps in itertools.product(*keep_choices):
            for orders in itertools.product(*(itertools.permutations(t) for t in temporal)):
                mapping = es.Mapping(
                    tuple(
                        es.LevelMapping(
                            level=hierarchy.levels[i].name,
                            temporal=tuple(es.Loop(d, temporal[i][d]) for d in orders[i]),
                            spatial=tuple(
                                es.Loop(d, f)
                                for a, s in enumerate(spatial)
                                if axes[a][0] == i
                                for d, f in s.items()
                            ),
                            keeps=keeps[i],
                        )
                        for i in range(levels)
                    )
                )
                try:
                    es.check_mapping(mapping, mac_layer, hierarchy)
                except es.EnergySimError:
                    continue
                yield mapping


def _brute_force(layer: es.Network, hierarchy: es.Hierarchy) -> dict[str, float]:
    """The least score of each objective over every mapping (checked by check_mapping)."""
    mac_layer = layer.layers[0]
    best = dict.fromkeys(OBJECTIVES, math.inf)
    for mapping in _all_mappings(layer, hierarchy):
        metrics = evaluate(mapping, mac_layer, hierarchy)
        for name, weights in OBJECTIVES.items():
            best[name] = min(best[name], score(metrics, weights))
    return best


CASES = list(range(22))


@pytest.mark.parametrize("case", CASES)
def test_search_finds_the_brute_force_optimum(case: int) -> None:
    rng = random.Random(1000 + case)
    hierarchy = _hierarchy(rng, case)
    network = _layer(rng, case)
    layer = network.layers[0]
    expected = _brute_force(network, hierarchy)
    assert all(math.isfinite(v) for v in expected.values()), "the oracle found no mapping"
    for name, weights in OBJECTIVES.items():
        found = search_layer(layer, hierarchy, name, {"imperfect": False}, rerank=0)
        assert found.explored.exhaustive
        assert score(found.metrics, weights) == pytest.approx(expected[name], abs=1e-9), name


#: Small cases for the engine oracle: a few tiny spaces and the two (6, 17) where the estimate's top
#: four missed the engine's optimum under cycles or edp.
ENGINE_CASES = [0, 2, 6, 15, 17, 20]


@pytest.mark.parametrize("case", ENGINE_CASES)
def test_cycle_searches_find_the_engines_optimum_of_a_small_space(case: int) -> None:
    """Oracle: every mapping of the independent enumeration, replayed by the engine
    (``simulate_layer``); its least cycles and least energy x engine cycles are what the
    ``cycles`` and ``edp`` searches find (a small layer's space is ranked by the engine whole)."""
    rng = random.Random(1000 + case)
    hierarchy = _hierarchy(rng, case)
    network = _layer(rng, case)
    layer = network.layers[0]
    assert layer.loop_bounds is not None
    least_cycles = least_edp = math.inf
    for mapping in _all_mappings(network, hierarchy):
        plan = plan_accesses(mapping, layer.loop_bounds, hierarchy, layer.macs)
        cycles = simulate_layer(plan, layer, hierarchy).cycles
        least_cycles = min(least_cycles, cycles)
        least_edp = min(least_edp, evaluate(mapping, layer, hierarchy).energy * cycles)
    found = search_layer(layer, hierarchy, "cycles", {"imperfect": False}).metrics
    assert found.engine_cycles == pytest.approx(least_cycles, rel=1e-12)
    found = search_layer(layer, hierarchy, "edp", {"imperfect": False}).metrics
    assert found.engine_cycles is not None
    assert found.energy * found.engine_cycles == pytest.approx(least_edp, rel=1e-12)


@pytest.mark.parametrize(
    ("workload", "hierarchy", "layer"),
    [
        ("lenet5", "eyeriss", "c3a"),
        ("lenet5", "edge-npu", "c5"),
        ("alexnet", "tpu-like", "fc8"),
        ("resnet50", "eyeriss", "res4b_branch2a"),
    ],
)
def test_a_cycle_search_never_loses_by_the_engine_to_another_search_or_a_dataflow(
    workload: str, hierarchy: str, layer: str
) -> None:
    """Oracle: ``es.simulate`` of each mapping. The ``cycles`` search is no slower than the
    ``energy`` and ``edp`` searches' mappings or any named dataflow's whose mapping lies in its
    space; the ``edp`` search's energy x cycles is no higher than theirs."""
    network = es.load_workload(workload)
    machine = es.load_hierarchy(hierarchy)
    candidates = {o: es.search(network, machine, o, layers=[layer]).mappings for o in OBJECTIVES}
    runs = {name: es.simulate(network, machine, mapping=m, layers=[layer]) for name, m in candidates.items()}
    for dataflow in ("ws", "os", "is", "rs", "nlr"):
        if _dataflow_in_space(network[layer], machine, dataflow):
            runs[dataflow] = es.simulate(network, machine, dataflow, layers=[layer])
    cycles = {name: run.cycles for name, run in runs.items()}
    edp = {name: run.total_energy * cycles[name] for name, run in runs.items()}
    assert all(cycles["cycles"] <= value * (1 + 1e-9) for value in cycles.values()), cycles
    assert all(edp["edp"] <= value * (1 + 1e-9) for value in edp.values()), edp


def _dataflow_in_space(layer: Any, machine: es.Hierarchy, dataflow: str) -> bool:
    try:
        mapping = es.build_mapping(layer, machine, dataflow)
    except EnergySimError:
        return False
    return Searcher(build_space(layer, machine), lambda _: 0.0).from_mapping(mapping) is not None


@pytest.mark.parametrize(
    ("workload", "layer", "hierarchy", "dataflows"),
    [
        ("alexnet", "conv3", "eyeriss", "rs ws os is nlr"),
        ("resnet50", "res2a_branch2b", "eyeriss", "rs ws os"),
        # On a systolic array only mappings with one dimension group per edge are in the space;
        # the rs builder spreads P and M over the columns, so the native ws is the reference.
        ("alexnet", "conv2", "tpu-like", "ws"),
        ("resnet50", "res3a_branch1", "edge-npu", "rs ws"),
    ],
)
def test_searched_energy_is_never_above_the_dataflow(
    workload: str, layer: str, hierarchy: str, dataflows: str
) -> None:
    network = es.load_workload(workload)
    machine = es.load_hierarchy(hierarchy)
    searched = es.search(network, machine, "energy", layers=[layer], budget_s=None, evaluations=60)
    ours = es.analyze(network, machine, mapping=searched.mappings, layers=[layer]).total_energy
    for dataflow in dataflows.split():
        theirs = es.analyze(network, machine, dataflow, layers=[layer]).total_energy
        assert ours <= theirs * (1 + 1e-12), dataflow


def _systolic(rows: int, cols: int) -> es.Hierarchy:
    ample = 1e12
    return es.Hierarchy.model_validate(
        {
            "version": 1,
            "name": f"ws-{rows}x{cols}",
            "energy_table": "eyeriss-normalized",
            "clock_ghz": 1.0,
            "levels": [
                {"name": "DRAM", "kind": "dram", "bandwidth_bytes_per_cycle": ample},
                {
                    "name": "SRAM",
                    "kind": "sram",
                    "size_bytes": 1 << 30,
                    "bandwidth_bytes_per_cycle": ample,
                    "double_buffered": True,
                    "network": {"multicast": True},
                },
                {
                    "name": "PE",
                    "kind": "regfile",
                    "instances": rows * cols,
                    "size_bytes": {"weights": 2},
                    "keeps": ["weights"],
                    "bandwidth_bytes_per_cycle": ample,
                },
            ],
            "compute": {"array": {"rows": rows, "cols": cols}, "systolic": True},
        }
    )


def test_systolic_array_is_filled_under_cycles() -> None:
    """C=64, R=S=3, M=64 on 32x32: at best ceil(576/32) x ceil(64/32) = 36 folds of T = P*Q = 196 steps.

    SCALE-Sim's fold: 2*32 + 32 + 196 - 2 = 290 cycles, so 36 x 290 = 10,440 cycles at best.
    """
    layer = es.Network.model_validate(
        {
            "version": 1,
            "name": "n",
            "layers": [{"name": "c", "type": "conv", "C": 64, "H": 16, "W": 16, "M": 64, "R": 3, "S": 3}],
        }
    ).layers[0]
    machine = _systolic(32, 32)
    found = search_layer(layer, machine, "cycles", "ws", budget_s=None, evaluations=80)
    assert found.metrics.pes_used == 32 * 32
    assert found.metrics.engine_cycles is not None
    assert found.metrics.engine_cycles == pytest.approx(36 * 290, rel=0.02)


def test_mapspace_counts_a_hand_counted_space() -> None:
    """fc C=4, M=2 on DRAM -> GLB (all tensors) fanning out to 2 instances (no systolic rule).

    Slots: 2 temporal levels + 1 axis of 2. C=2^2 over 3 slots: C(4,2) = 6 splits, of which those
    with C's spatial factor 4 exceed the axis: 6 - 1 = 5; M=2: 3 splits. Joint: the axis holds at
    most 2, so (C spatial 2, M spatial 2) is out: C spatial 1 (3 splits) x M any (3) + C spatial 2
    (2 splits) x M spatial 1 (2) = 9 + 4 = 13 tile factor choices; spatial unrollings: (1,1),
    (2,1), (1,2) = 3; keep/bypass: GLB's 2^3 = 8 subsets.
    """
    machine = es.Hierarchy.model_validate(
        {
            "version": 1,
            "name": "two",
            "energy_table": "eyeriss-normalized",
            "clock_ghz": 1.0,
            "levels": [
                {"name": "DRAM", "kind": "dram", "bandwidth_bytes_per_cycle": 4},
                {"name": "GLB", "kind": "sram", "size_bytes": 64, "bandwidth_bytes_per_cycle": 4},
            ],
            "compute": {"array": {"rows": 1, "cols": 2}},
        }
    )
    layer = es.Network.model_validate(
        {"version": 1, "name": "n", "layers": [{"name": "f", "type": "fc", "C": 4, "M": 2}]}
    ).layers[0]
    size = mapspace(layer, machine, {"imperfect": False})
    assert size.tile_factors == 13
    assert size.spatial_unrollings == 3
    assert size.keep_bypass == 8


def test_no_valid_mapping_names_the_capacity() -> None:
    machine = _systolic(2, 2)
    layer = es.Network.model_validate(
        {"version": 1, "name": "n", "layers": [{"name": "f", "type": "fc", "C": 4, "M": 2}]}
    ).layers[0]
    # Weights of 16 bits in a 2-byte, double-buffered-free register: the PE level keeps weights,
    # and the constraint forbids bypassing it while fixing a factor 2 of C there (2 weights = 4 B).
    rules = {"imperfect": False, "levels": [{"level": "PE", "keeps": ["weights"], "factors": {"C": 2}}]}
    with pytest.raises(es.EnergySimError, match="PE"):
        search_layer(layer, machine, "energy", rules)


def test_a_dataflow_shown_as_yaml_reads_back_as_the_same_constraints(tmp_path: Any) -> None:
    from energysim.mapping.constraints import constraints_yaml, effective_constraints

    machine = es.load_hierarchy("eyeriss")
    shown = es.dataflow_constraints("rs", machine)
    path = tmp_path / "rs.yaml"
    path.write_text(constraints_yaml(shown), encoding="utf-8")
    assert effective_constraints(path, machine) == effective_constraints("rs", machine)
    rf = next(level for level in shown.levels if level.level == "RF")
    assert rf.factors == {"G": 1, "N": 1, "P": 1, "Q": 1, "R": 1}  # rs's PE loops: S, C, M only


def test_constraints_extend_a_dataflow_and_bind_the_search(tmp_path: Any) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text(
        "version: 1\nextends: ws\nlevels:\n  - level: DRAM\n    order: MC\n    max_factors: {P: 4}\n",
        encoding="utf-8",
    )
    layer = es.load_workload("alexnet")["conv3"]
    found = search_layer(layer, es.load_hierarchy("eyeriss"), "energy", path, evaluations=30)
    dram, _glb, rf = found.mapping.levels
    order = "".join(loop.dim for loop in dram.temporal)
    assert order.startswith("".join(d for d in "MC" if d in order))
    assert all(loop.factor <= 4 for loop in dram.temporal if loop.dim == "P")
    assert set(rf.keeps) <= {"weights"}  # ws: the PE keeps weights only
    assert {loop.dim for loop in rf.temporal} <= set("CMRS")


def test_a_bad_constraint_file_is_one_error_naming_file_and_field(tmp_path: Any) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("version: 1\nlevels:\n  - level: DRAM\n    order: MZ\n", encoding="utf-8")
    with pytest.raises(es.EnergySimError, match=r"bad.yaml.*order"):
        es.load_constraints(path)
    path.write_text("version: 1\nmin_utilisation: 2\n", encoding="utf-8")
    with pytest.raises(es.EnergySimError, match=r"bad.yaml.*min_utilisation"):
        es.load_constraints(path)
    path.write_text("version: 1\nextends: zz\n", encoding="utf-8")
    with pytest.raises(es.EnergySimError, match=r"bad.yaml: extends: unknown dataflow 'zz'"):
        es.load_constraints(path)
    path.write_text("version: 1\nlevels:\n  - {level: GLB, factors: {C: 4294967296}}\n", encoding="utf-8")
    with pytest.raises(es.EnergySimError, match=r"bad.yaml: levels\[0\].factors.C"):
        es.load_constraints(path)


def test_searched_mappings_round_trip_through_yaml_and_analyze(tmp_path: Any) -> None:
    from energysim.search import clear_search_cache

    found = es.search("alexnet", "eyeriss", layers=["conv1", "conv2"], evaluations=20)
    clear_search_cache()  # a second, cold search: deterministic for a seed, not merely cached
    again = es.search("alexnet", "eyeriss", layers=["conv1", "conv2"], evaluations=20)
    assert found.mappings == again.mappings
    assert all(not layer.explored.exhaustive for layer in found.layers.values())
    path = tmp_path / "mappings.yaml"
    path.write_text(found.to_yaml(), encoding="utf-8")
    loaded = es.load_mappings(path, "eyeriss")
    assert loaded == found.mappings
    direct = es.analyze("alexnet", "eyeriss", mapping=loaded, layers=["conv1", "conv2"])
    energy = {name: layer.metrics.energy for name, layer in found.layers.items()}
    assert direct.layers.set_index("layer")["energy"].to_dict() == pytest.approx(energy)


def test_min_utilisation_that_nothing_meets_is_named() -> None:
    layer = es.Network.model_validate(
        {"version": 1, "name": "n", "layers": [{"name": "f", "type": "fc", "C": 3, "M": 1}]}
    ).layers[0]
    with pytest.raises(es.EnergySimError, match="min_utilisation"):
        search_layer(layer, _systolic(4, 4), "energy", {"imperfect": False, "min_utilisation": 0.9})


def test_cli_search_writes_mappings_that_load_back(tmp_path: Any, capsys: Any) -> None:
    import argparse

    from energysim.cli.exploration_commands import add_mapper_commands

    parser = argparse.ArgumentParser()
    add_mapper_commands(parser.add_subparsers())
    out = tmp_path / "found"
    args = parser.parse_args(
        [
            "search",
            "alexnet",
            "--hierarchy",
            "eyeriss",
            "--layer",
            "conv3",
            "--search-budget",
            "20",
            "--out",
            str(out),
        ]
    )
    args.run(args)
    assert "conv3" in capsys.readouterr().out
    assert list(es.load_mappings(out / "mappings.yaml", "eyeriss")) == ["conv3"]
    args = parser.parse_args(["dataflow", "show", "ws", "--hierarchy", "tpu-like"])
    args.run(args)
    shown = capsys.readouterr().out
    assert shown.startswith("version: 1")
    assert "PEReg" in shown


def test_tpu_like_names_weight_stationary_as_its_dataflow() -> None:
    assert es.load_hierarchy("tpu-like").default_dataflow == "ws"
    assert es.load_hierarchy("eyeriss").default_dataflow is None


def test_the_readme_constraint_example_binds_the_search() -> None:
    from pathlib import Path

    import yaml

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    block = next(part for part in readme.split("```yaml")[1:] if "extends: ws" in part).split("```")[0]
    found = es.search(
        "alexnet", "eyeriss", constraints=yaml.safe_load(block), layers=["conv3"], evaluations=20
    )
    dram, glb, rf = found.layers["conv3"].mapping.levels
    assert "weights" not in glb.keeps
    assert rf.keeps == ("weights",)
    assert found.layers["conv3"].metrics.pes_used >= 0.5 * 168
    order = "".join(loop.dim for loop in dram.temporal)
    assert order.startswith("".join(d for d in "MC" if d in order))


def test_a_glb_sweep_chained_by_start_from_never_gets_slower() -> None:
    """Each step starts from the previous step's mappings, which fit the larger GLB too.

    The engine re-ranks them with the new candidates, so a larger GLB can only
    keep or lower the engine's cycles (the same mapping has the same time).
    """
    base = es.load_hierarchy("eyeriss").model_dump()
    network = es.Network.model_validate(
        {
            "version": 1,
            "name": "n",
            "layers": [{"name": "conv3", "type": "conv", "C": 16, "H": 10, "W": 10, "M": 32, "R": 3, "S": 3}],
        }
    )
    previous: es.SearchResult | None = None
    cycles = []
    for size in (1024, 2048, 4096, 8192):
        data = {**base, "name": f"eyeriss-glb-{size}"}
        data["levels"] = [dict(level) for level in base["levels"]]
        data["levels"][1]["size_bytes"] = size
        machine = es.Hierarchy.model_validate(data)
        previous = es.search(
            network, machine, "cycles", layers=["conv3"], evaluations=10, start_from=previous
        )
        engine = previous.layers["conv3"].metrics.engine_cycles
        assert engine is not None
        cycles.append(engine)
    assert all(later <= earlier * (1 + 1e-9) for earlier, later in itertools.pairwise(cycles)), cycles


def test_a_searched_mappings_file_feeds_mapping_in_python_and_on_the_command_line(tmp_path: Path) -> None:
    """``energysim search --out`` writes several layers' mappings in one file; ``--mapping`` (and
    ``mapping=`` in Python) reads it back: the run uses exactly the found mappings. A layer mapped
    twice in such a file is one error naming the file and the entry."""
    from energysim.cli import EXIT_USER_ERROR, main

    found = es.search("lenet5", "eyeriss", evaluations=20, layers=["c1", "c3a"])
    path = tmp_path / "mappings.yaml"
    path.write_text(found.to_yaml(), encoding="utf-8")
    result = es.analyze("lenet5", "eyeriss", mapping=path, layers=["c1", "c3a"])
    assert result.mapping == found.mappings
    args = ["run", "lenet5", "--hierarchy", "eyeriss", "--layer", "c1", "--layer", "c3a"]
    assert main([*args, "--mapping", str(path), "--quiet"]) == 0
    twice = path.read_text(encoding="utf-8").replace("layer: c3a", "layer: c1")
    path.write_text(twice, encoding="utf-8")
    with pytest.raises(EnergySimError, match=r"mappings\[1\]: layer 'c1' is mapped twice"):
        es.analyze("lenet5", "eyeriss", mapping=path, layers=["c1"])
    assert main([*args, "--mapping", str(path), "--quiet"]) == EXIT_USER_ERROR
