"""SCALE-Sim topology CSVs as energysim workloads.

SCALE-Sim (scale-sim-v2, ``scalesim/topology_utils.py``) reads two CSV forms,
one header line each, every row usually ending in a comma:

* convolutions: ``Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter
  Width, Channels, Num Filter, Strides,`` (a ninth column, when present, is
  the column stride; else the stride is the same for rows and columns);
* GEMMs: ``Layer name, M, N, K,``: A (M x K) times B (K x N). SCALE-Sim runs it
  as a convolution of an M x K input with a 1 x K filter and N filters; here
  it is a ``matmul`` layer with m = M, k = K, n = N (M x N x K MACs either way).

The form is told by the header: columns 2 to 4 named M, N, K make a GEMM file.
A conv row whose name contains ``DP`` is, as in SCALE-Sim, depthwise: SCALE-Sim
runs it as Channels separate layers of one channel and Num Filter filters
each; here it is one conv with ``groups`` = Channels, Channels input and
Channels x Num Filter output channels (the same MACs).

SCALE-Sim has no padding field. Its output size is ceil((H - R + stride) /
stride), which is floor((H - R) / stride) + 1 only when the stride divides
H - R. When it does not, SCALE-Sim's last window runs past the input's end by
d = stride - (H - R) mod stride rows; energysim represents that layer with
zero padding of ceil(d / 2) on each side of the axis (padding here is
symmetric), which gives exactly SCALE-Sim's output size and MACs. The padded
rows are zeros that no memory holds: DRAM reads the H x W input only.

SCALE-Sim counts words and has no precision; the layers get energysim's
default of 16 bits. The file is user input: at most MAX_FILE_BYTES bytes and
MAX_LAYERS rows; every number an integer from 1 to MAX_DIMENSION; names
printable, at most MAX_NAME_CHARS characters, each used once. A malformed row
is one error naming the file, the line and the column.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from energysim.errors import EnergySimError
from energysim.model.base import shown_value, validate_file_data
from energysim.model.files import display_path, read_text
from energysim.model.limits import MAX_DIMENSION, MAX_LAYERS, MAX_NAME_CHARS
from energysim.model.workload import Network

CONV_COLUMNS = (
    "Layer name", "IFMAP Height", "IFMAP Width", "Filter Height", "Filter Width",
    "Channels", "Num Filter", "Stride Height", "Stride Width",
)  # fmt: skip
GEMM_COLUMNS = ("Layer name", "M", "N", "K")
#: Longest number literal read (characters); anything longer is beyond MAX_DIMENSION.
_MAX_NUMBER_CHARS = 32


def output_extent(size: int, kernel: int, stride: int) -> int:
    """SCALE-Sim's output size along one axis: ceil((size - kernel + stride) / stride)."""
    return -(-(size - kernel + stride) // stride)


def end_padding(size: int, kernel: int, stride: int) -> int:
    """Symmetric zero padding that gives SCALE-Sim's output size under floor((H + 2p - R) / s) + 1."""
    short = -(size - kernel) % stride  # rows SCALE-Sim's last window runs past the input
    return -(-short // 2)


def _fields(line: str) -> list[str]:
    fields = [field.strip() for field in line.split(",")]
    if len(fields) > 1 and fields[-1] == "":
        fields.pop()  # the trailing comma SCALE-Sim writes on every row
    return fields


def _is_gemm(header: list[str]) -> bool:
    return [field.upper() for field in header[1:4]] == ["M", "N", "K"] and len(header) == 4


class _Rows:
    """The rows of one file, and errors that name the file, line and column."""

    def __init__(self, where: str, columns: tuple[str, ...]) -> None:
        self.where = where
        self.columns = columns

    def error(self, line: int, column: int, problem: str) -> EnergySimError:
        name = self.columns[column - 1] if column <= len(self.columns) else "extra"
        return EnergySimError(f"{self.where}:{line}: column {column} ({name}): {problem}")

    def number(self, fields: list[str], line: int, column: int) -> int:
        text = fields[column - 1]
        value: int | None = None
        if len(text) <= _MAX_NUMBER_CHARS and text.isascii() and text.isdigit():
            value = int(text)
        if value is None or not 1 <= value <= MAX_DIMENSION:
            shown = shown_value(text) if text else "nothing"
            raise self.error(
                line, column, f"expected an integer from 1 to {MAX_DIMENSION} (2^31), got {shown}"
            )
        return value

    def name(self, fields: list[str], line: int, seen: dict[str, int]) -> str:
        text = fields[0]
        if not text or len(text) > MAX_NAME_CHARS or not text.isprintable():
            problem = f"a layer name of 1 to {MAX_NAME_CHARS} printable characters, got {shown_value(text)}"
            raise self.error(line, 1, f"expected {problem}")
        if text in seen:
            raise self.error(line, 1, f"layer name {text!r} used twice (also line {seen[text]})")
        seen[text] = line
        return text


def _conv_layer(rows: _Rows, fields: list[str], line: int, name: str) -> dict[str, Any]:
    height, width, filter_rows, filter_cols, channels, filters, stride_rows = (
        rows.number(fields, line, column) for column in range(2, 9)
    )
    stride_cols = rows.number(fields, line, 9) if len(fields) == 9 else stride_rows
    for size, kernel, column, axis in ((height, filter_rows, 4, "height"), (width, filter_cols, 5, "width")):
        if kernel > size:
            raise rows.error(line, column, f"filter {axis} {kernel} is larger than the IFMAP {axis} {size}")
    padding = [end_padding(height, filter_rows, stride_rows), end_padding(width, filter_cols, stride_cols)]
    layer: dict[str, Any] = {
        "type": "conv", "name": name, "N": 1, "C": channels, "M": filters,
        "H": height, "W": width, "R": filter_rows, "S": filter_cols,
        "stride": [stride_rows, stride_cols], "padding": padding,
    }  # fmt: skip
    if "DP" in name:  # SCALE-Sim's depthwise convention: one layer per channel
        layer.update(groups=channels, M=channels * filters)
    return layer


def _gemm_layer(rows: _Rows, fields: list[str], line: int, name: str) -> dict[str, Any]:
    m, n, k = (rows.number(fields, line, column) for column in (2, 3, 4))
    return {"type": "matmul", "name": name, "m": m, "k": k, "n": n}


def parse_topology(text: str, where: str, name: str) -> Network:
    """The workload a SCALE-Sim topology ``text`` describes; ``where`` names it in errors."""
    lines = text.removeprefix("\ufeff").splitlines()
    numbered = [(index + 1, line) for index, line in enumerate(lines) if line.strip()]
    if not numbered:
        raise EnergySimError(f"{where}: empty topology: expected a header line and at least one layer")
    header_line, header = numbered[0][0], _fields(numbered[0][1])
    gemm = _is_gemm(header)
    if not gemm and len(header) not in (8, 9):
        raise EnergySimError(
            f"{where}:{header_line}: header: expected SCALE-Sim's conv columns ({', '.join(CONV_COLUMNS[:8])}"
            f"[, Stride Width]) or its GEMM columns ({', '.join(GEMM_COLUMNS)}), got {len(header)} columns"
        )
    if len(numbered) - 1 > MAX_LAYERS:
        raise EnergySimError(f"{where}: {len(numbered) - 1:,} layers, more than {MAX_LAYERS:,} (MAX_LAYERS)")
    if len(numbered) == 1:
        raise EnergySimError(f"{where}: no layers: expected at least one row after the header")
    rows = _Rows(where, GEMM_COLUMNS if gemm else CONV_COLUMNS)
    expected = (4,) if gemm else (8, 9)
    seen: dict[str, int] = {}
    layers = []
    for line, raw in numbered[1:]:
        fields = _fields(raw)
        if len(fields) not in expected:
            column = min(len(fields) + 1, max(expected) + 1)
            wanted = " or ".join(str(count) for count in expected)
            raise rows.error(line, column, f"expected {wanted} columns, got {len(fields)}")
        layer_name = rows.name(fields, line, seen)
        build = _gemm_layer if gemm else _conv_layer
        layers.append(build(rows, fields, line, layer_name))
    data = {
        "version": 1,
        "name": name,
        "source": f"SCALE-Sim {'GEMM' if gemm else 'conv'} topology",
        "layers": layers,
    }
    return validate_file_data(Network, data, where, "SCALE-Sim topology")


def load_topology(path: str | Path) -> Network:
    """Read a SCALE-Sim topology CSV (conv or GEMM form) as a :class:`Network`."""
    path = Path(path)
    where = display_path(path)
    text = read_text(path, expected="a SCALE-Sim topology .csv file")
    stem = path.stem[:MAX_NAME_CHARS]
    name = stem if stem and stem.isprintable() else "scalesim-topology"
    return parse_topology(text, where, name)
