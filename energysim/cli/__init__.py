"""The ``energysim`` command line.

The only place that prints, parses arguments or turns errors into exit codes:
a user's mistake (a bad file, an unknown name, a mapping that does not fit) is
one line on stderr and exit code 2, never a traceback; output folders are
written whole or not at all, and never over a folder or file that energysim
did not write (see :mod:`energysim.output_folder`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from energysim._version import __version__
from energysim.cli.commands import (
    compare,
    counting_option,
    import_model,
    list_shipped,
    roofline,
    run,
    validate,
)
from energysim.cli.exploration_commands import add_mapper_commands, add_sweep_parser
from energysim.cli.timeloop_commands import add_timeloop_commands
from energysim.errors import EnergySimError
from energysim.mapping.dataflows import DATAFLOWS
from energysim.model.files import display_path
from energysim.prepare import DEFAULT_DATAFLOW

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it


def _common(parser: argparse.ArgumentParser, out: bool = True) -> None:
    parser.add_argument("workload", metavar="WORKLOAD", help="shipped workload name, YAML path or .onnx path")
    parser.add_argument("--hierarchy", required=True, metavar="H", help="shipped hierarchy name or YAML path")
    parser.add_argument("--layer", action="append", metavar="NAME", help="only this layer (repeatable)")
    if out:
        parser.add_argument(
            "--out",
            metavar="DIR",
            help="write CSVs, figures and summary.json into this new folder (never over your files)",
        )
        parser.add_argument(
            "--force", action="store_true", help="let --out replace a previous energysim output folder"
        )
    parser.add_argument("--quiet", action="store_true", help="no progress bar, no text summary")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")


def _mapping_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--mapping",
        type=Path,
        metavar="FILE",
        help="a mapping YAML for the layer it names; the dataflow maps the other layers",
    )


def _onnx_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("ONNX models (a WORKLOAD path ending in .onnx)")
    group.add_argument(
        "--precision", type=int, metavar="BITS", help="bits of every tensor (an fp32 model for int8 hardware)"
    )
    group.add_argument(
        "--skip-unsupported",
        action="store_true",
        help="leave out operators energysim does not model, and list them in the result",
    )
    group.add_argument(
        "--batch", type=int, metavar="N", help="the batch size of a model whose batch is symbolic"
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``energysim`` command."""
    parser = argparse.ArgumentParser(
        prog="energysim",
        description="Event-driven memory-hierarchy energy simulator for DNN accelerators.",
    )
    parser.add_argument("--version", action="version", version=f"energysim {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    run_parser = commands.add_parser(
        "run", help="simulate a workload: energy by level and tensor, time, figures"
    )
    _common(run_parser)
    run_parser.add_argument(
        "--dataflow",
        default=DEFAULT_DATAFLOW,
        choices=list(DATAFLOWS),
        help="dataflow (default: the hierarchy's default_dataflow, else rs)",
    )
    _mapping_option(run_parser)
    counting_option(run_parser)
    _onnx_options(run_parser)
    run_parser.set_defaults(run=run)

    compare_parser = commands.add_parser("compare", help="simulate a workload under several dataflows")
    _common(compare_parser)
    compare_parser.add_argument(
        "--dataflows",
        default="ws,os,rs,nlr",
        metavar="D,D,...",
        help="comma-separated (default: ws,os,rs,nlr)",
    )
    _mapping_option(compare_parser)
    counting_option(compare_parser)
    compare_parser.set_defaults(run=compare)

    roof = commands.add_parser("roofline", help="place each layer of a workload on the hierarchy's roofline")
    _common(roof)
    roof.set_defaults(run=roofline)

    listing = commands.add_parser(
        "list", help="list shipped hierarchies, workloads, energy tables and dataflows"
    )
    listing.set_defaults(run=list_shipped)

    check = commands.add_parser(
        "validate", help="check a hierarchy, workload or mapping file; print what it says"
    )
    check.add_argument("file", metavar="FILE", help="a YAML path, or a shipped hierarchy or workload name")
    check.add_argument("--hierarchy", metavar="H", help="for a mapping file: the hierarchy it maps onto")
    check.add_argument(
        "--workload",
        metavar="W",
        help="for a mapping file: check its factors against the layer it names in W",
    )
    check.set_defaults(run=validate)

    importer = commands.add_parser("import", help="import an ONNX model as an editable workload YAML file")
    importer.add_argument("model", metavar="MODEL", help="an .onnx file")
    importer.add_argument(
        "--out", required=True, metavar="FILE", help="the workload YAML to write (a new file)"
    )
    importer.add_argument("--force", action="store_true", help="replace --out if it exists")
    importer.add_argument("--quiet", action="store_true", help="print nothing")
    _onnx_options(importer)
    importer.set_defaults(run=import_model)
    add_timeloop_commands(commands)
    add_mapper_commands(commands)
    add_sweep_parser(commands)
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
    except BrokenPipeError:
        return 0  # the reader (say, head) has what it wanted
    except KeyboardInterrupt:
        print("energysim: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except OSError as exc:
        where = f"{display_path(exc.filename)}: " if exc.filename else ""
        print(f"energysim: error: {where}{exc.strerror or type(exc).__name__}", file=sys.stderr)
        return EXIT_USER_ERROR
    return 0
