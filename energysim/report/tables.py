"""Tables of a result, per level and per tensor, and a summary in plain words."""

from __future__ import annotations

import math

import pandas as pd

from energysim.result import COMPUTE_ACTIONS, STATIC_ACTION, Result


def energy_unit(result: Result) -> str:
    """The unit of every energy of ``result``: ``pJ``, or ``MAC-units`` (1 = one MAC)."""
    return result.energy_unit


def share(part: float, total: float) -> str:
    """``part`` as a percentage of ``total``, with as many digits as it needs to say
    something: ``55%``, ``5.2%``, ``0.3%``, ``<0.1%``, and ``0%`` only for nothing."""
    if not total or not math.isfinite(part / total):
        return "n/a"
    percent = 100 * part / total
    if percent == 0:
        return "0%"
    if abs(percent) < 0.1:
        return "<0.1%" if percent > 0 else ">-0.1%"
    return f"{percent:.0f}%" if abs(percent) >= 10 else f"{percent:.1f}%"


def shares(parts: list[float], total: float) -> list[str]:
    """Percentages of ``total`` for parts that make it up, printed so that they add up.

    Each is rounded to 0.1% by the largest-remainder method (the printed values
    sum to exactly 100.0%); a part too small to show is ``<0.1%``. Without a
    positive finite total, each is ``n/a``.
    """
    if not total or not math.isfinite(total) or any(not math.isfinite(part) or part < 0 for part in parts):
        return [share(part, total) for part in parts]
    tenths = [1000 * part / total for part in parts]
    rounded = [math.floor(value) for value in tenths]
    missing = round(sum(tenths)) - sum(rounded)
    by_remainder = sorted(range(len(parts)), key=lambda i: (rounded[i] - tenths[i], i))
    for index in by_remainder[: max(0, missing)]:
        rounded[index] += 1
    return [
        "0%" if part == 0 else "<0.1%" if value == 0 else f"{value / 10:.1f}%"
        for part, value in zip(parts, rounded, strict=True)
    ]


def level_table(result: Result) -> pd.DataFrame:
    """Per level (outermost first, networks and compute included): energy (in the result's
    ``energy_unit``, also a column), share, accesses, energy per MAC, and (when simulated)
    busy cycles and utilisation of one instance."""
    energy = result.energy_by_level()
    accesses = result.accesses.groupby("level", sort=False)["accesses"].sum()
    table = pd.DataFrame({"level": energy.index, "energy": energy.to_numpy()})
    table["energy_unit"] = result.energy_unit
    table["energy_percent"] = 100 * table["energy"] / result.total_energy
    table["accesses"] = table["level"].map(accesses).fillna(0).astype("int64")
    table["energy_per_mac"] = table["energy"] / result.macs if result.macs else float("nan")
    if result.timing is not None and result.cycles:
        busy = result.timing.groupby("level", sort=False)["busy_cycles"].sum()
        table["busy_cycles"] = table["level"].map(busy)
        table["utilisation"] = table["busy_cycles"] / result.cycles
    return table


def tensor_table(result: Result) -> pd.DataFrame:
    """Energy of data movement per level x tensor (in the result's ``energy_unit``),
    levels outermost first, tensors as columns; the compute is not a tensor's and is left out."""
    data = result.accesses[~result.accesses["action"].isin((*COMPUTE_ACTIONS, STATIC_ACTION))]
    table = data.pivot_table(index="level", columns="tensor", values="energy", aggfunc="sum", fill_value=0.0)
    order = [level for level in result.level_order() if level in table.index]
    return table.reindex(order)[[t for t in ("weights", "inputs", "outputs") if t in table.columns]]


def explain(result: Result) -> str:
    """A few sentences on where energy and time go, and which reuse made the difference.

    Shares add up: data movement + MACs (+ leakage) is all the energy, and compute +
    waiting for data + other (idle, skew, drain) is all the time.
    """
    unit = result.energy_unit
    total = result.total_energy
    levels = result.energy_by_level().drop(result.hierarchy.compute.name, errors="ignore")
    top_level = str(levels.idxmax()) if len(levels) else "-"
    tensors = tensor_table(result).sum()
    top_tensor = str(tensors.idxmax()) if len(tensors) else "-"
    lines = [
        f"{result.workload.name} on {result.hierarchy.name}"
        + (f" ({result.dataflow} dataflow)" if result.dataflow else "")
        + f": {total:.4g} {unit} for {result.macs:,} MACs"
        + (f", {result.energy_per_mac:.3g} {unit} per MAC." if result.macs else "."),
        _energy_sentence(result),
        f"Most goes to {top_level} ({share(levels.max(), total)}), and the costliest tensor to move is "
        f"{top_tensor} ({share(tensors.max(), total)}).",
    ]
    if result.macs:
        lines.append(_reuse_sentence(result))
    if result.cycles:
        lines.append(_time_sentence(result))
    return "\n".join(lines)


def _energy_sentence(result: Result) -> str:
    """Data movement + compute (+ leakage) = all the energy, in shares that add up."""
    compute = "the MACs" if result.macs else "the operations (no MACs)"
    parts = {"Moving data costs": result.data_movement_energy, compute: result.compute_energy}
    if result.static_energy:
        parts["leakage"] = result.static_energy
    printed = shares(list(parts.values()), result.total_energy)
    phrases = [f"{name} {value}" for name, value in zip(parts, printed, strict=True)]
    phrases[0] += " of the energy"
    return ", ".join(phrases) + "."


def _reuse_sentence(result: Result) -> str:
    dram = result.hierarchy.outermost.name
    rows = result.accesses
    dram_rows = rows[(rows["level"] == dram) & rows["tensor"].isin(["weights", "inputs", "outputs"])]
    per_tensor = dram_rows.groupby("tensor")["count"].sum()
    reuse = []
    for tensor in ("weights", "inputs"):
        reads = int(per_tensor.get(tensor, 0))
        if reads:
            reuse.append(f"each {tensor[:-1]} is read from {dram} for every {result.macs / reads:.3g} MACs")
    spills = int(result.layers.get("psum_spills", pd.Series(dtype=int)).sum())
    reuse.append(f"{spills:,} partial sums spill to {dram}" if spills else f"no partial sum spills to {dram}")
    return "Reuse: " + "; ".join(reuse) + "."


def _time_sentence(result: Result) -> str:
    """Where the cycles go: compute, skew, waits for tiles, for drains and for operands, the last drain.

    The engine's layer columns add up to the cycles; a remainder (only from
    rounding) is named rather than dropped.
    """
    cycles = result.cycles or 0.0
    layers = result.layers
    parts = {
        "compute": "compute_cycles",
        "pay systolic skew": "skew_cycles",
        "wait for tiles": "stall_cycles",
        "wait for a buffer to drain": "drain_wait_cycles",
        "wait for streamed operands": "stream_wait_cycles",
        "drain the last outputs": "drain_cycles",
    }
    spent = {name: float(layers[column].sum()) for name, column in parts.items() if column in layers}
    other = cycles - sum(spent.values())
    if abs(other) > 1e-9 * max(cycles, 1.0):
        spent["other"] = other
    spent = {name: value for name, value in spent.items() if value}
    printed = shares(list(spent.values()), cycles)
    phrases = [f"{name} {value}" for name, value in zip(spent, printed, strict=True)]
    return (
        f"Time: {cycles:,.0f} cycles ({1e3 * (result.seconds or 0):.4g} ms): the PEs "
        + ", ".join(phrases)
        + "."
    )
