"""What each ``energysim`` command does; :mod:`energysim.cli` parses and handles errors."""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from tqdm import tqdm

from energysim.analysis.roofline import machine_ops_per_byte, roofline_table
from energysim.analysis.timeloop_rules import COUNTING_MODES
from energysim.analyze import analyze
from energysim.errors import EnergySimError
from energysim.mapping.check import check_mapping
from energysim.mapping.dataflows import DATAFLOWS, get_dataflow
from energysim.mapping.files import load_mapping
from energysim.model.energy_tables import ENERGY_TABLES
from energysim.model.files import (
    ShippedKind,
    display_path,
    is_regular_file,
    read_yaml,
    shipped_dir,
    shipped_names,
)
from energysim.model.hierarchy import Hierarchy
from energysim.model.loading import load_hierarchy, load_workload
from energysim.model.onnx_import import onnx_workload_yaml
from energysim.model.workload import Network
from energysim.output_folder import check_output_folder, strict_json, write_folder
from energysim.report.figures import (
    access_cost_figure,
    dataflow_energy_figure,
    energy_heatmap_figure,
    layer_energy_figure,
    roofline_figure,
    timeline_figure,
)
from energysim.report.output import csv_writer, figure_writer, json_writer, write_outputs
from energysim.report.tables import energy_unit, explain, level_table
from energysim.result import Result, require_one_unit
from energysim.simulate import simulate

_MAX_DECIMALS = 6


def column_format(values: pd.Series) -> Callable[[object], str]:
    """The one number format of a console table's column, chosen from the whole column.

    A column of whole numbers (counts, cycles) in full with thousands separators;
    any other with the same number of decimals down the column: enough for four
    significant digits of its largest value and two of its smallest non-zero one
    (``96.00`` above ``96.83``, ``315.06`` above ``0.25``), or scientific notation
    for the whole column when that would take more than six decimals or its
    largest value is 1e6 or more. A value that is not a number (NaN) is ``-``.
    """
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    finite = np.abs(numbers[np.isfinite(numbers)])
    largest = float(finite.max()) if finite.size else 0.0
    if all(float(number).is_integer() for number in finite) and largest < 1e15:
        spec = ",.0f"
    else:
        smallest = float(finite[finite > 0].min())
        decimals = max(0, 3 - math.floor(math.log10(largest)), 1 - math.floor(math.log10(smallest)))
        spec = ".3e" if decimals > _MAX_DECIMALS or largest >= 1e6 else f",.{decimals}f"

    def show(value: object) -> str:
        try:
            number = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):  # pd.NA in a nullable column
            return "-"
        if math.isnan(number):
            return "-"
        if math.isinf(number):
            return f"{number:g}"
        return format(number, spec)

    return show


def format_table(frame: pd.DataFrame) -> str:
    """``frame`` as a console table, each number column in its :func:`column_format`."""
    numeric = frame.select_dtypes("number").columns
    formatters = {column: column_format(frame[column]) for column in numeric}
    return frame.to_string(index=False, formatters=formatters)


def summary(result: Result) -> dict[str, Any]:
    """The headline numbers of a result, for people and for --json (energies in ``energy_unit``).

    With the operators an ONNX import left out (``unsupported_ops``), when there are any.
    """
    headline = result.summary()
    if result.workload.unsupported_ops:
        headline["unsupported_ops"] = dict(result.workload.unsupported_ops)
    return headline


def counting_option(parser: argparse.ArgumentParser) -> None:
    """``--counting {exact,timeloop}``: how accesses are counted (DESIGN.md, "Counting semantics")."""
    parser.add_argument(
        "--counting",
        default="exact",
        choices=list(COUNTING_MODES),
        help="exact: an ideal buffer (default); timeloop: timeloop-model's counting rules",
    )


def _simulate(
    args: argparse.Namespace, network: Network, hierarchy: Hierarchy, dataflow: str, trace: bool
) -> Result:
    layers = args.layer or None
    total = len(layers) if layers else len(network.layers)
    quiet = args.quiet or args.json or not sys.stderr.isatty()
    with tqdm(total=total, unit="layer", desc=dataflow, disable=quiet, file=sys.stderr) as bar:

        def advance(done: int, _total: int, name: str) -> None:
            bar.set_postfix_str(name)
            bar.update(1)

        return simulate(
            network,
            hierarchy,
            dataflow,
            mapping=args.mapping,
            layers=layers,
            trace=trace,
            progress=advance,
            counting=args.counting,
        )


def output_folder_of(args: argparse.Namespace) -> Path | None:
    """The checked --out folder (before any work, so that a wrong --out fails at once), or None."""
    if args.out is None:
        if args.force:
            raise EnergySimError("--force: only with --out (it lets --out replace a previous output)")
        return None
    if not args.out:
        raise EnergySimError("--out: empty path")
    return check_output_folder(args.out, args.force)


def _first_mac_layer(result: Result) -> str | None:
    return next(
        (name for name in result.layers["layer"] if result.workload[name].loop_bounds is not None), None
    )


def run(args: argparse.Namespace) -> None:
    """Simulate; print a compact table and a summary; with --out write CSVs, figures, summary.json."""
    out = output_folder_of(args)
    hierarchy = load_hierarchy(args.hierarchy)
    network = load_workload(args.workload, **_onnx_options(args))
    result = _simulate(args, network, hierarchy, args.dataflow, trace=out is not None)
    if out is not None:
        figures: dict[str, Callable[[], Figure]] = {
            "energy_by_layer": lambda: layer_energy_figure(result),
            "energy_by_level_and_tensor": lambda: energy_heatmap_figure(result),
            "roofline": lambda: roofline_figure(result),
            "access_cost": lambda: access_cost_figure(result),
        }
        layer = _first_mac_layer(result)
        if layer is not None:
            # A layer name is the user's text: write_outputs makes it a safe file name.
            figures[f"timeline_{layer}"] = lambda: timeline_figure(result, layer)
        write_outputs(result, out, summary(result), figures, force=args.force)
    if args.json:
        print(strict_json(summary(result)))
        return
    if not args.quiet:
        table = level_table(result)[["level", "energy", "energy_percent"]]
        table.columns = ["level", f"energy ({energy_unit(result)})", "%"]
        print(format_table(table))
        print(explain(result))
        if result.workload.unsupported_ops:
            print(f"not modelled (--skip-unsupported): {_unsupported_text(result.workload)}")


def _onnx_options(args: argparse.Namespace) -> dict[str, Any]:
    """The ONNX import options of ``run`` and ``import`` (--precision, --skip-unsupported, --batch)."""
    return {"precision_bits": args.precision, "skip_unsupported": args.skip_unsupported, "batch": args.batch}


def _unsupported_text(network: Network) -> str:
    return ", ".join(f"{op} x{count}" for op, count in network.unsupported_ops.items())


def import_model(args: argparse.Namespace) -> None:
    """Import an ONNX model and write it as workload YAML to --out (a new file, or --force)."""
    if not str(args.model).lower().endswith(".onnx"):
        raise EnergySimError(f"{display_path(args.model)}: expected an .onnx model file")
    out = Path(args.out)
    if out.is_dir() or (out.exists() and not args.force):
        what = "a folder" if out.is_dir() else "a file that exists (--force replaces it)"
        raise EnergySimError(f"--out {display_path(out)}: {what}; expected a new .yaml file name")
    network, text = onnx_workload_yaml(args.model, **_onnx_options(args))
    descriptor, staged = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name[:100]}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(staged, 0o666 & ~_umask())
        os.replace(staged, out)  # whole or not at all
    finally:
        Path(staged).unlink(missing_ok=True)
    if not args.quiet:
        print(
            f"{display_path(out)}: workload {network.name}, {len(network.layers)} layers, "
            f"{network.total_macs:,} MACs, {network.total_weights:,} weights"
        )
        if network.unsupported_ops:
            print(f"not modelled (--skip-unsupported): {_unsupported_text(network)}")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def compare(args: argparse.Namespace) -> None:
    """Simulate under several dataflows; print energy and time side by side."""
    out = output_folder_of(args)
    hierarchy = load_hierarchy(args.hierarchy)
    network = load_workload(args.workload)
    names = [name.strip().lower() for name in args.dataflows.split(",") if name.strip()]
    for name in names:
        get_dataflow(name)
    if not names:
        raise EnergySimError(f"--dataflows: expected a comma-separated list of {', '.join(DATAFLOWS)}")
    results = {name: _simulate(args, network, hierarchy, name, trace=False) for name in names}
    unit = require_one_unit(results.values(), "compare")
    table = pd.DataFrame(
        [
            {
                "dataflow": name,
                f"energy ({unit})": r.total_energy,
                f"per MAC ({unit})": r.energy_per_mac,
                "data movement %": 100 * r.data_movement_energy / r.total_energy,
                "DRAM elements moved": r.dram_accesses(),
                "cycles": r.cycles,
            }
            for name, r in results.items()
        ]
    )
    data = {"dataflows": {name: summary(r) for name, r in results.items()}}
    if out is not None:
        write_folder(
            out,
            [
                csv_writer("compare.csv", table),
                json_writer("summary.json", data),
                figure_writer("energy_per_mac_by_dataflow", lambda: dataflow_energy_figure(results)),
                *[csv_writer(f"accesses_{name}.csv", r.accesses) for name, r in results.items()],
            ],
            force=args.force,
        )
    if args.json:
        print(strict_json(data))
    elif not args.quiet:
        print(f"{network.name} on {hierarchy.name}")
        print(format_table(table))


def roofline(args: argparse.Namespace) -> None:
    """The DRAM roofline of every layer; with --out also a CSV and the log-log figure."""
    out = output_folder_of(args)
    hierarchy = load_hierarchy(args.hierarchy)
    network = load_workload(args.workload)
    layers = args.layer or network.layer_names
    for name in layers:
        if name not in network.layer_names:
            raise EnergySimError(
                f"no layer {name!r} in {network.name}; its layers: {', '.join(network.layer_names)}"
            )
    table = roofline_table(network, hierarchy)
    table = table[table["layer"].isin(layers)].reset_index(drop=True)
    if out is not None:
        result = analyze(network, hierarchy, "rs", layers=layers)
        write_folder(
            out,
            [
                csv_writer("roofline.csv", table),
                json_writer("summary.json", {"machine_ops_per_byte": machine_ops_per_byte(hierarchy)}),
                figure_writer("roofline", lambda: roofline_figure(result)),
            ],
            force=args.force,
        )
    if args.json:
        print(strict_json(table.to_dict(orient="records")))
        return
    if args.quiet:
        return
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
    print(format_table(shown))


def list_shipped(args: argparse.Namespace) -> None:
    """Shipped hierarchies, workloads, energy tables and dataflows."""
    print("hierarchies:   " + ", ".join(shipped_names("hierarchies")))
    print("workloads:     " + ", ".join(shipped_names("workloads")))
    print("energy tables: " + ", ".join(sorted(ENERGY_TABLES)))
    print("dataflows:     " + ", ".join(DATAFLOWS))


def _describe_hierarchy(path: Path) -> None:
    hierarchy = load_hierarchy(path)
    levels, clock = len(hierarchy.levels), hierarchy.clock_ghz
    unit = hierarchy.energy_unit
    print(f"{path}: hierarchy {hierarchy.name}, {levels} levels, clock {clock} GHz, energies in {unit}")
    for level in hierarchy.levels:
        size = "unbounded" if level.size_bytes is None else level.size_bytes
        energies = f"read {level.read_energy_pj:.4g} / write {level.write_energy_pj:.4g} {unit}"
        print(
            f"  {level.name} ({level.kind}) x{level.instances}: size {size}, keeps {', '.join(level.keeps)}, "
            f"{energies} per {level.block_bits}-bit access, "
            f"{level.bandwidth_bytes_per_cycle:g} B/cycle x {level.ports} ports"
        )
    compute = hierarchy.compute
    shape = f"{compute.array.rows}x{compute.array.cols}"
    print(
        f"  {compute.name}: {shape} PEs, {hierarchy.peak_macs_per_cycle} MACs/cycle, "
        f"{compute.energy_per_mac:.4g} {hierarchy.energy_unit} per {compute.datatype} MAC"
    )


def _describe_workload(path: Path) -> None:
    network = load_workload(path)
    print(
        f"{path}: workload {network.name}, {len(network.layers)} layers, {network.total_macs:,} MACs, "
        f"{network.total_weights:,} weights"
    )
    for layer in network.layers:
        kind = getattr(layer, "type", "")
        print(f"  {layer.name} ({kind}): {layer.macs:,} MACs, {layer.parameters:,} weights")


def _validate_target(text: str) -> Path:
    """The file ``validate`` reads: a path, or a shipped hierarchy or workload name (as ``run`` takes).

    A path is returned as it is: :func:`read_yaml` says why it cannot be read
    (no such file, a folder, too long a name, a special file), as for every command.
    """
    path = Path(text)
    if is_regular_file(path) or text.endswith((".yaml", ".yml")) or "/" in text or "\0" in text:
        return path
    kinds: tuple[ShippedKind, ...] = ("hierarchies", "workloads")
    found = [shipped_dir(kind) / f"{text}.yaml" for kind in kinds if text in shipped_names(kind)]
    if len(found) == 1:
        return found[0]
    if found:
        raise EnergySimError(f"{text!r} is both a shipped hierarchy and workload; give the path of the file")
    raise EnergySimError(
        f"{text}: no such file, and no shipped hierarchy or workload of that name "
        f"(hierarchies: {', '.join(shipped_names('hierarchies'))}; "
        f"workloads: {', '.join(shipped_names('workloads'))})"
    )


def _check_mapping_file(path: Path, hierarchy_name: str, workload_name: str | None) -> None:
    """Print a mapping's loops; with a workload, check its factors against the layer it names."""
    hierarchy = load_hierarchy(hierarchy_name)
    layer_name, mapping = load_mapping(path, hierarchy)
    loops = f"{path}: mapping{f' of layer {layer_name}' if layer_name else ''}: {mapping.describe()}"
    if workload_name is None:
        print(loops)
        print("  (loops only: give --workload to check the factors against the layer)")
        return
    network = load_workload(workload_name)
    mac_layers = [layer.name for layer in network.layers if layer.loop_bounds is not None]
    if layer_name is None:
        if len(mac_layers) != 1:
            raise EnergySimError(
                f"{path}: the mapping names no layer, and {network.name} has {len(mac_layers)} "
                "layers with MACs; add 'layer: NAME' to the file"
            )
        layer_name = mac_layers[0]
    if layer_name not in network.layer_names:
        raise EnergySimError(
            f"{path}: layer: {layer_name!r} is not in {network.name} "
            f"(its layers: {', '.join(network.layer_names)})"
        )
    layer = network[layer_name]
    check_mapping(mapping, layer, hierarchy, source=str(path))
    print(loops)
    print(f"  fits layer {layer.name} of {network.name} ({layer.macs:,} MACs) on {hierarchy.name}")


#: Keys that only a hierarchy file has; a mapping file has ``levels`` of ``level:`` entries.
_HIERARCHY_KEYS = frozenset({"compute", "clock_ghz", "energy_table", "energy_unit"})


def _file_kind(data: object) -> str | None:
    """``hierarchy``, ``workload`` or ``mapping``: what a parsed file means to be, by its keys."""
    if not isinstance(data, dict):
        return None
    if "layers" in data:
        return "workload"
    levels = data.get("levels")
    named = isinstance(levels, list) and any(isinstance(level, dict) and "name" in level for level in levels)
    if _HIERARCHY_KEYS & data.keys() or named:
        return "hierarchy"
    return "mapping" if "levels" in data else None


def validate(args: argparse.Namespace) -> None:
    """Check a file and print what it understood: the levels, the layers, or the loops."""
    path = _validate_target(args.file)
    if path.name.lower().endswith((".onnx", ".csv")):  # an ONNX model or a SCALE-Sim topology
        if args.hierarchy or args.workload:
            raise EnergySimError(f"{path}: not a mapping file; --hierarchy and --workload apply only to one")
        _describe_workload(path)
        return
    kind = _file_kind(read_yaml(path))
    if kind is None and args.hierarchy:
        kind = "mapping"  # the user says so: check it as one, and name what is wrong in it
    if kind != "mapping" and (args.hierarchy or args.workload):
        raise EnergySimError(f"{path}: not a mapping file; --hierarchy and --workload apply only to one")
    if kind == "hierarchy":
        _describe_hierarchy(path)
    elif kind == "workload":
        _describe_workload(path)
    elif kind == "mapping":
        if args.hierarchy is None:
            raise EnergySimError(f"{path}: a mapping file; give --hierarchy to check it against a hierarchy")
        _check_mapping_file(path, args.hierarchy, args.workload)
    else:
        raise EnergySimError(
            f"{path}: not a hierarchy (levels and compute), a workload (layers) or a mapping (levels)"
        )
