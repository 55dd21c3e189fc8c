"""Running one point of a sweep: the function a worker calls, and the table it returns.

:func:`run_point` runs :func:`energysim.analyze` or :func:`energysim.simulate`
on a resolved point and returns a :class:`Outcome`: its table, or the message
of the :class:`EnergySimError` it raised (a mapping that does not fit is a
result of the sweep, not a crash). Any other exception is a bug and is raised.

The table has one row per layer x level (levels as in ``Result.accesses``:
storage levels, their networks and the compute), with the layer's summary
columns repeated on each of its rows and the level's energy in
``level_energy``; the sweep's ``layers`` and ``levels`` frames are cut from it.
``bound_cycles`` is a layer's roofline lower bound on time: the larger of its
mapped MACs at the array's peak and, for the outermost level, the bytes it
reads and writes at its bandwidth (per direction where reads and writes have
ports of their own). A simulation can never beat it (DESIGN.md, oracle 3).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import pandas as pd

from energysim._version import __version__
from energysim.analysis.timeloop_rules import check_counting
from energysim.analyze import analyze
from energysim.errors import EnergySimError
from energysim.model.base import TENSORS
from energysim.result import Result
from energysim.simulate import simulate
from energysim.sweep.grid import Task, mapping_arguments

#: The column of the error message (empty for a point that ran).
ERROR = "error"


@dataclass(frozen=True)
class Outcome:
    """What one point gave: its table (see the module docstring), and the worker's version."""

    index: int
    key: str
    table: pd.DataFrame
    energysim_version: str
    #: CPU seconds the point took where it ran (for benchmarks; never in the frames).
    cpu_seconds: float = 0.0


def run_point(task: Task) -> Outcome:
    """Run one resolved point; an EnergySimError becomes a one-row table with its message."""
    facade = simulate if task.mode == "simulate" else analyze
    start = time.process_time()
    arguments = mapping_arguments(task.dataflow)
    if task.mappings is not None:  # searched in the main process (grid.with_searched_mappings)
        arguments["mapping"] = task.mappings
    try:
        result = facade(
            task.network,
            task.hierarchy,
            layers=None if task.layers is None else list(task.layers),
            **arguments,
            counting=check_counting(task.counting),
        )
        table = point_table(result)
    except EnergySimError as error:
        table = pd.DataFrame({ERROR: [str(error)]})
    return Outcome(task.index, task.key, table, __version__, time.process_time() - start)


def point_table(result: Result) -> pd.DataFrame:
    """One row per layer x level of ``result`` (see the module docstring)."""
    energy = result.accesses.groupby(["layer", "level"], sort=False)["energy"].sum()
    by_layer: dict[str, list[tuple[str | None, float]]] = {}
    pairs = zip(energy.index.get_level_values(0), energy.index.get_level_values(1), strict=True)
    for (layer_name, level_name), value in zip(pairs, energy.to_numpy(), strict=True):
        by_layer.setdefault(str(layer_name), []).append((str(level_name), float(value)))
    positions: list[int] = []
    levels: list[str | None] = []
    energies: list[float] = []
    for position, name in enumerate(result.layers["layer"]):
        for level, value in by_layer.get(name, [(None, math.nan)]):  # a layer without accesses keeps a row
            positions.append(position)
            levels.append(level)
            energies.append(value)
    table = result.layers.iloc[positions].reset_index(drop=True)
    table["bound_cycles"] = bound_cycles(result).to_numpy()[positions]
    table["peak_macs_per_cycle"] = result.hierarchy.peak_macs_per_cycle
    table["outermost_level"] = result.hierarchy.outermost.name
    table["level"] = levels
    table["level_energy"] = energies
    table[ERROR] = ""
    return table


def bound_cycles(result: Result) -> pd.Series:
    """Per layer (in ``result.layers`` order): its roofline lower bound in cycles."""
    machine = result.hierarchy
    outer = machine.outermost
    accesses = result.accesses
    bits = {name: {t: result.workload[name].bits(t) for t in TENSORS} for name in result.layers["layer"]}
    by_direction: dict[tuple[str, bool], float] = {}
    columns = (accesses[c].tolist() for c in ("layer", "level", "tensor", "action", "count"))
    for layer, level, tensor, action, count in zip(*columns, strict=True):
        if level == outer.name and action in ("read", "fill", "update"):
            key = (layer, action != "read")
            by_direction[key] = by_direction.get(key, 0.0) + count * bits[layer][tensor] / 8
    ports = outer.ports * outer.instances
    bounds = []
    for name, mapped, macs in zip(
        result.layers["layer"], result.layers["mapped_macs"], result.layers["macs"], strict=True
    ):
        read = float(by_direction.get((name, False), 0.0))
        write = float(by_direction.get((name, True), 0.0))
        if outer.separate_read_write:
            memory = max(
                read / (outer.direction_bandwidth(False) * ports),
                write / (outer.direction_bandwidth(True) * ports),
            )
        else:
            memory = (read + write) / (outer.bandwidth_bytes_per_cycle * ports)
        compute = (mapped or 0) / machine.peak_macs_per_cycle
        bounds.append(max(compute, memory) if macs or read or write else 0.0)
    return pd.Series(bounds, index=result.layers.index, dtype=float)
