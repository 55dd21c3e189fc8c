"""``energysim import-timeloop`` and ``export-timeloop``: Timeloop specs in and out."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from energysim.errors import EnergySimError
from energysim.mapping.dataflows import DATAFLOWS
from energysim.mapping.files import load_mapping
from energysim.model.loading import load_hierarchy, load_workload
from energysim.model.workload import Network
from energysim.output_folder import check_output_folder, write_folder

# --- Timeloop specs, both ways (energysim.interop.timeloop_spec) ----------------------------------


def _print_warnings(warnings: tuple[str, ...]) -> None:
    for warning in warnings:
        print(f"energysim: warning: {warning}", file=sys.stderr)


def import_timeloop(args: argparse.Namespace) -> None:
    """Read Timeloop's arch, problem (mapping, ERT) files; write energysim's hierarchy, workload, mapping."""
    from energysim.interop.timeloop_spec import from_timeloop, import_writers

    check_output_folder(args.out, args.force)
    spec = from_timeloop(args.arch, args.problem, args.mapping, args.ert)
    path = write_folder(args.out, import_writers(spec), args.force)
    _print_warnings(spec.warnings)
    files = "hierarchy.yaml, workload.yaml" + (", mapping.yaml" if spec.mapping is not None else "")
    print(f"wrote {path}: {files}, warnings.txt ({len(spec.warnings)} warnings)")


def _export_layer(network: Network, name: str | None, mapped: str | None) -> Any:
    wanted = name or mapped
    if wanted is not None:
        try:
            return network[wanted]
        except KeyError as exc:
            raise EnergySimError(f"--layer: {exc.args[0]}") from None
    with_macs = [layer for layer in network.layers if layer.macs]
    if len(with_macs) != 1:
        names = ", ".join(layer.name for layer in with_macs[:20])
        raise EnergySimError(
            f"--layer: {network.name} has {len(with_macs)} layers with MACs; name one ({names})"
        )
    return with_macs[0]


def export_timeloop(args: argparse.Namespace) -> None:
    """Write Timeloop's arch, problem, mapping and ERT files for one layer on a hierarchy."""
    from energysim.interop.timeloop_spec import export_writers, to_timeloop
    from energysim.mapping.dataflows import build_mapping

    check_output_folder(args.out, args.force)
    hierarchy = load_hierarchy(args.hierarchy)
    network = load_workload(args.workload)
    mapped, mapping = load_mapping(args.mapping, hierarchy) if args.mapping else (None, None)
    layer = _export_layer(network, args.layer, mapped)
    if mapping is None:
        mapping = build_mapping(layer, hierarchy, args.dataflow)
    files, warnings = to_timeloop(hierarchy, layer, mapping)
    path = write_folder(args.out, export_writers(files, warnings), args.force)
    _print_warnings(warnings)
    print(f"wrote {path}: {', '.join(files)}, warnings.txt ({len(warnings)} warnings) for layer {layer.name}")


def add_timeloop_commands(commands: Any) -> None:
    """The ``import-timeloop`` and ``export-timeloop`` subcommands (``commands``: argparse's subparsers)."""
    importing = commands.add_parser(
        "import-timeloop", help="read Timeloop arch/problem/mapping/ERT files as energysim YAML files"
    )
    importing.add_argument("arch", metavar="ARCH", help="Timeloop architecture YAML (v0.3 or v0.4)")
    importing.add_argument("problem", metavar="PROBLEM", help="Timeloop problem YAML (the CNN layer)")
    importing.add_argument("mapping", metavar="MAPPING", nargs="?", help="Timeloop mapping YAML")
    importing.add_argument("--ert", metavar="ERT", help="Accelergy's energy reference table (ERT) YAML")
    _out_options(importing)
    importing.set_defaults(run=import_timeloop)
    exporting = commands.add_parser(
        "export-timeloop", help="write Timeloop arch, problem, mapping and ERT files for one layer"
    )
    exporting.add_argument("workload", metavar="WORKLOAD", help="shipped workload name, YAML or CSV path")
    exporting.add_argument(
        "--hierarchy", required=True, metavar="H", help="shipped hierarchy name or YAML path"
    )
    exporting.add_argument("--layer", metavar="NAME", help="the layer (needed when several have MACs)")
    exporting.add_argument("--dataflow", default="rs", choices=list(DATAFLOWS), help="dataflow (default: rs)")
    exporting.add_argument("--mapping", type=Path, metavar="FILE", help="an energysim mapping YAML instead")
    _out_options(exporting)
    exporting.set_defaults(run=export_timeloop)


def _out_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, metavar="DIR", help="write the files into this new folder")
    parser.add_argument("--force", action="store_true", help="let --out replace a previous energysim output")
