"""The ``energysim`` command line.

The only module that prints, parses arguments or turns errors into exit codes:
a user's mistake (a bad file, an unknown name) is one line on stderr and exit
code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import pandas as pd

from energysim._version import __version__
from energysim.analysis.roofline import machine_ops_per_byte, roofline_table
from energysim.errors import EnergySimError
from energysim.model.energy_tables import ENERGY_TABLES
from energysim.model.files import shipped_names
from energysim.model.loading import load_hierarchy, load_workload

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


def _list(args: argparse.Namespace) -> None:
    print("hierarchies:   " + ", ".join(shipped_names("hierarchies")))
    print("workloads:     " + ", ".join(shipped_names("workloads")))
    print("energy tables: " + ", ".join(sorted(ENERGY_TABLES)))


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
