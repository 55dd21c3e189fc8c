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

import inspect
from dataclasses import dataclass
from typing import Any

import pandas as pd

from energysim._version import __version__
from energysim.analyze import analyze
from energysim.errors import EnergySimError
from energysim.result import Result
from energysim.simulate import simulate
from energysim.sweep.grid import DEFAULT_COUNTING, Task, mapping_arguments

#: The column of the error message (empty for a point that ran).
ERROR = "error"


@dataclass(frozen=True)
class Outcome:
    """What one point gave: its table (see the module docstring), and the worker's version."""

    index: int
    key: str
    table: pd.DataFrame
    energysim_version: str


def _counting_arguments(facade: Any, counting: str) -> dict[str, Any]:
    """``counting=`` for the facade, passed only when not the default (older facades lack it)."""
    if counting == DEFAULT_COUNTING:
        return {}
    if "counting" not in inspect.signature(facade).parameters:
        raise EnergySimError(
            f"counting {counting!r}: this energysim's {facade.__name__}() has no counting modes yet"
        )
    return {"counting": counting}


def run_point(task: Task) -> Outcome:
    """Run one resolved point; an EnergySimError becomes a one-row table with its message."""
    facade = simulate if task.mode == "simulate" else analyze
    try:
        result = facade(
            task.network,
            task.hierarchy,
            layers=None if task.layers is None else list(task.layers),
            **mapping_arguments(task.dataflow),
            **_counting_arguments(facade, task.counting),
        )
        table = point_table(result)
    except EnergySimError as error:
        table = pd.DataFrame({ERROR: [str(error)]})
    return Outcome(task.index, task.key, table, __version__)


def point_table(result: Result) -> pd.DataFrame:
    """One row per layer x level of ``result`` (see the module docstring)."""
    energy = result.accesses.groupby(["layer", "level"], sort=False)["energy"].sum().rename("level_energy")
    layers = result.layers.copy()
    layers["bound_cycles"] = bound_cycles(result)
    layers["peak_macs_per_cycle"] = result.hierarchy.peak_macs_per_cycle
    layers["outermost_level"] = result.hierarchy.outermost.name
    table = layers.merge(energy.reset_index(), on="layer", how="left", sort=False)
    table[ERROR] = ""
    return table.reset_index(drop=True)


def bound_cycles(result: Result) -> pd.Series:
    """Per layer (in ``result.layers`` order): its roofline lower bound in cycles."""
    machine = result.hierarchy
    outer = machine.outermost
    accesses = result.accesses
    rows = accesses[(accesses["level"] == outer.name) & accesses["action"].isin(("read", "fill", "update"))]
    bits = {name: {t: result.workload[name].bits(t) for t in ("weights", "inputs", "outputs")}
            for name in result.layers["layer"]}  # fmt: skip
    moved = rows.assign(
        bytes=[
            count * bits[layer][tensor] / 8
            for layer, tensor, count in zip(rows["layer"], rows["tensor"], rows["count"], strict=True)
        ],
        write=rows["action"].isin(("fill", "update")),
    )
    by_direction = moved.groupby(["layer", "write"])["bytes"].sum()
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
