"""Tables of a result, per level and per tensor, and a summary in plain words."""

from __future__ import annotations

import pandas as pd

from energysim.result import COMPUTE_ACTIONS, Result


def energy_unit(result: Result) -> str:
    """``pJ``, or ``MAC-units`` (1 = one MAC) when the hierarchy's energies are normalised to one MAC."""
    return "MAC-units" if result.hierarchy.energy_table == "eyeriss-normalized" else "pJ"


def level_table(result: Result) -> pd.DataFrame:
    """Per level (outermost first, networks and compute included): energy, share, accesses,
    energy per MAC, and (when simulated) busy cycles and utilisation of one instance."""
    energy = result.energy_by_level()
    accesses = result.accesses.groupby("level", sort=False)["accesses"].sum()
    table = pd.DataFrame({"level": energy.index, "energy_pj": energy.to_numpy()})
    table["energy_percent"] = 100 * table["energy_pj"] / result.total_energy_pj
    table["accesses"] = table["level"].map(accesses).fillna(0).astype("int64")
    table["energy_per_mac_pj"] = table["energy_pj"] / result.macs if result.macs else float("nan")
    if result.timing is not None and result.cycles:
        busy = result.timing.groupby("level", sort=False)["busy_cycles"].sum()
        table["busy_cycles"] = table["level"].map(busy)
        table["utilisation"] = table["busy_cycles"] / result.cycles
    return table


def tensor_table(result: Result) -> pd.DataFrame:
    """Energy per level x tensor (pJ), levels outermost first, tensors as columns."""
    data = result.accesses[~result.accesses["action"].isin((*COMPUTE_ACTIONS, "static"))]
    table = data.pivot_table(
        index="level", columns="tensor", values="energy_pj", aggfunc="sum", fill_value=0.0
    )
    order = [level for level in result.level_order() if level in table.index]
    return table.reindex(order)[[t for t in ("weights", "inputs", "outputs") if t in table.columns]]


def explain(result: Result) -> str:
    """A few sentences on where energy and time go, and which reuse made the difference."""
    unit = energy_unit(result)
    total = result.total_energy_pj
    movement = result.data_movement_energy_pj
    levels = result.energy_by_level().drop(result.hierarchy.compute.name, errors="ignore")
    top_level = str(levels.idxmax()) if len(levels) else "-"
    tensors = tensor_table(result).sum()
    top_tensor = str(tensors.idxmax()) if len(tensors) else "-"
    lines = [
        f"{result.workload.name} on {result.hierarchy.name}"
        + (f" ({result.dataflow} dataflow)" if result.dataflow else "")
        + f": {total:.4g} {unit} for {result.macs:,} MACs"
        + (f", {result.energy_per_mac_pj:.3g} {unit} per MAC." if result.macs else "."),
        f"Moving data costs {100 * movement / total:.0f}% of the energy, the MACs "
        f"{100 * result.compute_energy_pj / total:.0f}%"
        + (f", leakage {100 * result.static_energy_pj / total:.0f}%." if result.static_energy_pj else "."),
        f"Most goes to {top_level} ({100 * levels.max() / total:.0f}%), and the costliest tensor to move is "
        f"{top_tensor} ({100 * tensors.max() / total:.0f}%).",
    ]
    if result.macs:
        dram = result.hierarchy.outermost.name
        rows = result.accesses
        dram_rows = rows[(rows["level"] == dram) & rows["tensor"].isin(["weights", "inputs", "outputs"])]
        per_tensor = dram_rows.groupby("tensor")["count"].sum()
        reuse = []
        for tensor in ("weights", "inputs"):
            reads = int(per_tensor.get(tensor, 0))
            if reads:
                reuse.append(
                    f"each {tensor[:-1]} is read from {dram} for every {result.macs / reads:.0f} MACs"
                )
        spills = int(result.layers.get("psum_spills", pd.Series(dtype=int)).sum())
        reuse.append(
            f"{spills:,} partial sums spill to {dram}" if spills else f"no partial sum spills to {dram}"
        )
        lines.append("Reuse: " + "; ".join(reuse) + ".")
    if result.cycles:
        compute = 100 * result.layers["compute_cycles"].sum() / result.cycles
        stall = 100 * result.layers["stall_cycles"].sum() / result.cycles
        lines.append(
            f"Time: {result.cycles:,.0f} cycles ({1e3 * (result.seconds or 0):.4g} ms); the PEs compute "
            f"{compute:.0f}% of it and wait for data {stall:.0f}%."
        )
    return "\n".join(lines)
