"""A mapping: how a layer's loop nest is split across the levels of a hierarchy.

In Timeloop's vocabulary, each storage level has **temporal** loops (listed
outer to inner) that it iterates while handing tiles to the level below, and
**spatial** loops that fan the work out over the instances below it (the next
level's instances, or the PEs for the innermost level). The whole nest is

    T_0 S_0 T_1 S_1 ... T_{L-1} S_{L-1} MAC

where level 0 is the outermost (DRAM). A level's *tile* is the data touched by
its own loops and everything inside them. Each level also says which tensors it
keeps; the others bypass it.

The factors of each dimension multiply to at least its bound. A product above
the bound (an imperfect factorisation) computes a padded layer: tiles keep their
full shape (the padding moves as zeros) and the padded MACs are issued but
gated, costing no MAC energy and showing as lost utilisation.

**im2col.** One level may *flatten* the reduction of its tile: ``im2col``
names the extents of C, R and S in that level's tile, and the level's loops
over the flattened index ``K`` (a fold loop and an edge of the array) take
their place, ``k = (c * R + r) * S + s``. A systolic array's rows then carry
all of C x R x S = 363 (AlexNet conv1) in 12 chunks of 32, where products of
per-dimension factors need at least 16 (C3 R3 S3, R and S padded to 12).
The counting rules are :mod:`energysim.analysis.im2col`'s; the conditions,
:mod:`energysim.mapping.im2col`'s.

This module holds the plain data; :mod:`energysim.mapping` checks a mapping
against a layer and a hierarchy, and builds mappings from named dataflows.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from energysim.model.base import TENSORS, Dimension, Name, StrictModel, Tensor, Version
from energysim.model.layers import DIMENSIONS
from energysim.model.limits import MAX_LEVELS

#: The flattened reduction index of an im2col level.
FLATTENED = "K"
#: The dimensions an im2col level flattens into ``K``, slowest first: ``k = (c * R + r) * S + s``.
IM2COL_DIMS: tuple[str, ...] = ("C", "R", "S")


@dataclass(frozen=True)
class Loop:
    """One loop of the nest: ``for dim in range(factor)``."""

    dim: str
    factor: int


@dataclass(frozen=True)
class LevelMapping:
    """The loops of one storage level and the tensors it keeps.

    ``temporal`` runs outer to inner; ``spatial`` fans out to the instances
    below (their order does not matter for counts). ``im2col`` (C, R, S
    loops) are the extents this level's tile flattens into ``K``; they are
    not loops of the nest, the level's ``K`` loops are.
    """

    level: str
    temporal: tuple[Loop, ...] = ()
    spatial: tuple[Loop, ...] = ()
    keeps: tuple[Tensor, ...] = TENSORS
    im2col: tuple[Loop, ...] = ()

    @property
    def flattens(self) -> bool:
        """True if this level flattens C, R and S into ``K`` (it has im2col extents or ``K`` loops)."""
        return bool(self.im2col) or any(loop.dim == FLATTENED for loop in (*self.temporal, *self.spatial))

    @property
    def im2col_edge(self) -> int:
        """The PEs of the edge that carries the flattened rows: the product of the spatial ``K`` loops."""
        return math.prod(loop.factor for loop in self.spatial if loop.dim == FLATTENED)

    @property
    def im2col_folds(self) -> int:
        """How many folds the flattened rows take: the product of the temporal ``K`` loops."""
        return math.prod(loop.factor for loop in self.temporal if loop.dim == FLATTENED)

    def keeps_tensor(self, tensor: Tensor) -> bool:
        """True if this level holds ``tensor`` (else it bypasses it)."""
        return tensor in self.keeps

    @property
    def spatial_fanout(self) -> int:
        """Instances below used by this level's spatial loops."""
        return math.prod(loop.factor for loop in self.spatial)


@dataclass(frozen=True)
class Mapping:
    """A loop-nest mapping: one :class:`LevelMapping` per hierarchy level, outermost first."""

    levels: tuple[LevelMapping, ...]
    note: str = field(default="", compare=False)

    def factor(self, dim: str) -> int:
        """Product of the factors of ``dim`` over every level, temporal, spatial and im2col."""
        return math.prod(
            loop.factor
            for level in self.levels
            for loop in (*level.temporal, *level.spatial, *level.im2col)
            if loop.dim == dim
        )

    @property
    def flattened_level(self) -> int | None:
        """The index of the level that flattens C, R and S into ``K`` (the first), or None."""
        return next((index for index, level in enumerate(self.levels) if level.flattens), None)

    @property
    def im2col_rows(self) -> int:
        """How many (c, r, s) the flattened tile holds: the ``K`` that exist (1 if nothing is flattened)."""
        return math.prod(loop.factor for level in self.levels for loop in level.im2col)

    def conv_view(self) -> Mapping:
        """The same tiles, nothing flattened: the im2col level loops over C, R, S (innermost), not ``K``.

        Every tile of that level and of the levels above is the same set of
        elements as in the flattened mapping, so their capacity and the
        traffic above it are this view's.
        """
        return Mapping(
            tuple(
                LevelMapping(
                    level=level.level,
                    temporal=(*(loop for loop in level.temporal if loop.dim != FLATTENED), *level.im2col),
                    spatial=tuple(loop for loop in level.spatial if loop.dim != FLATTENED),
                    keeps=level.keeps,
                )
                if level.flattens
                else level
                for level in self.levels
            ),
            note=self.note,
        )

    def padded_bounds(self) -> dict[str, int]:
        """The bound of every dimension that this mapping computes (padding included)."""
        return {dim: self.factor(dim) for dim in DIMENSIONS}

    def describe(self) -> str:
        """The nest as text, outermost first: ``DRAM: M2 C3 | GLB: ... (spatial P14 R3)``."""
        parts = []
        for level in self.levels:
            loops = " ".join(f"{loop.dim}{loop.factor}" for loop in level.temporal) or "-"
            text = f"{level.level}[{','.join(t[0].upper() for t in level.keeps)}]: {loops}"
            if level.spatial:
                text += " spatial " + " ".join(f"{loop.dim}{loop.factor}" for loop in level.spatial)
            if level.im2col:
                text += " im2col " + " ".join(f"{loop.dim}{loop.factor}" for loop in level.im2col)
            parts.append(text)
        return " | ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """The mapping as the YAML file schema (:class:`MappingFile`) writes it."""
        levels: list[dict[str, Any]] = []
        for level in self.levels:
            entry: dict[str, Any] = {
                "level": level.level,
                "temporal": {loop.dim: loop.factor for loop in level.temporal},
                "spatial": {loop.dim: loop.factor for loop in level.spatial},
                "keeps": list(level.keeps),
            }
            if level.im2col:
                entry["im2col"] = {loop.dim: loop.factor for loop in level.im2col}
            levels.append(entry)
        return {"version": 1, "levels": levels}


def loops(pairs: Iterable[tuple[str, int]]) -> tuple[Loop, ...]:
    """Loops from ``(dim, factor)`` pairs, dropping factors of 1."""
    return tuple(Loop(dim, factor) for dim, factor in pairs if factor > 1)


# --- the YAML schema of a hand-written mapping ----------------------------------------------------

Dim = Literal["G", "N", "M", "C", "P", "Q", "R", "S"]
#: A loop of a mapping file: a dimension, or ``K`` at an im2col level.
LoopDim = Literal["G", "N", "M", "C", "P", "Q", "R", "S", "K"]
Im2colDim = Literal["C", "R", "S"]


class LevelMappingSpec(StrictModel):
    """One level of a mapping file. ``temporal`` is ordered outer to inner.

    Every factor is 1 to 2^31 (MAX_DIMENSION). The product of a dimension's
    factors over all levels is checked against the layer where the mapping
    meets one (:mod:`energysim.mapping.check`). ``im2col`` gives the C, R, S
    extents that this level flattens into ``K`` (its ``K`` loops then
    iterate them; see :class:`Mapping`).
    """

    level: Name
    temporal: dict[LoopDim, Dimension] = Field(default_factory=dict)
    spatial: dict[LoopDim, Dimension] = Field(default_factory=dict)
    keeps: tuple[Tensor, ...] | None = Field(default=None, max_length=len(TENSORS))
    im2col: dict[Im2colDim, Dimension] = Field(default_factory=dict)

    @field_validator("keeps")
    @classmethod
    def _no_repeats(cls, keeps: tuple[Tensor, ...] | None) -> tuple[Tensor, ...] | None:
        if keeps is not None and len(set(keeps)) != len(keeps):
            raise ValueError(f"lists a tensor twice: {list(keeps)}")
        return keeps


class MappingFile(StrictModel):
    """A mapping file: the levels, outermost first (at most 64: MAX_LEVELS); unnamed levels have no loops."""

    version: Version
    layer: Name | None = None
    levels: tuple[LevelMappingSpec, ...] = Field(min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _check_level_count(cls, data: Any) -> Any:
        levels = data.get("levels") if isinstance(data, dict) else None
        if isinstance(levels, list | tuple) and len(levels) > MAX_LEVELS:
            raise ValueError(f"levels: {len(levels)} levels, more than {MAX_LEVELS} (MAX_LEVELS)")
        return data

    def level_mappings(self, level_names: list[str], default_keeps: dict[str, tuple[Tensor, ...]]) -> Mapping:
        """A :class:`Mapping` over ``level_names``; levels not in the file get no loops."""
        by_name = {spec.level: spec for spec in self.levels}
        result = []
        for name in level_names:
            spec = by_name.get(name)
            if spec is None:
                result.append(LevelMapping(level=name, keeps=default_keeps[name]))
                continue
            result.append(
                LevelMapping(
                    level=name,
                    temporal=loops(spec.temporal.items()),
                    spatial=loops(spec.spatial.items()),
                    keeps=spec.keeps if spec.keeps is not None else default_keeps[name],
                    im2col=loops((dim, spec.im2col[dim]) for dim in IM2COL_DIMS if dim in spec.im2col),
                )
            )
        return Mapping(tuple(result))
