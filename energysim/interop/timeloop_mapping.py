"""Timeloop mappings <-> energysim mappings.

A Timeloop mapping is a list of directives, each with a ``target`` level:
``temporal`` and ``spatial`` factors (``C=3 M=4``, ``C3 M4`` or ``[C=3, M=4]``)
with a ``permutation`` that lists the loops **innermost first** (``RPK`` is
``for K: for P: for R:``), and ``bypass`` (v0.3) or ``datatype`` (v0.4) keep
and bypass lists. A spatial directive targets the level whose instances below
it fans out to, as energysim's spatial loops do; in v0.4 it may target the
container that declares the fan-out (or Timeloop's generated
``inter_<container>_spatial``), whose loops then belong to the storage level
above that container. Factors left out are 1. ``split`` (which spatial loops
go to X and which to Y) does not change energysim's counts and is listed as
a warning when it would matter to Timeloop.

Export writes one temporal, one spatial (where a level fans out) and one
bypass directive per level, v0.3 form, every dimension listed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from energysim.interop.timeloop_problem import DIMENSION_NAMES
from energysim.interop.timeloop_values import TIMELOOP_DATA_SPACE, Source
from energysim.model.base import TENSORS, Tensor
from energysim.model.hierarchy import Hierarchy
from energysim.model.limits import MAX_DIMENSION
from energysim.model.mapping import LevelMapping, Loop, Mapping

#: energysim dimension -> Timeloop v0.3 dimension.
TIMELOOP_DIMENSION = {"N": "N", "M": "K", "C": "C", "P": "P", "Q": "Q", "R": "R", "S": "S"}
_MAX_DIRECTIVES = 4 * 64


def _loops(
    source: Source, factors: dict[str, int], permutation: list[str] | None, path: str
) -> tuple[Loop, ...]:
    """energysim loops (outer to inner) of one directive; ``permutation`` is innermost first."""
    ours: dict[str, int] = {}
    for dim, factor in factors.items():
        if dim not in DIMENSION_NAMES:
            raise source.error(
                f"{path}.factors",
                f"dimension {dim}: not one of the CNN layer's ({', '.join(DIMENSION_NAMES)})",
            )
        ours[DIMENSION_NAMES[dim]] = factor
    strange = [dim for dim in permutation or [] if dim not in DIMENSION_NAMES]
    if strange:
        raise source.error(f"{path}.permutation", f"dimension {strange[0]}: not one of the CNN layer's")
    order = [DIMENSION_NAMES[dim] for dim in permutation or []]
    missing = [dim for dim, factor in ours.items() if factor > 1 and dim not in order]
    if permutation is not None and missing:
        raise source.error(
            f"{path}.permutation", f"does not place {', '.join(missing)}, which has a factor above 1"
        )
    if permutation is None:
        order = sorted(ours)  # a spatial directive's order does not matter
    outer_first = list(reversed(order))
    return tuple(Loop(dim, ours[dim]) for dim in outer_first if ours.get(dim, 1) > 1)


@dataclass
class _Directives:
    """What a mapping file says, gathered per storage level."""

    temporal: dict[str, tuple[Loop, ...]] = field(default_factory=dict)
    spatial: dict[str, dict[str, int]] = field(default_factory=dict)
    keeps: dict[str, tuple[Tensor, ...]] = field(default_factory=dict)


def read_mapping(source: Source, data: Any, hierarchy: Hierarchy, fanouts: dict[str, str]) -> Mapping:
    """The mapping of a Timeloop mapping file over ``hierarchy`` (names as in the architecture)."""
    top = source.mapping(data, "file")
    directives = source.sequence(top.get("mapping"), "mapping")
    if len(directives) > _MAX_DIRECTIVES:
        raise source.error("mapping", f"{len(directives)} directives, more than {_MAX_DIRECTIVES}")
    names = [level.name for level in hierarchy.levels]
    found = _Directives()
    for index, raw in enumerate(directives):
        path = f"mapping[{index}]"
        directive = source.mapping(raw, path)
        target = source.name(directive.get("target"), f"{path}.target")
        kind = directive.get("type")
        level = _level_of(source, target, names, fanouts, f"{path}.target")
        if kind in ("bypass", "datatype"):
            kept = _keeps(source, directive, path)
            if level == target:
                found.keeps[level] = kept
            elif kept:
                source.warn(path, f"{target} is a fan-out, not a storage: it keeps nothing (ignored)")
        elif kind == "temporal":
            _temporal(source, directive, path, target, level, found)
        elif kind == "spatial":
            _spatial(source, directive, path, level, found)
        else:
            raise source.error(
                f"{path}.type", f"expected temporal, spatial, bypass or datatype, got {kind!r}"
            )
    levels = tuple(
        LevelMapping(
            level=level.name,
            temporal=found.temporal.get(level.name, ()),
            spatial=tuple(Loop(dim, factor) for dim, factor in found.spatial.get(level.name, {}).items()),
            keeps=found.keeps.get(level.name, level.keeps),
        )
        for level in hierarchy.levels
    )
    return Mapping(levels)


def _temporal(
    source: Source, directive: dict[str, Any], path: str, target: str, level: str, found: _Directives
) -> None:
    factors = source.factors(directive.get("factors", []), f"{path}.factors")
    if level != target:  # a fan-out container: Timeloop gives it a temporal directive of ones
        if any(factor > 1 for factor in factors.values()):
            raise source.error(
                path, f"temporal loops at {target}, which stores nothing: energysim has no level there"
            )
        return
    if level in found.temporal:
        raise source.error(path, f"a second temporal directive for {target}")
    permutation = list(factors)
    if "permutation" in directive:
        permutation = source.permutation(directive["permutation"], f"{path}.permutation")
    found.temporal[level] = _loops(source, factors, permutation, path)


def _spatial(source: Source, directive: dict[str, Any], path: str, level: str, found: _Directives) -> None:
    factors = source.factors(directive.get("factors", []), f"{path}.factors")
    if "split" in directive and sum(factor > 1 for factor in factors.values()) > 1:
        source.warn(
            f"{path}.split", "X/Y split of spatial loops: energysim's counts do not depend on it (ignored)"
        )
    order = None
    if "permutation" in directive:
        order = source.permutation(directive["permutation"], f"{path}.permutation")
    merged = found.spatial.setdefault(level, {})
    for loop in _loops(source, factors, order, path):
        merged[loop.dim] = merged.get(loop.dim, 1) * loop.factor  # nested fan-outs multiply
        if merged[loop.dim] > MAX_DIMENSION:
            raise source.error(f"{path}.factors", f"spatial factor of {loop.dim} beyond {MAX_DIMENSION}")


def _level_of(source: Source, target: str, names: list[str], fanouts: dict[str, str], path: str) -> str:
    if target in names:
        return target
    container = target.removeprefix("inter_").removesuffix("_spatial")
    if container in fanouts:
        return fanouts[container]
    raise source.error(path, f"{target!r} is not a storage level of the architecture ({', '.join(names)})")


def _keeps(source: Source, directive: dict[str, Any], path: str) -> tuple[Tensor, ...]:
    if "keep" in directive:
        return source.tensors(directive["keep"] or [], f"{path}.keep")
    bypass = source.tensors(directive.get("bypass") or [], f"{path}.bypass")
    return tuple(tensor for tensor in TENSORS if tensor not in bypass)


def mapping_directives(mapping: Mapping) -> list[dict[str, Any]]:
    """Timeloop v0.3 directives of ``mapping``: temporal, spatial, bypass per level, every dimension."""
    directives: list[dict[str, Any]] = []
    for level in mapping.levels:
        directives.append(_directive(level.level, "temporal", level.temporal))
        if level.spatial:
            directives.append(_directive(level.level, "spatial", level.spatial))
        directives.append(
            {
                "target": level.level,
                "type": "bypass",
                "keep": [TIMELOOP_DATA_SPACE[tensor] for tensor in level.keeps],
                "bypass": [TIMELOOP_DATA_SPACE[tensor] for tensor in TENSORS if tensor not in level.keeps],
            }
        )
    return directives


def _directive(target: str, kind: str, loops: tuple[Loop, ...]) -> dict[str, Any]:
    """One directive; loops of one dimension split in two (``C2 ... C3``) cannot be said in Timeloop."""
    factors: dict[str, int] = {}
    for loop in loops:
        factors[loop.dim] = factors.get(loop.dim, 1) * loop.factor
    used = [loop.dim for loop in loops]
    inner_first = list(dict.fromkeys(reversed(used)))
    rest = [dim for dim in TIMELOOP_DIMENSION if dim not in inner_first]
    order = inner_first + rest
    text = " ".join(f"{TIMELOOP_DIMENSION[dim]}={factors.get(dim, 1)}" for dim in TIMELOOP_DIMENSION)
    return {
        "target": target,
        "type": kind,
        "factors": text,
        "permutation": "".join(TIMELOOP_DIMENSION[dim] for dim in order),
    }


def repeated_dimensions(mapping: Mapping) -> list[str]:
    """Levels whose temporal loops use a dimension twice (Timeloop: one loop per dimension and level)."""
    return [
        level.level
        for level in mapping.levels
        if len({loop.dim for loop in level.temporal}) != len(level.temporal)
    ]


def fanout_product(mapping: Mapping) -> int:
    """Spatial instances the mapping uses in all (for messages)."""
    return math.prod(level.spatial_fanout for level in mapping.levels)
