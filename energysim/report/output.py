"""Writing a run's outputs to a folder, all or nothing.

Everything goes into a temporary folder beside the target first and is moved
into place only when complete, so a failure leaves no half-written report.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from energysim.report.figures import save_figure
from energysim.report.tables import level_table, tensor_table
from energysim.result import Result

Writer = Callable[[Path], object]


def write_folder(out: Path, writers: list[Writer]) -> Path:
    """Run ``writers`` into a fresh temporary folder, then move it to ``out`` (replacing it)."""
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        for write in writers:
            write(staging)
        if out.exists():
            backup = out.with_name(f".{out.name}-old")
            shutil.rmtree(backup, ignore_errors=True)
            out.rename(backup)
            staging.rename(out)
            shutil.rmtree(backup, ignore_errors=True)
        else:
            staging.rename(out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out


def csv_writer(name: str, frame: Any) -> Writer:
    """Write a DataFrame as ``name`` (byte-for-byte stable: fixed float format)."""
    return lambda folder: frame.to_csv(folder / name, index=False, float_format="%.6g", lineterminator="\n")


def json_writer(name: str, data: dict[str, Any]) -> Writer:
    return lambda folder: (folder / name).write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def text_writer(name: str, text: str) -> Writer:
    return lambda folder: (folder / name).write_text(text + "\n")


def figure_writer(name: str, make: Callable[[], Figure]) -> Writer:
    return lambda folder: save_figure(make(), folder / name)


def result_writers(result: Result) -> list[Writer]:
    """The CSVs and the summary text of one result."""
    levels = level_table(result)
    return [
        csv_writer("accesses.csv", result.accesses),
        csv_writer("levels.csv", levels),
        csv_writer("layers.csv", result.layers),
        csv_writer("tensors.csv", tensor_table(result).reset_index()),
        *([csv_writer("timing.csv", result.timing)] if result.timing is not None else []),
    ]


def write_outputs(
    result: Result, out: Path, summary: dict[str, Any], figures: dict[str, Callable[[], Figure]]
) -> Path:
    """Write CSVs, ``summary.json`` and the figures of ``result`` into ``out``, atomically."""
    writers = [*result_writers(result), json_writer("summary.json", summary)]
    writers += [figure_writer(name, make) for name, make in figures.items()]
    return write_folder(out, writers)
