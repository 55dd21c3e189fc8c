"""The records of an access analysis: flows, buckets of counts, and the plan that orders them.

:mod:`energysim.analysis.accesses` builds an :class:`AccessPlan` for a mapped
layer; :func:`~energysim.analysis.accesses.count_accesses` adds it up and the
engine (:mod:`energysim.engine`) replays it step by step, so both charge the
same counts. These records are all they share.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Literal

from energysim.analysis.psums import final_writes
from energysim.analysis.tiles import RELEVANT_DIMS, Nest
from energysim.model.base import Tensor

Action = str  # "read" | "fill" | "update"
#: Where block rounding applies: on a whole (level, tensor, action) count, or per instance.
BlockRounding = Literal["total", "per_instance"]
#: A step key: the nest position of the loop that stepped, and whether the outputs it brings are new.
StepKey = tuple[int, bool]


@dataclass(frozen=True)
class Flow:
    """Elements that cross between an outer level and an inner one (or the PEs).

    ``kind`` is ``fill`` (down, before compute), ``drain`` (psums up, after the
    compute that finished them), ``operand`` (to the PEs during compute) or
    ``result`` (MAC results up during compute). ``elements`` are counted at
    the outer level over all its instances; ``receivers`` is how many distinct
    inner instances one outer instance serves (they may use several ports).
    """

    upper: int
    lower: int
    tensor: Tensor
    kind: str
    elements: int
    receivers: int


@dataclass
class Bucket:
    """Counts, network transfers and flows of one occurrence of an event kind."""

    counts: dict[tuple[str, Tensor, Action], int] = field(default_factory=lambda: defaultdict(int))
    transfers: dict[tuple[str, Tensor], int] = field(default_factory=lambda: defaultdict(int))
    flows: list[Flow] = field(default_factory=list)


@dataclass
class AccessCounts:
    """Element counts of one layer under one mapping, before any pricing.

    ``counts[(level, tensor, action)]`` are elements moved; ``transfers[(level,
    tensor)]`` are deliveries over the network below ``level``.
    ``final_writes[level]`` are the output updates of ``level`` that deliver a
    finished output (the others move partial sums; see
    :mod:`energysim.analysis.psums`); ``instances[level]`` are the instances
    the mapping uses (per-instance block rounding, power gating).
    ``block_rounding`` is how the counting mode packs elements into blocks
    (``"total"``: exact mode; ``"per_instance"``: Timeloop's); pricing
    follows it unless told otherwise.
    """

    counts: dict[tuple[str, Tensor, Action], int] = field(default_factory=lambda: defaultdict(int))
    transfers: dict[tuple[str, Tensor], int] = field(default_factory=lambda: defaultdict(int))
    macs: int = 0
    mapped_macs: int = 0
    time_steps: int = 0
    final_writes: dict[str, int] = field(default_factory=dict)
    instances: dict[str, int] = field(default_factory=dict)
    block_rounding: BlockRounding = "total"

    def get(self, level: str, tensor: Tensor, action: Action) -> int:
        """The count of one (level, tensor, action); 0 if none."""
        return self.counts.get((level, tensor, action), 0)

    def add(self, bucket: Bucket, times: int) -> None:
        """Add ``times`` occurrences of ``bucket``."""
        if times == 0:
            return
        for count_key, count in bucket.counts.items():
            self.counts[count_key] += count * times
        for transfer_key, transfers in bucket.transfers.items():
            self.transfers[transfer_key] += transfers * times


@dataclass
class AccessPlan:
    """The counts of a mapped layer as event kinds with their multiplicities.

    ``steps[key]`` happens ``step_counts[key]`` times; ``burst`` once per step
    of the loops above the array level (``bursts`` times in all).
    """

    nest: Nest
    names: list[str]
    array_level: int
    start: Bucket
    steps: dict[StepKey, Bucket]
    step_counts: dict[StepKey, int]
    burst: Bucket
    bursts: int
    end: Bucket
    macs: int
    #: How the counting mode packs its counts into blocks; its counts say so to pricing.
    block_rounding: BlockRounding = "total"
    #: Finished outputs written into level 0 when it keeps fewer than the padded nest's
    #: (the exact mode: padding has no address there); None: every output of the nest.
    outermost_outputs: int | None = None

    def empty_counts(self) -> AccessCounts:
        """Counts of nothing yet, with what pricing needs of the plan (final writes, instances used)."""
        return AccessCounts(
            macs=self.macs,
            mapped_macs=self.nest.mapped_macs,
            time_steps=self.nest.time_steps,
            final_writes={
                self.names[flow.upper]: (
                    self.outermost_outputs
                    if flow.upper == 0 and self.outermost_outputs is not None
                    else final_writes(self.nest, flow.upper)
                )
                for flow in self.end.flows
                if flow.tensor == "outputs" and flow.kind == "drain"
            },
            instances={name: self.nest.instances_used(index) for index, name in enumerate(self.names)},
            block_rounding=self.block_rounding,
        )

    def totals(self) -> AccessCounts:
        """All counts of the layer."""
        result = self.empty_counts()
        result.add(self.start, 1)
        for key, bucket in self.steps.items():
            result.add(bucket, self.step_counts[key])
        result.add(self.burst, self.bursts)
        result.add(self.end, 1)
        result.counts = defaultdict(int, {k: v for k, v in result.counts.items() if v})
        result.transfers = defaultdict(int, {k: v for k, v in result.transfers.items() if v})
        return result


def step_multiplicities(nest: Nest, array_level: int) -> dict[StepKey, int]:
    """How often each kind of step occurs: per temporal loop above the array, new or revisited outputs."""
    counts: dict[StepKey, int] = {}
    outer = relevant_outer = 1
    for position in nest.temporal_above(array_level):
        total = (position.factor - 1) * outer
        relevant = position.dim in RELEVANT_DIMS["outputs"]
        fresh = (position.factor - 1) * relevant_outer if relevant else 0
        counts[(position.index, True)] = fresh
        counts[(position.index, False)] = total - fresh
        outer *= position.factor
        if relevant:
            relevant_outer *= position.factor
    return counts
