"""The points of a sweep: a grid (a product of axes) or a list, and what each point resolves to.

A :class:`Point` names a workload, a hierarchy (a base and the variations
applied to it, :mod:`energysim.model.variations`), a mapping choice and a
counting mode. A :class:`Grid` is the product of its axes, expanded in a fixed
order (workloads, hierarchies, variations in the order given, dataflows,
counting), so that point ``i`` of a grid is always the same point.

Variation axes are named ``LEVEL.FIELD`` (``GLB.size_bytes``: a field of a
level), ``compute.array`` (``"32x32"`` or ``[32, 32]``), ``compute.FIELD``
(``compute.datatype``) or ``energy_table``; each becomes a column of the
sweep's frames.

The mapping choice is the ``dataflows`` axis. Today its values are the named
dataflows (``ws``, ``os``, ``is``, ``rs``, ``nlr``); :func:`mapping_arguments`
is the one place that turns a value into the facade's arguments, so a mapper
objective (``search:energy``, say) plugs in there, with
:func:`check_mapping_choice`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import math
from collections.abc import Callable, Sequence
from collections.abc import Mapping as MappingOf
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from energysim._version import __version__
from energysim.analysis.timeloop_rules import COUNTING_MODES
from energysim.errors import EnergySimError
from energysim.mapping.dataflows import DATAFLOWS
from energysim.model.hierarchy import Hierarchy
from energysim.model.layers import LayerBase
from energysim.model.limits import MAX_SWEEP_POINTS
from energysim.model.loading import load_hierarchy
from energysim.model.mapping import Mapping
from energysim.model.variations import dominates
from energysim.model.workload import Network
from energysim.objectives import OBJECTIVES
from energysim.prepare import as_network
from energysim.search import search_objective, searched_mappings

WorkloadLike = str | Path | Network | LayerBase
HierarchyLike = str | Path | Hierarchy
#: The facades a sweep can run.
MODES = ("analyze", "simulate")
DEFAULT_COUNTING = COUNTING_MODES[0]


def check_mapping_choice(choice: str) -> None:
    """A value of the ``dataflows`` axis: a named dataflow, or ``search:OBJECTIVE`` (the mapper)."""
    if choice not in DATAFLOWS and search_objective(choice) is None:
        raise EnergySimError(
            f"dataflow {choice!r}: unknown; known dataflows: {', '.join(DATAFLOWS)}, or "
            f"search:OBJECTIVE ({', '.join(OBJECTIVES)})"
        )


def mapping_arguments(choice: str) -> dict[str, Any]:
    """The facade's arguments for one value of the ``dataflows`` axis (part of a point's key)."""
    check_mapping_choice(choice)
    if search_objective(choice) is not None:
        return {"dataflow": None, "mapping": choice}
    return {"dataflow": choice}


def check_counting(counting: str) -> None:
    """A value of the ``counting`` axis must be a known counting mode."""
    if counting not in COUNTING_MODES:
        raise EnergySimError(f"counting {counting!r}: unknown; counting modes: {', '.join(COUNTING_MODES)}")


def vary(hierarchy: Hierarchy, axis: str, value: Any) -> Hierarchy:
    """``hierarchy`` with one variation axis set to ``value`` (see the module docstring)."""
    if axis == "energy_table":
        return hierarchy.with_energy_table(value)
    where, dot, name = axis.partition(".")
    if not dot or not where or not name:
        raise EnergySimError(
            f"variation {axis!r}: expected LEVEL.FIELD (GLB.size_bytes), compute.array, "
            "compute.FIELD or energy_table"
        )
    if where == "compute" and name == "array":
        rows, cols = array_shape(value)
        return hierarchy.with_compute(rows=rows, cols=cols)
    if where == "compute":
        return hierarchy.with_compute(**{name: value})
    return hierarchy.with_level(where, **{name: value})


def array_shape(value: Any) -> tuple[int, int]:
    """``"32x32"`` or ``[32, 32]`` as (rows, cols); an error says which forms are accepted."""
    if isinstance(value, str):
        rows, x, cols = value.partition("x")
        if x and rows.isdigit() and cols.isdigit() and len(value) <= 24:
            return int(rows), int(cols)
    if isinstance(value, list | tuple) and len(value) == 2 and all(type(v) is int for v in value):
        return value[0], value[1]
    raise EnergySimError(f"compute.array: expected ROWSxCOLS ('32x32') or [rows, cols], got {value!r:.60}")


@dataclass(frozen=True)
class Point:
    """One point of a sweep: what to run, and the values of its axes.

    ``variations`` are applied to ``hierarchy`` in order (axis, value).
    """

    workload: WorkloadLike
    hierarchy: HierarchyLike
    dataflow: str = "rs"
    counting: str = DEFAULT_COUNTING
    variations: tuple[tuple[str, Any], ...] = ()
    layers: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Grid:
    """A product of axes; :meth:`points` expands it (at most ``MAX_SWEEP_POINTS`` points)."""

    workloads: Sequence[WorkloadLike]
    hierarchies: Sequence[HierarchyLike]
    dataflows: Sequence[str] = ("rs",)
    counting: Sequence[str] = (DEFAULT_COUNTING,)
    variations: MappingOf[str, Sequence[Any]] = field(default_factory=dict)
    layers: Sequence[str] | None = None

    def size(self) -> int:
        """Points of the grid (computed without expanding it)."""
        sizes = [len(self.workloads), len(self.hierarchies), len(self.dataflows), len(self.counting)]
        return math.prod(sizes + [len(values) for values in self.variations.values()])

    def points(self) -> list[Point]:
        """Every point, workloads outermost, then hierarchies, variations, dataflows, counting."""
        total = self.size()
        if total == 0:
            raise EnergySimError("sweep grid: an axis has no values, so the grid has no points")
        if total > MAX_SWEEP_POINTS:
            raise EnergySimError(
                f"sweep grid: {total:,} points, more than {MAX_SWEEP_POINTS:,} (MAX_SWEEP_POINTS)"
            )
        axes = list(self.variations)
        layers = None if self.layers is None else tuple(self.layers)
        return [
            Point(workload, hierarchy, dataflow, counting, tuple(zip(axes, values, strict=True)), layers)
            for workload, hierarchy, values, dataflow, counting in itertools.product(
                self.workloads,
                self.hierarchies,
                itertools.product(*self.variations.values()),
                self.dataflows,
                self.counting,
            )
        ]


@dataclass(frozen=True)
class Task:
    """A point resolved to what a worker runs: validated objects, and the key of its inputs."""

    index: int
    key: str
    mode: str
    network: Network
    hierarchy: Hierarchy
    dataflow: str
    counting: str
    layers: tuple[str, ...] | None
    base_hierarchy: str
    #: For a ``search:OBJECTIVE`` point, the mappings found (searched once, in the main process,
    #: per workload, hierarchy and objective, and shipped to the workers with the task).
    mappings: dict[str, Mapping] | None = None


class Resolver:
    """Resolves points, loading each workload and each varied hierarchy once for a whole sweep."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self._networks: dict[str, Network] = {}
        self._hierarchies: dict[str, tuple[Hierarchy, Hierarchy]] = {}
        self._dumps: dict[int, Any] = {}

    def _network(self, workload: WorkloadLike) -> Network:
        if isinstance(workload, Network | LayerBase):
            return as_network(workload)
        key = str(workload)
        if key not in self._networks:
            self._networks[key] = as_network(workload)
        return self._networks[key]

    def _hierarchy(self, point: Point) -> tuple[Hierarchy, Hierarchy]:
        """The base hierarchy of ``point`` and its variation."""
        given = point.hierarchy
        key = json.dumps([given if isinstance(given, str) else repr(given), point.variations], default=repr)
        if key not in self._hierarchies:
            base = hierarchy = load_hierarchy(given)
            for axis, value in point.variations:
                hierarchy = vary(hierarchy, axis, value)
            self._hierarchies[key] = (base, hierarchy)
        return self._hierarchies[key]

    def dump(self, model: Network | Hierarchy) -> Any:
        """``model.model_dump(mode="json")``, once per object."""
        if id(model) not in self._dumps:
            self._dumps[id(model)] = (model, model.model_dump(mode="json"))
        return self._dumps[id(model)][1]

    def resolve(self, index: int, point: Point) -> Task:
        """Load and vary ``point``'s inputs; an :class:`EnergySimError` says what is wrong with it."""
        check_mapping_choice(point.dataflow)
        check_counting(point.counting)
        network = self._network(point.workload)
        base, hierarchy = self._hierarchy(point)
        task = Task(
            index, "", self.mode, network, hierarchy, point.dataflow, point.counting, point.layers, base.name
        )
        return dataclasses.replace(task, key=input_key(task, self.dump))


def resolve_point(index: int, point: Point, mode: str) -> Task:
    """Load and vary ``point``'s inputs (see :class:`Resolver`, which does it for many points)."""
    return Resolver(mode).resolve(index, point)


def input_key(task: Task, dump: Callable[[Network | Hierarchy], Any] | None = None) -> str:
    """SHA-256 of the canonical JSON of everything that decides a point's numbers, and the version.

    The hierarchy and the workload are hashed whole (their names included),
    with the mode, the facade's mapping arguments, the counting mode and the
    selected layers: a point whose key is in the store needs no run.
    ``dump`` (default ``model_dump(mode="json")``) may remember dumps.
    """
    dump = dump or (lambda model: model.model_dump(mode="json"))
    inputs = {
        "energysim_version": __version__,
        "mode": task.mode,
        "workload": dump(task.network),
        "hierarchy": dump(task.hierarchy),
        "mapping": mapping_arguments(task.dataflow),
        "counting": task.counting,
        "layers": None if task.layers is None else list(task.layers),
    }
    text = json.dumps(inputs, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def point_columns(index: int, point: Point, task: Task | None) -> dict[str, Any]:
    """The identity of a point in the frames: its index, inputs and axis values.

    ``hierarchy`` is the varied hierarchy's name, ``base_hierarchy`` the one the
    variations were applied to (the axis of the ``hierarchies`` list).
    """
    base = task.base_hierarchy if task else _shown(point.hierarchy)
    columns: dict[str, Any] = {
        "point": index,
        "workload": task.network.name if task else _shown(point.workload),
        "base_hierarchy": base,
        "hierarchy": task.hierarchy.name if task else base,
        "energy_table": task.hierarchy.energy_table if task else None,
        "dataflow": point.dataflow,
        "counting": point.counting,
    }
    for axis, value in point.variations:
        columns[axis] = _axis_value(value)
    return columns


def sweep_axes(points: Sequence[Point]) -> tuple[str, ...]:
    """The columns that tell ``points`` apart: their inputs, then every variation axis."""
    variations = dict.fromkeys(axis for point in points for axis, _ in point.variations)
    return ("workload", "base_hierarchy", "dataflow", "counting", *variations)


def _shown(value: Any) -> str:
    name = getattr(value, "name", None)
    return str(name) if isinstance(name, str) else str(value)


def _axis_value(value: Any) -> Any:
    """An axis value as a frame cell: numbers and strings as they are, anything else as text."""
    if isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple) and len(value) == 2 and all(type(v) is int for v in value):
        return f"{value[0]}x{value[1]}"
    return json.dumps(value, sort_keys=True, default=str)


def with_searched_mappings(tasks: list[Task]) -> list[Task]:
    """``tasks`` with the mapper's mappings on every ``search:OBJECTIVE`` task.

    Each search runs once per workload, hierarchy, objective and layer
    selection, here in the main process (the mapper caches by layer shape), so
    workers never search, and every point of a key gets the same mappings.
    A search that fails is left to the worker, which records its error.

    Searches are chained: a hierarchy that dominates others of the sweep
    (:func:`~energysim.search.dominates` with ``energies=False``: a larger
    GLB, nothing else changed but, maybe, its prices) is searched after them
    and starts from their results, which fit it as they are and take the
    same engine time. So under ``cycles`` a larger GLB never finds a slower
    mapping than a smaller one; at equal prices it never finds a worse one
    under ``energy`` or ``edp`` either, and where a table prices the larger
    SRAM dearer, never worse than the smaller GLB's mapping at the larger
    GLB's prices. The order is the dominance order, ties (hierarchies equal
    but for their names or prices) by the hierarchy's JSON: the same grid
    gives the same mappings whatever order it lists its hierarchies in. A
    point's mapping can so depend on the other sizes of its grid (a search
    started from more results may end elsewhere); it never depends on which
    points were stored by an earlier run (:func:`energysim.sweep.sweep`
    chains over all of them).
    """
    keys: dict[int, tuple[str, str, str, tuple[str, ...] | None]] = {}
    groups: dict[tuple[str, str, tuple[str, ...] | None], dict[str, Task]] = {}
    for task in tasks:
        objective = search_objective(task.dataflow)
        if objective is None:
            continue
        workload = json.dumps(task.network.model_dump(mode="json"), sort_keys=True)
        machine = json.dumps(task.hierarchy.model_dump(mode="json"), sort_keys=True)
        keys[task.index] = (workload, machine, objective, task.layers)
        groups.setdefault((workload, objective, task.layers), {}).setdefault(machine, task)
    found: dict[tuple[str, str, str, tuple[str, ...] | None], dict[str, Mapping] | None] = {}
    for (workload, objective, layers), machines in groups.items():
        for machine, earlier in _dominance_order(machines):
            task = machines[machine]
            start = [
                result for m in earlier if (result := found[(workload, m, objective, layers)]) is not None
            ]
            try:
                result = searched_mappings(task.network, task.hierarchy, layers, objective, start_from=start)
            except EnergySimError:
                result = None
            found[(workload, machine, objective, layers)] = result
    ready = []
    for task in tasks:
        if task.index in keys:
            result = found[keys[task.index]]
            task = dataclasses.replace(task, mappings=result)
        ready.append(task)
    return ready


def _dominance_order(machines: dict[str, Task]) -> list[tuple[str, list[str]]]:
    """Each hierarchy (by JSON) after those it dominates, with them (see :func:`with_searched_mappings`)."""
    below = {
        machine: sorted(
            other
            for other, smaller in machines.items()
            if other != machine
            and dominates(task.hierarchy, smaller.hierarchy, energies=False)
            # Equal but for names or prices, each dominates the other: the JSON decides which is first.
            and (other < machine or not dominates(smaller.hierarchy, task.hierarchy, energies=False))
        )
        for machine, task in machines.items()
    }
    # A hierarchy dominates all that those it dominates do, and them: it has more below it.
    order = sorted(machines, key=lambda machine: (len(below[machine]), machine))
    return [(machine, below[machine]) for machine in order]
