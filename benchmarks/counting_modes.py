"""How far apart the two counting modes are: exact (an ideal buffer) and timeloop (timeloop-model's rules).

Run: python benchmarks/counting_modes.py [network ...]   (default: alexnet resnet50)
For each network on eyeriss under RS, prints per level and tensor the accesses
and energy (the hierarchy's energy unit) of both modes and their ratio
timeloop / exact, then the totals. The timeloop mode never counts fewer moves;
where it counts more: padded input rows read from DRAM, every reduction
sibling refilled with its partial sum, windows refilled after a stride change,
overlapping (not identical) tiles each sent whole.
"""

from __future__ import annotations

import sys

import pandas as pd

import energysim as es

HIERARCHY = "eyeriss"
DATAFLOW = "rs"


def by_level_and_tensor(network: str, counting: str) -> pd.DataFrame:
    """Accesses and energy per (level, tensor), summed over layers and actions (MACs left out)."""
    accesses = es.analyze(network, HIERARCHY, DATAFLOW, counting=counting).accesses  # type: ignore[arg-type]
    accesses = accesses[accesses["tensor"] != "none"]
    return accesses.groupby(["level", "tensor"], sort=False)[["accesses", "energy"]].sum()


def main(networks: list[str]) -> None:
    pd.set_option("display.width", 200)
    for network in networks:
        exact, timeloop = (
            by_level_and_tensor(network, mode).add_suffix(f"_{mode}") for mode in ("exact", "timeloop")
        )
        table = exact.join(timeloop, how="outer").fillna(0)
        table["accesses_ratio"] = table["accesses_timeloop"] / table["accesses_exact"]
        table["energy_ratio"] = table["energy_timeloop"] / table["energy_exact"]
        total = table[["accesses_exact", "accesses_timeloop", "energy_exact", "energy_timeloop"]].sum()
        print(f"\n{network} on {HIERARCHY}, {DATAFLOW}: timeloop / exact per level and tensor")
        columns = [
            "accesses_exact",
            "accesses_timeloop",
            "accesses_ratio",
            "energy_exact",
            "energy_timeloop",
            "energy_ratio",
        ]
        print(table[columns].to_string(float_format=lambda value: f"{value:.4g}"))
        print(
            f"data movement energy: exact {total['energy_exact']:.4g}, timeloop "
            f"{total['energy_timeloop']:.4g}, ratio {total['energy_timeloop'] / total['energy_exact']:.4f}"
        )


if __name__ == "__main__":
    main(sys.argv[1:] or ["alexnet", "resnet50"])
