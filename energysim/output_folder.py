"""Writing a run's outputs to a folder: whole or not at all, and never over the user's files.

The rules, because an output folder is a path the user typed and may be wrong:

* energysim writes into a folder that does not exist yet, or replaces one that
  holds only a previous energysim output. It recognises its own folders by a
  marker file, ``.energysim-output``, which lists every file it wrote with its
  SHA-256. A folder without the marker (``.``, ``$HOME``, an empty folder the
  user made), a file, a symbolic link, or an output to which the user added or
  in which the user changed a file, is the user's: refused, nothing touched.
* Replacing a previous output needs ``force=True`` (the CLI's ``--force``):
  a previous output is often kept on purpose, to compare with the next run,
  and a re-run is one flag away; the message names the flag.
* Everything is written into a staging folder beside the target (ordinary
  permissions from the umask), the marker last (written to a temporary name,
  then renamed), and the staging folder is renamed into place. A replaced
  output is renamed aside, the new one renamed in, then the old one deleted;
  if the second rename fails, the old one is renamed back.
* SIGINT, SIGTERM and SIGHUP during the write (when their handler is the
  default one) become an exception, so cleanup runs: the user is left with
  the complete new folder, or the untouched previous one, or nothing, and no
  staging folder. Signals that arrive while renaming or cleaning up wait for
  it to finish. The previous handlers are restored afterwards and the signal
  is delivered to them, so the process still ends as it was asked to.
* ``kill -9`` cannot be caught. It can leave a hidden sibling named
  ``.NAME.<hash>.energysim-staging.<pid>.<token>`` (a partial output: the
  target itself is untouched) or, in the microseconds between two renames,
  ``.NAME.<hash>.energysim-old.<pid>.<token>`` (the previous output, set
  aside). The next write to the same target removes a staging folder whose
  process is gone, and renames a set-aside previous output back into place
  if the target is missing (else removes it, as the interrupted run meant to).

It also holds strict JSON (:func:`strict_json`): a summary is written to a
folder and printed by the CLI, and JSON has no NaN or Infinity.

It sits low, under the result and the report layer (both write folders), and
imports only the standard library, :mod:`energysim.errors` and the path display
of :mod:`energysim.model.files`; the report writers live in :mod:`energysim.report.output`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import secrets
import shutil
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any

from energysim._version import __version__
from energysim.errors import EnergySimError
from energysim.model.files import display_path

Writer = Callable[[Path], object]

_NAME_MAX_BYTES = 255  # of one file name, on Linux, macOS and Windows file systems
#: The file that marks a folder as an energysim output; written last.
MARKER = ".energysim-output"
_MARKER_HEADER = "energysim output folder, format 1"
_CAUGHT_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)
#: Why summary.json may hold ``null``: JSON has no NaN or Infinity.
NULL_NOTE = (
    "null marks a value that does not exist here: a number that is not finite (strict JSON has "
    "no NaN or Infinity; for example energy per MAC of layers without MACs), or a field that does "
    "not apply (for example the dataflow, when every layer was mapped by hand or when no selected "
    "layer has MACs to map)"
)


# --- where energysim may write -------------------------------------------------------------


def _target(out: str | Path) -> Path:
    """The absolute target: the parent resolved, the last name kept (a link stays a link)."""
    text = os.fspath(out)
    if not text:
        raise EnergySimError("output folder: empty path")
    raw = Path(text)
    long_names = [part for part in raw.parts if len(os.fsencode(part)) > _NAME_MAX_BYTES]
    if long_names:
        shown = display_path(long_names[0][:20])
        raise _refuse(display_path(text), f"a name longer than {_NAME_MAX_BYTES} bytes ({shown}...)")
    if raw.name in ("", ".", ".."):
        return raw.resolve()
    return raw.parent.resolve() / raw.name


def _label(out: str | Path, path: Path) -> str:
    """``out`` as messages show it: shortened and escaped, resolved where it is only dots."""
    text = os.fspath(out)
    if Path(text).name in ("", ".", ".."):
        return f"{display_path(text)} ({display_path(path)})"
    return display_path(text)


def _marked_files(folder: Path) -> dict[str, str] | None:
    """The files the marker of ``folder`` lists, name -> SHA-256; None if it has no valid marker."""
    marker = folder / MARKER
    if marker.is_symlink() or not marker.is_file():
        return None
    try:
        lines = marker.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    if not lines or lines[0] != _MARKER_HEADER:
        return None
    files: dict[str, str] = {}
    for line in lines[1:]:
        kind, _, rest = line.partition(" ")
        if kind == "file":
            digest, _, name = rest.partition(" ")
            files[name] = digest
    return files


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _foreign(folder: Path, files: dict[str, str]) -> str | None:
    """What in a marked ``folder`` energysim did not write (or the user changed), if anything."""
    for name in sorted(os.listdir(folder)):
        path = folder / name
        if name == MARKER:
            continue
        if name not in files or path.is_symlink() or not path.is_file():
            return f"also holds {name}, which energysim did not write"
        if _sha256(path) != files[name]:
            return f"{name} was changed since energysim wrote it"
    return None


def _refuse(label: str, why: str) -> EnergySimError:
    return EnergySimError(f"output folder {label}: {why}; nothing was written")


def _check_parent(label: str, path: Path) -> None:
    """The nearest existing ancestor of ``path`` must be a folder that we may write in."""
    for ancestor in path.parents:
        if ancestor.is_dir():
            if not os.access(ancestor, os.W_OK | os.X_OK):
                raise _refuse(label, f"cannot create a folder in {ancestor}: permission denied")
            return
        if os.path.lexists(ancestor):
            raise _refuse(label, f"{ancestor} is a file, not a folder")


def check_output_folder(out: str | Path, force: bool = False) -> Path:
    """The absolute folder energysim may write ``out`` as; a clear error if it may not.

    Call it before a long run so that a wrong ``--out`` fails at once;
    :func:`write_folder` checks again before it touches anything. Any error of
    the system while looking (a path too long, a folder that cannot be read)
    is an :class:`EnergySimError` naming the path.
    """
    try:
        return _check_output_folder(out, force)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__  # about out, which the label names
        raise _refuse(display_path(os.fspath(out)), f"cannot be checked ({reason})") from exc


def _os_reason(exc: OSError) -> str:
    """What the system said, and about which file, in one short phrase."""
    reason = exc.strerror or type(exc).__name__
    return f"{reason}: {display_path(exc.filename)}" if exc.filename else reason


def _check_output_folder(out: str | Path, force: bool) -> Path:
    path = _target(out)
    label = _label(out, path)
    cwd = Path.cwd().resolve()
    if path == cwd or path in cwd.parents:
        raise _refuse(label, "is the current folder or holds it; give the name of a new folder")
    _recover(path)
    if path.is_symlink():
        raise _refuse(label, "is a symbolic link; energysim writes only into a folder of its own")
    _check_parent(label, path)
    if not os.path.lexists(path):
        return path
    if not path.is_dir():
        raise _refuse(label, "is a file; energysim replaces only a folder that it wrote")
    files = _marked_files(path)
    if files is None:
        raise _refuse(
            label,
            f"exists and is not an energysim output folder (it has no {MARKER}); "
            "give the name of a new folder",
        )
    foreign = _foreign(path, files)
    if foreign is not None:
        raise _refuse(label, f"was an energysim output, but {foreign}: it is yours now")
    if not force:
        raise _refuse(label, "holds a previous energysim output; add --force (force=True) to replace it")
    return path


# --- leftovers of a killed run ---------------------------------------------------------------


def _sibling_prefix(path: Path) -> str:
    digest = hashlib.sha256(path.name.encode("utf-8", "surrogateescape")).hexdigest()[:8]
    return f".{path.name[:64]}.{digest}.energysim-"


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by someone else
    return True


def _stale_siblings(path: Path, kind: str) -> list[Path]:
    """Hidden siblings of ``path`` of ``kind`` (staging, old) whose writing process is gone."""
    prefix = f"{_sibling_prefix(path)}{kind}."
    stale = []
    with contextlib.suppress(OSError):
        for name in os.listdir(path.parent):
            pid, _, _token = name.removeprefix(prefix).partition(".")
            if name.startswith(prefix) and pid.isdigit() and not process_alive(int(pid)):
                stale.append(path.parent / name)
    return sorted(stale)


def _remove_flat_folder(folder: Path) -> None:
    """Remove a folder of regular files that energysim wrote; leave anything else alone."""
    if folder.is_symlink() or not folder.is_dir():
        return
    entries = [folder / name for name in os.listdir(folder)]
    if all(entry.is_file() and not entry.is_symlink() for entry in entries):
        shutil.rmtree(folder, ignore_errors=True)


def _recover(path: Path) -> None:
    """Clean up after a write to ``path`` that was killed with SIGKILL (see the module docstring)."""
    for staging in _stale_siblings(path, "staging"):
        _remove_flat_folder(staging)
    for aside in _stale_siblings(path, "old"):
        if _marked_files(aside) is None:
            continue
        if not os.path.lexists(path):
            os.rename(aside, path)
        else:
            _remove_flat_folder(aside)


# --- signals as exceptions -------------------------------------------------------------------


class _Terminated(BaseException):
    """SIGTERM or SIGHUP arrived while writing (a BaseException, so no ``except Exception`` eats it)."""


class SignalGuard:
    """Turn SIGINT/SIGTERM/SIGHUP into exceptions while writing; defer them while committing.

    Only signals whose handler is the default one are taken over, and only in
    the main thread (the only one Python delivers signals to).
    """

    def __init__(self) -> None:
        self.pending: int | None = None
        self.raised = False
        self.deferring = False
        self._previous: dict[int, Any] = {}
        self._previous_unraisable = sys.unraisablehook

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        if self.pending is None:
            self.pending = signum
        if not self.deferring and not self.raised:
            self._raise()

    def _raise(self) -> None:
        self.raised = True
        self.deferring = True  # a second signal must not interrupt the cleanup
        if self.pending == signal.SIGINT:
            raise KeyboardInterrupt
        raise _Terminated(self.pending)

    @contextlib.contextmanager
    def deferred(self) -> Iterator[None]:
        """Signals that arrive inside wait until it is done, then raise (once)."""
        before, self.deferring = self.deferring, True
        try:
            yield
        finally:
            self.deferring = before
        if not before and self.pending is not None and not self.raised:
            self._raise()

    def _unraisable(self, info: Any) -> None:
        """Our own interrupt raised inside a finaliser is swallowed by Python: it stays pending and
        takes effect at exit (the write completes first), so nothing is printed for it."""
        if self.raised and isinstance(info.exc_value, _Terminated | KeyboardInterrupt):
            return
        self._previous_unraisable(info)

    def __enter__(self) -> SignalGuard:
        self.deferring = True  # a signal while installing is remembered, not raised here
        self._previous_unraisable = sys.unraisablehook
        sys.unraisablehook = self._unraisable
        if threading.current_thread() is threading.main_thread():
            for signum in _CAUGHT_SIGNALS:
                handler = signal.getsignal(signum)
                if handler in (signal.SIG_DFL, signal.default_int_handler):
                    self._previous[signum] = handler
                    signal.signal(signum, self._handle)
        self.deferring = False
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, _tb: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        sys.unraisablehook = self._previous_unraisable
        if self.pending is None:
            return
        if self.pending == signal.SIGINT:
            if not isinstance(exc, KeyboardInterrupt):
                raise KeyboardInterrupt
            return
        signal.raise_signal(self.pending)  # the default action: the process ends here
        raise EnergySimError(f"interrupted by signal {self.pending}")  # pragma: no cover


# --- writing ---------------------------------------------------------------------------------


def _make_parents(path: Path) -> list[Path]:
    """Create the missing ancestors of ``path``, outermost first; return those created."""
    missing = [ancestor for ancestor in path.parents if not os.path.lexists(ancestor)]
    created = []
    for ancestor in reversed(missing):
        os.mkdir(ancestor)
        created.append(ancestor)
    return created


def _make_staging(path: Path) -> Path:
    while True:
        staging = path.with_name(f"{_sibling_prefix(path)}staging.{os.getpid()}.{secrets.token_hex(4)}")
        try:
            os.mkdir(staging)  # 0o777 & ~umask, like any folder the user makes
        except FileExistsError:
            continue
        return staging


def _write_marker(staging: Path) -> None:
    """List every file of ``staging`` with its SHA-256 (after fsync), then atomically add the marker."""
    lines = [_MARKER_HEADER, f"version {__version__}"]
    for name in sorted(os.listdir(staging)):
        with (staging / name).open("rb") as stream:
            os.fsync(stream.fileno())
        lines.append(f"file {_sha256(staging / name)} {name}")
    partial = staging / f"{MARKER}.partial"
    with partial.open("w", encoding="utf-8") as stream:
        stream.write("\n".join(lines) + "\n")
        stream.flush()
        os.fsync(stream.fileno())
    os.replace(partial, staging / MARKER)
    folder = os.open(staging, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


def _commit(staging: Path, path: Path, replace: bool) -> None:
    """Move the complete ``staging`` to ``path``; the user always has the old or the new folder."""
    if not replace:
        if os.path.lexists(path):
            raise _refuse(display_path(path), "appeared while energysim was writing")
        os.rename(staging, path)
        return
    aside = path.with_name(f"{_sibling_prefix(path)}old.{os.getpid()}.{secrets.token_hex(4)}")
    os.rename(path, aside)
    try:
        os.rename(staging, path)
    except BaseException:
        os.rename(aside, path)
        raise
    shutil.rmtree(aside, ignore_errors=True)


def _cleanup(staging: Path | None, created: list[Path]) -> None:
    if staging is not None:
        shutil.rmtree(staging, ignore_errors=True)
    for folder in reversed(created):
        with contextlib.suppress(OSError):
            os.rmdir(folder)  # only if still empty


def write_folder(out: str | Path, writers: list[Writer], force: bool = False) -> Path:
    """Run ``writers`` into a staging folder, then move it to ``out``: whole or not at all.

    ``out`` must not exist, or (with ``force``) hold only a previous energysim
    output; see the module docstring for the rules and for what a signal does.
    """
    path = check_output_folder(out, force)
    replace = os.path.lexists(path)
    staging: Path | None = None
    created: list[Path] = []
    done = False
    with SignalGuard() as guard:
        try:
            with guard.deferred():
                created = _make_parents(path)
                staging = _make_staging(path)
            for write in writers:
                write(staging)
            _write_marker(staging)
            with guard.deferred():
                if replace:
                    check_output_folder(out, force)  # still ours, and still unchanged?
                _commit(staging, path, replace)
                done = True
        except OSError as exc:
            if exc.filename is None:
                exc.filename = str(path)
            raise _refuse(_label(out, path), f"cannot write ({_os_reason(exc)})") from exc
        finally:
            guard.deferring = True
            if not done:
                _cleanup(staging, created)
    return path


# --- strict JSON -----------------------------------------------------------------------------


def finite_or_none(data: Any) -> Any:
    """``data`` as plain Python values for JSON: dicts (keys as text) and lists walked,
    numpy scalars as Python numbers, and every NaN or infinite float as None."""
    if isinstance(data, dict):
        return {str(key): finite_or_none(value) for key, value in data.items()}
    if isinstance(data, list | tuple):
        return [finite_or_none(value) for value in data]
    if _is_numpy_scalar(data):
        return finite_or_none(data.item())
    if isinstance(data, float) and not math.isfinite(data):
        return None
    return data


def _is_numpy_scalar(data: Any) -> bool:
    """A numpy scalar (``np.float32(1.5)``, ``np.int64(3)``), told without importing numpy."""
    return type(data).__module__ == "numpy" and getattr(data, "shape", None) == () and hasattr(data, "item")


def _has_null(data: Any) -> bool:
    if isinstance(data, dict):
        return any(_has_null(value) for value in data.values())
    if isinstance(data, list):
        return any(_has_null(value) for value in data)
    return data is None


def strict_json(data: Any) -> str:
    """Strict JSON (RFC 8259): non-finite numbers become ``null``, and a ``note`` says why."""
    clean = finite_or_none(data)
    if isinstance(clean, dict) and _has_null(clean):
        clean = {**clean, "note": NULL_NOTE}
    return json.dumps(clean, indent=2, sort_keys=True, allow_nan=False)
