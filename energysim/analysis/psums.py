"""Partial sums or finished outputs: which output elements a level moves, and how wide they are.

An accumulator is wider than the output it produces (``psum_bits``, e.g. 24
or 32 bits for 8-bit outputs). An output element is *finished* once every MAC
that contributes to it has been accumulated; before that it is a *partial
sum*. Every output move is one or the other:

* the MACs' updates of the innermost level keeping outputs, their read-modify-
  write reads, the refills of a level below (fills, and the reads that serve
  them) and a drain that leaves an element unfinished move partial sums;
* the one drain that delivers an element finished into a level (its *final
  write* there) moves the output, at the output precision.

Exact rule (the loop nest ``T_0 S_0 T_1 S_1 ...`` of :class:`Nest`). Drains
into a level ``X`` from the level ``L`` below it that keeps outputs are summed
over the reduction siblings under one ``X`` instance, so ``X`` counts one
update per element per drain round. An element's last arrival at ``X`` is
finished unless a spatial loop of a reduction dimension (C, R, S) sits above
``X`` (levels ``0 .. X - 1``): then each ``X`` instance only ever holds its
share, and the sum completes higher up. So ``X`` receives exactly one final
write per output element of the padded nest, or none; all its other updates
are partial sums. ``X`` holds partial sums (and sizes its output tile at
``psum_bits``) when it is the innermost output level, when it has no final
writes, or when an element can leave ``L`` more than once: a temporal loop of a
reduction dimension above ``L`` outside a temporal loop of an output dimension
above ``L`` (the element leaves as the output loop steps, and returns when the
reduction loop does).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from energysim.analysis.tiles import RELEVANT_DIMS, Nest
from energysim.model.base import Tensor
from energysim.model.layers import LayerBase

if TYPE_CHECKING:  # plan.py imports this module
    from energysim.analysis.plan import AccessCounts, Flow

_OUTPUT_DIMS = RELEVANT_DIMS["outputs"]


def output_elements(nest: Nest) -> int:
    """Output elements of the padded nest: each one is finished exactly once."""
    return math.prod(p.factor for p in nest.positions if p.dim in _OUTPUT_DIMS)


def reduced_spatially_above(nest: Nest, level: int) -> bool:
    """True if a spatial loop of a reduction dimension fans out above ``level`` (levels 0 .. level-1)."""
    return any(p.dim not in _OUTPUT_DIMS for p in nest.spatial_between(0, level))


def revisits_outputs(nest: Nest, level: int) -> bool:
    """True if an output element can leave ``level``'s tile and come back (a spill round trip)."""
    reduction_seen = False
    for position in nest.temporal_above(level):
        if position.dim not in _OUTPUT_DIMS:
            reduction_seen = True
        elif reduction_seen:
            return True
    return False


def final_writes(nest: Nest, level: int) -> int:
    """Updates of ``level`` (which receives drains from below) that deliver a finished output."""
    return 0 if reduced_spatially_above(nest, level) else output_elements(nest)


def holds_partial_sums(nest: Nest, output_chain: list[int], level: int) -> bool:
    """True if ``level`` (one of ``output_chain``, the levels keeping outputs) ever holds a partial sum."""
    position = output_chain.index(level)
    if position == len(output_chain) - 1:
        return True  # the MACs accumulate into it
    below = output_chain[position + 1]
    return reduced_spatially_above(nest, level) or revisits_outputs(nest, below)


def mixed_bits(finished: int, total: int, output_bits: int, psum_bits: int) -> float:
    """Mean bits of ``total`` elements of which ``finished`` are outputs and the rest partial sums."""
    if total <= 0:
        return float(psum_bits)
    return (finished * output_bits + (total - finished) * psum_bits) / total


def mean_bits(layer: LayerBase, counts: AccessCounts, level: str, tensor: Tensor, action: str) -> float:
    """Mean bits of the elements of one (level, tensor, action) count: final writes and partial sums."""
    if tensor != "outputs":
        return layer.bits(tensor)
    if action != "update":
        return layer.psum_width
    total = counts.counts.get((level, tensor, action), 0)
    finished = counts.final_writes.get(level, 0)
    return mixed_bits(finished, total, layer.bits("outputs"), layer.psum_width)


def flow_bits(layer: LayerBase, counts: AccessCounts, names: list[str], flow: Flow) -> float:
    """Bits per element of a flow: a drain carries its upper level's mix of final writes and partial sums.

    The mix is the layer's mean at that level (its total bytes are exact; a
    single step's drain may be all final or all partial).
    """
    if flow.tensor == "outputs" and flow.kind == "drain":
        return mean_bits(layer, counts, names[flow.upper], "outputs", "update")
    return layer.psum_width if flow.tensor == "outputs" else layer.bits(flow.tensor)
