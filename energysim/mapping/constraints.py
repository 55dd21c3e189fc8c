"""Mapping constraints, in Timeloop's spirit: what a search may and may not choose.

A constraint set narrows the mapspace (:mod:`energysim.mapping.mapspace`):

* per level: ``factors`` fixes a dimension's temporal factor there,
  ``max_factors`` bounds it; ``order`` is a prefix of the level's temporal
  loop order (its outermost loops, outer to inner); ``keeps`` fixes the
  tensors it holds, ``bypass`` lists tensors it must not hold;
  ``spatial`` lists, per fan-out axis (``rows``, ``cols`` of the PE array, or
  ``instances`` of any other fan-out), the only dimensions that axis may carry;
* ``min_utilisation``: the least share of the instances below each fan-out
  that the spatial loops must use (1.0: a full array);
* ``imperfect``: whether factors may pad a dimension (a product above its bound);
* ``im2col``: whether the search may flatten C, R, S onto one edge of the
  array (:mod:`energysim.mapping.flatten`; false for hardware that cannot
  gather a flattened row). A flattened mapping keeps the other constraints:
  its fold loop ``K`` counts as C in an ``order`` prefix, and an edge
  carries it only if that edge may carry each of C, R, S that it flattens.

A level is named as in the hierarchy, or ``"@pe"`` for the per-PE level,
``"@array"`` for the level that fans out to the PE array. The five dataflows
are named constraint sets (:func:`dataflow_constraints`); a file may
``extend`` one of them, its own levels adding to (and overriding) the
dataflow's. Example (``energysim search alexnet --constraints my.yaml``)::

    version: 1
    extends: ws
    min_utilisation: 0.5
    levels:
      - level: DRAM
        order: MC            # M outermost, then C
      - level: "@pe"
        max_factors: {N: 4}
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import Field

from energysim.errors import EnergySimError
from energysim.mapping.check import fanout
from energysim.mapping.dataflows import DATAFLOWS, get_dataflow
from energysim.model.base import StrictModel, Tensor, Version, validate_file_data
from energysim.model.files import display_path, read_yaml
from energysim.model.hierarchy import Hierarchy
from energysim.model.layers import DIMENSIONS
from energysim.model.limits import MAX_DIMENSION, MAX_LEVELS
from energysim.model.mapping import Dim

#: Level aliases a constraint set may use instead of a hierarchy's level name.
PE_ALIAS = "@pe"
ARRAY_ALIAS = "@array"
#: Fan-out axes a spatial constraint may name.
AXES = ("rows", "cols", "instances")

Factor = int


class LevelConstraint(StrictModel):
    """What one level may do (see the module docstring); empty means unconstrained."""

    level: str = Field(min_length=1, max_length=128)
    factors: dict[Dim, Factor] = Field(default_factory=dict)
    max_factors: dict[Dim, Factor] = Field(default_factory=dict)
    order: str = Field(default="", max_length=len(DIMENSIONS))
    keeps: tuple[Tensor, ...] | None = Field(default=None, max_length=3)
    bypass: tuple[Tensor, ...] = Field(default=(), max_length=3)
    spatial: dict[str, str] = Field(default_factory=dict, max_length=len(AXES))


class Constraints(StrictModel):
    """A constraint set: its name, the dataflow it extends, level constraints, utilisation."""

    version: Version = 1
    name: str = Field(default="", max_length=128)
    extends: str | None = None
    imperfect: bool = True
    im2col: bool = True
    min_utilisation: float = Field(default=0.0, ge=0.0, le=1.0)
    levels: tuple[LevelConstraint, ...] = Field(default=(), max_length=MAX_LEVELS)


def _check_values(constraints: Constraints, source: str) -> None:
    if constraints.extends is not None and constraints.extends.lower() not in DATAFLOWS:
        raise EnergySimError(
            f"{source}: extends: unknown dataflow {constraints.extends!r}; known: {', '.join(DATAFLOWS)}"
        )
    for index, level in enumerate(constraints.levels):
        where = f"{source}: levels[{index}]"
        for field, values in (("factors", level.factors), ("max_factors", level.max_factors)):
            for dim, value in values.items():
                if not 1 <= value <= MAX_DIMENSION:
                    raise EnergySimError(f"{where}.{field}.{dim}: expected 1 to {MAX_DIMENSION}, got {value}")
        if level.keeps is not None and len(set(level.keeps)) != len(level.keeps):
            raise EnergySimError(f"{where}.keeps: lists a tensor twice: {list(level.keeps)}")
        bad = [dim for dim in level.order if dim not in DIMENSIONS]
        if bad or len(set(level.order)) != len(level.order):
            raise EnergySimError(
                f"{where}.order: expected distinct dimensions of {''.join(DIMENSIONS)}, got {level.order!r}"
            )
        for axis, dims in level.spatial.items():
            if axis not in AXES:
                raise EnergySimError(f"{where}.spatial: unknown axis {axis!r}; expected one of {AXES}")
            if any(dim not in DIMENSIONS for dim in dims) or len(dims) > len(DIMENSIONS):
                raise EnergySimError(
                    f"{where}.spatial.{axis}: expected dimensions of {''.join(DIMENSIONS)}, got {dims!r}"
                )


def parse_constraints(data: Any, source: str = "constraints") -> Constraints:
    """A :class:`Constraints` from parsed YAML or a dict; one EnergySimError naming ``source``."""
    constraints = validate_file_data(Constraints, data, source, "constraint set")
    _check_values(constraints, source)
    return constraints


def load_constraints(path: str | Path) -> Constraints:
    """Read a constraint YAML file (bounded in size, like every user file)."""
    path = Path(path)
    return parse_constraints(read_yaml(path), display_path(path))


def resolve_level(name: str, hierarchy: Hierarchy, source: str = "constraints") -> int:
    """The index of the level a constraint names (a level name, ``@pe`` or ``@array``)."""
    names = [level.name for level in hierarchy.levels]
    if name == PE_ALIAS:
        local = hierarchy.per_pe_level
        if local is None:
            raise EnergySimError(f"{source}: level {PE_ALIAS}: {hierarchy.name} has no per-PE level")
        return local
    if name == ARRAY_ALIAS:
        fanning = [i for i in range(len(names)) if fanout(hierarchy, i) > 1]
        if not fanning:
            raise EnergySimError(f"{source}: level {ARRAY_ALIAS}: {hierarchy.name} has no fan-out")
        return max(fanning, key=lambda i: (fanout(hierarchy, i), -i))
    if name not in names:
        raise EnergySimError(
            f"{source}: level {name!r} is not in {hierarchy.name} (its levels: {', '.join(names)}; "
            f"or {PE_ALIAS}, {ARRAY_ALIAS})"
        )
    return names.index(name)


def dataflow_constraints(name: str, hierarchy: Hierarchy) -> Constraints:
    """The dataflow ``name`` as a constraint set on ``hierarchy`` (levels resolved to names).

    Every level runs the dataflow's loop order; the per-PE level keeps only
    the dataflow's stationary tensors and loops only over its local
    dimensions; the array's rows and columns carry the dataflow's dimensions
    (a fan-out that is not the PE array's grid carries either).
    """
    rules = get_dataflow(name)
    levels: list[LevelConstraint] = []
    local = hierarchy.per_pe_level
    for index, level in enumerate(hierarchy.levels):
        spec: dict[str, Any] = {"level": level.name, "order": rules.order}
        if index == local and index > 0:
            spec["keeps"] = tuple(t for t in level.keeps if t in rules.local_keeps)
            spec["factors"] = {dim: 1 for dim in DIMENSIONS if dim not in rules.local_dims}
        if fanout(hierarchy, index) > 1:
            spec["spatial"] = {"rows": rules.rows, "cols": rules.cols, "instances": rules.rows + rules.cols}
        levels.append(LevelConstraint.model_validate(spec))
    return Constraints(name=rules.name, extends=None, levels=tuple(levels))


def effective_constraints(
    constraints: Constraints | str | Path | dict[str, Any] | None, hierarchy: Hierarchy
) -> Constraints:
    """Constraints with levels resolved to names and an ``extends`` dataflow merged in.

    ``constraints`` may be None (no constraints), a dataflow name, a YAML
    path, a dict or a :class:`Constraints`. A level's own entries override the
    dataflow's for the same field.
    """
    if constraints is None:
        return Constraints()
    if isinstance(constraints, str) and constraints.lower() in DATAFLOWS:
        return dataflow_constraints(constraints, hierarchy)
    source = "constraints"
    if isinstance(constraints, str | Path):
        source = display_path(Path(constraints))
        constraints = load_constraints(constraints)
    elif isinstance(constraints, dict):
        constraints = parse_constraints(constraints)
    merged: dict[str, dict[str, Any]] = {}
    if constraints.extends is not None:
        for spec in dataflow_constraints(constraints.extends, hierarchy).levels:
            merged[spec.level] = spec.model_dump(exclude_defaults=True)
    for spec in constraints.levels:
        name = hierarchy.levels[resolve_level(spec.level, hierarchy, source)].name
        own = spec.model_dump(exclude_defaults=True)
        own["level"] = name
        merged[name] = {**merged.get(name, {}), **own}
    return Constraints(
        name=constraints.name or (constraints.extends or ""),
        extends=None,
        imperfect=constraints.imperfect,
        im2col=constraints.im2col,
        min_utilisation=constraints.min_utilisation,
        levels=tuple(LevelConstraint.model_validate(spec) for spec in merged.values()),
    )


def constraints_yaml(constraints: Constraints) -> str:
    """The constraint set as YAML a user can read, edit and give back (``--constraints``)."""
    data = {"version": 1, **constraints.model_dump(exclude_defaults=True)}
    for level in data.get("levels", []):
        for key in ("keeps", "bypass"):
            if key in level and level[key] is not None:
                level[key] = list(level[key])
    return yaml.safe_dump(data, sort_keys=False)
