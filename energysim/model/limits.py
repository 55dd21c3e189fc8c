"""The bounds every user-given number and file must respect, in one place.

Hostile input is normal input: a YAML file or a command line may carry a
400-digit integer, a billion-laughs alias bomb or nesting 5,000 deep. Every
bound below is checked where the value enters (the YAML reader, the pydantic
schema, the layer and mapping checks), and the error names the bound that was
hit. Algorithms may then rely on them: no product of bounded values overflows
a float or an int64 where the code converts, and no cost grows with a value,
only with the structure of the numbers (their prime factors, the number of
levels and loops).

The bounds are far above any real accelerator or network (ResNet-50 has
3.9e9 MACs in all; the largest shipped file is 12 KB), so a user who meets one
has almost certainly made a mistake, and is told which limit it is.
"""

from __future__ import annotations

# --- files ------------------------------------------------------------------------------------
#: Largest YAML file read (bytes). The largest shipped file is about 12 KB.
MAX_FILE_BYTES = 1 << 20
#: Deepest nesting of YAML collections (mappings and sequences).
MAX_YAML_DEPTH = 32
#: Most YAML nodes a file may expand to, aliases counted at every use.
MAX_YAML_NODES = 200_000

# --- layers and mappings -------------------------------------------------------------------------
#: Any loop bound, tensor dimension, loop factor, stride, dilation, padding or group count.
MAX_DIMENSION = 1 << 31
#: MACs of one layer (padded by the mapping's factors included); 2^53 is where a
#: float stops counting exactly, and the largest real layers are about 1e10.
MAX_LAYER_MACS = 1 << 53
#: Elements of one tensor of one layer.
MAX_TENSOR_ELEMENTS = 1 << 53
#: Layers in one workload file.
MAX_LAYERS = 10_000
#: Bits per element (precision) or per word / access of a level.
MAX_BITS = 1 << 16

#: Characters of a name (a layer, level, workload or hierarchy): names end up in
#: tables, figure titles and file names, so they stay short and printable.
MAX_NAME_CHARS = 128
#: Characters of a free-text description.
MAX_DESCRIPTION_CHARS = 4096

# --- hardware --------------------------------------------------------------------------------
#: Bytes of one level instance (an exabyte).
MAX_SIZE_BYTES = 1 << 60
#: Instances of one level, and PEs of the array (rows x cols).
MAX_INSTANCES = 1 << 31
#: Storage levels of one hierarchy.
MAX_LEVELS = 64
#: Latency (cycles), ports and MACs per cycle per PE.
MAX_LATENCY_CYCLES = 1 << 31
MAX_PORTS = 1 << 16
MAX_MACS_PER_CYCLE_PER_PE = 1 << 16
#: Bandwidth of one port (bytes per cycle).
MAX_BANDWIDTH_BYTES_PER_CYCLE = float(1 << 60)
#: Clock frequency (GHz): 1 MHz to 1 THz.
MIN_CLOCK_GHZ = 1e-3
MAX_CLOCK_GHZ = 1e3
#: Energy of one access, transfer or MAC (pJ or MAC units), and static power (mW).
MAX_ENERGY_PJ = 1e12
MAX_POWER_MW = 1e12

# --- analysis -------------------------------------------------------------------------------------
#: Intervals that one axis of a tile may need when its two loop dimensions overlap irregularly
#: (a stride and a dilation with no common structure, over a huge tile). Regular cases (one
#: dimension, an injective stride, a sliding window) cost a few intervals whatever the sizes.
MAX_TILE_INTERVALS = 1 << 16

# --- ONNX models (energysim.model.onnx_import) -----------------------------------------------------
#: Largest ONNX file read (bytes): protobuf's own ceiling for one message (2 GiB). Weights
#: stored as external data are never read (only shapes and types are needed).
MAX_ONNX_FILE_BYTES = 1 << 31
#: Nodes of an ONNX graph (ResNet-50 exports to about 120, a BERT-base encoder to about 1,000).
MAX_ONNX_NODES = 100_000

# --- sweeps ---------------------------------------------------------------------------------------
#: Points of one sweep (the product of its axes, or its list of points): a grid that multiplies
#: out past this is a mistake in the sweep file, reported before anything runs.
MAX_SWEEP_POINTS = 100_000
