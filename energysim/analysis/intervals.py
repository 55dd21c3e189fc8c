"""Sets of integer coordinates as sorted, disjoint intervals: the algebra tiles need.

A tile's rows along an input axis are ``stride * p + dilation * r``: where the
two terms overlap irregularly, the set is built explicitly, one arithmetic
progression at a time, as sorted intervals (never a set of every index), and
measured, shifted, intersected and subtracted as such. Cost follows the number
of intervals, bounded by ``MAX_TILE_INTERVALS``; a clear "too large" error
names the limit past it. :func:`clipped_sum` counts the part of many placed
copies that lies inside a window (the input that exists, padding excluded) in
closed form over blocks of copies.
"""

from __future__ import annotations

import math

from energysim.errors import EnergySimError
from energysim.model.limits import MAX_TILE_INTERVALS

Intervals = tuple[tuple[int, int], ...]
#: An arithmetic progression ``{0, step, ..., (count - 1) x step}``.
Progression = tuple[int, int]
#: The coordinates of one axis that exist in memory, ``[low, high)``; None: every coordinate.
Window = tuple[int, int] | None


def sum_with(intervals: Intervals, progressions: list[Progression]) -> Intervals:
    """The Minkowski sum of ``intervals`` and the progressions, smallest step first."""
    for step, count in sorted(progressions):
        intervals = _add_progression(intervals, step, count)
    return intervals


def sum_measure(intervals: Intervals, progressions: list[Progression]) -> int:
    """``|intervals + progressions|``, multiplying instead of copying where copies cannot meet.

    Once a progression's step is at least the span of what is built so far, and
    each later one's step at least the span before it, every copy is disjoint
    (children of one dimension, a comb of a billion teeth): the size is a product.
    """
    ordered = sorted(progressions)
    for index, (step, count) in enumerate(ordered):
        if _nested(ordered[index:], intervals[-1][1] - intervals[0][0] if intervals else 0):
            return measure(intervals) * math.prod(count for _step, count in ordered[index:])
        intervals = _add_progression(intervals, step, count)
    return measure(intervals)


def _nested(progressions: list[Progression], span: int) -> bool:
    for step, count in progressions:
        if step < span:
            return False
        span += (count - 1) * step
    return True


def _add_progression(intervals: Intervals, step: int, count: int) -> Intervals:
    if count == 1 or not intervals:
        return intervals
    if len(intervals) == 1 and step <= intervals[0][1] - intervals[0][0]:
        start, end = intervals[0]
        return ((start, end + (count - 1) * step),)
    if len(intervals) * count > MAX_TILE_INTERVALS:
        raise EnergySimError(
            f"too large: a tile's input rows or columns overlap irregularly (stride and dilation "
            f"without common structure) over {len(intervals) * count} intervals, more than the "
            f"limit of {MAX_TILE_INTERVALS} (limits.MAX_TILE_INTERVALS); use a smaller layer or tile"
        )
    copies = [(start + k * step, end + k * step) for k in range(count) for start, end in intervals]
    if step < intervals[-1][1] - intervals[0][0]:
        copies.sort()
    return merged(copies)


def merged(intervals: list[tuple[int, int]]) -> Intervals:
    """Sorted intervals with the overlapping and touching ones joined."""
    result: list[tuple[int, int]] = []
    for start, end in intervals:
        if result and start <= result[-1][1]:
            if end > result[-1][1]:
                result[-1] = (result[-1][0], end)
        else:
            result.append((start, end))
    return tuple(result)


def shifted(intervals: Intervals, offset: int) -> Intervals:
    return tuple((start + offset, end + offset) for start, end in intervals)


def measure(intervals: Intervals) -> int:
    return sum(end - start for start, end in intervals)


def intersection(first: Intervals, second: Intervals) -> Intervals:
    result, i, j = [], 0, 0
    while i < len(first) and j < len(second):
        start, end = max(first[i][0], second[j][0]), min(first[i][1], second[j][1])
        if start < end:
            result.append((start, end))
        if first[i][1] < second[j][1]:
            i += 1
        else:
            j += 1
    return tuple(result)


def intersection_size(first: Intervals, second: Intervals) -> int:
    return measure(intersection(first, second))


def difference(first: Intervals, second: Intervals) -> Intervals:
    """``first - second``, both sorted and disjoint."""
    result: list[tuple[int, int]] = []
    j = 0
    for start, end in first:
        while j < len(second) and second[j][1] <= start:
            j += 1
        k, cursor = j, start
        while k < len(second) and second[k][0] < end:
            if second[k][0] > cursor:
                result.append((cursor, second[k][0]))
            cursor = max(cursor, second[k][1])
            k += 1
        if cursor < end:
            result.append((cursor, end))
    return tuple(result)


def clipped_sum(intervals: Intervals, progressions: list[Progression], offset: int, window: Window) -> int:
    """``sum over o of |(intervals + o) & window|``, ``o`` running over ``offset`` + the progressions.

    The offsets are the multiset sum of the progressions (one digit per loop).
    Blocks of offsets wholly inside or outside the window count in closed form;
    only blocks straddling one of its two edges are split, largest step first,
    so the cost follows the loops and how many blocks meet an edge, not the
    number of offsets.
    """
    positions = math.prod(count for _step, count in progressions)
    if not intervals:
        return 0
    if window is None:
        return positions * measure(intervals)
    low, high = window
    size, first, last = measure(intervals), intervals[0][0], intervals[-1][1]
    ordered = sorted(((step, count) for step, count in progressions if count > 1), reverse=True)
    spans, counts = [0], [1]
    for step, count in reversed(ordered):
        spans.insert(0, spans[0] + (count - 1) * step)
        counts.insert(0, counts[0] * count)
    total, pending, budget = 0, [(offset, 0)], MAX_TILE_INTERVALS
    while pending:
        base, index = pending.pop()
        if base + first >= low and base + spans[index] + last <= high:
            total += counts[index] * size
        elif base + first < high and base + spans[index] + last > low:
            if index == len(ordered):
                total += measure(intersection(shifted(intervals, base), ((low, high),)))
                continue
            step, count = ordered[index]
            rest = spans[index + 1]
            # Blocks j wholly inside, and the range of j not wholly outside.
            inside_from = max(0, -(-(low - base - first) // step))
            inside_to = min(count - 1, (high - base - rest - last) // step)
            meeting_from = max(0, (low - base - rest - last) // step + 1)
            meeting_to = min(count, -(-(high - base - first) // step))
            if inside_from <= inside_to:
                total += (inside_to - inside_from + 1) * counts[index + 1] * size
                edges = [range(meeting_from, inside_from), range(inside_to + 1, meeting_to)]
            else:
                edges = [range(meeting_from, meeting_to)]
            for edge in edges:
                budget -= len(edge)
                if budget < 0:
                    raise EnergySimError(
                        "too large: zero padding cuts a tile's input rows or columns into more than "
                        f"{MAX_TILE_INTERVALS} pieces (limits.MAX_TILE_INTERVALS); "
                        "use a smaller layer or tile"
                    )
                pending += [(base + j * step, index + 1) for j in edge]
    return total
