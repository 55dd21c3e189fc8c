"""``sweep()``: run many points, in this process or on Dask, resumably, into tidy frames.

Points are resolved here (inputs loaded, variations applied, input keys
computed), run where the caller asks, and stored as they finish:

* ``workers=1``: one after another, in this process (no Dask needed);
* ``workers=N`` (default: the cores of the machine): a local Dask cluster of
  ``N`` single-threaded worker processes, made for the sweep and closed after;
* ``scheduler="tcp://host:8786"``: an existing Dask cluster, used as it is (its
  workers need the same energysim version; a worker with another is an error).

Workers return their tables; only this process writes (so a remote cluster
needs no shared file system). Local workers writing their own points would
not make a sweep faster: with as many workers as cores, this process's CPU
(1.5-3 ms a point for its Parquet file) is taken from the workers whoever
spends it, so one path serves local and remote clusters. With ``out``, each
finished point is stored at once (:mod:`energysim.sweep.store`) and a point
already stored is not run again. The frames are assembled in point order from the stored tables (or,
without ``out``, from the returned ones), so they are the same, byte for byte
as CSV, whatever the number of workers, the order in which points finish, or
how many runs it took.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import logging
import multiprocessing
import os
from collections import Counter
from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import ExitStack, closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from energysim._version import __version__
from energysim.errors import EnergySimError
from energysim.output_folder import SignalGuard
from energysim.sweep.frames import SweepResult, assemble
from energysim.sweep.grid import MODES, Grid, Point, Resolver, Task, sweep_axes, with_searched_mappings
from energysim.sweep.point import ERROR, Outcome, run_point
from energysim.sweep.store import PointStore, discard_if_empty, open_sweep_folder

#: Seconds to wait for an existing Dask scheduler to answer.
CONNECT_TIMEOUT_S = 20.0
#: Called after each point with (points done, points in all); stored points count as done at once.
Progress = Callable[[int, int], None]


@dataclass
class _Plan:
    """The points of a sweep, resolved: tasks to run, and errors found while resolving."""

    points: list[Point]
    tasks: dict[int, Task]
    errors: dict[int, str]


def _plan(points: Sequence[Point], mode: str) -> _Plan:
    tasks: dict[int, Task] = {}
    errors: dict[int, str] = {}
    resolver = Resolver(mode)
    for index, point in enumerate(points):
        try:
            tasks[index] = resolver.resolve(index, point)
        except EnergySimError as error:
            errors[index] = str(error)
    return _Plan(list(points), tasks, errors)


def default_workers() -> int:
    """The cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def sweep(
    points: Grid | Sequence[Point],
    mode: str = "analyze",
    out: str | Path | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: Progress | None = None,
) -> SweepResult:
    """Run every point of ``points`` with ``analyze`` or ``simulate`` (``mode``).

    Returns a :class:`SweepResult`: ``points`` (one row per point: energy,
    energy per MAC, cycles, EDP, DRAM share, utilisation, or the point's
    error), ``layers`` (one row per point x layer) and ``levels`` (one row per
    point x layer x level), each with the point's axis values as columns. With
    ``out``, points are stored in that sweep folder and a rerun computes only
    the missing ones (see :mod:`energysim.sweep.store`).
    """
    if mode not in MODES:
        raise EnergySimError(f"mode {mode!r}: expected one of {', '.join(MODES)}")
    if workers is not None and (type(workers) is not int or not 1 <= workers <= 1024):
        raise EnergySimError(f"workers: expected an integer from 1 to 1024, got {workers!r}")
    listed = points.points() if isinstance(points, Grid) else list(points)
    if not listed:
        raise EnergySimError("sweep: no points to run")
    store = PointStore(open_sweep_folder(out)) if out is not None else None
    try:
        return _run(listed, mode, store, workers, scheduler, progress)
    except BaseException:
        if store is not None:
            discard_if_empty(store.folder.parent)  # failed before its first point: leave nothing
        raise


def _run(
    listed: list[Point],
    mode: str,
    store: PointStore | None,
    workers: int | None,
    scheduler: str | None,
    progress: Progress | None,
) -> SweepResult:
    """Plan, run and store the points of a sweep, then assemble its frames."""
    plan = _plan(listed, mode)
    stored = store.keys() if store is not None else set()
    waiting = Counter(task.key for task in plan.tasks.values() if task.key not in stored)
    # Searched once here, not on every worker, and over every point, stored ones included: a search
    # starts from the results of the smaller GLBs of the grid, whether or not they ran before.
    every = with_searched_mappings(list({task.key: task for task in plan.tasks.values()}.values()))
    unique = [task for task in every if task.key in waiting]
    done = len(plan.points) - sum(waiting.values())
    if progress is not None:
        progress(done, len(plan.points))
    tables: dict[str, pd.DataFrame] = {}
    with SignalGuard() as guard, closing(_execute(unique, workers, scheduler)) as outcomes:
        for outcome in outcomes:
            _check_version(outcome)
            tables[outcome.key] = outcome.table
            if store is not None:
                with guard.deferred():  # a signal waits until the point is whole on disk
                    store.write(outcome.key, outcome.table)
            done += waiting[outcome.key]
            if progress is not None:
                progress(done, len(plan.points))
    # A point run now is taken as returned (its stored file reads back equal), the others from the store.
    for key in {task.key for task in plan.tasks.values()} - tables.keys():
        tables[key] = store.read(key) if store is not None else tables[key]
    point_tables = {index: tables[task.key] for index, task in plan.tasks.items()}
    frames = assemble(plan.points, plan.tasks, point_tables, plan.errors, mode)
    folder = None if store is None else store.folder.parent
    return dataclasses.replace(frames, computed=len(unique), folder=folder, axes=sweep_axes(plan.points))


def _check_version(outcome: Outcome) -> None:
    if outcome.energysim_version != __version__:
        raise EnergySimError(
            f"a worker runs energysim {outcome.energysim_version}, this process {__version__}: "
            "install one version everywhere"
        )


def _execute(tasks: list[Task], workers: int | None, scheduler: str | None) -> Generator[Outcome]:
    """Outcomes of ``tasks`` as they finish: in this process, or on Dask."""
    if not tasks:
        return
    count = workers if workers is not None else default_workers()
    if scheduler is None and (count == 1 or len(tasks) == 1):
        for task in tasks:
            yield run_point(task)
        return
    with _dask_client(count, scheduler) as client:
        yield from _on_dask(client, _submit(client, tasks))


def _submit(client: Any, tasks: list[Task]) -> list[Any]:
    """Futures of ``tasks`` on ``client``'s cluster."""
    if not tasks:
        return []
    keys = [f"energysim-point-{task.key}" for task in tasks]
    futures: list[Any] = client.map(run_point, tasks, key=keys, pure=False)
    return futures


def _on_dask(client: Any, futures: list[Any]) -> Iterator[Outcome]:
    """The outcomes of ``futures`` as they finish."""
    if not futures:
        return
    distributed: Any = importlib.import_module("dask.distributed")
    for future in distributed.as_completed(futures, loop=client.loop):
        try:
            outcome: Outcome = future.result()
        except ModuleNotFoundError as exc:  # a worker of a cluster without energysim
            raise EnergySimError(
                f"a Dask worker cannot import {exc.name}: install energysim {__version__} on every worker"
            ) from exc
        yield outcome


@contextmanager
def _dask_client(workers: int, scheduler: str | None) -> Iterator[Any]:
    """A Dask client: of a new local cluster of ``workers`` processes, or of ``scheduler``."""
    try:
        dask: Any = importlib.import_module("dask")
        settings = _local_settings(dask) if scheduler is None else {}
        distributed: Any = importlib.import_module("dask.distributed")
    except ImportError:
        raise EnergySimError(
            "sweeps on more than one worker run on Dask: pip install 'energysim[sweep]' "
            "(or: pip install 'dask[distributed]'), or give workers=1"
        ) from None
    with ExitStack() as stack:
        if scheduler is not None:
            try:
                client = stack.enter_context(
                    distributed.Client(scheduler, timeout=CONNECT_TIMEOUT_S, set_as_default=False)
                )
            except (OSError, TimeoutError, ValueError) as exc:
                raise EnergySimError(f"Dask scheduler {scheduler!r}: cannot connect ({exc})") from exc
        else:
            with dask.config.set(settings):
                cluster = stack.enter_context(_local_cluster(distributed, workers))
            client = stack.enter_context(distributed.Client(cluster, set_as_default=False))
        yield client


def _local_cluster(distributed: Any, workers: int) -> Any:
    """A local cluster of ``workers`` single-threaded processes; its HTTP server on a free local
    port (the default, 8787, may be taken: Dask would warn on stderr)."""
    try:
        return distributed.LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address="127.0.0.1:0",
            silence_logs=logging.ERROR,
        )
    except RuntimeError as exc:  # a worker process that could not start
        raise EnergySimError(
            f"could not start a local Dask cluster of {workers} workers ({exc}); a script that sweeps "
            'on several workers must be a file running under `if __name__ == "__main__":`, or give workers=1'
        ) from exc


#: Modules the fork server imports once, so that a worker forked from it starts with them.
_FORKSERVER_PRELOAD = ["distributed", "energysim.sweep.point"]
_METHOD = "distributed.worker.multiprocessing-method"
#: How often each Dask server checks its event loop for stalls (Dask's default: 20 ms).
_TICK = "distributed.admin.tick.interval"
#: Whether Dask workers sample the stacks of their tasks (for its dashboard; default: yes).
_PROFILE = "distributed.worker.profile.enabled"


def _local_settings(dask: Any) -> dict[str, str | bool]:
    """Dask settings of a local cluster made for one sweep; starts its fork server.

    * Workers are forked from a fork server with Dask and energysim imported
      in it. Dask's default, spawn, starts a fresh interpreter per worker that
      imports them again (about 1 s of CPU each, on the cores the sweep wants),
      and its workers took 0.7-1.1 s to close; forked ones start with those
      modules imported and close at once. Unlike a plain fork, a fork server
      never copies this process and its threads (Dask's event loop among
      them). It is started here, before this process imports Dask and starts
      the scheduler, which it does meanwhile on another core. Nothing changes
      where Dask is told another method than its default, or where there is no
      fork server (Windows); one already running is reused as it is (its
      workers then import energysim themselves). Modules the program already
      asked the fork server to preload stay in its list, ours are added. Like
      any fork server (Python's own, or Dask's with that method), it runs
      until this Python process exits, and the next sweep reuses it.
    * The stall check runs every second, not every 20 ms: the cluster's
      scheduler and nannies live in this process, and their checks cost it
      about 2 % of a core (0.34 s of CPU per idle 10 s against 0.17 s), taken
      from the workers on a machine with as many cores as workers.
    * Workers do not sample their tasks' stacks every 10 ms for Dask's
      dashboard profile: on AlexNet points that sampling cost 5-10 % of the
      workers' CPU (a 200-point sweep on 2 workers: 39.5-42.0 s of CPU and
      20.0-21.4 s with it, 37.0-38.1 s and 18.9-19.3 s without).
    """
    settings: dict[str, str | bool] = {_TICK: "1s", _PROFILE: False}
    if (
        dask.config.get(_METHOD, "spawn") != "spawn"
        or "forkserver" not in multiprocessing.get_all_start_methods()
    ):
        return settings
    if importlib.util.find_spec("distributed") is None:
        return settings  # the caller says what to install; start nothing meanwhile
    server = importlib.import_module("multiprocessing.forkserver")
    # Python keeps the list on its one fork server and has no public getter: read it where it is.
    preload = list(getattr(getattr(server, "_forkserver", None), "_preload_modules", None) or [])
    if preload == ["__main__"]:  # Python's default: workers import the program's module themselves
        preload = []
    preload += [module for module in _FORKSERVER_PRELOAD if module not in preload]
    multiprocessing.get_context("forkserver").set_forkserver_preload(preload)
    server.ensure_running()
    return {**settings, _METHOD: "forkserver"}


__all__ = ["ERROR", "Progress", "default_workers", "sweep"]
