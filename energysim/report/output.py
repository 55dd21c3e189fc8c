"""The files of a report: CSV, strict JSON, text and figure writers, and a run's output folder.

Where and how a folder is written (whole or not at all, never over the user's
files, signals, the marker) is :mod:`energysim.output_folder`'s job; what a
result's CSVs are is :meth:`energysim.result.Result.csv_frames`'. This module
adds the report's own files on top: the level and tensor tables, the summary
and the figures.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from energysim.output_folder import Writer, write_folder
from energysim.report.figures import save_figure
from energysim.report.tables import level_table, tensor_table
from energysim.result import Result, csv_file, json_file


def csv_writer(name: str, frame: Any) -> Writer:
    """Write a DataFrame as ``name``, as every CSV of energysim (:func:`energysim.result.write_csv`)."""
    return csv_file(name, frame)


def json_writer(name: str, data: Any) -> Writer:
    """Write ``data`` as strict JSON (:func:`energysim.output_folder.strict_json`)."""
    return json_file(name, data)


#: The longest file stem :func:`safe_file_stems` makes (a suffix and the marker's line fit easily).
MAX_FILE_STEM = 100
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def safe_file_stems(names: Iterable[str]) -> dict[str, str]:
    """A file stem for each of ``names`` that stays inside its folder, name -> stem.

    A name may hold a user's text (a layer name): ``c/../../x``, a NUL, a control
    character or 300 characters must neither escape the folder nor fail. Only
    ``A-Z a-z 0-9 _ -`` are kept, anything else becomes ``_`` (a dot too: the
    figure's suffix is added with ``with_suffix``, which would cut the name at
    its last dot), a stem is at most :data:`MAX_FILE_STEM` characters, and stems
    that would coincide (also on a case-blind file system) get ``-2``, ``-3``, ...
    """
    stems: dict[str, str] = {}
    taken: set[str] = set()
    for name in names:
        base = _UNSAFE.sub("_", name)[:MAX_FILE_STEM] or "_"
        stem, number = base, 1
        while stem.lower() in taken:
            number += 1
            suffix = f"-{number}"
            stem = base[: MAX_FILE_STEM - len(suffix)] + suffix
        taken.add(stem.lower())
        stems[name] = stem
    return stems


def text_writer(name: str, text: str) -> Writer:
    return lambda folder: (folder / name).write_text(text + "\n", encoding="utf-8")


def figure_writer(name: str, make: Callable[[], Figure]) -> Writer:
    return lambda folder: save_figure(make(), folder / name)


def result_writers(result: Result) -> list[Writer]:
    """The CSVs of one result: its own (:meth:`~energysim.result.Result.csv_frames`, the set
    :meth:`~energysim.result.Result.to_csv` writes too), and the report's level and tensor tables."""
    return [
        *(csv_file(name, frame) for name, frame in result.csv_frames().items()),
        csv_writer("levels.csv", level_table(result)),
        csv_writer("tensors.csv", tensor_table(result).reset_index()),
    ]


def write_outputs(
    result: Result,
    out: str | Path,
    summary: dict[str, Any],
    figures: dict[str, Callable[[], Figure]],
    force: bool = False,
) -> Path:
    """Write CSVs, ``summary.json`` and the figures of ``result`` into ``out`` (see :func:`write_folder`);
    a figure's name becomes a safe file name (:func:`safe_file_stems`)."""
    writers = [*result_writers(result), json_writer("summary.json", summary)]
    stems = safe_file_stems(figures)
    writers += [figure_writer(stems[name], make) for name, make in figures.items()]
    return write_folder(out, writers, force)
