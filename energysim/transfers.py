"""Moving bytes over the ports of a hierarchy's levels, as SimPy processes (the engine's transfers).

A transfer of B bytes over the boundary below a level holds one of its
ports for ``B / bandwidth`` cycles (slower if its network is narrower):
time is continuous, never rounded per step. Requests are pipelined: the
ports are free once the bytes have left, and the data lands one latency
later, while the ports already serve the next transfer; a level's latency
is thus paid once per chain of dependent transfers, not once per tile.
Writes (drains, MAC results) are posted: the writer waits for its bytes to
leave, not for them to land, so they pay no latency.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import simpy

from energysim.analysis.plan import AccessCounts, AccessPlan, Flow
from energysim.analysis.psums import flow_bits
from energysim.model.hierarchy import Hierarchy, Level
from energysim.model.layers import LayerBase
from energysim.timing import WRITES, PortStats, port_count, transfer_cycles

#: Most ports one transfer may hold at once (one per group of receivers).
MAX_PORTS_PER_TRANSFER = 4

Request = simpy.resources.resource.Request


class Transfers:
    """The ports of a layer's levels and the transfers over them (see the module docstring).

    :class:`~energysim.engine.LayerEngine` sets these attributes up.
    """

    env: simpy.Environment
    plan: AccessPlan
    layer: LayerBase
    hierarchy: Hierarchy
    levels: tuple[Level, ...]
    array: int
    ports: list[simpy.Resource]
    write_ports: list[simpy.Resource]
    stats: dict[str, PortStats]
    tracing: bool
    trace: list[tuple[float, float, str, str, str, float]]
    _flow_bytes: dict[Flow, float]
    _totals: AccessCounts  # the layer's counts: which output flows carry partial sums

    def _bytes(self, flow: Flow) -> float:
        """Bytes one instance of the flow's upper level moves (memoised: flows repeat every step)."""
        moved = self._flow_bytes.get(flow)
        if moved is None:
            per_instance = flow.elements / self.plan.nest.instances_used(flow.upper)
            bits = flow_bits(self.layer, self._totals, self.plan.names, flow)
            moved = self._flow_bytes[flow] = per_instance * bits / 8
        return moved

    # -- transfers ----------------------------------------------------------------------------------

    def _duration(self, upper: int, total_bytes: float, ports: int, write: bool) -> float:
        """Cycles one of ``ports`` ports of ``upper`` is held to move its share: continuous, never rounded."""
        level = self.levels[upper]
        share = total_bytes / ports
        field = "bandwidth_bytes_per_cycle"
        if level.separate_read_write:
            field = ("write_" if write else "read_") + field
        once = transfer_cycles(self.hierarchy.name, level, share, level.direction_bandwidth(write), field)
        network = level.network
        if network is not None and network.bandwidth_bytes_per_cycle is not None:
            once = max(
                once,
                transfer_cycles(
                    self.hierarchy.name,
                    level,
                    share,
                    network.bandwidth_bytes_per_cycle,
                    "network.bandwidth_bytes_per_cycle",
                ),
            )
        return once

    def _move(
        self,
        flows: list[tuple[Flow, float]],
        repeat: int,
        compute: float = 0.0,
        early: simpy.Event | None = None,
        latency: bool = True,
        land: bool = True,
    ) -> Generator[simpy.Event, Any, tuple[int, float]]:
        """Move ``flows`` (each a given number of times) over their upper levels' ports at once.

        Returns the level whose transfer ended last (the one a burst waits for)
        and how long after the return the data is still landing (0 unless
        ``land`` is false: then it returns once its ports are free).

        A transfer serving several instances below may hold several ports of
        a level (up to :data:`MAX_PORTS_PER_TRANSFER`); receivers beyond the
        free ports wait, and that wait is counted as queueing. ``compute``
        cycles run alongside (a burst whose operands stream in); ``early``
        fires once the first of the ``repeat`` steps' transfers has arrived.
        Requests are pipelined: a
        transfer holds its ports for its bytes only, and its data lands one
        latency later (none without ``latency``), while the ports serve the
        next transfer.
        """
        groups: dict[tuple[int, bool], list[tuple[Flow, float]]] = {}
        for flow, count in flows:
            if flow.upper < self.array and count:
                write = self.levels[flow.upper].separate_read_write and flow.kind in WRITES
                groups.setdefault((flow.upper, write), []).append((flow, count))
        held: list[tuple[float, float, int, simpy.Resource, list[Request], float]] = []
        for upper, write in sorted(groups):
            group = groups[(upper, write)]
            total = sum(self._bytes(flow) * count for flow, count in group)
            parts = max(1, min(max(flow.receivers for flow, _ in group), MAX_PORTS_PER_TRANSFER))
            ports = min(parts, self.levels[upper].ports)
            asked = self.env.now
            resource = self.write_ports[upper] if write else self.ports[upper]
            requests = [resource.request() for _ in range(ports)]
            yield requests[0] if ports == 1 else simpy.AllOf(self.env, requests)
            stats = self.stats[self.levels[upper].name]
            duration = self._duration(upper, total, ports, write)
            # Receivers beyond the ports queue behind the ones served first.
            stats.queue_cycles += (self.env.now - asked) * ports + duration / max(1, parts) * sum(
                part // ports for part in range(parts)
            )
            # Requests are pipelined: the ports are busy for the bytes only, and the data lands
            # one latency later, while the next transfer already uses the ports.
            delay = float(self.levels[upper].latency_cycles) if latency else 0.0
            held.append((duration, delay, upper, resource, requests, total))
            if self.tracing:
                name = self.levels[upper].name
                for flow, count in group:
                    moved = self._bytes(flow) * count
                    self.trace.append((self.env.now, duration + delay, name, flow.tensor, flow.kind, moved))
        elapsed = 0.0
        if early is not None:
            # The first data: a batch's first tile, or a single tile's first bytes (after the latency).
            firsts = [delay + (duration / repeat if repeat > 1 else 0) for duration, delay, *_ in held]
            first = min(firsts, default=0)
            yield self.env.timeout(first)
            early.succeed()
            elapsed = first
        for duration, _, upper, resource, requests, total in sorted(held, key=lambda item: item[0]):
            if duration > elapsed:
                yield self.env.timeout(duration - elapsed)
                elapsed = duration
            for request in requests:
                resource.release(request)
            stats = self.stats[self.levels[upper].name]
            stats.busy_cycles += duration * len(requests) / port_count(self.levels[upper])
            stats.bytes += total
            stats.transfers += 1
        slowest = self.array
        landed = 0.0
        for busy, wait, level, *_ in held:
            if busy + wait >= landed:
                slowest, landed = level, busy + wait
        if not land:
            return slowest, max(0.0, landed - elapsed)
        if max(landed, compute) > elapsed:
            yield self.env.timeout(max(landed, compute) - elapsed)
        return slowest, 0.0

    def _cycles(self, flows: list[tuple[Flow, float]]) -> float:
        """Cycles the slowest port takes to move ``flows`` (a drain's: one level into the next)."""
        longest = 0.0
        for flow, count in flows:
            upper = flow.upper
            write = self.levels[upper].separate_read_write
            ports = min(max(1, min(flow.receivers, MAX_PORTS_PER_TRANSFER)), self.levels[upper].ports)
            longest = max(longest, self._duration(upper, self._bytes(flow) * count, ports, write))
        return longest
