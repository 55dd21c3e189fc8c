"""Prime factorisations and the factor splits built from them.

Every choice of tile factors comes from a dimension's prime factorisation:
the cost follows the number of prime factors (at most 31 for a bound up to
2^31), never the bound's value.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Iterator
from functools import lru_cache

from energysim.model.layers import DIMENSIONS


@lru_cache(maxsize=4096)
def prime_factors(value: int) -> tuple[tuple[int, int], ...]:
    """``(prime, multiplicity)`` pairs of ``value``, ascending (trial division to the square root)."""
    factors: Counter[int] = Counter()
    candidate = 2
    while candidate * candidate <= value:
        while value % candidate == 0:
            factors[candidate] += 1
            value //= candidate
        candidate += 1 if candidate == 2 else 2
    if value > 1:
        factors[value] += 1
    return tuple(sorted(factors.items()))


def count_factorisations(value: int, slots: int) -> int:
    """Ordered ways to write ``value`` as a product of ``slots`` factors: prod C(a + k - 1, k - 1)."""
    if slots == 0:
        return 1 if value == 1 else 0
    return math.prod(math.comb(a + slots - 1, slots - 1) for _, a in prime_factors(value))


def factorisations(value: int, slots: int) -> Iterator[tuple[int, ...]]:
    """Every ordered ``slots``-tuple of factors whose product is ``value`` (by exponent compositions)."""
    if slots == 0:
        if value == 1:
            yield ()
        return
    per_prime = []
    for prime, power in prime_factors(value):
        splits = [tuple(prime**e for e in parts) for parts in _compositions(power, slots)]
        per_prime.append(splits)
    for choice in itertools.product(*per_prime):
        yield tuple(math.prod(parts) for parts in zip(*choice, strict=True)) if choice else (1,) * slots


def _compositions(total: int, parts: int) -> Iterator[tuple[int, ...]]:
    """Ordered ``parts``-tuples of non-negative integers summing to ``total``."""
    for cuts in itertools.combinations(range(total + parts - 1), parts - 1):
        bounds = (-1, *cuts, total + parts - 1)
        yield tuple(b - a - 1 for a, b in itertools.pairwise(bounds))


def distinct_primes(value: int) -> list[int]:
    return [prime for prime, _ in prime_factors(value)]


def spatial_splits(
    loops: list[tuple[int, int]], capacities: list[int], allowed: list[str]
) -> Iterator[list[dict[int, int]]]:
    """Every way to spread one level's spatial loops over its axes (factors split by divisors)."""
    if not capacities:
        if not loops:
            yield []
        return
    if len(loops) > len(DIMENSIONS):
        return

    def place(index: int, used: list[int]) -> Iterator[list[dict[int, int]]]:
        if index == len(loops):
            yield [{} for _ in capacities]
            return
        d, factor = loops[index]
        for parts in factorisations(factor, len(capacities)):
            if any(p > 1 and DIMENSIONS[d] not in allowed[a] for a, p in enumerate(parts)):
                continue
            new = [u * p for u, p in zip(used, parts, strict=True)]
            if any(n > c for n, c in zip(new, capacities, strict=True)):
                continue
            for rest in place(index + 1, new):
                for a, p in enumerate(parts):
                    if p > 1:
                        rest[a][d] = rest[a].get(d, 1) * p
                yield rest

    yield from place(0, [1] * len(capacities))
