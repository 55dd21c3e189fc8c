"""The sweep folder: a results store of one Parquet file per point, resumable, never the user's.

A sweep's ``out`` folder is energysim's own, told by a marker file,
``.energysim-sweep``, written when energysim creates the folder:

* a folder that does not exist is created with its marker; one that has the
  marker is a previous sweep, and is resumed (its stored points are reused);
* anything else (``.``, a folder holding the current one, a folder of yours, even
  an empty one, an energysim ``run`` output, a file, a symbolic link) is refused
  and nothing is touched.

Inside, ``store/`` holds one file per finished point, ``<key>.parquet``, the key
being the SHA-256 of the point's inputs and energysim's version
(:func:`energysim.sweep.grid.input_key`). A point is written to a temporary name
beside it (``.<key>.<pid>.<token>.partial``) and renamed into place, with
SIGINT, SIGTERM and SIGHUP held back until the rename is done, so a stopped
sweep leaves whole points only. A partial file of a process that is gone (one
killed by SIGKILL) is removed when the store is opened. The store never
deletes a point file, nor any file it did not name itself. Point files are not
synced to disk one by one (that doubled the cost of a point's write): a killed
process loses nothing, a power cut may; a file that then does not read is an
error that names it, and deleting it has the point recomputed.

``report/`` holds the tables and figures, written whole or not at all by
:func:`energysim.output_folder.write_folder` (and replaced on the next run).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import secrets
from pathlib import Path

import pandas as pd

from energysim.errors import EnergySimError
from energysim.model.files import display_path
from energysim.output_folder import process_alive

#: The file that marks a folder as a sweep of energysim's; written when the folder is made.
SWEEP_MARKER = ".energysim-sweep"
_MARKER_TEXT = "energysim sweep folder, format 1\n"
STORE = "store"
REPORT = "report"
_POINT = re.compile(r"[0-9a-f]{64}\.parquet")
_PARTIAL = re.compile(r"\.([0-9a-f]{64})\.(\d+)\.([0-9a-f]{8})\.partial")


def _require_parquet() -> None:
    if importlib.util.find_spec("pyarrow") is None:
        raise EnergySimError(
            "a sweep's results store is Parquet, which needs pyarrow: "
            "pip install 'energysim[sweep]' (or: pip install pyarrow)"
        )


def _refuse(label: str, why: str) -> EnergySimError:
    return EnergySimError(f"sweep folder {label}: {why}; nothing was written")


def _is_sweep_folder(path: Path) -> bool:
    marker = path / SWEEP_MARKER
    if marker.is_symlink() or not marker.is_file():
        return False
    try:
        return marker.read_text(encoding="utf-8") == _MARKER_TEXT
    except (OSError, UnicodeDecodeError):
        return False


def open_sweep_folder(out: str | Path) -> Path:
    """The absolute sweep folder ``out``: created with its marker, or a previous sweep to resume."""
    _require_parquet()
    text = os.fspath(out)
    label = display_path(text)
    if not text:
        raise _refuse("''", "empty path")
    raw = Path(text)
    path = raw.resolve() if raw.name in ("", ".", "..") else raw.parent.resolve() / raw.name
    cwd = Path.cwd().resolve()
    if path == cwd or path in cwd.parents:
        raise _refuse(label, "is the current folder or holds it; give the name of a new folder")
    try:
        if path.is_symlink():
            raise _refuse(label, "is a symbolic link; energysim writes only into a folder of its own")
        if os.path.lexists(path):
            if not path.is_dir():
                raise _refuse(label, "is a file")
            if not _is_sweep_folder(path):
                raise _refuse(
                    label,
                    f"exists and is not an energysim sweep folder (it has no {SWEEP_MARKER}); give the "
                    "name of a new folder, or the folder of a previous sweep to resume it",
                )
        else:
            path.mkdir(parents=True)
            _write_atomically(path / SWEEP_MARKER, _MARKER_TEXT.encode("utf-8"))
            _CREATED.add(path)
        (path / STORE).mkdir(exist_ok=True)
    except OSError as exc:
        raise _refuse(label, f"cannot be used ({exc.strerror or type(exc).__name__})") from exc
    return path


#: Sweep folders this process made (see :func:`discard_if_empty`).
_CREATED: set[Path] = set()


def discard_if_empty(folder: Path) -> None:
    """Remove ``folder`` if this process made it and it still holds only its marker and an empty
    store: a sweep that failed before its first point leaves nothing behind."""
    if folder not in _CREATED:
        return
    with contextlib.suppress(OSError):
        if not os.listdir(folder / STORE) and sorted(os.listdir(folder)) == sorted([SWEEP_MARKER, STORE]):
            (folder / STORE).rmdir()
            (folder / SWEEP_MARKER).unlink()
            folder.rmdir()
    _CREATED.discard(folder)


def _write_atomically(path: Path, data: bytes) -> None:
    partial = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        with partial.open("wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(partial, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()


class PointStore:
    """The Parquet files of a sweep folder's ``store/``, by point key."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder / STORE
        self._remove_stale_partials()

    def _remove_stale_partials(self) -> None:
        for name in os.listdir(self.folder):
            match = _PARTIAL.fullmatch(name)
            if match and not process_alive(int(match.group(2))):
                with contextlib.suppress(OSError):
                    (self.folder / name).unlink()

    def path(self, key: str) -> Path:
        """Where the point ``key`` is stored."""
        return self.folder / f"{key}.parquet"

    def keys(self) -> set[str]:
        """Keys of the points stored."""
        return {name.removesuffix(".parquet") for name in os.listdir(self.folder) if _POINT.fullmatch(name)}

    def write(self, key: str, table: pd.DataFrame) -> None:
        """Store ``table`` as the point ``key``: a temporary file, then an atomic rename."""
        partial = self.folder / f".{key}.{os.getpid()}.{secrets.token_hex(4)}.partial"
        try:
            table.to_parquet(partial, engine="pyarrow", index=False)
            os.replace(partial, self.path(key))
        finally:
            with contextlib.suppress(FileNotFoundError):
                partial.unlink()

    def read(self, key: str) -> pd.DataFrame:
        """The table of the point ``key``."""
        try:
            return pd.read_parquet(self.path(key), engine="pyarrow")
        except (OSError, ValueError) as exc:
            raise EnergySimError(
                f"{display_path(self.path(key))}: cannot be read as a stored point ({exc}); "
                "delete it and run the sweep again to recompute it"
            ) from exc
