"""When a tile's outputs are finished, so that its drain can leave while the array computes.

A level's tile of outputs is walked by the temporal loops of that level and
of every level inside it, outer to inner. While the outermost of those loops
index outputs only, each of their iterations finishes a disjoint piece of the
tile: its outputs are never touched again once the loops inside it are done.
The first loop over a reduction dimension (C, R, S) ends that: inside it, an
output is finished only at the tile's very end. So a tile's outputs come in
``pieces`` equal parts, finished one after another over the tile's life; all
but the last can leave while the array computes, and only the last one's
drain is exposed at the tile's change (or the layer's end).
"""

from __future__ import annotations

import math

from energysim.analysis.plan import AccessPlan
from energysim.analysis.tiles import RELEVANT_DIMS

OUTPUT_DIMS = RELEVANT_DIMS["outputs"]


def output_pieces(plan: AccessPlan) -> dict[int, int]:
    """Per level, how many pieces of its tile of outputs are finished one after another.

    The product of the factors of the outermost temporal loops of the level
    and those inside it that index outputs, up to the first that does not
    (1: the tile's outputs are all finished at its end).
    """
    nest = plan.nest
    pieces: dict[int, int] = {}
    for level in range(len(plan.names)):
        factors: list[int] = []
        for position in nest.positions[nest.level_start[level] :]:
            if position.spatial:
                continue
            if position.dim not in OUTPUT_DIMS:
                break
            factors.append(position.factor)
        pieces[level] = math.prod(factors)
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
