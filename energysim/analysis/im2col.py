"""Exact access counts of a mapping whose array level flattens C, R and S (im2col).

A level ``F`` that flattens (:class:`~energysim.model.mapping.LevelMapping`'s
``im2col``) holds the same tile as without flattening, the product of its C,
R and S extents; only the loops inside it change: one fold loop and one array
edge over ``k = (c * R + r) * S + s``. A chunk of the flattened rows is not a
product of per-dimension sets, which the tile geometry
(:mod:`energysim.analysis.tiles`) needs, so the counts are taken from two
views of the nest, each exact where it is used:

* **conv view** (:meth:`~energysim.model.mapping.Mapping.conv_view`): ``F``
  loops over C, R, S instead of ``K``. It gives everything of the levels down
  to ``F``: every fill into a level at or above ``F``, its parent's reads, and
  level 0's padding. Those depend only on the tiles of ``F`` and above and on
  the loops above ``F``, the same sets in both views.
* **GEMM view** (the mapping's own nest, ``K`` a dimension of weights and
  inputs): everything below ``F``: the fills of levels below ``F``, the MACs'
  operand reads and all outputs (which C, R, S and ``K`` alike do not index).
  Weights are indexed one to one by ``(g, m, c', r', s', k)`` (``c'`` the
  loops of C above ``F``), so their tiles there are products. Inputs are not
  (two rows of a fold may need one input at different output pixels), so
  :mod:`energysim.mapping.check` admits a flattened mapping only where no
  level below ``F`` keeps inputs and the spatial loops below the inputs'
  innermost level are ``F``'s ``K`` and G or M: the MACs of one step then
  need one distinct input per (g, k), and the operand reads are exact.

**Idle rows.** ``K`` is padded to the fold loop times the edge (363 rows in
12 folds of 32 is 384). The padded rows of the last fold hold nothing and
move nothing: no weight is filled into them or read for them, no input
is read for them, and they send no product (SCALE-Sim's partial fold). A
column's partial sum still passes them by, so the output counts are
unchanged (every fold has a real row, and no level below ``F`` keeps
outputs: the checks require both); only the products that the PEs send
up in a burst are fewer. The GEMM view counts whole folds; weights and
inputs there, and those products, are linear in the rows of a fold (one per
row of the edge), so the
rows that exist are the folds' real rows over the edge: per step kind the
folds it meets are known (the first tile and loops outside the fold loop
meet fold 0, the fold loop's own step folds 1 and on, loops inside it every
fold alike). The difference goes into the first-tile bucket, as level 0's
padding does, so the totals are exact while the engine's timing moves whole
folds, as the fold formula charges them.
"""

from __future__ import annotations

import itertools
from fractions import Fraction
from typing import TYPE_CHECKING

from energysim.analysis.plan import Bucket
from energysim.analysis.tiles import Axis, tensor_axes
from energysim.model.base import Tensor
from energysim.model.mapping import FLATTENED

if TYPE_CHECKING:
    from energysim.analysis.accesses import _Planner


def gemm_axes(tensor: Tensor, planner: _Planner) -> tuple[Axis, ...]:
    """``tensor``'s axes in the GEMM view: its own, and ``K`` for weights and inputs."""
    axes = tensor_axes(tensor, planner.bounds)
    return axes if tensor == "outputs" else (*axes, ((FLATTENED, 1),))


def plan_flattened(planner: _Planner, conv: _Planner, gemm: _Planner) -> None:
    """Fill ``planner``'s plan (the GEMM view's nest) for a mapping with an im2col level.

    ``conv`` counts the conv view's part straight into that plan; ``gemm``
    counts the GEMM view's part (the outputs whole) into its own buckets,
    added with the idle rows taken out (:func:`_merge_real_rows`). The step
    kinds of the loops above the im2col level are the same in all three nests.
    """
    flattened = planner.mapping.flattened_level
    assert flattened is not None
    conv.plan = planner.plan
    gemm.outputs()
    for tensor in ("weights", "inputs"):
        chain = planner._chain(tensor)
        links = list(itertools.pairwise(chain))
        conv.read_only_links(
            tensor, tensor_axes(tensor, planner.bounds), [(p, c) for p, c in links if c <= flattened]
        )
        conv.unpad(tensor, tensor_axes(tensor, planner.bounds), chain)
        axes = gemm_axes(tensor, planner)
        gemm.read_only_links(tensor, axes, [(p, c) for p, c in links if c > flattened])
        gemm._operand_reads(chain[-1], tensor, axes)
    _merge_real_rows(planner, gemm)


def _real_row_shares(planner: _Planner) -> tuple[Fraction, Fraction, Fraction, int]:
    """The share of real rows in fold 0, in folds 1 and on, and over all folds; the fold loop's index."""
    mapping = planner.mapping
    flattened = mapping.flattened_level
    assert flattened is not None
    rows = mapping.im2col_rows
    level = mapping.levels[flattened]
    edge, folds = level.im2col_edge, level.im2col_folds
    fold_index = next(
        (p.index for p in planner.nest.positions if p.dim == FLATTENED and not p.spatial and p.factor > 1), -1
    )
    first = Fraction(min(edge, rows), edge)
    later = Fraction(rows - min(edge, rows), edge * (folds - 1)) if folds > 1 else Fraction(0)
    overall = Fraction(rows, edge * folds)
    return first, later, overall, fold_index


def _merge_real_rows(planner: _Planner, gemm: _Planner) -> None:
    """Add ``gemm``'s buckets (whole folds) to the plan; the first tile drops what idle rows do not move."""
    first, later, overall, fold_index = _real_row_shares(planner)
    plan, source = planner.plan, gemm.plan
    occurrences: list[tuple[Bucket, Bucket, int, Fraction]] = [(plan.start, source.start, 1, first)]
    for key, bucket in source.steps.items():
        index, _fresh = key
        share = later if index == fold_index else first if index < fold_index else overall
        occurrences.append((plan.steps[key], bucket, source.step_counts[key], share))
    occurrences.append((plan.burst, source.burst, source.bursts, overall))
    occurrences.append((plan.end, source.end, 1, Fraction(1)))  # the last drains: outputs only
    counts: dict[tuple[str, Tensor, str], Fraction] = {}
    transfers: dict[tuple[str, Tensor], Fraction] = {}
    for target, bucket, times, share in occurrences:
        for count_key, count in bucket.counts.items():
            target.counts[count_key] += count
            if count_key[1] != "outputs":
                counts[count_key] = counts.get(count_key, Fraction(0)) + count * times * (share - 1)
        for transfer_key, moved in bucket.transfers.items():
            target.transfers[transfer_key] += moved
            if transfer_key[1] != "outputs" or bucket is source.burst:
                transfers[transfer_key] = transfers.get(transfer_key, Fraction(0)) + moved * times * (
                    share - 1
                )
        target.flows.extend(bucket.flows)
    for count_key, difference in counts.items():
        plan.start.counts[count_key] += _whole(difference)
    for transfer_key, difference in transfers.items():
        plan.start.transfers[transfer_key] += _whole(difference)


def _whole(value: Fraction) -> int:
    """``value`` as an integer; a fraction would mean a count that is not linear in a fold's rows."""
    if value.denominator != 1:
        raise AssertionError(f"im2col: idle rows take out a fraction of an element ({value})")
    return int(value)
