"""--out never deletes or replaces what the user owns, and an interrupted write leaves all or nothing.

The oracle for "nothing touched" is a snapshot of the folder tree (names, bytes,
permissions) taken before the command; for "a complete output" it is this
file's own reading of the marker: every file listed with its SHA-256, computed
here by hashlib, and nothing else in the folder.
"""

from __future__ import annotations

import errno
import hashlib
import os
import random
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import energysim as es
import energysim.cli as cli
from energysim.cli import EXIT_USER_ERROR, main
from energysim.cli.commands import summary
from energysim.errors import EnergySimError
from energysim.output_folder import MARKER, check_output_folder, write_folder
from energysim.report.figures import layer_energy_figure
from energysim.report.output import (
    csv_writer,
    figure_writer,
    json_writer,
    result_writers,
    safe_file_stems,
    text_writer,
    write_outputs,
)

ROOT = Path(__file__).resolve().parents[1]
FAST_RUN = ["roofline", "lecture-ops", "--hierarchy", "v100", "--layer", "relu", "--quiet"]


def snapshot(folder: Path) -> dict[str, tuple[int, bytes | str]]:
    """Every entry under ``folder`` (itself included): mode and bytes (or link target)."""
    entries: dict[str, tuple[int, bytes | str]] = {}
    for path in [folder, *sorted(folder.rglob("*"))]:
        info = path.lstat()
        if path.is_symlink():
            content: bytes | str = os.readlink(path)
        elif path.is_file():
            content = path.read_bytes()
        else:
            content = b""
        entries[str(path.relative_to(folder))] = (info.st_mode, content)
    return entries


def listed_files(folder: Path) -> dict[str, str]:
    """The marker of a complete output, read here: file name -> SHA-256."""
    lines = (folder / MARKER).read_text(encoding="utf-8").splitlines()
    assert lines[0] == "energysim output folder, format 1"
    assert lines[1] == f"version {es.__version__}"
    return {line.split(" ", 2)[2]: line.split(" ", 2)[1] for line in lines[2:]}


def assert_complete(folder: Path) -> None:
    files = listed_files(folder)
    assert files, folder
    assert set(os.listdir(folder)) == {*files, MARKER}
    for name, digest in files.items():
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest, name


def assert_whole_or_nothing(target: Path, previous: dict[str, tuple[int, bytes | str]] | None) -> str:
    """The invariant after any interruption; returns which state was found."""
    siblings = set(os.listdir(target.parent))
    assert siblings <= {target.name}, f"left behind: {siblings - {target.name}}"
    if not target.exists():
        assert previous is None, "the previous output is gone and no new one replaced it"
        return "nothing"
    if previous is not None and snapshot(target) == previous:
        return "previous"
    assert_complete(target)
    return "new"


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(args)
    return code, capsys.readouterr().err


# --- where --out may not write: refused before the run, nothing touched ------------------------


@pytest.fixture
def user_folder(tmp_path: Path) -> Path:
    """A folder of the user's: a file, a subfolder, a hidden file."""
    folder = tmp_path / "thesis"
    (folder / "figures").mkdir(parents=True)
    (folder / "thesis.tex").write_text("\\section{Results}\n")
    (folder / "figures" / "plot.png").write_bytes(b"\x89PNG user data")
    (folder / ".latexmkrc").write_text("$pdf_mode = 1;\n")
    return folder


def test_out_dot_is_refused_and_nothing_touched(
    user_folder: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    before = snapshot(user_folder.parent)
    monkeypatch.chdir(user_folder)
    for out in (".", "./", "figures/.."):
        code, err = run_cli([*FAST_RUN, "--out", out, "--force"], capsys)
        assert code == EXIT_USER_ERROR
        assert err.count("\n") == 1
        assert "is the current folder" in err
    assert snapshot(user_folder.parent) == before


def test_out_empty_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    code, err = run_cli([*FAST_RUN, "--out", ""], capsys)
    assert code == EXIT_USER_ERROR
    assert err == "energysim: error: --out: empty path\n"
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(EnergySimError, match="output folder: empty path"):
        write_folder("", [])


def test_out_naming_a_file_leaves_it_alone(user_folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = snapshot(user_folder)
    for force in ([], ["--force"]):
        code, err = run_cli([*FAST_RUN, "--out", str(user_folder / "thesis.tex"), *force], capsys)
        assert code == EXIT_USER_ERROR
        assert "is a file" in err
    assert snapshot(user_folder) == before


def test_out_naming_a_users_folder_is_refused(user_folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = snapshot(user_folder.parent)
    for out in (user_folder, user_folder / "figures"):
        code, err = run_cli([*FAST_RUN, "--out", str(out), "--force"], capsys)
        assert code == EXIT_USER_ERROR
        assert "is not an energysim output folder" in err
        assert "nothing was written" in err
    assert snapshot(user_folder.parent) == before


def test_an_empty_folder_the_user_made_is_theirs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "results").mkdir()
    code, err = run_cli([*FAST_RUN, "--out", str(tmp_path / "results"), "--force"], capsys)
    assert code == EXIT_USER_ERROR
    assert "is not an energysim output folder" in err
    assert list((tmp_path / "results").iterdir()) == []


def test_a_path_under_a_file_is_refused(user_folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = snapshot(user_folder)
    code, err = run_cli([*FAST_RUN, "--out", str(user_folder / "thesis.tex" / "out")], capsys)
    assert code == EXIT_USER_ERROR
    assert "thesis.tex is a file, not a folder" in err
    assert snapshot(user_folder) == before


def test_a_name_too_long_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = run_cli([*FAST_RUN, "--out", str(tmp_path / ("x" * 256) / "out")], capsys)
    assert code == EXIT_USER_ERROR
    assert "a name longer than 255 bytes" in err
    assert list(tmp_path.iterdir()) == []


def test_a_symbolic_link_is_refused(user_folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    link = user_folder.parent / "link"
    link.symlink_to(user_folder)
    before = snapshot(user_folder.parent)
    code, err = run_cli([*FAST_RUN, "--out", str(link), "--force"], capsys)
    assert code == EXIT_USER_ERROR
    assert "is a symbolic link" in err
    assert snapshot(user_folder.parent) == before


def test_a_read_only_parent_is_refused_before_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # We run as root, for whom chmod does not make a folder read-only: os.access answers as
    # the kernel would for an ordinary user of a 0o555 folder.
    locked = tmp_path / "locked"
    locked.mkdir()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode: Path(path) != locked and real_access(path, mode))
    code, err = run_cli([*FAST_RUN, "--out", str(locked / "a" / "b")], capsys)
    assert code == EXIT_USER_ERROR
    assert f"cannot create a folder in {locked}: permission denied" in err
    assert list(locked.iterdir()) == []


def test_a_parent_the_kernel_refuses_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # os.access says yes (as for root), the kernel says EACCES when the folders are made:
    # the parents energysim made on the way are removed again.
    real_mkdir = os.mkdir

    def mkdir(path: str | Path, mode: int = 0o777) -> None:
        if ".energysim-staging." in str(path):
            raise PermissionError(13, "Permission denied", str(path))
        real_mkdir(path, mode)

    monkeypatch.setattr(os, "mkdir", mkdir)
    code, err = run_cli([*FAST_RUN, "--out", str(tmp_path / "new" / "deeper" / "out")], capsys)
    assert code == EXIT_USER_ERROR
    assert "Permission denied" in err
    assert "nothing was written" in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(
    not Path("/sys/kernel").is_dir(), reason="needs Linux sysfs, where even root cannot mkdir"
)
def test_a_real_read_only_parent(capsys: pytest.CaptureFixture[str]) -> None:
    target = Path("/sys/energysim-test-out")
    before = sorted(os.listdir("/sys"))
    code, err = run_cli([*FAST_RUN, "--out", str(target)], capsys)
    assert code == EXIT_USER_ERROR
    assert "nothing was written" in err
    assert sorted(os.listdir("/sys")) == before


# --- replacing a previous output -------------------------------------------------------------


def write_text_output(target: Path, text: str, force: bool = False) -> None:
    write_folder(target, [text_writer("a.txt", text), json_writer("b.json", {"x": 1.5})], force=force)


def test_a_new_folder_is_complete_with_ordinary_permissions(tmp_path: Path) -> None:
    target = tmp_path / "new" / "out"
    write_text_output(target, "hello")
    assert_complete(target)
    assert listed_files(target)["a.txt"] == hashlib.sha256(b"hello\n").hexdigest()
    umask = os.umask(0)
    os.umask(umask)
    for folder in (target, target.parent):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o777 & ~umask
    assert os.listdir(tmp_path / "new") == ["out"]


def test_replacing_a_previous_output_needs_force(tmp_path: Path) -> None:
    target = tmp_path / "out"
    write_text_output(target, "first")
    before = snapshot(target)
    with pytest.raises(EnergySimError, match="holds a previous energysim output; add --force"):
        write_text_output(target, "second")
    assert snapshot(target) == before
    write_text_output(target, "second", force=True)
    assert (target / "a.txt").read_text() == "second\n"
    assert_complete(target)
    assert os.listdir(tmp_path) == ["out"]


def test_a_previous_output_with_a_users_file_is_not_ours(tmp_path: Path) -> None:
    target = tmp_path / "out"
    write_text_output(target, "first")
    (target / "notes.md").write_text("my notes\n")
    before = snapshot(target)
    foreign = r"was an energysim output, but also holds notes\.md, which energysim did not write"
    with pytest.raises(EnergySimError, match=foreign):
        write_text_output(target, "second", force=True)
    assert snapshot(target) == before


def test_a_previous_output_the_user_edited_is_not_ours(tmp_path: Path) -> None:
    target = tmp_path / "out"
    write_text_output(target, "first")
    (target / "a.txt").write_text("edited by hand\n")
    before = snapshot(target)
    with pytest.raises(EnergySimError, match=r"a\.txt was changed since energysim wrote it"):
        write_text_output(target, "second", force=True)
    assert snapshot(target) == before


def test_a_forged_or_broken_marker_is_not_ours(tmp_path: Path) -> None:
    target = tmp_path / "out"
    target.mkdir()
    (target / MARKER).write_text("not the header\n")
    with pytest.raises(EnergySimError, match="is not an energysim output folder"):
        write_text_output(target, "x", force=True)
    assert os.listdir(target) == [MARKER]


def test_a_failing_writer_leaves_nothing_or_the_previous_output(tmp_path: Path) -> None:
    def broken(folder: Path) -> None:
        (folder / "half.csv").write_text("a,b\n1,")
        raise EnergySimError("the writer failed")

    target = tmp_path / "out"
    with pytest.raises(EnergySimError, match="the writer failed"):
        write_folder(target, [broken])
    assert list(tmp_path.iterdir()) == []
    write_text_output(target, "first")
    before = snapshot(target)
    with pytest.raises(EnergySimError, match="the writer failed"):
        write_folder(target, [text_writer("new.txt", "new"), broken], force=True)
    assert snapshot(target) == before
    assert os.listdir(tmp_path) == ["out"]


def test_leftovers_of_a_killed_run_are_recovered(tmp_path: Path) -> None:
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True)
    dead_pid = int(gone.stdout)
    target = tmp_path / "out"
    write_text_output(target, "previous")
    before = snapshot(target)
    prefix = f".out.{hashlib.sha256(b'out').hexdigest()[:8]}.energysim-"
    # killed between "rename the old output aside" and "rename the new one in":
    aside = tmp_path / f"{prefix}old.{dead_pid}.0000abcd"
    target.rename(aside)
    # and a half-written staging folder of a killed run:
    staging = tmp_path / f"{prefix}staging.{dead_pid}.0000beef"
    staging.mkdir()
    (staging / "accesses.csv").write_text("half")
    with pytest.raises(EnergySimError, match="add --force"):
        check_output_folder(target)
    assert os.listdir(tmp_path) == ["out"]
    assert snapshot(target) == before


def test_a_live_writers_staging_is_left_alone(tmp_path: Path) -> None:
    target = tmp_path / "out"
    prefix = f".out.{hashlib.sha256(b'out').hexdigest()[:8]}.energysim-"
    staging = tmp_path / f"{prefix}staging.{os.getpid()}.0000beef"
    staging.mkdir()
    write_text_output(target, "x")
    assert staging.is_dir()


# --- interrupted at random moments ---------------------------------------------------------


@pytest.fixture(scope="module")
def lenet_writers() -> list[object]:
    result = es.simulate("lenet5", "edge-npu", "rs")
    return [
        *result_writers(result),
        json_writer("summary.json", summary(result)),
        figure_writer("energy_by_layer", lambda: layer_energy_figure(result)),
        csv_writer("accesses_again.csv", result.accesses),
    ]


def interrupted_write(target: Path, writers: list[object], delay_s: float, force: bool) -> str:
    """Write with a SIGINT sent to this process after ``delay_s``; 'completed' or 'interrupted'."""
    lock, state = threading.Lock(), {"done": False}

    def fire() -> None:
        with lock:
            if not state["done"]:
                os.kill(os.getpid(), signal.SIGINT)

    timer = threading.Timer(delay_s, fire)
    timer.start()
    outcome = "completed"
    try:
        try:
            write_folder(target, writers, force=force)  # type: ignore[arg-type]
        finally:
            with lock:
                state["done"] = True
            timer.cancel()
            time.sleep(0.001)  # a signal sent just before is handled here, inside the try
    except KeyboardInterrupt:
        outcome = "interrupted"
    return outcome


@pytest.fixture
def sigint_raises() -> Iterator[None]:
    """SIGINT raises KeyboardInterrupt for the test, as in an interactive session: a process started
    as a background job of a non-interactive shell inherits SIGINT ignored (seen in a fresh venv)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def test_an_ignored_sigint_stays_ignored_during_a_write(tmp_path: Path, lenet_writers: list[object]) -> None:
    """The guard takes over only signals that would end the process: one the user ignores (a
    background job's SIGINT) is left alone, and the write completes whole."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        outcome = interrupted_write(tmp_path / "out", lenet_writers, 0.0, force=False)
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)
    assert outcome == "completed"
    assert assert_whole_or_nothing(tmp_path / "out", None) == "new"


@pytest.mark.usefixtures("sigint_raises")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # see below
def test_sigint_at_random_moments_leaves_all_or_nothing(tmp_path: Path, lenet_writers: list[object]) -> None:
    write_folder(tmp_path / "warm-up" / "out", lenet_writers)  # type: ignore[arg-type]
    # The shortest of three warm writes, so that the delays land inside one: a single timing
    # could include a garbage-collection pause of a long test session (seen in a fresh venv,
    # where all five delays then fell after their write had finished).
    timings = []
    for run in range(3):
        start = time.perf_counter()
        write_folder(tmp_path / f"timing{run}" / "out", lenet_writers)  # type: ignore[arg-type]
        timings.append(time.perf_counter() - start)
    duration = min(timings)
    rng = random.Random(8)
    outcomes = []
    for attempt in range(5):
        parent = tmp_path / f"fresh{attempt}"
        parent.mkdir()
        target = parent / "out"
        delay = rng.uniform(0, duration)
        outcomes.append(interrupted_write(target, lenet_writers, delay, force=False))
        state = assert_whole_or_nothing(target, None)
        assert state == "new" or outcomes[-1] == "interrupted", (delay, state)
        replace_parent = tmp_path / f"replace{attempt}"
        replace_parent.mkdir()
        target = replace_parent / "out"
        write_text_output(target, "previous")
        previous = snapshot(target)
        interrupted_write(target, lenet_writers, rng.uniform(0, duration), force=True)
        assert assert_whole_or_nothing(target, previous) in {"previous", "new"}
    # A SIGINT that lands in a finaliser (a weakref callback) is swallowed by Python and shows up
    # as an "unraisable" warning; the write then completes and KeyboardInterrupt comes after it.
    assert "interrupted" in outcomes, (timings, outcomes)


# --- a real CLI process, killed --------------------------------------------------------------


def start_run(target: Path, force: bool) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg"}
    command = [sys.executable, "-m", "energysim", "run", "lenet5", "--hierarchy", "edge-npu"]
    command += ["--out", str(target), "--quiet", *(["--force"] if force else [])]
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


@pytest.mark.slow
def test_cli_processes_killed_while_writing_leave_all_or_nothing(tmp_path: Path) -> None:
    """Four real runs at once, each killed at a random moment of its writing phase (which starts
    when its staging folder appears and lasts about 2 s): SIGINT over a previous output, SIGTERM
    into a new folder and over a previous output, and SIGKILL, whose leftover the next write removes."""
    # SIGINT into a new folder is covered in-process above, at more moments and faster.
    plan = [signal.SIGINT, signal.SIGTERM, signal.SIGTERM, signal.SIGKILL]
    rng = random.Random(8)
    runs = []
    for index, signum in enumerate(plan):
        target = tmp_path / str(index) / "out"
        target.parent.mkdir()
        previous = None
        if index in (0, 2):
            write_text_output(target, "previous")
            previous = snapshot(target)
        delay = rng.uniform(0, 1.5)
        runs.append((signum, target, previous, delay, start_run(target, force=previous is not None)))
    pending = dict.fromkeys(range(len(runs)))  # index -> time the kill is due
    while pending:
        for index, due in list(pending.items()):
            signum, target, _, delay, process = runs[index]
            if process.poll() is not None:
                del pending[index]
            elif due is None and any(".energysim-staging." in name for name in os.listdir(target.parent)):
                pending[index] = time.perf_counter() + delay
            elif due is not None and time.perf_counter() >= due:
                process.send_signal(signum)
                del pending[index]
        time.sleep(0.002)
    states = []
    for signum, target, previous, delay, process in runs:
        _, err = process.communicate(timeout=60)
        assert process.returncode in {0, 130 if signum == signal.SIGINT else -signum}, err
        assert b"Traceback" not in err
        if signum == signal.SIGKILL:
            assert not target.exists() or listed_files(target)  # never a half-written target
            write_text_output(target, "next", force=target.exists())  # removes the dead run's staging
        state = assert_whole_or_nothing(target, previous)
        assert state == "new" or process.returncode != 0, (signum, delay, state)
        states.append(state)
    assert {"nothing", "previous"} & set(states[:3]), states  # some kills landed mid-write


# --- paths beyond the system's limits, and names from the user's text ---------------------------

LONG_PATH = "/".join(["a" * 200] * 25)  # 5,024 characters: beyond PATH_MAX, each name legal


def test_a_path_beyond_path_max_is_a_short_house_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    os.chdir(tmp_path)
    for call in (
        lambda: check_output_folder(LONG_PATH),
        lambda: write_folder(LONG_PATH, [text_writer("a", "")]),
    ):
        with pytest.raises(EnergySimError) as info:
            call()
        assert "5,024 characters" in str(info.value)
        assert len(str(info.value)) < 500
    code, err = run_cli([*FAST_RUN, "--out", LONG_PATH], capsys)
    assert code == EXIT_USER_ERROR
    assert len(err.splitlines()) == 1
    assert len(err) < 500
    assert list(tmp_path.iterdir()) == []


def test_a_system_error_while_writing_names_the_file_shortly(tmp_path: Path) -> None:
    def too_long(folder: Path) -> None:
        raise OSError(errno.ENAMETOOLONG, "File name too long", str(folder / LONG_PATH))

    with pytest.raises(EnergySimError) as info:
        write_folder(tmp_path / "out", [too_long])
    assert "File name too long" in str(info.value)
    assert len(str(info.value)) < 1000
    assert list(tmp_path.iterdir()) == []


def test_the_cli_shortens_the_path_of_any_system_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def fails(_args: object) -> None:
        raise OSError(errno.ENAMETOOLONG, "File name too long", LONG_PATH)

    monkeypatch.setattr(cli, "list_shipped", fails)
    code, err = run_cli(["list"], capsys)
    assert code == EXIT_USER_ERROR
    assert err.startswith("energysim: error: aaaa")
    assert "(5,024 characters): File name too long" in err
    assert len(err) < 500


HOSTILE_NAMES = [
    "timeline_c/../../x",
    "timeline_c/../../y",
    "timeline_a\0b",
    "timeline_new\nline\t\x1b[31m",
    "timeline_" + "z" * 300,
    "timeline_" + "z" * 301,
    "..",
    "",
    "Roofline",
    "roofline",
    "energy_by_layer",
]


def test_figure_names_become_safe_unique_file_names() -> None:
    stems = safe_file_stems(HOSTILE_NAMES)
    assert list(stems) == HOSTILE_NAMES
    for stem in stems.values():
        assert set(stem) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-"), stem
        assert 1 <= len(stem) <= 100
    assert len({stem.lower() for stem in stems.values()}) == len(HOSTILE_NAMES)  # also case-blind
    assert stems["energy_by_layer"] == "energy_by_layer"  # a safe name is kept as it is


def test_a_hostile_layer_name_stays_inside_the_output_folder(tmp_path: Path) -> None:
    result = es.analyze("lecture-ops", "v100", "rs", layers=["relu"])
    (tmp_path / "work").mkdir()
    out = tmp_path / "work" / "out"
    figures = {name: (lambda: layer_energy_figure(result)) for name in HOSTILE_NAMES[:4]}
    write_outputs(result, out, {"a": 1}, figures)
    assert sorted(os.listdir(tmp_path)) == ["work"]
    assert sorted(os.listdir(tmp_path / "work")) == ["out"]
    assert_complete(out)
    pictures = sorted(name for name in os.listdir(out) if name.endswith(".png"))
    assert len(pictures) == 4


def test_run_out_with_a_layer_named_like_a_path_writes_only_its_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    workload = tmp_path / "w.yaml"
    layer = '{name: "c/../../x", type: fc, N: 1, C: 16, M: 16}'
    workload.write_text(f"version: 1\nname: hostile\nprecision_bits: 16\nlayers:\n  - {layer}\n")
    (tmp_path / "work").mkdir()
    out = tmp_path / "work" / "out"
    code, err = run_cli(
        ["run", str(workload), "--hierarchy", "edge-npu", "--out", str(out), "--quiet"], capsys
    )
    assert (code, err) == (0, "")
    assert sorted(os.listdir(tmp_path)) == ["w.yaml", "work"]
    assert sorted(os.listdir(tmp_path / "work")) == ["out"]
    assert_complete(out)
    assert {"timeline_c_______x.png", "timeline_c_______x.svg"} <= set(os.listdir(out))


def test_an_interrupt_swallowed_by_a_finaliser_prints_no_traceback() -> None:
    # Found in a fresh venv: a SIGTERM that lands inside a finaliser (a WeakKeyDictionary's) was
    # printed by Python as "Exception ignored in ... Traceback"; the write then completed and the
    # signal took effect at exit, as designed, but the user saw a traceback.
    from types import SimpleNamespace

    from energysim import output_folder

    seen: list[object] = []
    previous = sys.unraisablehook
    sys.unraisablehook = seen.append
    try:
        with output_folder.SignalGuard() as guard:
            guard.raised = True  # our handler raised, and Python swallowed it in a finaliser
            sys.unraisablehook(SimpleNamespace(exc_value=output_folder._Terminated(15)))
            other = SimpleNamespace(exc_value=ValueError("someone else's"))
            sys.unraisablehook(other)
        assert seen == [other]  # ours is silent (it stays pending); anything else is reported
        assert sys.unraisablehook == seen.append  # the hook is restored
    finally:
        sys.unraisablehook = previous
