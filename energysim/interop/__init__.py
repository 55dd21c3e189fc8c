"""Other tools' files in and out: Timeloop specs (hierarchy, workload and mapping together).

The interop layer sits above :mod:`energysim.model` and :mod:`energysim.mapping`
(it builds their objects) and below the command line. Each reader turns a
foreign file into energysim's own objects, or into one
:class:`~energysim.errors.EnergySimError` naming the file and the field; what
the foreign format can say and energysim cannot is an error or a listed
warning, never dropped in silence. Readers that make only a workload (ONNX,
SCALE-Sim CSVs) live in :mod:`energysim.model`, where ``load_workload`` finds them.
"""
