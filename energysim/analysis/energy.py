"""Pricing: access counts times per-access energies, as tidy rows.

Counting and pricing are kept apart (STYLE.md, 2): this is the one small,
pure step that turns element counts into energy. An access moves one block of
``access_bits``; a tensor of ``b`` bits per element packs ``access_bits // b``
elements into a block, and the block rounding applies to the total count of a
(layer, level, tensor, action). Reads cost ``read_energy_pj``; fills and
updates cost ``write_energy_pj``; each network delivery costs the network's
``transfer_energy_pj``; each MAC costs the array's MAC energy (padded MACs are
gated and cost nothing). The energy is in the hierarchy's ``energy_unit``
(the ``*_energy_pj`` fields hold MAC-units for a table normalised to a MAC).
"""

from __future__ import annotations

from typing import Any

from energysim.analysis.plan import AccessCounts
from energysim.model.hierarchy import Hierarchy, Level
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


def price(counts: AccessCounts, layer: LayerBase, hierarchy: Hierarchy) -> list[dict[str, Any]]:
    """One row per (level, tensor, action) with count, accesses and energy (``hierarchy.energy_unit``)."""
    rows: list[dict[str, Any]] = []
    levels = {level.name: level for level in hierarchy.levels}
    order = {level.name: index for index, level in enumerate(hierarchy.levels)}
    for key, count in sorted(counts.counts.items(), key=lambda item: (order.get(item[0][0], -1), item[0])):
        name, tensor, action = key
        if name not in levels or count == 0:
            continue
        level = levels[name]
        accesses = accesses_for(level, layer.bits(tensor), count)
        energy = level.read_energy_pj if action == "read" else level.write_energy_pj
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
