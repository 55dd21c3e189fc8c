"""Sweeps: grid expansion, frames checked against plain analyze/simulate calls, equal frames
on 1 and 2 Dask workers, resume after deleted or killed points, error points as rows, and the
sweep file's validation. Kept small: LeNet-5 layers on eyeriss."""

from __future__ import annotations

import importlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import energysim as es
from energysim.cli import main
from energysim.errors import EnergySimError
from energysim.model.limits import MAX_SWEEP_POINTS
from energysim.sweep import Grid, Point, sweep
from energysim.sweep.store import SWEEP_MARKER

REPOSITORY_ROOT = Path(__file__).resolve().parents[1]
LAYERS = ("c1", "c3a")


def csv_of(result: es.SweepResult) -> tuple[str, str, str]:
    return tuple(frame.to_csv(index=False) for frame in (result.points, result.layers, result.levels))  # type: ignore[return-value]


def small_grid(sizes: tuple[int, ...] = (16384, 65536)) -> Grid:
    return Grid(["lenet5"], ["eyeriss"], dataflows=["rs", "ws"], variations={"GLB.size_bytes": list(sizes)},
                layers=LAYERS)  # fmt: skip


def stored_points(folder: Path) -> list[Path]:
    return sorted((folder / "store").iterdir())


# --- grid --------------------------------------------------------------------------------------


def test_grid_expands_in_a_fixed_order() -> None:
    grid = Grid(
        workloads=["lenet5", "alexnet"],
        hierarchies=["eyeriss", "edge-npu"],
        dataflows=["rs", "ws"],
        variations={"GLB.size_bytes": [1024, 2048], "compute.array": ["8x8", "16x16", "4x4"]},
    )
    points = grid.points()
    assert grid.size() == len(points) == 2 * 2 * 2 * 3 * 2
    # Workloads outermost, then hierarchies, the variations in the order given, dataflows.
    expected = [
        Point(w, h, d, "exact", (("GLB.size_bytes", s), ("compute.array", a)))
        for w in ("lenet5", "alexnet")
        for h in ("eyeriss", "edge-npu")
        for s in (1024, 2048)
        for a in ("8x8", "16x16", "4x4")
        for d in ("rs", "ws")
    ]
    assert points == expected
    assert len(set(points)) == len(points)


def test_a_grid_too_large_or_empty_is_refused_before_expansion() -> None:
    values = list(range(1, 101))
    huge = Grid(["lenet5"], ["eyeriss"], variations={"GLB.size_bytes": values, "GLB.ports": values,
                                                    "GLB.latency_cycles": values})  # fmt: skip
    assert huge.size() > MAX_SWEEP_POINTS
    with pytest.raises(es.EnergySimError, match="MAX_SWEEP_POINTS"):
        huge.points()
    with pytest.raises(es.EnergySimError, match="no points"):
        Grid(["lenet5"], [], dataflows=["rs"]).points()


# --- frames against the facades --------------------------------------------------------------


def test_frames_agree_with_plain_analyze() -> None:
    """Oracle: es.analyze on the same varied hierarchy, called directly."""
    result = sweep(small_grid(), workers=1)
    assert list(result.points["point"]) == [0, 1, 2, 3]
    for row in result.points.itertuples():
        size = int(result.points.loc[row.Index, "GLB.size_bytes"])
        hierarchy = es.load_hierarchy("eyeriss").with_level("GLB", size_bytes=size)
        plain = es.analyze("lenet5", hierarchy, dataflow=row.dataflow, layers=list(LAYERS))
        assert row.hierarchy == hierarchy.name
        assert row.energy == pytest.approx(plain.total_energy, rel=1e-12)
        assert row.energy_unit == plain.energy_unit == "MAC-units"
        assert row.energy_per_mac == pytest.approx(plain.energy_per_mac, rel=1e-12)
        assert row.dram_share == pytest.approx(plain.energy_by_level()["DRAM"] / plain.total_energy)
        nest, mapped = plain.layers["nest_macs"].sum(), plain.layers["mapped_macs"].sum()
        assert row.utilisation == pytest.approx(nest / mapped)
        assert pd.isna(row.cycles)
        assert pd.isna(row.edp)
        layers = result.layers[result.layers["point"] == row.point]
        assert list(layers["layer"]) == list(LAYERS)
        assert list(layers["energy"]) == pytest.approx(list(plain.layers["energy"]))
        levels = result.levels[result.levels["point"] == row.point].groupby("level")["energy"].sum()
        assert levels.to_dict() == pytest.approx(plain.energy_by_level().to_dict())


def test_simulated_frames_agree_with_simulate_and_never_beat_the_bound() -> None:
    """Oracles: es.simulate directly (cycles, EDP = energy x cycles), and the roofline: no layer
    is faster than its MACs at the array's peak or its DRAM bytes at DRAM's bandwidth."""
    result = sweep(small_grid((65536,)), mode="simulate", workers=1)
    for row in result.points.itertuples():
        hierarchy = es.load_hierarchy("eyeriss").with_level("GLB", size_bytes=65536)
        plain = es.simulate("lenet5", hierarchy, dataflow=row.dataflow, layers=list(LAYERS))
        assert row.cycles == pytest.approx(plain.cycles, rel=1e-12)
        assert row.edp == pytest.approx(plain.total_energy * plain.cycles, rel=1e-12)
        assert row.array_utilisation == pytest.approx(plain.layers["nest_macs"].sum() / (plain.cycles * 168))
    layers = result.layers
    assert (layers["cycles"] >= layers["bound_cycles"]).all()
    # The bound is at least the compute term: 117,600 MACs of c1 (6 x 28 x 28 x 25) on 168 PEs.
    c1 = layers[layers["layer"] == "c1"]
    assert (c1["bound_cycles"] >= c1["mapped_macs"] / 168).all()
    assert (c1["mapped_macs"] >= 117_600).all()


# --- Dask ----------------------------------------------------------------------------------------


def test_one_and_two_workers_give_the_same_bytes() -> None:
    pytest.importorskip("dask.distributed")
    one = sweep(small_grid(), workers=1)
    two = sweep(small_grid(), workers=2)
    assert two.computed == 4
    assert csv_of(one) == csv_of(two)


def test_a_local_cluster_leaves_the_users_dask_as_it_was(monkeypatch: pytest.MonkeyPatch) -> None:
    """The local cluster's own settings (fork server, stall checks) are scoped to its start, its
    client is not left as the default, and a start method the user chose is kept."""
    dask = pytest.importorskip("dask")
    distributed = pytest.importorskip("dask.distributed")
    keys = ["distributed.worker.multiprocessing-method", "distributed.admin.tick.interval",
            "distributed.worker.profile.enabled", "scheduler"]  # fmt: skip
    before = [dask.config.get(key, None) for key in keys]
    assert csv_of(sweep(small_grid(), workers=2)) == csv_of(sweep(small_grid(), workers=1))
    assert [dask.config.get(key, None) for key in keys] == before
    with pytest.raises(ValueError, match="No clients found"):
        distributed.default_client()
    run = sys.modules["energysim.sweep.run"]
    with dask.config.set({"distributed.worker.multiprocessing-method": "fork"}):
        assert "distributed.worker.multiprocessing-method" not in run._local_settings(dask)


def test_a_local_cluster_keeps_the_programs_fork_server_preload() -> None:
    """A program that asked the fork server to preload a module keeps it; ours are added."""
    dask = pytest.importorskip("dask")
    pytest.importorskip("dask.distributed")
    import multiprocessing
    import multiprocessing.forkserver as forkserver

    run = sys.modules["energysim.sweep.run"]
    server = getattr(forkserver, "_forkserver", None)
    before = list(getattr(server, "_preload_modules", ["__main__"]))
    try:
        multiprocessing.set_forkserver_preload(["json"])
        run._local_settings(dask)
        preload = getattr(server, "_preload_modules", None)
        assert preload is not None
        assert preload[0] == "json"
        assert set(run._FORKSERVER_PRELOAD) <= set(preload)
    finally:
        multiprocessing.set_forkserver_preload(before)


def test_an_existing_cluster_is_used_as_it_is() -> None:
    """``scheduler=`` connects to a cluster someone else started (here: threads in this process)."""
    distributed = pytest.importorskip("dask.distributed")
    with distributed.LocalCluster(n_workers=1, processes=False, dashboard_address="127.0.0.1:0") as cluster:
        result = sweep(small_grid(), scheduler=cluster.scheduler_address)
        assert len(cluster.scheduler.workers) == 1  # still running: the sweep did not close it
    assert result.computed == 4
    assert csv_of(result) == csv_of(sweep(small_grid(), workers=1))


def test_a_scheduler_that_cannot_be_reached_is_one_error(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("dask.distributed")
    monkeypatch.setattr(sys.modules["energysim.sweep.run"], "CONNECT_TIMEOUT_S", 1.0)
    with pytest.raises(es.EnergySimError, match=r"Dask scheduler 'tcp://127\.0\.0\.1:9': cannot connect"):
        sweep(small_grid(), scheduler="tcp://127.0.0.1:9")


# --- the store and resuming ----------------------------------------------------------------------


def test_a_resumed_search_sweep_chains_over_the_stored_points(tmp_path: Path) -> None:
    """Oracle: the same grid run whole in one go. The 2 KiB GLB's search starts from the 1 KiB one's
    result; when the 1 KiB point was stored by an earlier run, it used to start from nothing and
    found another mapping (LeNet-5 c3a under cycles: 1,002 cycles against 893.5)."""
    from energysim.search import clear_search_cache

    def grid(sizes: list[int]) -> Grid:
        return Grid(["lenet5"], ["eyeriss"], dataflows=["search:cycles"],
                    variations={"GLB.size_bytes": sizes}, layers=["c3a"])  # fmt: skip

    clear_search_cache()
    whole = sweep(grid([1024, 2048]), workers=1, out=tmp_path / "whole")
    clear_search_cache()
    assert sweep(grid([1024]), workers=1, out=tmp_path / "resumed").computed == 1
    clear_search_cache()
    resumed = sweep(grid([1024, 2048]), workers=1, out=tmp_path / "resumed")
    assert resumed.computed == 1
    assert csv_of(resumed) == csv_of(whole)


def test_resume_runs_only_the_missing_points(tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    first = sweep(small_grid(), workers=1, out=out)
    assert first.computed == 4
    files = stored_points(out)
    assert len(files) == 4
    assert (out / SWEEP_MARKER).is_file()
    kept = {path: path.stat().st_mtime_ns for path in files[2:]}
    for path in files[:2]:
        path.unlink()
    again = sweep(small_grid(), workers=1, out=out)
    assert again.computed == 2
    assert {path: path.stat().st_mtime_ns for path in files[2:]} == kept  # not rewritten
    assert csv_of(again) == csv_of(first)
    assert sweep(small_grid(), workers=1, out=out).computed == 0
    # Frames from the store and from memory are the same bytes too.
    assert csv_of(sweep(small_grid(), workers=1)) == csv_of(first)


def test_a_users_folder_is_never_a_sweep_folder(tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep")
    for folder in (mine, tmp_path / "empty"):
        folder.mkdir(exist_ok=True)
        with pytest.raises(
            es.EnergySimError, match=f"not an energysim sweep folder .it has no {SWEEP_MARKER}"
        ):
            sweep(small_grid(), workers=1, out=folder)
    assert sorted(os.listdir(mine)) == ["notes.txt"]
    assert os.listdir(tmp_path / "empty") == []


KILLED_SWEEP = """
import sys
from energysim.sweep import Grid, sweep
sizes = [8192 + 512 * i for i in range(20)]
grid = Grid(["lenet5"], ["eyeriss"], variations={"GLB.size_bytes": sizes}, layers=["c1", "c3a"])
sweep(grid, workers=1, out=sys.argv[1])
"""


def test_a_killed_sweep_keeps_every_finished_point_and_no_partial_file(tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    env = {**os.environ, "PYTHONPATH": str(REPOSITORY_ROOT), "MPLBACKEND": "Agg"}
    process = subprocess.Popen(
        [sys.executable, "-c", KILLED_SWEEP, str(out)], env=env, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        if (out / "store").is_dir() and len(os.listdir(out / "store")) >= 2:
            break
        time.sleep(0.02)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == -signal.SIGTERM, stderr.decode()
    files = stored_points(out)
    assert all(path.suffix == ".parquet" and not path.name.startswith(".") for path in files)
    assert 2 <= len(files) < 20
    for path in files:  # whole: each reads back
        assert len(pd.read_parquet(path)) > 0
    sizes = [8192 + 512 * i for i in range(20)]
    grid = Grid(["lenet5"], ["eyeriss"], dataflows=["rs"], variations={"GLB.size_bytes": sizes},
                layers=["c1", "c3a"])  # fmt: skip
    resumed = sweep(grid, workers=1, out=out)
    assert resumed.computed == 20 - len(files)
    assert set(files) <= set(stored_points(out))


# --- errors ----------------------------------------------------------------------------------


def test_an_error_point_is_a_row_and_is_stored(tmp_path: Path) -> None:
    grid = small_grid((1, 65536))
    grid = Grid(grid.workloads, grid.hierarchies, ["rs"], variations={"GLB.size_bytes": [1, 65536, -5]},
                layers=LAYERS)  # fmt: skip
    result = sweep(grid, workers=1, out=tmp_path / "s")
    errors = list(result.points["error"])
    assert "no mapping of layer c1 fits eyeriss[GLB.size_bytes=1B]" in errors[0]
    assert errors[1] == ""
    assert "levels[1].size_bytes: must be at least 1, got -5" in errors[2]
    assert result.points["energy"].isna().tolist() == [True, False, True]
    assert set(result.layers["point"]) == {1}
    # The mapping error came from a run and is stored; the bad value never reached one.
    assert len(stored_points(tmp_path / "s")) == 2
    assert sweep(grid, workers=1, out=tmp_path / "s").computed == 0


def test_the_counting_axis_is_passed_on_when_not_the_default() -> None:
    grid = Grid(["lenet5"], ["eyeriss"], counting=["exact", "timeloop"], layers=["c1"])
    result = sweep(grid, workers=1)
    exact, timeloop = result.points.itertuples()
    assert exact.error == ""
    assert timeloop.error == ""
    plain = es.analyze("lenet5", "eyeriss", layers=["c1"], counting="timeloop")
    assert timeloop.energy == pytest.approx(plain.total_energy)
    assert exact.energy == pytest.approx(es.analyze("lenet5", "eyeriss", layers=["c1"]).total_energy)


# --- the sweep file and the command -------------------------------------------------------------


SWEEP_FILE = """\
version: 1
name: tiny
workloads: [lenet5]
hierarchies: [eyeriss]
layers: [c1, c3a]
variations:
  GLB.size_bytes: [16384, 65536]
  compute.array: [12x14, [16, 16]]
dataflows: [rs, ws]
"""


def test_the_command_writes_the_report_and_resumes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "sweep.yaml"
    spec.write_text(SWEEP_FILE)
    out = tmp_path / "out"
    assert main(["sweep", str(spec), "--out", str(out), "--workers", "1"]) == 0
    report = out / "report"
    names = set(os.listdir(report))
    assert {"points.csv", "layers.csv", "levels.csv", "pareto.png", "energy_per_mac_by_axis.png"} <= names
    points = pd.read_csv(report / "points.csv")
    assert len(points) == 8
    assert set(points["compute.array"]) == {"12x14", "16x16"}
    first = (report / "points.csv").read_bytes()
    assert "8 points (8 run now" in capsys.readouterr().out
    assert main(["sweep", str(spec), "--out", str(out), "--workers", "1"]) == 0
    assert "(0 run now, 8 from the store" in capsys.readouterr().out
    assert (report / "points.csv").read_bytes() == first


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("version: 1\nworkloads: [lenet5]\nhierarchies: [eyeriss]\nmodee: analyze\n", r"unknown key 'modee'"),
        (
            "version: 1\nworkloads: [lenet5]\nhierarchies: [eyeriss]\nmode: run\n",
            r"mode: 'run' is not one of",
        ),
        ("version: 1\nworkloads: [lenet5]\n", r"hierarchies: at least one is needed"),
        (
            "version: 1\nworkloads: [lenet5]\nhierarchies: [eyeriss]\ndataflows: [xs]\n",
            r"dataflows\[0\]: dataflow 'xs': unknown",
        ),
        (
            "version: 1\nworkloads: [lenet5]\nhierarchies: [eyeriss]\ncounting: [fast]\n",
            r"counting\[0\]: 'fast' is not one of",
        ),
        (
            "version: 1\nworkloads: [lenet5]\nhierarchies: [eyeriss]\nvariations: {compute.array: [12y14]}\n",
            r"variations\.compute\.array\[0\]: compute\.array: expected ROWSxCOLS",
        ),
        (
            "version: 1\nworkloads: [lenet5]\nhierarchies: [eyeriss]\nvariations: {size: [1]}\n",
            r"variations: axis 'size': expected LEVEL\.FIELD",
        ),
        (
            "version: 1\nworkloads: [lenet5]\nhierarchies: [eyeriss]\ncolour_by: dataflw\n",
            r"colour_by: 'dataflw' is not an axis",
        ),
        (
            "version: 1\nworkloads: [lenet5]\npoints: [{workload: lenet5, hierarchy: eyeriss}]\n",
            r"points: give either points or the grid",
        ),
        ("version: 2\nworkloads: [lenet5]\nhierarchies: [eyeriss]\n", r"version: must be 1"),
        ("- a list\n", r"expected a sweep"),
    ],
)
def test_a_bad_sweep_file_is_one_error_naming_file_and_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, match: str
) -> None:
    spec = tmp_path / "bad.yaml"
    spec.write_text(text)
    assert main(["sweep", str(spec), "--out", str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"energysim: error: {spec}")
    assert pytest.importorskip("re").search(match, error), error
    assert not (tmp_path / "out").exists()


def test_a_grid_past_the_bound_is_refused_in_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    values = "[" + ", ".join(str(n) for n in range(1, 60)) + "]"
    spec = tmp_path / "huge.yaml"
    axes = f"{{GLB.size_bytes: {values}, GLB.ports: {values}, RF.ports: {values}}}"
    spec.write_text(f"version: 1\nworkloads: [lenet5]\nhierarchies: [eyeriss]\nvariations: {axes}\n")
    assert main(["sweep", str(spec), "--out", str(tmp_path / "out")]) == 2
    assert "more than 100,000 (MAX_SWEEP_POINTS)" in capsys.readouterr().err


def test_explicit_points_in_a_file(tmp_path: Path) -> None:
    from energysim.sweep.files import load_sweep_file

    spec = tmp_path / "points.yaml"
    spec.write_text(
        "version: 1\nlayers: [c1]\npoints:\n"
        "  - {workload: lenet5, hierarchy: eyeriss, dataflow: ws}\n"
        "  - {workload: lenet5, hierarchy: eyeriss, variations: {GLB.size_bytes: 65536}}\n"
    )
    _, points = load_sweep_file(spec)
    assert isinstance(points, list)
    result = sweep(points, workers=1)
    assert list(result.points["dataflow"]) == ["ws", "rs"]
    assert list(result.points["hierarchy"]) == ["eyeriss", "eyeriss[GLB.size_bytes=64KiB]"]
    assert result.axes == ("workload", "base_hierarchy", "dataflow", "counting", "GLB.size_bytes")


def test_pareto_front_is_the_set_no_point_dominates() -> None:
    """Oracle: brute force over all pairs (a point is dominated if another is no worse in both
    and better in one); ties keep the first of equal points."""
    from energysim.sweep.figures import pareto_front

    time_cycles = pd.Series([5.0, 1.0, 3.0, 3.0, 2.0, 4.0, 2.0, 6.0])
    energy = pd.Series([1.0, 9.0, 4.0, 5.0, 6.0, 2.0, 6.0, 1.0])
    front = pareto_front(time_cycles, energy)

    def dominated(i: int) -> bool:
        return any(
            time_cycles[j] <= time_cycles[i]
            and energy[j] <= energy[i]
            and (time_cycles[j] < time_cycles[i] or energy[j] < energy[i] or j < i)
            for j in range(len(energy))
            if j != i
        )

    assert list(front) == [not dominated(i) for i in range(len(energy))]
    assert list(front[front].index) == [0, 1, 2, 4, 5]


def test_a_sweep_that_fails_before_its_first_point_leaves_no_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("dask.distributed")
    monkeypatch.setattr(sys.modules["energysim.sweep.run"], "CONNECT_TIMEOUT_S", 1.0)
    with pytest.raises(es.EnergySimError, match="cannot connect"):
        sweep(small_grid(), out=tmp_path / "new", scheduler="tcp://127.0.0.1:9")
    assert not (tmp_path / "new").exists()
    # A sweep whose every point is an error still has its folder and report.
    grid = Grid(["lenet5"], ["eyeriss"], variations={"GLB.size_bytes": [-1]})
    result = sweep(grid, out=tmp_path / "errors", workers=1)
    assert result.points["error"].str.contains("must be at least 1").all()
    assert (tmp_path / "errors" / SWEEP_MARKER).is_file()


def test_a_mapper_objective_is_a_value_of_the_dataflow_axis_searched_once_per_workload_and_hierarchy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``search:energy`` on the dataflows axis runs the mapper: its point equals a plain
    ``analyze(mapping="search")`` and spends no more than the named dataflow (the search space
    holds rs's mapping, and the mapper never returns worse than it). Two points that differ only in
    their counting mode share one search, run in the main process; an unknown objective is an error row
    (and an error of analyze)."""
    grid_module = importlib.import_module("energysim.sweep.grid")  # es.sweep is the function

    calls: list[str] = []
    real = grid_module.searched_mappings

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(args[3] if len(args) > 3 else kwargs.get("objective", "energy"))
        return real(*args, **kwargs)

    monkeypatch.setattr(grid_module, "searched_mappings", counted)
    grid = Grid(
        ["lenet5"],
        ["eyeriss"],
        dataflows=["rs", "search:energy"],
        counting=["exact", "timeloop"],
        layers=["c1"],
    )
    result = sweep(grid, workers=1)
    rows = {(row.dataflow, row.counting): row for row in result.points.itertuples()}
    assert all(row.error == "" for row in rows.values())
    assert calls == ["energy"]
    plain = es.analyze("lenet5", "eyeriss", mapping="search", layers=["c1"])
    assert rows[("search:energy", "exact")].energy == pytest.approx(plain.total_energy)
    assert rows[("search:energy", "exact")].energy <= rows[("rs", "exact")].energy * (1 + 1e-12)
    unknown = sweep(Grid(["lenet5"], ["eyeriss"], dataflows=["search:speed"], layers=["c1"]), workers=1)
    assert "search:OBJECTIVE with OBJECTIVE one of energy, cycles, edp" in unknown.points["error"].iloc[0]
    with pytest.raises(EnergySimError, match=r"search:OBJECTIVE with OBJECTIVE one of energy, cycles, edp"):
        es.analyze("lenet5", "eyeriss", mapping="search:speed", layers=["c1"])
