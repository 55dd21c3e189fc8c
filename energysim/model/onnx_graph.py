"""An ONNX file, read safely and shape-inferred: tensor shapes and element types by name.

The ``onnx`` package is optional (``pip install "energysim[onnx]"``) and imported
only when an ``.onnx`` file is read. The file is user input: at most
MAX_ONNX_FILE_BYTES and MAX_ONNX_NODES (:mod:`energysim.model.limits`), read as
a regular file that never blocks; weights stored as external data are never
opened (only shapes and types are needed). Anything ``onnx`` cannot parse or
infer is one :class:`EnergySimError` naming the file, never a traceback.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from energysim.errors import EnergySimError
from energysim.model.files import display_path, read_bounded
from energysim.model.limits import MAX_DIMENSION, MAX_ONNX_FILE_BYTES, MAX_ONNX_NODES

#: How to get the optional ``onnx`` package, for the one error that says it is missing.
INSTALL_HINT = 'pip install "energysim[onnx]" (or pip install "onnx>=1.15")'

#: Bits per element of ONNX's element types (TensorProto.DataType names).
_TYPE_BITS: dict[str, int] = {
    "FLOAT": 32, "UINT8": 8, "INT8": 8, "UINT16": 16, "INT16": 16, "INT32": 32, "INT64": 64,
    "BOOL": 8, "FLOAT16": 16, "DOUBLE": 64, "UINT32": 32, "UINT64": 64, "BFLOAT16": 16,
    "FLOAT8E4M3FN": 8, "FLOAT8E4M3FNUZ": 8, "FLOAT8E5M2": 8, "FLOAT8E5M2FNUZ": 8, "FLOAT8E8M0": 8,
    "UINT4": 4, "INT4": 4, "FLOAT4E2M1": 4, "UINT2": 2, "INT2": 2,
}  # fmt: skip


def import_onnx() -> ModuleType:
    """The ``onnx`` module, or one error saying how to install it."""
    try:
        import onnx
        import onnx.shape_inference
    except ImportError as exc:
        raise EnergySimError(f"reading .onnx files needs the onnx package: {INSTALL_HINT}") from exc
    return onnx


def _first_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split("\n", 1)[0].split()) or type(exc).__name__
    return text if len(text) <= 200 else f"{text[:200]}..."


def text_of(value: object) -> str:
    """A string field of the file as text (protobuf gives bytes for one that is not UTF-8)."""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def label(value: object) -> str:
    """``value`` (an operator or node name from the file) printable and at most 64 characters."""
    shown = "".join(character if character.isprintable() else "?" for character in text_of(value)[:64])
    return shown or "?"


@dataclass(frozen=True)
class TensorInfo:
    """What shape inference says of one tensor: dims (int, a symbol, or None) and element bits."""

    dims: tuple[int | str | None, ...] | None
    bits: int | None


class OnnxGraph:
    """The main graph of a shape-inferred model: its nodes, and each tensor's shape and type."""

    def __init__(self, model: Any, source: str) -> None:
        onnx = import_onnx()
        self.source = source
        self.opset = max(
            (entry.version for entry in model.opset_import if entry.domain in ("", "ai.onnx")), default=0
        )
        graph = model.graph
        self.name = graph.name
        self.nodes = list(graph.node)
        self.constants: set[str] = {init.name for init in graph.initializer}
        self.graph_inputs = [value.name for value in graph.input if value.name not in self.constants]
        self.tensors: dict[str, TensorInfo] = {}
        names = onnx.TensorProto.DataType.Name
        for value in (*graph.input, *graph.value_info, *graph.output):
            self.tensors[value.name] = _value_info(value, names)
        for init in graph.initializer:
            self.tensors[init.name] = TensorInfo(tuple(init.dims), _bits(init.data_type, names))
        for node in self.nodes:
            if node.op_type == "Constant" and node.domain in ("", "ai.onnx"):
                self.constants.update(node.output)

    def bits(self, name: str) -> int | None:
        """Bits per element of tensor ``name``, if its type is known."""
        info = self.tensors.get(name)
        return info.bits if info else None

    def shape(self, name: str, node: Any) -> tuple[int, ...]:
        """The dims of tensor ``name`` (read by ``node``); an error naming it if any is not known."""
        info = self.tensors.get(name)
        if info is not None and info.dims is not None:
            dims = info.dims
            if all(isinstance(dim, int) and 1 <= dim <= MAX_DIMENSION for dim in dims):
                return tuple(int(dim) for dim in dims if isinstance(dim, int))
        raise EnergySimError(self._shape_problem(name, node, info))

    def _shape_problem(self, name: str, node: Any, info: TensorInfo | None) -> str:
        node_name = label(node.name or node.op_type)
        where = f"{self.source}: tensor {label(name)!r} (of node {node_name!r}, {label(node.op_type)})"
        if info is None or info.dims is None:
            return f"{where}: shape unknown after shape inference; expected fixed dims"
        for axis, dim in enumerate(info.dims):
            if isinstance(dim, str):
                batch = axis == 0 and name in self.graph_inputs
                hint = "give a batch size (--batch, batch=)" if batch else "export the model with fixed sizes"
                return f"{where}: dim {axis} is symbolic ({label(dim)!r}); {hint}"
            if dim is None:
                return f"{where}: dim {axis} is unknown; expected fixed dims"
            if not 1 <= dim <= MAX_DIMENSION:
                break
        return f"{where}: dim {axis} is {dim}; expected 1 to 2^31 (MAX_DIMENSION)"

    def elements(self, name: str, node: Any) -> int:
        """Elements of tensor ``name``."""
        return math.prod(self.shape(name, node))


def _bits(elem_type: int, names: Any) -> int | None:
    try:
        return _TYPE_BITS.get(names(elem_type))
    except ValueError:
        return None


def _value_info(value: Any, names: Any) -> TensorInfo:
    tensor_type = value.type.tensor_type
    if not value.type.HasField("tensor_type") or not tensor_type.HasField("shape"):
        bits = _bits(tensor_type.elem_type, names) if value.type.HasField("tensor_type") else None
        return TensorInfo(None, bits)
    dims: list[int | str | None] = []
    for dim in tensor_type.shape.dim:
        if dim.HasField("dim_value"):
            dims.append(dim.dim_value)
        elif dim.HasField("dim_param"):
            dims.append(dim.dim_param)
        else:
            dims.append(None)
    return TensorInfo(tuple(dims), _bits(tensor_type.elem_type, names))


def _set_batch(model: Any, batch: int) -> None:
    """Dim 0 of every graph input that is not fixed becomes ``batch``."""
    constants = {init.name for init in model.graph.initializer}
    for value in model.graph.input:
        if value.name in constants or not value.type.tensor_type.HasField("shape"):
            continue
        dims = value.type.tensor_type.shape.dim
        if dims and not dims[0].HasField("dim_value"):
            dims[0].dim_value = batch  # clears dim_param (a oneof)


#: Initializers with more elements than this lose their values before shape inference:
#: only a small tensor (a Reshape's target shape, an axis list) can decide a shape.
_SHAPE_TENSOR_ELEMENTS = 64


def _drop_weight_values(model: Any) -> None:
    """Drop the values of large initializers (weights) in place: shape inference copies the
    whole model, and only the dims and types of weights matter (102 MB of ResNet-50 weights
    cost a second otherwise)."""
    value_fields = ("raw_data", "float_data", "int32_data", "int64_data", "double_data", "uint64_data")
    for tensor in model.graph.initializer:
        if math.prod(tensor.dims) > _SHAPE_TENSOR_ELEMENTS:
            for field in value_fields:
                tensor.ClearField(field)
            del tensor.external_data[:]
            tensor.data_location = 0  # DEFAULT: nothing outside the file to look for


def read_graph(path: Path, batch: int | None) -> OnnxGraph:
    """Read, bound and shape-infer the ONNX model at ``path``."""
    onnx = import_onnx()
    where = display_path(path)
    data = read_bounded(path, MAX_ONNX_FILE_BYTES, "MAX_ONNX_FILE_BYTES", "an .onnx model file")
    try:
        model = onnx.load_model_from_string(data)
    except Exception as exc:  # protobuf's DecodeError, or onnx's own: any of them means "not ONNX"
        raise EnergySimError(f"{where}: not a readable ONNX model: {_first_line(exc)}") from exc
    if not model.HasField("graph") or not model.graph.node:
        raise EnergySimError(f"{where}: not an ONNX model with a graph of nodes (is it an .onnx file?)")
    if len(model.graph.node) > MAX_ONNX_NODES:
        raise EnergySimError(
            f"{where}: {len(model.graph.node):,} nodes, more than {MAX_ONNX_NODES:,} (MAX_ONNX_NODES)"
        )
    if batch is not None:
        _set_batch(model, batch)
    _drop_weight_values(model)
    try:
        inferred = onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True, data_prop=True)
    except Exception as exc:  # onnx raises InferenceError, ValidationError, RuntimeError...
        raise EnergySimError(f"{where}: ONNX shape inference failed: {_first_line(exc)}") from exc
    return OnnxGraph(inferred, where)
