"""Mapper searches in sweeps: a larger GLB never finds a worse mapping, whatever order the grid lists.

Oracle: ``es.simulate`` of the mappings each point received (the engine's cycles, and its
energy x cycles), compared across GLB sizes. A mapping that fits a GLB fits every larger one
and costs the same there, so the best found for a larger GLB can always be at least as good;
searched one by one (no chaining) it was not: LeNet-5 c3a on eyeriss under ``cycles`` found
893.5 cycles with a 1,024-byte GLB and 1,002 with 2,048 bytes (edp 6.03e8 and 7.17e8).
"""

from __future__ import annotations

import itertools
import sys

import pytest

import energysim as es
from energysim.model.variations import dominates
from energysim.search import clear_search_cache
from energysim.sweep.grid import Grid, Resolver, Task, with_searched_mappings


def _searched(sizes: list[int], layers: list[str], objective: str) -> list[Task]:
    grid = Grid(
        ["lenet5"],
        ["eyeriss"],
        dataflows=[f"search:{objective}"],
        variations={"GLB.size_bytes": sizes},
        layers=layers,
    )
    resolver = Resolver("simulate")
    return with_searched_mappings([resolver.resolve(i, point) for i, point in enumerate(grid.points())])


def _measured(tasks: list[Task], objective: str) -> dict[str, list[float]]:
    """Per layer, the engine's cycles (or energy x cycles) of each point's mapping, by GLB size."""
    values: dict[str, dict[int, float]] = {}
    for task in tasks:
        assert task.mappings is not None
        assert task.layers is not None
        result = es.simulate(task.network, task.hierarchy, mapping=task.mappings, layers=list(task.layers))
        table = result.layers.set_index("layer")
        size = task.hierarchy.levels[1].size_bytes
        assert isinstance(size, int)
        for layer in task.layers:
            cycles = float(table.loc[layer, "cycles"])
            values.setdefault(layer, {})[size] = cycles * (
                float(table.loc[layer, "energy"]) if objective == "edp" else 1.0
            )
    return {layer: [by_size[size] for size in sorted(by_size)] for layer, by_size in values.items()}


@pytest.mark.parametrize("objective", ["cycles", "edp"])
@pytest.mark.parametrize("layer", ["c3a", "c3c"])
def test_a_glb_sweep_never_finds_a_worse_mapping_on_a_larger_glb(layer: str, objective: str) -> None:
    """Sizes listed out of order; searched one by one, c3a got worse at 2,048 B and c3c at 4,096 B."""
    tasks = _searched([4096, 1024, 2048], [layer], objective)
    for layer, values in _measured(tasks, objective).items():
        assert all(b <= a * (1 + 1e-9) for a, b in itertools.pairwise(values)), (layer, values)


def test_chained_sweep_searches_do_not_depend_on_the_order_of_the_grid() -> None:
    """The chain follows GLB dominance, not the grid's order (the search cache is keyed by all that
    decides a search, the earlier mappings it starts from included, so it cannot hide a difference)."""
    forward = _searched([1024, 2048, 4096], ["c3a"], "cycles")
    backward = _searched([4096, 2048, 1024], ["c3a"], "cycles")
    by_size = {task.hierarchy.levels[1].size_bytes: task.mappings for task in forward}
    assert all(task.mappings == by_size[task.hierarchy.levels[1].size_bytes] for task in backward)


def test_dominates_means_only_sizes_grew() -> None:
    """Hand-built variations of eyeriss: a larger level (any, per tensor too) dominates; a smaller
    one, another field, or a partition that shrank does not; the name does not matter."""
    eyeriss = es.load_hierarchy("eyeriss")
    larger = eyeriss.with_level("GLB", size_bytes=2 * 110592)
    assert dominates(larger, eyeriss)
    assert not dominates(eyeriss, larger)
    assert dominates(eyeriss, eyeriss)
    renamed = es.Hierarchy.model_validate({**larger.model_dump(), "name": "other"})
    assert dominates(renamed, eyeriss)
    assert not dominates(larger.with_level("GLB", bandwidth_bytes_per_cycle=16), eyeriss)
    rf = eyeriss.with_level("RF", size_bytes={"weights": 896, "inputs": 24, "outputs": 48})
    assert dominates(rf, eyeriss)
    shrunk = rf.with_level("RF", size_bytes={"weights": 896, "inputs": 12, "outputs": 48})
    assert not dominates(shrunk, eyeriss)


def test_a_trimmed_score_cache_changes_no_search(monkeypatch: pytest.MonkeyPatch) -> None:
    """Oracle: the same search with untrimmed caches. With room for one (layer, hierarchy) score
    table, an energy search on a second GLB evicts the first's scores while its cached search
    result stays; an edp search on the first then pooled mappings without scores (a KeyError)."""
    search_module = sys.modules["energysim.search"]
    lenet = es.load_workload("lenet5")
    eyeriss = es.load_hierarchy("eyeriss")
    other = eyeriss.with_level("GLB", size_bytes=4096)

    def found() -> es.Mapping:
        es.search(lenet, eyeriss, "energy", layers=["c3a"])
        es.search(lenet, other, "energy", layers=["c3a"])
        return es.search(lenet, eyeriss, "edp", layers=["c3a"]).mappings["c3a"]

    clear_search_cache()
    untrimmed = found()
    clear_search_cache()
    monkeypatch.setattr(search_module, "MAX_METRIC_CONTEXTS", 1)
    assert found() == untrimmed
    clear_search_cache()
    monkeypatch.setattr(search_module, "MAX_SEARCHES", 1)  # and the searches' cache kept to one
    assert found() == untrimmed
    assert len(search_module._CACHE) == 1
    clear_search_cache()


def test_hierarchies_equal_but_for_their_names_are_searched_in_one_chain() -> None:
    """Each dominates the other; the chain orders them by their JSON instead of failing (a
    KeyError), and the later one, started from the earlier's result, is no worse by es.analyze."""
    eyeriss = es.load_hierarchy("eyeriss")
    copy = es.Hierarchy.model_validate({**eyeriss.model_dump(), "name": "eyeriss-copy"})
    grid = Grid(["lenet5"], [eyeriss, copy], dataflows=["search:energy"], layers=["c1"])
    resolver = Resolver("analyze")
    tasks = with_searched_mappings([resolver.resolve(i, point) for i, point in enumerate(grid.points())])
    assert len(tasks) == 2
    assert all(task.mappings is not None for task in tasks)
    first, later = sorted(tasks, key=lambda task: task.hierarchy.model_dump_json())

    def energy(task: Task) -> float:
        result = es.analyze("lenet5", eyeriss, mapping=task.mappings, layers=["c1"])
        return float(result.layers["energy"].iloc[0])

    assert energy(later) <= energy(first) * (1 + 1e-12)


def test_a_table_priced_larger_glb_still_chains_under_cycles() -> None:
    """tpu-like's energy table prices a doubled unified buffer dearer per access (437.5 -> 603.6 pJ),
    so it does not dominate at equal prices, but its mappings fit and take the same engine time."""
    tpu = es.load_hierarchy("tpu-like")
    larger = tpu.with_level("UnifiedBuffer", size_bytes=2 * 24 * 1024**2)
    assert larger.levels[1].read_energy_pj > tpu.levels[1].read_energy_pj
    assert not dominates(larger, tpu)
    assert dominates(larger, tpu, energies=False)
    assert not dominates(tpu, larger, energies=False)
    assert not dominates(larger.with_level("UnifiedBuffer", ports=2), tpu, energies=False)
