"""When a tile's outputs are finished, so that its drain can leave while the array computes.

A level's tile of outputs is walked by the temporal loops of that level and
of every level inside it, outer to inner. While the outermost of those loops
index outputs only, each of their iterations finishes a disjoint piece of the
tile: its outputs are never touched again once the loops inside it are done.
A loop over a reduction dimension (C, R, S) further in ends that: inside it,
an output is finished only in its last iteration. A reduction loop outside
every output loop only delays the finishing: the pieces are finished in its
last iteration, the last 1/f of the tile's life. So a tile's outputs come in
``pieces`` equal parts, finished one after another over the last part of the
tile's life; all but the last can leave while the array computes, and only
the last one's drain is exposed at the tile's change (or the layer's end).
"""

from __future__ import annotations

from energysim.analysis.plan import AccessPlan
from energysim.analysis.tiles import RELEVANT_DIMS

OUTPUT_DIMS = RELEVANT_DIMS["outputs"]


def output_pieces(plan: AccessPlan) -> dict[int, tuple[int, float]]:
    """Per level: how many pieces of its tile of outputs are finished one after another, and when.

    The pieces are the product of the factors of the temporal loops of the
    level and those inside it that index outputs, outer to inner, up to the
    first loop over a reduction dimension after one of them. Each reduction
    loop before them (factor f) leaves the pieces to its last iteration: the
    second number is the share of the tile's life before the pieces start
    being finished (1: its outputs are all finished at its end).
    """
    nest = plan.nest
    pieces: dict[int, tuple[int, float]] = {}
    for level in range(len(plan.names)):
        count, waiting = 1, 1.0  # the pieces, and the share of the life they are finished in
        for position in nest.positions[nest.level_start[level] :]:
            if position.spatial:
                continue
            if position.dim in OUTPUT_DIMS:
                count *= position.factor
            elif count > 1:
                break
            else:
                waiting /= position.factor
        pieces[level] = (count, 1.0 - waiting)
    return pieces


def stream_start(now: float, life_start: float, life_end: float, pieces: int, cycles: float) -> float:
    """When a drain of ``cycles`` (all pieces but the last) may start and never overtake the outputs.

    The tile's ``pieces`` are finished evenly over its life (``life_start``
    to ``life_end``): piece i at ``life_start + i * life / pieces``. The
    drain moves at its port's bandwidth, so it starts no earlier than
    ``now`` and the first piece, and late enough that its last piece, finished
    at ``life_end - life / pieces``, has had its share (``cycles / (pieces -
    1)``) of the transfer: two straight lines that meet the order at both
    ends keep it in between.
    """
    life = max(0.0, life_end - life_start)
    first = life_start + life / pieces
    last = life_end - life / pieces + cycles / (pieces - 1)
    return max(now, first, last - cycles)
