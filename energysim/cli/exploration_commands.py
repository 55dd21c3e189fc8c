"""``energysim search``, ``dataflow show`` and ``sweep``: exploring mappings and design spaces."""

from __future__ import annotations

import argparse
import sys
from typing import Any

import pandas as pd
from tqdm import tqdm

from energysim.cli.commands import format_table, output_folder_of
from energysim.errors import EnergySimError
from energysim.mapping.constraints import constraints_yaml, dataflow_constraints
from energysim.mapping.dataflows import DATAFLOWS
from energysim.model.loading import load_hierarchy, load_workload
from energysim.objectives import OBJECTIVES
from energysim.output_folder import write_folder
from energysim.search import search

# --- the mapper: ``energysim search`` and ``energysim dataflow show`` ------------------------------


#: The file ``energysim search --out DIR`` writes into DIR.
MAPPINGS_FILE = "mappings.yaml"


def add_mapper_commands(commands: Any) -> None:
    """Register ``search`` and ``dataflow show`` on the ``energysim`` subcommand parser."""
    searching = commands.add_parser(
        "search", help="search the best mapping of every layer (energy, cycles, edp) under constraints"
    )
    searching.add_argument("workload", metavar="WORKLOAD", help="shipped workload name or YAML path")
    searching.add_argument(
        "--hierarchy", required=True, metavar="H", help="shipped hierarchy name or YAML path"
    )
    searching.add_argument("--layer", action="append", metavar="NAME", help="only this layer (repeatable)")
    searching.add_argument("--objective", default="energy", choices=list(OBJECTIVES), help="default: energy")
    searching.add_argument(
        "--constraints", metavar="C", help="a dataflow name (ws, os, is, rs, nlr) or a constraint YAML"
    )
    searching.add_argument(
        "--search-budget", type=int, default=150, metavar="N", help="mappings scored per layer shape"
    )
    searching.add_argument("--seed", type=int, default=0, help="the heuristic's random seed (default 0)")
    searching.add_argument(
        "--out", metavar="DIR", help="write mappings.yaml (read back by --mapping) into this new folder"
    )
    searching.add_argument("--force", action="store_true", help="let --out replace a previous output folder")
    searching.add_argument("--quiet", action="store_true", help="no progress bar, no table")
    searching.set_defaults(run=search_command)
    dataflow = commands.add_parser("dataflow", help="show a named dataflow as the constraint set it is")
    dataflow.add_argument("action", choices=["show"], help="show: print the constraint YAML")
    dataflow.add_argument("name", choices=list(DATAFLOWS), help="the dataflow")
    dataflow.add_argument("--hierarchy", required=True, metavar="H", help="the hierarchy it constrains")
    dataflow.set_defaults(run=dataflow_command)


def search_command(args: argparse.Namespace) -> None:
    """Search; print one row per layer; with --out write ``mappings.yaml`` (whole or not at all)."""
    out = output_folder_of(args)
    if args.search_budget < 1:
        raise EnergySimError(
            f"--search-budget: expected at least 1 mapping per layer shape, got {args.search_budget}"
        )
    hierarchy = load_hierarchy(args.hierarchy)
    network = load_workload(args.workload)
    total = sum(1 for layer in network.layers if layer.loop_bounds is not None)
    quiet = args.quiet or not sys.stderr.isatty()
    with tqdm(total=total, unit="layer", desc="search", disable=quiet, file=sys.stderr) as bar:

        def advance(done: int, _total: int, name: str) -> None:
            bar.set_postfix_str(name)
            bar.update(1)

        found = search(
            network,
            hierarchy,
            args.objective,
            args.constraints,
            evaluations=args.search_budget,
            seed=args.seed,
            layers=args.layer or None,
            progress=advance,
        )
    if out is not None:
        text = found.to_yaml()
        write_folder(
            out, [lambda folder: (folder / "mappings.yaml").write_text(text, encoding="utf-8")], args.force
        )
    if not args.quiet:
        rows = [
            {
                "layer": name,
                f"energy ({hierarchy.energy_unit})": layer.metrics.energy,
                "cycles": layer.metrics.best_cycles,
                "PEs": layer.metrics.pes_used,
                "scored": layer.explored.evaluated,
                "search": "exhaustive" if layer.explored.exhaustive else layer.explored.stopped_by,
            }
            for name, layer in found.layers.items()
        ]
        print(format_table(pd.DataFrame(rows)))


def dataflow_command(args: argparse.Namespace) -> None:
    """Print a dataflow's constraint set on a hierarchy, as YAML a user can edit and extend."""
    print(constraints_yaml(dataflow_constraints(args.name, load_hierarchy(args.hierarchy))), end="")


def sweep(args: argparse.Namespace) -> None:
    """``energysim sweep FILE --out DIR``: run a sweep file, resumably, and write its report."""
    from energysim.sweep.files import load_sweep_file
    from energysim.sweep.output import write_sweep_report
    from energysim.sweep.run import sweep as run_sweep

    spec, points = load_sweep_file(args.file)
    quiet = args.quiet or not sys.stderr.isatty()
    with tqdm(unit="point", desc=spec.name, disable=quiet, file=sys.stderr) as bar:

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        result = run_sweep(points, spec.mode, args.out, args.workers, args.scheduler, progress)
    assert result.folder is not None
    report = write_sweep_report(result, result.folder, spec.mode, list(result.axes), spec.colour_by)
    if not args.quiet:
        failed = int((result.points["error"] != "").sum())
        reused = len(result.points) - result.computed - failed
        print(
            f"{len(result.points)} points ({result.computed} run now, {max(reused, 0)} from the store, "
            f"{failed} with an error): {report}"
        )


def add_sweep_parser(commands: Any) -> None:
    """The ``sweep`` subcommand's arguments."""
    parser = commands.add_parser("sweep", help="run a sweep file (a grid of points), resumably, on Dask")
    parser.add_argument("file", metavar="FILE", help="the sweep YAML file")
    parser.add_argument(
        "--out",
        required=True,
        metavar="DIR",
        help="the sweep folder: a new one, or a previous sweep's to resume it (never a folder of yours)",
    )
    parser.add_argument(
        "--workers", type=int, metavar="N", help="local worker processes (default: the cores; 1: in-process)"
    )
    parser.add_argument(
        "--scheduler", metavar="ADDR", help="an existing Dask scheduler, tcp://host:8786, used as it is"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar, no summary line")
    parser.set_defaults(run=sweep)
