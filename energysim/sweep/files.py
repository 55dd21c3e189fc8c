"""The sweep file: its axes, validated like every file of energysim.

```yaml
version: 1
mode: analyze                    # or simulate
workloads: [alexnet]             # shipped names or paths (relative to this file)
hierarchies: [eyeriss]
layers: [conv1, conv2]           # optional: only these layers
variations:                      # optional: each a list of values; the grid is their product
  GLB.size_bytes: [65536, 131072, 262144]
  compute.array: [12x14, 16x16]
  energy_table: [eyeriss-normalized]
dataflows: [rs, ws]              # default [rs]
counting: [exact]                # default [exact]
colour_by: GLB.size_bytes        # optional: the axis that colours the Pareto plot
```

or, instead of the grid keys, ``points:``, a list of
``{workload, hierarchy, dataflow, counting, variations}``. The file is read by
the bounded YAML reader (:mod:`energysim.model.files`), unknown keys are
errors that list the valid ones, and every problem names the file and field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, model_validator

from energysim.analysis.timeloop_rules import COUNTING_MODES
from energysim.errors import EnergySimError
from energysim.model.base import Name, StrictModel, Version, validate_file_data
from energysim.model.files import display_path, read_yaml
from energysim.model.limits import MAX_SWEEP_POINTS
from energysim.sweep.grid import (
    DEFAULT_COUNTING,
    MODES,
    Grid,
    Point,
    array_shape,
    check_mapping_choice,
)

#: Scalar values a variation axis may take (a list of two integers is an array shape).
AxisValue = int | float | str | bool | list[int]


def _check_axis(axis: str) -> None:
    where, dot, name = axis.partition(".")
    if axis != "energy_table" and not (dot and where and name):
        raise ValueError(
            f"variations: axis {axis!r}: expected LEVEL.FIELD (GLB.size_bytes), compute.array, "
            "compute.FIELD or energy_table"
        )


def _check_values(axis: str, values: list[Any]) -> None:
    if axis == "compute.array":
        for index, value in enumerate(values):
            try:
                array_shape(value)
            except EnergySimError as error:
                raise ValueError(f"variations.{axis}[{index}]: {error}") from None


def _dataflow_problem(where: str, dataflow: str) -> str | None:
    try:
        check_mapping_choice(dataflow)
    except EnergySimError as error:
        return f"{where}: {error}"
    return None


class PointSpec(StrictModel):
    """One explicit point of a sweep file."""

    workload: Name
    hierarchy: Name
    dataflow: Name = "rs"
    counting: Name = DEFAULT_COUNTING
    variations: dict[Name, AxisValue] = Field(default_factory=dict, max_length=64)


class SweepFile(StrictModel):
    """A sweep file (see the module docstring)."""

    version: Version
    name: Name = "sweep"
    mode: Name = "analyze"
    workloads: list[Name] = Field(default_factory=list, max_length=1000)
    hierarchies: list[Name] = Field(default_factory=list, max_length=1000)
    layers: list[Name] | None = Field(default=None, min_length=1, max_length=10_000)
    variations: dict[Name, list[AxisValue]] = Field(default_factory=dict, max_length=64)
    dataflows: list[Name] = Field(default_factory=lambda: ["rs"], min_length=1, max_length=64)
    counting: list[Name] = Field(default_factory=lambda: [DEFAULT_COUNTING], min_length=1, max_length=8)
    points: list[PointSpec] | None = Field(default=None, min_length=1, max_length=MAX_SWEEP_POINTS)
    colour_by: Name | None = None

    @model_validator(mode="after")
    def _check(self) -> SweepFile:
        problems = []
        if self.mode not in MODES:
            problems.append(f"mode: {self.mode!r} is not one of {', '.join(MODES)}")
        if self.points is None:
            problems += [f"{key}: at least one is needed (or give points:)"
                         for key in ("workloads", "hierarchies") if not getattr(self, key)]  # fmt: skip
        elif self.workloads or self.hierarchies or self.variations:
            problems.append("points: give either points or the grid (workloads, hierarchies, variations)")
        for axis, values in self.variations.items():
            try:
                _check_axis(axis)
                _check_values(axis, values)
            except ValueError as error:
                problems.append(str(error))
            if not values:
                problems.append(f"variations.{axis}: an axis needs at least one value")
        choices = [(f"dataflows[{i}]", d) for i, d in enumerate(self.dataflows)]
        choices += [(f"points[{i}].dataflow", p.dataflow) for i, p in enumerate(self.points or ())]
        problems += [p for where, d in choices if (p := _dataflow_problem(where, d))]
        countings = [(f"counting[{i}]", c) for i, c in enumerate(self.counting)]
        countings += [(f"points[{i}].counting", p.counting) for i, p in enumerate(self.points or ())]
        problems += [f"{where}: {c!r} is not one of {', '.join(COUNTING_MODES)}"
                     for where, c in countings if c not in COUNTING_MODES]  # fmt: skip
        if self.colour_by is not None and self.colour_by not in self.axes():
            problems.append(f"colour_by: {self.colour_by!r} is not an axis; axes: {', '.join(self.axes())}")
        if self.points is None and not problems:
            size = len(self.workloads) * len(self.hierarchies) * len(self.dataflows) * len(self.counting)
            for values in self.variations.values():
                size *= len(values)
            if size > MAX_SWEEP_POINTS:
                problems.append(
                    f"the grid has {size:,} points, more than {MAX_SWEEP_POINTS:,} (MAX_SWEEP_POINTS)"
                )
        if problems:
            raise ValueError("\n".join(problems))
        return self

    def axes(self) -> list[str]:
        """Columns that tell points apart: the inputs, then the variation axes."""
        variations = list(self.variations)
        for point in self.points or ():
            variations += [axis for axis in point.variations if axis not in variations]
        return ["workload", "base_hierarchy", "dataflow", "counting", *variations]


def _located(value: str, folder: Path) -> str:
    """A relative path (``x/y.yaml``) is relative to the sweep file's folder; names stay names."""
    looks_like_path = "/" in value or value.endswith((".yaml", ".yml"))
    if looks_like_path and not Path(value).is_absolute():
        return str(folder / value)
    return value


def load_sweep_file(path: str | Path) -> tuple[SweepFile, Grid | list[Point]]:
    """The validated sweep file at ``path``, and its grid or points (not yet resolved)."""
    where = Path(path)
    spec = validate_file_data(SweepFile, read_yaml(where), display_path(where), "sweep")
    folder = where.parent
    if spec.points is not None:
        points = [
            Point(
                _located(p.workload, folder),
                _located(p.hierarchy, folder),
                p.dataflow,
                p.counting,
                tuple(p.variations.items()),
                None if spec.layers is None else tuple(spec.layers),
            )
            for p in spec.points
        ]
        return spec, points
    grid = Grid(
        workloads=[_located(w, folder) for w in spec.workloads],
        hierarchies=[_located(h, folder) for h in spec.hierarchies],
        dataflows=spec.dataflows,
        counting=spec.counting,
        variations=spec.variations,
        layers=spec.layers,
    )
    return spec, grid
