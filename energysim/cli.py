"""The ``energysim`` command line.

The only module that prints, parses arguments or turns errors into exit codes:
a user's mistake (a bad file, an unknown name) is one line on stderr and exit
code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

import pandas as pd
from tqdm import tqdm

from energysim._version import __version__
from energysim.analysis.roofline import machine_ops_per_byte, roofline_table
from energysim.errors import EnergySimError
from energysim.mapping.dataflows import DATAFLOWS
from energysim.model.energy_tables import ENERGY_TABLES
from energysim.model.files import shipped_names
from energysim.model.loading import load_hierarchy, load_workload
from energysim.result import Result
from energysim.simulate import simulate

EXIT_USER_ERROR = 2


def _roofline(args: argparse.Namespace) -> None:
    hierarchy = load_hierarchy(args.hierarchy)
    network = load_workload(args.workload)
    table = roofline_table(network, hierarchy)
    print(
        f"Roofline of {network.name} on {hierarchy.name}: peak "
        f"{hierarchy.peak_flops_per_s / 1e12:.1f} TFLOP/s, DRAM "
        f"{table['dram_bandwidth_bytes_per_s'].iloc[0] / 1e9:.0f} GB/s, "
        f"ops:byte {machine_ops_per_byte(hierarchy):.1f}"
    )
    shown = pd.DataFrame(
        {
            "layer": table["layer"],
            "GFLOP": table["flops"] / 1e9,
            "DRAM MB": table["dram_bytes"] / 1e6,
            "FLOP/B": table["arithmetic_intensity"],
            "attainable TFLOP/s": table["attainable_flops_per_s"] / 1e12,
            "time us": table["time_s"] * 1e6,
            "bound": table["bound"],
        }
    )
    print(shown.to_string(index=False, float_format=lambda value: f"{value:.4g}"))


def _summary(result: Result) -> dict[str, Any]:
    """The headline numbers of a simulation, for people and for --json."""
    by_level = result.energy_by_level()
    return {
        "workload": result.workload.name,
        "hierarchy": result.hierarchy.name,
        "dataflow": result.dataflow,
        "layers": len(result.layers),
        "macs": result.macs,
        "total_energy_pj": result.total_energy_pj,
        "energy_per_mac_pj": result.energy_per_mac_pj if result.macs else None,
        "data_movement_energy_pj": result.data_movement_energy_pj,
        "compute_energy_pj": result.compute_energy_pj,
        "static_energy_pj": result.static_energy_pj,
        "cycles": result.cycles,
        "seconds": result.seconds,
        "energy_by_level_pj": {str(level): float(energy) for level, energy in by_level.items()},
        "energysim_version": result.energysim_version,
    }


def _run(args: argparse.Namespace) -> None:
    hierarchy = load_hierarchy(args.hierarchy)
    network = load_workload(args.workload)
    layers = args.layer or None
    total = len(layers) if layers else len(network.layers)
    quiet = args.quiet or args.json or not sys.stderr.isatty()
    with tqdm(total=total, unit="layer", disable=quiet, file=sys.stderr) as bar:

        def advance(done: int, _total: int, name: str) -> None:
            bar.set_postfix_str(name)
            bar.update(1)

        result = simulate(network, hierarchy, args.dataflow, layers=layers, progress=advance)
    summary = _summary(result)
    if args.json:
        print(json.dumps(summary, indent=2))
        return
    unit = "MAC" if hierarchy.energy_table == "eyeriss-normalized" else "pJ"
    print(
        f"{network.name} on {hierarchy.name}, dataflow {args.dataflow}: {summary['layers']} layers, "
        f"{result.macs:,} MACs"
    )
    share = result.data_movement_energy_pj / result.total_energy_pj
    print(
        f"energy {result.total_energy_pj:.4g} {unit} ({result.energy_per_mac_pj:.3g} per MAC), "
        f"{100 * share:.0f}% of it moving data; time {result.cycles:,.0f} cycles = "
        f"{1e3 * (result.seconds or 0):.4g} ms"
    )
    by_level = result.energy_by_level()
    table = pd.DataFrame(
        {
            "level": by_level.index,
            f"energy {unit}": by_level.to_numpy(),
            "%": 100 * by_level.to_numpy() / by_level.sum(),
        }
    )
    print(table.to_string(index=False, float_format=lambda value: f"{value:.4g}"))


def _list(args: argparse.Namespace) -> None:
    print("hierarchies:   " + ", ".join(shipped_names("hierarchies")))
    print("workloads:     " + ", ".join(shipped_names("workloads")))
    print("energy tables: " + ", ".join(sorted(ENERGY_TABLES)))
    print("dataflows:     " + ", ".join(DATAFLOWS))


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``energysim`` command."""
    parser = argparse.ArgumentParser(
        prog="energysim",
        description="Event-driven memory-hierarchy energy simulator for DNN accelerators.",
    )
    parser.add_argument("--version", action="version", version=f"energysim {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    roof = commands.add_parser(
        "roofline", help="place each layer of a workload on a hierarchy's DRAM roofline"
    )
    roof.add_argument("workload", metavar="WORKLOAD", help="shipped workload name or YAML path")
    roof.add_argument("--hierarchy", required=True, metavar="H", help="shipped hierarchy name or YAML path")
    roof.set_defaults(run=_roofline)

    run = commands.add_parser("run", help="simulate a workload: energy by level and time")
    run.add_argument("workload", metavar="WORKLOAD", help="shipped workload name or YAML path")
    run.add_argument("--hierarchy", required=True, metavar="H", help="shipped hierarchy name or YAML path")
    run.add_argument("--dataflow", default="rs", choices=sorted(DATAFLOWS), help="dataflow (default: rs)")
    run.add_argument("--layer", action="append", metavar="NAME", help="simulate only this layer (repeatable)")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    run.add_argument("--json", action="store_true", help="print the summary as JSON")
    run.set_defaults(run=_run)

    listing = commands.add_parser("list", help="list shipped hierarchies, workloads and energy tables")
    listing.set_defaults(run=_list)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        args.run(args)
    except EnergySimError as exc:
        print(f"energysim: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    return 0


if __name__ == "__main__":
    sys.exit(main())
