"""The mapspace of a layer on a hierarchy: every mapping a search may choose, and its size.

A point of the space chooses, under a constraint set
(:mod:`energysim.mapping.constraints`):

* **tile factors**: for every dimension, one factor per *slot*, the slots being
  each level's temporal loops and each fan-out axis (an array's rows and
  columns apart); the factors multiply to the dimension's bound, or, where
  ``imperfect`` factors are allowed, to a padded bound that fills one fan-out
  axis (``ceil(n / axis) * axis``). Factors come from prime factorisations, so
  the cost follows the number of prime factors, never a dimension's value;
* **spatial unrolling**: the spatial factors of one fan-out axis multiply to at
  most its size; on a systolic array each axis carries one dimension group
  (:data:`~energysim.mapping.check.DIM_GROUPS`), rows and columns different
  ones, the rule the mapping check enforces (:func:`~energysim.mapping.check.array_fit_problem`);
* **loop order** per level, of the loops with a factor above 1 (after the
  constraint's prefix). The innermost level's order is left out: no count and
  no time depends on it (its loops never change a tile, only the MACs under it);
* **keep / bypass** per level below the outermost: any subset of what the
  hardware level can hold;
* **double buffering**: fixed by the hardware (``double_buffered``); no choice.

Flattening C, R, S onto one edge (im2col) is not a product of per-dimension
factors, so it is no axis of the space: the search writes flattened variants
of its best points (:mod:`energysim.mapping.flatten`) and weighs them beside
them (:func:`energysim.search.search_layer`).

:func:`mapspace` counts the space without enumerating it (exact, except the
loop orders, counted per level as permutations of every dimension that may
have a factor above 1 there: an upper bound).
"""

from __future__ import annotations

import itertools
import math
import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from energysim.errors import EnergySimError
from energysim.mapping.check import DIM_GROUPS, fanout
from energysim.mapping.constraints import Constraints, effective_constraints, resolve_level
from energysim.mapping.factors import count_factorisations, factorisations, prime_factors
from energysim.model.base import Tensor
from energysim.model.hierarchy import Hierarchy
from energysim.model.layers import DIMENSIONS, LayerBase
from energysim.model.loading import load_hierarchy
from energysim.model.mapping import LevelMapping, Loop, Mapping

DIM_INDEX = {dim: index for index, dim in enumerate(DIMENSIONS)}
#: Draws of a random factor tuple before giving up (a constraint may rule most of them out).
RANDOM_TRIES = 8


@dataclass(frozen=True)
class Slot:
    """Where a factor goes: level ``level``'s temporal loops, or one of its fan-out axes."""

    level: int
    axis: str  # "" (temporal), "rows", "cols" or "instances"
    capacity: int  # instances of a fan-out axis; 0 for temporal loops
    dims: str  # the dimensions that may have a factor above 1 here

    @property
    def spatial(self) -> bool:
        return self.axis != ""


@dataclass(frozen=True)
class Point:
    """One mapping of the space: factors per slot (in DIMENSIONS order), orders and keeps per level."""

    factors: tuple[tuple[int, ...], ...]
    orders: tuple[str, ...]
    keeps: tuple[tuple[Tensor, ...], ...]


@dataclass(frozen=True)
class MapspaceSize:
    """The size of a mapspace, split by its axes (Python integers: exact however large)."""

    tile_factors: int
    spatial_unrollings: int
    loop_orders_at_most: int
    keep_bypass: int
    double_buffering: int
    padded_bounds: int

    @property
    def total(self) -> int:
        """Points of the space (an upper bound through the loop orders)."""
        return self.tile_factors * self.loop_orders_at_most * self.keep_bypass * self.double_buffering

    def as_dict(self) -> dict[str, int]:
        return {
            "tile factors (temporal x spatial, all padded bounds)": self.tile_factors,
            "of which spatial unrollings": self.spatial_unrollings,
            "loop orders (at most)": self.loop_orders_at_most,
            "keep/bypass": self.keep_bypass,
            "double buffering (fixed by hardware)": self.double_buffering,
            "padded bound choices": self.padded_bounds,
            "total (at most)": self.total,
        }


class Space:
    """The mapspace of ``layer`` on ``hierarchy`` under ``constraints`` (see the module docstring)."""

    def __init__(self, layer: LayerBase, hierarchy: Hierarchy, constraints: Constraints) -> None:
        if layer.loop_bounds is None:
            raise EnergySimError(f"layer {layer.name} has no MACs: only conv, fc and matmul layers map")
        self.layer = layer
        self.hierarchy = hierarchy
        self.constraints = constraints
        self.bounds = dict(layer.loop_bounds.sizes)
        self.levels = len(hierarchy.levels)
        by_level = {resolve_level(c.level, hierarchy): c for c in constraints.levels}
        self.by_level = by_level
        self.systolic = hierarchy.compute.systolic
        slots = [Slot(index, "", 0, self._temporal_dims(index)) for index in range(self.levels)]
        for index in range(self.levels):
            count = fanout(hierarchy, index)
            if count <= 1:
                continue
            rows, cols = hierarchy.compute.array.rows, hierarchy.compute.array.cols
            spec = by_level.get(index)
            allowed = spec.spatial if spec else {}
            if count == hierarchy.compute.pes and hierarchy.levels[index].instances == 1 and rows > 1 < cols:
                for axis, size in (("rows", rows), ("cols", cols)):
                    slots.append(Slot(index, axis, size, allowed.get(axis, "".join(DIMENSIONS))))
            else:
                dims = allowed.get("instances", "".join(DIMENSIONS))
                slots.append(Slot(index, "instances", count, dims))
        self.slots = tuple(slots)
        self.spatial_slots = [k for k, slot in enumerate(self.slots) if slot.spatial]
        self.fixed: dict[tuple[int, str], int] = {}
        self.maximum: dict[tuple[int, str], int] = {}
        for index, spec in by_level.items():
            for dim, factor in spec.factors.items():
                self.fixed[(index, dim)] = factor
            for dim, factor in spec.max_factors.items():
                self.maximum[(index, dim)] = factor
        self._slot_cache: dict[str, tuple[dict[int, int], list[int]]] = {}
        self._rest_cache: dict[str, list[int]] = {}
        self.keep_options = [self._keep_options(index) for index in range(self.levels)]
        self.prefixes = [by_level[i].order if i in by_level else "" for i in range(self.levels)]

    # -- the axes ---------------------------------------------------------------------------------

    def _temporal_dims(self, index: int) -> str:
        return "".join(DIMENSIONS)

    def _keep_options(self, index: int) -> list[tuple[Tensor, ...]]:
        hardware = self.hierarchy.levels[index].keeps
        if index == 0:
            return [hardware]
        spec = self.by_level.get(index)
        if spec is not None and spec.keeps is not None:
            return [tuple(t for t in hardware if t in spec.keeps)]
        banned = set(spec.bypass) if spec is not None else set()
        free = [t for t in hardware if t not in banned]
        return [
            tuple(t for t in free if mask >> free.index(t) & 1) for mask in range(2 ** len(free) - 1, -1, -1)
        ]

    def padded_bounds(self, dim: str) -> tuple[int, ...]:
        """The bounds a dimension may be padded to: its own, and one per fan-out axis it may fill."""
        bound = self.bounds[dim]
        options = [bound]
        if self.constraints.imperfect:
            for k in self.spatial_slots:
                slot = self.slots[k]
                if dim in slot.dims and 1 < slot.capacity < bound and bound % slot.capacity:
                    options.append(-(-bound // slot.capacity) * slot.capacity)
        return tuple(sorted(set(options)))

    def allowed(self, k: int, dim: str) -> bool:
        """True if slot ``k`` may hold a factor above 1 of ``dim``."""
        slot = self.slots[k]
        if slot.spatial:
            return dim in slot.dims
        fixed = self.fixed.get((slot.level, dim))
        return fixed is None or fixed > 1

    def factors_ok(self, dim: str, factors: tuple[int, ...]) -> bool:
        """True if ``dim``'s factors per slot keep every per-slot constraint (the product aside)."""
        for k, factor in enumerate(factors):
            slot = self.slots[k]
            if slot.spatial:
                if (factor > 1 and dim not in slot.dims) or factor > slot.capacity:
                    return False
                continue
            fixed = self.fixed.get((slot.level, dim))
            if fixed is not None and factor != fixed:
                return False
            if factor > self.maximum.get((slot.level, dim), factor):
                return False
        return True

    def _slots_of(self, dim: str) -> tuple[dict[int, int], list[int]]:
        """Slots with a fixed factor of ``dim`` (slot -> factor), and the open slots it may use."""
        if dim not in self._slot_cache:
            self._slot_cache[dim] = self._find_slots(dim)
        return self._slot_cache[dim]

    def _find_slots(self, dim: str) -> tuple[dict[int, int], list[int]]:
        free = [k for k in range(len(self.slots)) if self.allowed(k, dim)]
        fixed = {
            k: self.fixed[(self.slots[k].level, dim)]
            for k in free
            if not self.slots[k].spatial and (self.slots[k].level, dim) in self.fixed
        }
        return fixed, [k for k in free if k not in fixed]

    def _rests(self, dim: str) -> list[int]:
        """Per padded bound, what the open slots share once the fixed factors are out."""
        if dim not in self._rest_cache:
            fixed, _ = self._slots_of(dim)
            divided = [divmod(bound, math.prod(fixed.values())) for bound in self.padded_bounds(dim)]
            self._rest_cache[dim] = [rest for rest, remainder in divided if not remainder]
        return self._rest_cache[dim]

    def option_count_at_most(self, dim: str) -> int:
        """An upper bound of :meth:`dim_options`' length, in closed form (no enumeration)."""
        _, open_slots = self._slots_of(dim)
        return sum(count_factorisations(rest, len(open_slots)) for rest in self._rests(dim))

    def dim_options(self, dim: str) -> list[tuple[int, ...]]:
        """Every factor tuple (one per slot) of ``dim`` the constraints allow (enumerated: small spaces)."""
        fixed, open_slots = self._slots_of(dim)
        options = []
        for rest in self._rests(dim):
            for parts in factorisations(rest, len(open_slots)):
                factors = [1] * len(self.slots)
                for k, factor in fixed.items():
                    factors[k] = factor
                for k, factor in zip(open_slots, parts, strict=True):
                    factors[k] = factor
                if self.factors_ok(dim, tuple(factors)):
                    options.append(tuple(factors))
        return options

    def spatial_choices(self, dim: str) -> Counter[tuple[int, ...]]:
        """``dim``'s factors on the fan-out axes -> how many temporal completions each has.

        Only the axes are enumerated (a few slots); the temporal levels are
        counted in closed form, or enumerated where a ``max_factors`` bounds them.
        """
        _, open_slots = self._slots_of(dim)
        axes = [k for k in open_slots if self.slots[k].spatial]
        temporal = [k for k in open_slots if not self.slots[k].spatial]
        bounded = any((self.slots[k].level, dim) in self.maximum for k in temporal)
        choices: Counter[tuple[int, ...]] = Counter()
        for rest in self._rests(dim):
            for parts in factorisations(rest, len(axes) + 1):
                *on_axes, left = parts
                if any(f > self.slots[k].capacity for k, f in zip(axes, on_axes, strict=True)):
                    continue
                if bounded:
                    completions = sum(
                        1
                        for split in factorisations(left, len(temporal))
                        if all(
                            f <= self.maximum.get((self.slots[k].level, dim), f)
                            for k, f in zip(temporal, split, strict=True)
                        )
                    )
                else:
                    completions = count_factorisations(left, len(temporal))
                key = tuple(on_axes[axes.index(k)] if k in axes else 1 for k in self.spatial_slots)
                choices[key] += completions
        return +choices

    def random_option(self, dim: str, rng: random.Random) -> tuple[int, ...] | None:
        """A random factor tuple of ``dim``: each prime of a random padded bound to a random open slot."""
        fixed, open_slots = self._slots_of(dim)
        rests = self._rests(dim)
        if not rests or not open_slots:
            return None
        for _ in range(RANDOM_TRIES):
            rest = rests[0] if rng.random() < 0.5 else rng.choice(rests)
            factors = [1] * len(self.slots)
            for k, factor in fixed.items():
                factors[k] = factor
            for prime, power in prime_factors(rest):
                for _ in range(power):
                    factors[rng.choice(open_slots)] *= prime
            if self.factors_ok(dim, tuple(factors)):
                return tuple(factors)
        return None

    # -- points -----------------------------------------------------------------------------------

    def spatial_ok(self, factors: tuple[tuple[int, ...], ...]) -> str | None:
        """None if the spatial factors fit their axes (and the systolic and utilisation rules), else why."""
        for k in self.spatial_slots:
            slot = self.slots[k]
            used = math.prod(factors[k])
            if used > slot.capacity:
                return f"fan-out of level {self.hierarchy.levels[slot.level].name} ({slot.axis})"
        if self.systolic:
            groups = []
            for k in self.spatial_slots:
                if self.slots[k].axis not in ("rows", "cols"):
                    continue
                dims = {DIMENSIONS[d] for d, f in enumerate(factors[k]) if f > 1}
                group = [g for g in DIM_GROUPS if dims and dims <= set(g)]
                if dims and not group:
                    return "systolic rule: each array edge carries one dimension group"
                groups += group
            if len(groups) != len(set(groups)):
                return "systolic rule: rows and columns carry different dimension groups"
        minimum = self.constraints.min_utilisation
        if minimum > 0:
            for index in range(self.levels):
                count = fanout(self.hierarchy, index)
                if count > 1:
                    used = math.prod(
                        math.prod(factors[k]) for k in self.spatial_slots if self.slots[k].level == index
                    )
                    if used < minimum * count:
                        return f"min_utilisation {minimum} (level {self.hierarchy.levels[index].name})"
        return None

    def canonical_order(self, level: int, factors: tuple[tuple[int, ...], ...], order: str) -> str:
        """The level's order of loops with a factor above 1 (prefix first; innermost level: fixed)."""
        dims = [d for d in DIMENSIONS if factors[level][DIM_INDEX[d]] > 1]
        prefix = [d for d in self.prefixes[level] if d in dims]
        if level == self.levels - 1:
            return "".join(prefix + [d for d in dims if d not in prefix])
        rest = list(dict.fromkeys(d for d in order if d in dims and d not in prefix))
        rest += [d for d in dims if d not in rest and d not in prefix]
        return "".join(prefix + rest)

    def orders(self, level: int, factors: tuple[tuple[int, ...], ...]) -> Iterator[str]:
        """Every distinct order of one level (one for the innermost level)."""
        dims = [d for d in DIMENSIONS if factors[level][DIM_INDEX[d]] > 1]
        prefix = [d for d in self.prefixes[level] if d in dims]
        rest = [d for d in dims if d not in prefix]
        if level == self.levels - 1:
            yield "".join(prefix + rest)
            return
        for perm in itertools.permutations(rest):
            yield "".join(prefix + list(perm))

    def to_mapping(self, point: Point) -> Mapping:
        levels = []
        for index, level in enumerate(self.hierarchy.levels):
            temporal = point.factors[index]
            spatial: dict[str, int] = {}
            for k in self.spatial_slots:
                if self.slots[k].level == index:
                    for d, factor in enumerate(point.factors[k]):
                        if factor > 1:
                            spatial[DIMENSIONS[d]] = spatial.get(DIMENSIONS[d], 1) * factor
            levels.append(
                LevelMapping(
                    level=level.name,
                    temporal=tuple(Loop(d, temporal[DIM_INDEX[d]]) for d in point.orders[index]),
                    spatial=tuple(Loop(d, f) for d, f in spatial.items()),
                    keeps=point.keeps[index],
                )
            )
        return Mapping(tuple(levels))

    def capacity_ok(self, factors: np.ndarray, keeps: list[tuple[Tensor, ...]]) -> np.ndarray:
        """For a batch ``factors[n, slot, dim]`` under one keep choice: True where every tile fits."""
        return capacity_mask(self, factors, keeps)


def capacity_mask(space: Space, factors: np.ndarray, keeps: list[tuple[Tensor, ...]]) -> np.ndarray:
    """Vectorised :func:`energysim.mapping.check.level_capacity_problems` over a batch of points."""
    hierarchy, layer = space.hierarchy, space.layer
    assert layer.loop_bounds is not None
    (stride_h, stride_w), (dil_h, dil_w) = layer.loop_bounds.stride, layer.loop_bounds.dilation
    # extent[n, level, dim]: the product of the factors of every slot at this level or inside it.
    at_level = np.ones((factors.shape[0], space.levels, len(DIMENSIONS)), dtype=factors.dtype)
    for k, slot in enumerate(space.slots):
        at_level[:, slot.level, :] *= factors[:, k, :]
    extent = np.flip(np.cumprod(np.flip(at_level, axis=1), axis=1), axis=1)
    ok = np.ones(factors.shape[0], dtype=bool)
    g, n, m, c, p, q, r, s = (extent[:, :, DIM_INDEX[d]] for d in DIMENSIONS)
    elements = {
        "weights": g * m * c * r * s,
        "outputs": g * n * m * p * q,
        "inputs": n * g * c * _window(stride_h, p, dil_h, r) * _window(stride_w, q, dil_w, s),
    }
    for index, level in enumerate(hierarchy.levels):
        if level.unbounded or not keeps[index]:
            continue
        copies = 2 if level.double_buffered else 1
        need = {t: copies * ((elements[t][:, index] * layer.bits(t) + 7) // 8) for t in keeps[index]}
        if isinstance(level.size_bytes, int):
            ok &= np.asarray(sum(need.values()) <= level.size_bytes, dtype=bool)
        else:
            for tensor, size in need.items():
                ok &= np.asarray(size <= (level.capacity_bytes(tensor) or 0), dtype=bool)
    return ok


def _window(step_a: int, extent_a: np.ndarray, step_b: int, extent_b: np.ndarray) -> np.ndarray:
    unit = math.gcd(step_a, step_b)
    step_a, step_b = step_a // unit, step_b // unit
    over_a = np.maximum(extent_a - step_b, 0)
    over_b = np.maximum(extent_b - step_a, 0)
    window: np.ndarray = extent_a * extent_b - over_a * over_b
    return window


def build_space(
    layer: LayerBase,
    hierarchy: Hierarchy | str | Path,
    constraints: Constraints | str | Path | dict[str, Any] | None = None,
) -> Space:
    """The :class:`Space` of ``layer`` on ``hierarchy`` under ``constraints`` (a set, a name, a path)."""
    machine = load_hierarchy(hierarchy)
    return Space(layer, machine, effective_constraints(constraints, machine))


def mapspace(
    layer: LayerBase,
    hierarchy: Hierarchy | str | Path,
    constraints: Constraints | str | Path | dict[str, Any] | None = None,
) -> MapspaceSize:
    """The size of the mapspace, split by axis, counted without enumerating it.

    Tile factors: a dynamic programme over the dimensions whose state is the
    use of every fan-out axis (and, on a systolic array, the group each edge
    carries); per dimension the spatial choices come from its prime
    factorisation and its temporal ones are counted in closed form.
    """
    space = build_space(layer, hierarchy, constraints)
    tile_factors = _count_spatial_states(space, weighted=True)
    unrollings = _count_spatial_states(space, weighted=False)
    orders = 1
    for index in range(space.levels - 1):
        free = [d for d in DIMENSIONS if space.bounds[d] > 1 or len(space.padded_bounds(d)) > 1]
        free = [d for d in free if space.allowed(index, d) and d not in space.prefixes[index]]
        orders *= math.factorial(len(free))
    keeps = math.prod(len(options) for options in space.keep_options)
    padded = math.prod(len(space.padded_bounds(d)) for d in DIMENSIONS)
    return MapspaceSize(tile_factors, unrollings, orders, keeps, 1, padded)


def _count_spatial_states(space: Space, weighted: bool) -> int:
    """Distinct spatial factor choices (every axis within its size, the systolic rule kept).

    ``weighted``: each weighted by its temporal completions (all the tile factor choices).
    """
    spatial = space.spatial_slots
    states: Counter[tuple[object, ...]] = Counter({tuple([1] * len(spatial) + [None] * len(spatial)): 1})
    for dim in DIMENSIONS:
        choices = space.spatial_choices(dim)
        if not weighted:
            choices = Counter(dict.fromkeys(choices, 1))
        merged: Counter[tuple[object, ...]] = Counter()
        for state, weight in states.items():
            for choice, completions in choices.items():
                new = list(state)
                ok = True
                for j, k in enumerate(spatial):
                    new[j] = int(state[j]) * choice[j]  # type: ignore[call-overload]
                    ok &= int(new[j]) <= space.slots[k].capacity  # type: ignore[call-overload]
                    if space.systolic and choice[j] > 1 and space.slots[k].axis in ("rows", "cols"):
                        group = next(g for g in DIM_GROUPS if dim in g)
                        ok &= state[len(spatial) + j] in (None, group)
                        new[len(spatial) + j] = group
                groups = [g for g in new[len(spatial) :] if g is not None]
                if ok and len(groups) == len(set(groups)):
                    merged[tuple(new)] += weight * completions
        states = merged
    return sum(states.values())
