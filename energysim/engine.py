"""The event-driven engine: SimPy processes replay a layer's access stream.

Time is in cycles of the hierarchy's clock. Every storage level has ports
(a ``simpy.Resource`` with ``ports`` slots; all instances of a level move in
lockstep, so one resource stands for each of them) and buffer space for
tiles (a ``simpy.Container`` of one slot, two where the level is
double-buffered). A transfer of B bytes over the boundary below a level holds
one of its ports for ``B / bandwidth`` cycles (slower if its network is
narrower) and its data lands one latency later; writes are posted and pay
none (:mod:`energysim.transfers`). Time is continuous, and a batched step's
transfer is never rounded per step; the outermost level (DRAM) is one shared
channel. A transfer that serves several instances below may use several
ports at once. A level with separate read and write bandwidth has a second
resource: drains and MAC results take its write ports, fills and operands
its read ports.

Three kinds of process replay the stream (:mod:`energysim.stream`):

* a *fetcher* per level fills each new tile, once a slot is free (so a level
  prefetches the next tile while the current one is in use only when it is
  double-buffered) and once the first data of the tiles it reads from are
  there, and moves on to the next tile once its ports are free; whoever
  reads a tile may start on its first data (a single tile's first bytes, a
  batch's first tile where there is room for two), but the last step that
  uses a tile ends only once all of it has arrived;
* the *array* computes one burst per step once its data is there: k MACs on a
  PE take ``ceil(k / macs_per_cycle)`` cycles (a systolic array adds
  ``2 S_R + S_C - 2`` cycles of preload and skew per fold, SCALE-Sim's model;
  a fold starts wherever a tile that stays in the PEs across the bursts
  changes, whichever tensor it is); operands read from levels above the PEs
  during the burst hold those levels' ports; register-file accesses inside the burst are
  counted, not simulated;
* a *retirer* drains departing partial sums up the hierarchy and frees the
  slots of the tiles the array has finished with; the outputs a tile
  finishes piece by piece stream out during its last step, and the retirer
  drains only the last piece (:mod:`energysim.drains`).

The engine charges exactly the counts of the
:class:`~energysim.analysis.plan.AccessPlan`, event by event. Its cost
per step is linear in the number of levels, and the stream bounds the steps.

Every cycle of a layer is one of: *compute* (the array's bursts), *skew*
(a systolic fold's preload, fill and drain), *stall*
(the array waits for tiles to arrive), *stream wait* (a burst outlasts its
MACs because operands or results stream over a level's ports more slowly)
and *drain* (after the last burst, until the last partial sums are written
back); the five add up to the layer's cycles. Levels at or below the array
level are not simulated: their busy cycles are the bytes they move inside
the bursts over their bandwidth (``timed_as`` "within bursts").
"""

from __future__ import annotations

import math
from collections.abc import Generator, Sequence
from typing import Any

import simpy

from energysim.analysis.plan import AccessPlan, Bucket, Flow, StepKey
from energysim.drains import output_pieces, stream_start
from energysim.folds import fold_keys
from energysim.model.hierarchy import Hierarchy
from energysim.model.layers import LayerBase
from energysim.stream import MAX_SIMULATED_STEPS, Step, steps
from energysim.timing import (
    TIMED_WITHIN_BURSTS,
    CountingEnvironment,
    LayerTiming,
    PortStats,
    inner_bytes,
    inner_cycles,
    port_count,
    register_limit,
)
from energysim.transfers import Transfers

_END = -1

Process = Generator[simpy.Event, Any, None]


class LayerEngine(Transfers):
    """One layer's SimPy model. Build it, then :meth:`run` it once."""

    def __init__(
        self,
        plan: AccessPlan,
        layer: LayerBase,
        hierarchy: Hierarchy,
        trace: bool = False,
        max_steps: int = MAX_SIMULATED_STEPS,
    ) -> None:
        self.plan = plan
        self.layer = layer
        self.hierarchy = hierarchy
        self.tracing = trace
        self.counting = CountingEnvironment()
        self.env = self.counting
        self.levels = hierarchy.levels
        self.ports = [simpy.Resource(self.env, capacity=level.ports) for level in self.levels]
        # A level with separate read and write bandwidth has write ports of its own.
        self.write_ports = [
            simpy.Resource(self.env, capacity=level.ports) if level.separate_read_write else ports
            for level, ports in zip(self.levels, self.ports, strict=True)
        ]
        self.stats = {level.name: PortStats() for level in self.levels}
        self.trace: list[tuple[float, float, str, str, str, float]] = []
        self.counts = plan.empty_counts()
        self._totals = plan.totals()  # the widths of the output flows (partial sums or finished)
        self.steps: list[Step] = steps(plan, max_steps)
        self._flow_bytes: dict[Flow, float] = {}
        self._flow_index = _index_flows(plan)
        self.array = plan.array_level
        filled = {flow.lower for bucket in (plan.start, *plan.steps.values()) for flow in bucket.flows}
        self.fetched = [level for level in range(1, min(self.array + 1, len(self.levels))) if level in filled]
        self.slots = {
            level: simpy.Container(self.env, capacity=self._slots(level), init=self._slots(level))
            for level in self.fetched
        }
        self.tiles = {level: self._tile_indices(level) for level in self.fetched}
        #: Per level and tile: the last step that uses it.
        self.last_step = {level: _last_steps(tiles) for level, tiles in self.tiles.items()}
        # Per level and tile: the first data is there (ready) and all of it is (arrived).
        self.ready = {level: self._tile_events(level) for level in self.fetched}
        self.arrived = {level: self._tile_events(level) for level in self.fetched}
        self.boundaries = simpy.Store(self.env)
        inner = plan.nest.time_steps // plan.bursts
        self.burst_mac_cycles = math.ceil(inner / hierarchy.compute.macs_per_cycle_per_pe)
        # A burst lasts as long as its MACs, or as its busiest PE-level storage needs to move
        # the burst's bytes (register files are timed as bandwidth limits, never per access).
        self.register_level, register_cycles = register_limit(self.plan, self.layer, self.hierarchy)
        self.burst_cycles = max(float(self.burst_mac_cycles), register_cycles)
        array = hierarchy.compute.array
        # SCALE-Sim's fold: S_R cycles of preload and S_R + S_C - 2 of skew besides its T steps.
        self.skew = 2 * array.rows + array.cols - 2 if hierarchy.compute.systolic else 0
        self.fold_keys = fold_keys(plan, hierarchy) if self.skew else frozenset()
        self.compute_cycles = 0.0
        self.skew_cycles = 0.0
        self.stall_by_level = dict.fromkeys(range(len(self.levels)), 0.0)
        self.drain_wait_cycles = 0.0
        self.drain_wait_by_level = dict.fromkeys(range(len(self.levels)), 0.0)
        # When each tile's buffer slot was granted (its fill could start).
        self.slot_granted = {level: [0.0] * len(self.ready[level]) for level in self.fetched}
        self.stream_wait_by_level = dict.fromkeys(range(len(self.levels)), 0.0)
        #: The drains of batched steps, which leave while later bursts compute.
        self.batch_drains: list[simpy.Process] = []
        #: Per level, how many pieces of its outputs are finished one after another in a tile,
        #: when its current tile came into use, and the drains streaming out by boundary.
        self.pieces = output_pieces(plan)
        self.life_start = dict.fromkeys(range(len(self.levels)), 0.0)
        self.streamed: dict[tuple[int, int], tuple[simpy.Process, float]] = {}
        self.stall_cycles = 0.0
        self.stream_wait_cycles = 0.0
        self.array_end = 0.0

    # -- set-up helpers -----------------------------------------------------------------------------

    def _slots(self, level: int) -> int:
        return 2 if self.levels[level].double_buffered else 1

    def _tile_events(self, level: int) -> list[simpy.Event]:
        return [self.env.event() for _ in range(self.tiles[level][-1] + 1)]

    def _tile_indices(self, level: int) -> list[int]:
        """For every step, the index of ``level``'s tile in use."""
        indices, current = [], -1
        for step in self.steps:
            if level in step.changed:
                current += 1
            indices.append(current)
        return indices

    def _bucket(self, key: StepKey | None) -> Bucket:
        return self.plan.start if key is None else self.plan.steps[key]

    def _flows(self, step: Step, kind: str, lower: int) -> list[tuple[Flow, float]]:
        """The flows of one kind into (or out of) ``lower`` over a step, with their counts."""
        return [
            (flow, count) for key, count in step.keys for flow in self._flow_index.get((key, kind, lower), ())
        ]

    # -- processes ----------------------------------------------------------------------------------

    def _fetcher(self, level: int) -> Process:
        tiles = self.tiles[level]
        for index, step in enumerate(self.steps):
            if level not in step.changed:
                continue
            yield self.slots[level].get(1)
            self.slot_granted[level][tiles[index]] = self.env.now
            fills = self._flows(step, "fill", level)
            waits = [
                self.ready[f.upper][self.tiles[f.upper][index]] for f, _ in fills if f.upper in self.ready
            ]
            if waits:
                yield simpy.AllOf(self.env, waits)
            # Whoever reads the tile may start on its first data (a batched step's first tile,
            # with room for two; else its first bytes); the last step that uses it cannot finish
            # before all of it is there.
            tile = tiles[index]
            ready, arrived = self.ready[level][tile], self.arrived[level][tile]
            times = step.times(level)
            early = ready if times == 1 or self._slots(level) > 1 else None
            _, landing = yield from self._move(fills, times, early=early, land=False)
            # The next tile's requests follow once the ports are free, while this one's data
            # is still landing (pipelined requests pay a latency once, not once per tile).
            # It has arrived once its own data has, and, if it is the last tile copied from a
            # tile above, once that tile has too (earlier ones copy the part that has arrived).
            last = self.last_step[level][tile]
            sources = [
                self.arrived[f.upper][self.tiles[f.upper][index]]
                for f, _ in fills
                if f.upper in self.arrived and self.last_step[f.upper][self.tiles[f.upper][index]] == last
            ]
            self._land(landing, ready, arrived, [source for source in sources if not source.processed])

    def _land(
        self, landing: float, ready: simpy.Event, arrived: simpy.Event, sources: list[simpy.Event]
    ) -> None:
        """Mark a tile ready once its own data has landed, arrived once its sources have too."""
        waits = sources
        if landing > 0:
            landed = self.env.timeout(landing)
            if not ready.triggered:
                landed.callbacks.append(lambda _: _succeed(ready))
            waits = [landed, *sources]
        elif not ready.triggered:
            ready.succeed()
        if waits:
            simpy.AllOf(self.env, waits).callbacks.append(lambda _: _succeed(arrived))
        else:
            arrived.succeed()

    def _array(self) -> Process:
        for index, step in enumerate(self.steps):
            yield from self._wait_for(self.ready, index)
            for key, count in step.keys:
                self.counts.add(self._bucket(key), count)
            self.counts.add(self.plan.burst, step.repeat)
            folds = sum(count for key, count in step.keys if key in self.fold_keys)
            macs_cycles = step.repeat * self.burst_mac_cycles
            skew = folds * self.skew
            compute = step.repeat * self.burst_cycles + skew
            started = self.env.now
            operands: list[tuple[Flow, float]] = [
                (f, step.repeat) for f in self.plan.burst.flows if f.kind in ("operand", "result")
            ]
            # A batched step's tile changes after its first drain what its own bursts finished:
            # those drains leave while the later bursts compute (the retirer waits for them).
            within = self._within_batch_drains(step)
            if within:
                self.batch_drains.append(self.env.process(self._drain_later(within, step.repeat)))
            self._stream_out(index, step, started, started + compute)
            # Operands stream in while the PEs compute; a stream pays its latency once, not per burst.
            slowest, _ = yield from self._move(operands, step.repeat, compute=compute, latency=False)
            # Bursts held back by their registers' bandwidth wait for that level.
            register_wait = step.repeat * (self.burst_cycles - self.burst_mac_cycles)
            if register_wait:
                self.stream_wait_cycles += register_wait
                self.stream_wait_by_level[self.register_level] += register_wait
            waited = max(0.0, self.env.now - started - compute)
            if waited:
                # The stream waited for the level whose transfer ended last.
                self.stream_wait_cycles += waited
                self.stream_wait_by_level[slowest] += waited
            # The last step that uses a tile ends when all of it has arrived (the steps before it
            # read the part that has); waiting for it is a stall too.
            ending = self.steps[index + 1].changed if index + 1 < len(self.steps) else self.fetched
            yield from self._wait_for(self.arrived, index, ending)
            self.compute_cycles += macs_cycles
            self.skew_cycles += skew
            if self.tracing:
                self.trace.append(
                    (started, self.env.now - started, self.hierarchy.compute.name, "none", "compute", 0.0)
                )
            yield self.boundaries.put(index + 1 if index + 1 < len(self.steps) else _END)
        self.array_end = float(self.env.now)

    def _wait_for(
        self, events: dict[int, list[simpy.Event]], index: int, levels: Sequence[int] | None = None
    ) -> Process:
        """Wait for every fetched level's (or only ``levels``') tile of step ``index``, outermost first.

        Each level is charged the cycles the array still waited for it: first
        for the tile's buffer to be freed by the drain of the tile before it
        (drain wait), then for its data (stall); per level, they add up to
        the layer's.
        """
        for level in self.fetched:
            if levels is not None and level not in levels:
                continue
            tile = self.tiles[level][index]
            event = events[level][tile]
            if not event.processed:
                asked = self.env.now
                yield event
                # Until the tile's buffer was free, the array waited for the drain before it.
                draining = min(max(0.0, self.slot_granted[level][tile] - asked), self.env.now - asked)
                self.drain_wait_cycles += draining
                self.drain_wait_by_level[level] += draining
                self.stall_cycles += self.env.now - asked - draining
                self.stall_by_level[level] += self.env.now - asked - draining

    def _within_batch_drains(self, step: Step) -> list[tuple[Flow, float]]:
        """The drains of a batched step's array tiles after its first change (all but 1/repeat).

        The PEs' own tiles change at every step of a batch, so what one burst
        finished leaves while the next ones compute. Tiles of the levels
        above change only between the batch's blocks: they drain at the
        batch's boundary, as a step's do.
        """
        if step.repeat <= 1 or self.array not in step.changed:
            return []
        share = (step.repeat - 1) / step.repeat
        return [(flow, count * share) for flow, count in self._flows(step, "drain", self.array)]

    def _drain_later(self, drains: list[tuple[Flow, float]], repeat: int, start: float = 0.0) -> Process:
        """Drain tiles while later bursts run, from ``start`` on (they hold no slot, no burst).

        Writes are posted: a writer waits for its bytes to leave over the
        ports, not for them to land, so a drain pays no latency.
        """
        if start > self.env.now:
            yield self.env.timeout(start - self.env.now)
        yield from self._move(drains, repeat, latency=False)

    def _boundary_drains(self, token: int, level: int) -> list[tuple[Flow, float]]:
        """What drains from ``level`` at boundary ``token`` (a step's index, or the layer's end).

        Of a batched step, the array's tiles drain here only for the first of
        their changes (the array streams the rest, see :meth:`_within_batch_drains`).
        """
        if token == _END:
            return [(f, 1.0) for f in self.plan.end.flows if f.kind == "drain" and f.lower == level]
        step = self.steps[token]
        drains = self._flows(step, "drain", level)
        if step.repeat > 1 and level == self.array:
            drains = [(flow, count / step.repeat) for flow, count in drains]
        return drains

    def _stream_out(self, index: int, step: Step, started: float, end: float) -> None:
        """Start draining what the tiles ending after step ``index`` finish, while it computes.

        A tile's outputs are finished in pieces over its life (see
        :mod:`energysim.drains`); all but the last piece leave during the
        last step that uses the tile, as early as they are finished and the
        port lets them; the retirer drains the last piece at the boundary.
        The tiles above change only at the boundary: of a batched step
        whose tiles change several times, its first change's share streams.
        """
        for level in step.changed:
            times = step.times(level)
            self.life_start[level] = end - (end - started) / times if times > 1 else started
        token = index + 1 if index + 1 < len(self.steps) else _END
        levels = range(1, len(self.levels)) if token == _END else self.steps[token].changed
        for level in levels:
            pieces, before = self.pieces[level]
            # The array's own tiles are the PEs' registers: at a step's boundary their drain is one
            # burst's outputs, and a batch streams its others already (_within_batch_drains).
            streams = pieces > 1 and (level < self.array or token == _END)
            drains = self._boundary_drains(token, level) if streams else []
            if not drains:
                continue
            share = (pieces - 1) / pieces
            if token != _END and not (level == self.array and self.steps[token].repeat > 1):
                share /= self.steps[token].times(level)
            streamed = [(flow, count * share) for flow, count in drains]
            # The pieces are finished over the last part of the tile's life (see energysim.drains).
            first = self.life_start[level] + before * (end - self.life_start[level])
            start = stream_start(self.env.now, first, end, pieces, self._cycles(streamed))
            self.streamed[(token, level)] = (self.env.process(self._drain_later(streamed, 1, start)), share)

    def _retirer(self) -> Process:
        while True:
            token = yield self.boundaries.get()
            if token == _END and self.batch_drains:
                # The last drains leave after every earlier one (they finish the layer).
                yield simpy.AllOf(self.env, self.batch_drains)
            step = (
                Step((), 1, tuple((level, 1) for level in range(1, len(self.levels))))
                if token == _END
                else self.steps[token]
            )
            for level in sorted(step.changed, reverse=True):
                drains = self._boundary_drains(token, level)
                streamed = self.streamed.pop((token, level), None)
                if streamed is not None:
                    # All but the last piece left while the array computed.
                    process, share = streamed
                    yield process
                    drains = [(flow, count * (1 - share)) for flow, count in drains]
                if drains:
                    yield from self._move(drains, step.repeat, latency=False)
                if token != _END and level in self.slots:
                    yield self.slots[level].put(1)
            if token == _END:
                self.counts.add(self.plan.end, 1)
                return

    def _burst_levels(self) -> None:
        """Busy cycles of the levels inside the bursts: bytes moved per instance over bandwidth.

        As for a simulated level, the bytes are those over its boundary below
        (reads by the MACs or the level below, updates from them); its fills
        count at the level above, whose ports deliver them.
        """
        for index, (read, written) in inner_bytes(self.plan, self.layer, self.hierarchy, self.counts).items():
            level = self.levels[index]
            self.stats[level.name] = PortStats(
                busy_cycles=inner_cycles(level, read, written) / port_count(level),
                bytes=read + written,
                timed_as=TIMED_WITHIN_BURSTS,
            )

    def run(self) -> LayerTiming:
        """Simulate the layer to the end; its timing and the counts it charged."""
        for level in self.fetched:
            self.env.process(self._fetcher(level))
        self.env.process(self._array())
        done = self.env.process(self._retirer())
        self.env.run(until=done)
        self._burst_levels()
        for index, stored in enumerate(self.levels):
            self.stats[stored.name].stall_cycles = self.stall_by_level[index]
            self.stats[stored.name].drain_wait_cycles = self.drain_wait_by_level[index]
            self.stats[stored.name].stream_wait_cycles = self.stream_wait_by_level[index]
        pes = math.prod(p.factor for p in self.plan.nest.spatial_between(0, len(self.levels)))
        cycles = float(self.env.now)
        return LayerTiming(
            cycles=cycles,
            compute_cycles=self.compute_cycles,
            skew_cycles=self.skew_cycles,
            drain_wait_cycles=self.drain_wait_cycles,
            stall_cycles=self.stall_cycles,
            stream_wait_cycles=self.stream_wait_cycles,
            drain_cycles=cycles - self.array_end,
            pes_used=pes,
            levels=self.stats,
            counts=self.counts,
            events=self.counting.processed,
            trace=self.trace,
        )


def _last_steps(tiles: list[int]) -> list[int]:
    """For each tile index, the last step that uses it (``tiles`` gives each step's)."""
    last = [0] * (tiles[-1] + 1 if tiles else 0)
    for index, tile in enumerate(tiles):
        last[tile] = index
    return last


def _succeed(event: simpy.Event) -> None:
    event.succeed()


def _index_flows(plan: AccessPlan) -> dict[tuple[StepKey | None, str, int], list[Flow]]:
    """Every step kind's flows by (key, kind, lower level): a step finds its own without a scan."""
    index: dict[tuple[StepKey | None, str, int], list[Flow]] = {}
    buckets: list[tuple[StepKey | None, Bucket]] = [(None, plan.start), *plan.steps.items()]
    for key, bucket in buckets:
        for flow in bucket.flows:
            index.setdefault((key, flow.kind, flow.lower), []).append(flow)
    return index


def simulate_layer(
    plan: AccessPlan,
    layer: LayerBase,
    hierarchy: Hierarchy,
    trace: bool = False,
    max_steps: int = MAX_SIMULATED_STEPS,
) -> LayerTiming:
    """Replay one mapped layer's access stream in at most ``max_steps`` steps; see :class:`LayerEngine`."""
    return LayerEngine(plan, layer, hierarchy, trace, max_steps).run()
