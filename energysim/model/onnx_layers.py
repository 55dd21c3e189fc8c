"""ONNX nodes as energysim layers: the rule for each operator.

Each converter takes a node and the inferred graph and returns the raw layer
mapping (as a workload file would write it) without name, precision or inputs,
which :mod:`energysim.model.onnx_import` adds. The mapping:

* ``Conv`` (1-D or 2-D) -> ``conv`` with groups (depthwise when groups = C),
  dilation, stride and ``bias`` when a bias input is given. ``auto_pad`` is
  resolved as ONNX defines it (SAME_UPPER puts the odd pad at the end).
  **Asymmetric padding** (begin != end, e.g. SAME with stride 2) is written in
  our symmetric schema as the begin pad on both sides, and the input rows (or
  columns) adjusted so that the output size is ONNX's: when the extra end pad
  is never reached, nothing changes (exact); when the end pad is larger and
  reached, ``end - begin`` more input rows are written (counted as real data: a
  224-row input with pads (0, 1) becomes H = 225, 0.4 % more input traffic);
  when it is smaller, the last ``begin - end`` rows, which no window reads, are
  left out (exact traffic, a smaller input tensor). MACs are always exact.
* ``MaxPool``, ``AveragePool`` (``ceil_mode`` as extra end padding),
  ``GlobalMaxPool``, ``GlobalAveragePool`` -> ``pool``.
* ``Gemm`` and ``MatMul`` -> ``fc`` when one operand is a constant 2-D matrix
  (transposes only swap which axis is which: N = rows of the product), else
  ``matmul`` over the broadcast batch (attention: ``b_operand: activations``).
  When the constant is the left operand, the product is taken transposed
  (B^T A^T): the same MACs, with the constant as the weights.
* ``Relu``, ``Clip`` (two comparisons per element), ``Add``/``Sub``, ``Mul``/
  ``Div``, ``Gelu``, ``BatchNormalization`` (one scale and one shift per
  element; its per-channel constants are not counted as weights) ->
  ``eltwise``; an operand that is a constant (a bias, a scale) is not counted as
  an input tensor. ``LayerNormalization`` -> ``layernorm`` over the axes from
  ``axis``; ``Softmax`` -> ``softmax``.
* ``Concat`` and ``Transpose`` move data: ``eltwise`` ``copy`` of the output.
  ``Reshape``, ``Flatten``, ``Squeeze``, ``Unsqueeze``, ``Identity`` and
  ``Dropout`` are views (no layer); ``Constant`` and ``Shape``, and any node
  whose inputs are all constants or shapes (the ``Gather``/``Concat`` chain an
  exporter builds for a ``Reshape``), only make constants and metadata, folded
  before the accelerator runs (no layer). Anything else is unsupported.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from energysim.errors import EnergySimError
from energysim.model.onnx_graph import OnnxGraph

RawLayer = dict[str, Any]
#: Key of a raw layer's note for the reader of the imported YAML (not a layer field).
NOTE = "_note"
Converter = Callable[[Any, OnnxGraph], RawLayer]

#: Operators that only reinterpret a tensor's shape: their output is their first input.
VIEW_OPS: frozenset[str] = frozenset({"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity", "Dropout"})
#: Operators that make constants or shape metadata, not data: no layer.
METADATA_OPS: frozenset[str] = frozenset({"Constant", "Shape"})


class Unsupported(Exception):
    """A node of a supported operator in a form energysim does not model (label says which)."""

    def __init__(self, label: str) -> None:
        super().__init__(label)
        self.label = label


def attribute(node: Any, name: str, default: Any) -> Any:
    """The value of attribute ``name`` of ``node`` (ints, floats, strings, lists), or ``default``."""
    for attr in node.attribute:
        if attr.name == name:
            if attr.ints:
                return list(attr.ints)
            if attr.HasField("i") or attr.type == 2:  # AttributeProto.INT
                return attr.i
            if attr.HasField("s"):
                return attr.s.decode("utf-8", "replace")
            if attr.HasField("f"):
                return attr.f
    return default


def data_inputs(node: Any, graph: OnnxGraph) -> list[str]:
    """The node's inputs that are activations (not initializers, constants or omitted)."""
    return [name for name in node.input if name and name not in graph.constants]


def _output_extent(size: int, begin: int, end: int, kernel: int, stride: int, dilation: int) -> int:
    return (size + begin + end - dilation * (kernel - 1) - 1) // stride + 1


def resolve_axis(
    size: int, kernel: int, stride: int, dilation: int, pads: tuple[int, int], out: int
) -> tuple[int, int]:
    """(input size, symmetric padding) in our schema giving ONNX's ``out`` (see the module docstring)."""
    begin, end = pads
    needed = (out - 1) * stride + dilation * (kernel - 1) + 1 - size - begin  # ceil_mode's extra end pad
    end = max(end, needed)
    if _output_extent(size, begin, end, kernel, stride, dilation) != out:
        raise Unsupported("window that does not give the inferred output size")
    if begin == end or _output_extent(size, begin, begin, kernel, stride, dilation) == out:
        return size, begin
    return size + end - begin, begin


def _auto_pads(
    node: Any, sizes: list[int], kernel: list[int], strides: list[int], dilations: list[int]
) -> list[int]:
    """ONNX's pads [begins..., ends...] for the node's auto_pad (or its pads attribute)."""
    mode = attribute(node, "auto_pad", "NOTSET")
    rank = len(sizes)
    if mode in ("NOTSET", ""):
        pads = attribute(node, "pads", [0] * (2 * rank))
        return list(pads)
    if mode == "VALID":
        return [0] * (2 * rank)
    begins, ends = [], []
    for size, k, s, d in zip(sizes, kernel, strides, dilations, strict=True):
        out = -(-size // s)
        total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
        small, large = total // 2, total - total // 2
        begins.append(small if mode == "SAME_UPPER" else large)
        ends.append(large if mode == "SAME_UPPER" else small)
    return begins + ends


def _window(node: Any, graph: OnnxGraph, kernel: list[int]) -> RawLayer:
    """The windowed fields (N, C, H, W, R, S, stride, padding, dilation) of a conv or pool node."""
    x_shape = graph.shape(node.input[0], node)
    y_shape = graph.shape(node.output[0], node)
    if len(x_shape) == 3:  # 1-D: one row
        x_shape, y_shape, kernel = (*x_shape[:2], 1, x_shape[2]), (*y_shape[:2], 1, y_shape[2]), [1, *kernel]
        one_d = True
    elif len(x_shape) == 4:
        one_d = False
    else:
        raise Unsupported(f"{len(x_shape) - 2}-D")
    spatial = 1 if one_d else 2
    strides = attribute(node, "strides", [1] * spatial)
    dilations = attribute(node, "dilations", [1] * spatial)
    pads = _auto_pads(node, list(x_shape[4 - spatial :]), kernel[2 - spatial :], strides, dilations)
    if one_d:
        strides, dilations, pads = [1, *strides], [1, *dilations], [0, pads[0], 0, pads[1]]
    fields: RawLayer = {"N": x_shape[0], "C": x_shape[1]}
    sizes, paddings = [], []
    for axis in range(2):
        size, pad = resolve_axis(
            x_shape[2 + axis], kernel[axis], strides[axis], dilations[axis],
            (pads[axis], pads[2 + axis]), y_shape[2 + axis],
        )  # fmt: skip
        sizes.append(size)
        paddings.append(pad)
    fields.update({"H": sizes[0], "W": sizes[1], "R": kernel[0], "S": kernel[1]})
    for key, pair in (("stride", strides), ("padding", paddings), ("dilation", dilations)):
        fields[key] = pair[0] if pair[0] == pair[1] else list(pair)
    real = tuple(x_shape[2:])
    if tuple(sizes) != real or pads[:2] != pads[2:]:
        begins_ends = f"({pads[0]}, {pads[2]}) x ({pads[1]}, {pads[3]})"
        fields[NOTE] = (
            f"ONNX input {real[0]} x {real[1]}, pads (begin, end) {begins_ends}: written as "
            f"H x W = {sizes[0]} x {sizes[1]} with symmetric padding (energysim/model/onnx_layers.py)"
        )
    return fields


def conv(node: Any, graph: OnnxGraph) -> RawLayer:
    """``Conv``: a conv layer (weights are the second input)."""
    w_shape = graph.shape(node.input[1], node)
    fields = _window(node, graph, list(w_shape[2:]))
    groups = attribute(node, "group", 1)
    bias = len(node.input) > 2 and bool(node.input[2])
    return {"type": "conv", **fields, "M": w_shape[0], "groups": groups, "bias": bias}


def pool(node: Any, graph: OnnxGraph) -> RawLayer:
    """``MaxPool`` / ``AveragePool``: a pool layer."""
    if len(node.output) > 1 and node.output[1]:
        raise Unsupported("with indices")
    fields = _window(node, graph, list(attribute(node, "kernel_shape", [])))
    return {"type": "pool", "mode": "max" if node.op_type == "MaxPool" else "avg", **fields}


def global_pool(node: Any, graph: OnnxGraph) -> RawLayer:
    """``GlobalMaxPool`` / ``GlobalAveragePool``: a window as large as the input."""
    shape = graph.shape(node.input[0], node)
    if len(shape) != 4:
        raise Unsupported(f"{len(shape) - 2}-D")
    mode = "max" if node.op_type == "GlobalMaxPool" else "avg"
    n, c, h, w = shape
    return {"type": "pool", "mode": mode, "N": n, "C": c, "H": h, "W": w, "R": h, "S": w}


def _fc_or_matmul(
    node: Any,
    graph: OnnxGraph,
    a: str,
    b: str,
    a_shape: tuple[int, ...],
    b_shape: tuple[int, ...],
    bias: bool,
) -> RawLayer:
    """A product of ``a`` ([..., m, k]) and ``b`` ([..., k, n]), shapes already transposed."""
    m, k, n = a_shape[-2], a_shape[-1], b_shape[-1]
    if b_shape[-2] != k:
        raise EnergySimError(f"{graph.source}: node {node.name!r}: inner dims {k} and {b_shape[-2]} differ")
    batch = _broadcast_batch(a_shape[:-2], b_shape[:-2])
    if b in graph.constants and len(b_shape) == 2:
        return {"type": "fc", "N": batch * m, "C": k, "M": n, "bias": bias}
    if a in graph.constants and len(a_shape) == 2 and b not in graph.constants:
        return {"type": "fc", "N": batch * n, "C": k, "M": m, "bias": bias}  # (B^T A^T)^T
    operand = "weights" if b in graph.constants else "activations"
    return {"type": "matmul", "batch": batch, "m": m, "k": k, "n": n, "b_operand": operand, "bias": bias}


def _broadcast_batch(a: tuple[int, ...], b: tuple[int, ...]) -> int:
    """Products in numpy's broadcast of the batch dims ``a`` and ``b`` (aligned on the right)."""
    width = max(len(a), len(b))
    padded_a, padded_b = (1,) * (width - len(a)) + a, (1,) * (width - len(b)) + b
    return math.prod(max(x, y) for x, y in zip(padded_a, padded_b, strict=True))


def gemm(node: Any, graph: OnnxGraph) -> RawLayer:
    """``Gemm``: A (transA) x B (transB) + C."""
    a_shape = graph.shape(node.input[0], node)
    b_shape = graph.shape(node.input[1], node)
    if attribute(node, "transA", 0):
        a_shape = a_shape[::-1]
    if attribute(node, "transB", 0):
        b_shape = b_shape[::-1]
    bias = len(node.input) > 2 and bool(node.input[2])
    return _fc_or_matmul(node, graph, node.input[0], node.input[1], a_shape, b_shape, bias)


def matmul(node: Any, graph: OnnxGraph) -> RawLayer:
    """``MatMul``: numpy's matmul (a 1-D operand is a row, or a column, of one)."""
    a_shape = graph.shape(node.input[0], node)
    b_shape = graph.shape(node.input[1], node)
    a_shape = (1, *a_shape) if len(a_shape) == 1 else a_shape
    b_shape = (*b_shape, 1) if len(b_shape) == 1 else b_shape
    return _fc_or_matmul(node, graph, node.input[0], node.input[1], a_shape, b_shape, False)


def _eltwise(op: str, ops_per_element: float | None = None) -> Converter:
    def convert(node: Any, graph: OnnxGraph) -> RawLayer:
        layer: RawLayer = {"type": "eltwise", "op": op, "shape": list(graph.shape(node.output[0], node))}
        operands = len(data_inputs(node, graph))
        if op in ("add", "mul") and operands != 2:
            layer["operands"] = max(operands, 1)
        if ops_per_element is not None:
            layer["ops_per_element"] = ops_per_element
        return layer

    return convert


def layernorm(node: Any, graph: OnnxGraph) -> RawLayer:
    """``LayerNormalization`` over the axes from ``axis``: [rows, features]."""
    shape = graph.shape(node.input[0], node)
    axis = attribute(node, "axis", -1)
    axis = axis + len(shape) if axis < 0 else axis
    return {"type": "layernorm", "shape": [math.prod(shape[:axis]), math.prod(shape[axis:])]}


def softmax(node: Any, graph: OnnxGraph) -> RawLayer:
    """``Softmax``: five operations per element whatever the axis."""
    return {"type": "softmax", "shape": list(graph.shape(node.output[0], node))}


CONVERTERS: dict[str, Converter] = {
    "Conv": conv,
    "MaxPool": pool,
    "AveragePool": pool,
    "GlobalMaxPool": global_pool,
    "GlobalAveragePool": global_pool,
    "Gemm": gemm,
    "MatMul": matmul,
    "Relu": _eltwise("relu"),
    "Clip": _eltwise("relu", 2),
    "Add": _eltwise("add"),
    "Sub": _eltwise("add"),
    "Mul": _eltwise("mul"),
    "Div": _eltwise("mul"),
    "Gelu": _eltwise("gelu"),
    "BatchNormalization": _eltwise("scale", 2),
    "LayerNormalization": layernorm,
    "Softmax": softmax,
    "Concat": _eltwise("copy"),
    "Transpose": _eltwise("copy"),
}
