"""Pricing: access counts times per-access energies, as tidy rows.

Counting and pricing are kept apart (STYLE.md, 2): this is the one small,
pure step that turns element counts into energy. An access moves one block of
``access_bits``; a tensor of ``b`` bits per element packs ``access_bits // b``
elements into a block. Block rounding (``block_rounding``) applies either to
the total count of a (layer, level, tensor, action) (``"total"``, the
default: an ideal buffer packs blocks across instances and tiles), or to each
instance's share (``"per_instance"``: ``instances x ceil(count / instances /
elements per block)``, Timeloop's rounding of each action's per-instance
count, ``src/model/buffer.cpp``). Output elements are partial sums
(``psum_bits`` wide) except the final writes (the output precision), and each
kind is rounded on its own (:mod:`energysim.analysis.psums`). Reads cost
``read_energy_pj``; fills cost ``write_energy_pj``; updates cost
``update_energy_pj`` (default the write energy); each network delivery costs
the network's ``transfer_energy_pj``; each MAC costs the array's MAC energy
(padded MACs are gated and cost nothing). The energy is in the hierarchy's
``energy_unit`` (the ``*_energy_pj`` fields hold MAC-units for a table
normalised to a MAC).
"""

from __future__ import annotations

from typing import Any, get_args

from energysim.analysis.plan import AccessCounts, BlockRounding
from energysim.errors import EnergySimError
from energysim.model.base import Tensor
from energysim.model.hierarchy import Compute, Hierarchy, Level
from energysim.model.layers import LayerBase

#: The tensor column of rows that belong to no tensor (the MACs).
NO_TENSOR = "none"
#: The action of the compute rows.
MAC_ACTION = "mac"
#: The action of network rows, and the suffix of their level name.
TRANSFER_ACTION = "transfer"
NETWORK_SUFFIX = " network"


def accesses_for(level: Level, bits: int, elements: int) -> int:
    """Accesses of ``level`` that move ``elements`` of ``bits`` each.

    An access moves one block of ``access_bits``: it carries ``block // bits``
    whole elements, rounded up on the total; an element wider than a block
    takes ``ceil(bits / block)`` accesses of its own.
    """
    block = level.block_bits
    if bits > block:
        return elements * -(-bits // block)
    return -(-elements // (block // bits))  # integers throughout: exact past 2^53, never overflows


def block_rounding_of(value: object) -> BlockRounding:
    """``value`` as a block rounding; an EnergySimError naming the choices otherwise."""
    if value == "total":
        return "total"
    if value == "per_instance":
        return "per_instance"
    choices = " or ".join(repr(choice) for choice in get_args(BlockRounding))
    raise EnergySimError(f"block_rounding: {value!r} is not a block rounding; expected {choices}")


def rounded_accesses(level: Level, bits: int, elements: int, instances: int, rounding: BlockRounding) -> int:
    """Accesses that move ``elements`` over ``instances`` instances, rounded per ``rounding``.

    ``"per_instance"`` rounds each instance's share up to whole blocks; a count
    that does not divide evenly is shared as evenly as it can be (some
    instances one element more). Elements as wide as a block or wider round
    alike either way.
    """
    if rounding == "total" or instances <= 1 or elements <= 0 or bits >= level.block_bits:
        return accesses_for(level, bits, elements)
    share, larger = divmod(elements, instances)
    return larger * accesses_for(level, bits, share + 1) + (instances - larger) * accesses_for(
        level, bits, share
    )


def action_energy(level: Level, action: str) -> float:
    """Energy of one access of ``action`` at ``level``: read, fill (a write) or update."""
    if action == "read":
        return level.read_energy_pj
    return level.update_energy if action == "update" else level.write_energy_pj


def width_split(
    counts: AccessCounts, layer: LayerBase, name: str, tensor: Tensor, action: str
) -> list[tuple[int, int]]:
    """``(bits, elements)`` of a count: output updates split into final writes and partial sums.

    Partial sums as wide as the outputs are not split: their blocks pack
    together, as they did before ``psum_bits`` existed.
    """
    count = counts.counts.get((name, tensor, action), 0)
    if tensor != "outputs" or layer.psum_width == layer.bits("outputs"):
        return [(layer.bits(tensor), count)]
    final = counts.final_writes.get(name, 0) if action == "update" else 0
    return [(layer.bits("outputs"), final), (layer.psum_width, count - final)]


def price(
    counts: AccessCounts,
    layer: LayerBase,
    hierarchy: Hierarchy,
    block_rounding: BlockRounding | None = None,
) -> list[dict[str, Any]]:
    """One row per (level, tensor, action) with count, accesses and energy (``hierarchy.energy_unit``).

    ``block_rounding`` is ``"total"`` (exact mode) or ``"per_instance"``
    (Timeloop's; the instances are ``counts.instances``, 1 where absent);
    None follows ``counts.block_rounding``.
    """
    rounding = block_rounding_of(counts.block_rounding if block_rounding is None else block_rounding)
    rows: list[dict[str, Any]] = []
    levels = {level.name: level for level in hierarchy.levels}
    order = {level.name: index for index, level in enumerate(hierarchy.levels)}
    for key, count in sorted(counts.counts.items(), key=lambda item: (order.get(item[0][0], -1), item[0])):
        name, tensor, action = key
        if name not in levels or count == 0:
            continue
        level = levels[name]
        instances = counts.instances.get(name, 1)
        accesses = sum(
            rounded_accesses(level, bits, part, instances, rounding)
            for bits, part in width_split(counts, layer, name, tensor, action)
            if part
        )
        energy = action_energy(level, action)
        rows.append(access_row(layer.name, name, tensor, action, count, accesses, accesses * energy))
    for (name, tensor), count in sorted(counts.transfers.items()):
        network = levels[name].network
        if network is None or count == 0:
            continue
        rows.append(
            access_row(
                layer.name,
                name + NETWORK_SUFFIX,
                tensor,
                TRANSFER_ACTION,
                count,
                count,
                count * network.transfer_energy_pj,
            )
        )
    if counts.macs:
        compute = hierarchy.compute
        energy = counts.macs * compute.energy_per_mac
        rows.append(
            access_row(layer.name, compute.name, NO_TENSOR, MAC_ACTION, counts.macs, counts.macs, energy)
        )
    return rows


def access_row(
    layer: str, level: str, tensor: str, action: str, count: int, accesses: int, energy: float
) -> dict[str, Any]:
    return {
        "layer": layer,
        "level": level,
        "tensor": tensor,
        "action": action,
        "count": count,
        "accesses": accesses,
        "energy": energy,
    }


def leaking_instances(instances: int, used: int, power_gating: bool) -> int:
    """Instances that leak: all of them, or with power gating only the ``used`` ones."""
    return min(used, instances) if power_gating else instances


def static_energy_pj(power_mw: float, leaking_share: float, cycles: float, clock_hz: float) -> float:
    """Leakage (pJ) of ``power_mw`` for ``cycles`` at ``clock_hz``, times the share that leaks."""
    return power_mw * leaking_share * 1e-3 * (cycles / clock_hz) * 1e12


def level_static_energy_pj(
    level: Level, used: int, cycles: float, clock_hz: float, gated: bool | None = None
) -> float:
    """Leakage (pJ) of ``level`` over ``cycles``: all its instances, or only the ``used`` ones.

    ``gated`` None follows the level's ``power_gating``; True or False
    overrides it (Timeloop counts only the instances a mapping uses).
    """
    gating = level.power_gating if gated is None else gated
    leaking = leaking_instances(level.instances, used, gating)
    return static_energy_pj(level.static_power_mw, leaking, cycles, clock_hz)


def compute_static_energy_pj(
    compute: Compute, pes_used: int, cycles: float, clock_hz: float, gated: bool | None = None
) -> float:
    """Leakage (pJ) of the PE array (``static_power_mw`` is the whole array's), gated to the used PEs.

    ``gated`` as for :func:`level_static_energy_pj`.
    """
    gating = compute.power_gating if gated is None else gated
    share = leaking_instances(compute.pes, pes_used, gating) / compute.pes
    return static_energy_pj(compute.static_power_mw, share, cycles, clock_hz)
