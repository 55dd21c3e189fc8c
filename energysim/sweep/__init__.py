"""Design-space sweeps: a grid of workloads x hierarchies (and their variations) x dataflows x
counting modes, run in this process or on Dask, stored point by point so that a stopped sweep
resumes, and gathered into tidy frames (:func:`sweep`)."""

from energysim.sweep.frames import SweepResult
from energysim.sweep.grid import Grid, Point
from energysim.sweep.run import sweep

__all__ = ["Grid", "Point", "SweepResult", "sweep"]
