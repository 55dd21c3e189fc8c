"""DNN layers: the canonical loop nest, and the operators without MACs.

Every layer with MACs is a case of one loop nest (Timeloop's problem shape,
plus groups):

    for g in G, n in N, m in M, c in C, p in P, q in Q, r in R, s in S:
        outputs[n, g, m, p, q] += weights[g, m, c, r, s]
                                  * inputs[n, g, c, p*Sh + r*Dh, q*Sw + s*Dw]

``G`` groups (depthwise convolution: G = channels; attention: heads), ``N``
batch, ``M`` output and ``C`` input channels per group, ``P x Q`` output and
``R x S`` filter rows x columns. A fully connected layer is the case
P = Q = R = S = 1; a matrix multiply A (m x k) x B (k x n) maps m to N,
k to C and n to M, B being the "weights" data space even when it is an
activation (attention's batched matmuls).

Pooling, elementwise operators, layer norm and softmax do no MACs but move
data: they carry operation counts and tensor sizes for the roofline.

With ``bias: true`` a layer adds one learned bias per output channel: G x M
more parameters, and one accumulate per output element, counted as a MAC as
LeCun et al. (1998) count "connections" (under 0.1 % of the MACs of AlexNet
and later networks, but 4 % of LeNet-5's).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import Field, Tag, field_validator, model_validator

from energysim.model.base import (
    SCALAR_OR_STRUCTURED,
    SCALAR_TAG,
    STRUCTURED_TAG,
    TENSORS,
    Bits,
    Dimension,
    Name,
    OpsPerElement,
    Padding,
    StrictModel,
    Tensor,
    bound_text,
    bounded_product,
)
from energysim.model.limits import MAX_LAYER_MACS, MAX_LAYERS, MAX_TENSOR_ELEMENTS

#: One value for rows and columns alike, or ``[rows, columns]``.
DimensionPair = Annotated[
    Annotated[Dimension, Tag(SCALAR_TAG)] | Annotated[tuple[Dimension, Dimension], Tag(STRUCTURED_TAG)],
    SCALAR_OR_STRUCTURED,
]
PaddingPair = Annotated[
    Annotated[Padding, Tag(SCALAR_TAG)] | Annotated[tuple[Padding, Padding], Tag(STRUCTURED_TAG)],
    SCALAR_OR_STRUCTURED,
]
Shape = Annotated[tuple[Dimension, ...], Field(min_length=1)]

#: The loop dimensions of the canonical nest, outermost first.
DIMENSIONS: tuple[str, ...] = ("G", "N", "M", "C", "P", "Q", "R", "S")


def _pair(value: int | tuple[int, int]) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else value


@dataclass(frozen=True)
class LoopBounds:
    """The bounds of a layer's canonical loop nest, with stride and dilation.

    ``sizes`` maps each of :data:`DIMENSIONS` to its bound. A convolution also
    gives its zero ``padding`` and ``input_size`` (rows, columns): the input
    rows that exist in memory are ``[padding, padding + rows)`` of the nest's
    ``p * stride + r * dilation`` (columns alike); without ``input_size``
    the rows that ``sizes`` reach exist. Rows, or any index, that a mapping's
    imperfect factors add beyond ``sizes`` are padding (no memory holds them).
    """

    sizes: dict[str, int]
    stride: tuple[int, int] = (1, 1)
    dilation: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    input_size: tuple[int, int] | None = None

    @property
    def macs(self) -> int:
        """MACs of the nest: the product of its bounds."""
        return math.prod(self.sizes.values())


class Precision(StrictModel):
    """Bits per element of each tensor, 1 to 2^16."""

    weights: Bits = 16
    inputs: Bits = 16
    outputs: Bits = 16


#: Bits of every tensor, or per tensor.
PrecisionBits = Annotated[
    Annotated[Bits, Tag(SCALAR_TAG)] | Annotated[Precision, Tag(STRUCTURED_TAG)],
    SCALAR_OR_STRUCTURED,
]


class LayerBase(StrictModel):
    """What every layer has: a name, a precision, and tensor sizes and op counts.

    Every layer is bounded (:mod:`energysim.model.limits`): at most 2^53 MACs
    (MAX_LAYER_MACS), 2^54 operations, and 2^53 elements in any tensor
    (MAX_TENSOR_ELEMENTS). The counts are Python integers, exact at any size,
    so the check itself never overflows.
    """

    name: Name
    precision_bits: PrecisionBits = 16
    #: Bits of a partial sum (the accumulator), 1 to 2^16; None: the output precision.
    psum_bits: Bits | None = None
    #: Where the layer's input comes from when it is not the previous layer's output: earlier
    #: layers' names, or ``external`` (see :mod:`energysim.model.shapes`, which checks it).
    inputs: tuple[Name, ...] | None = Field(default=None, min_length=1, max_length=MAX_LAYERS)

    @model_validator(mode="after")
    def _check_within_limits(self) -> LayerBase:
        if not self.has_output:
            return self  # the layer's own check says why
        problems = [
            f"{tensor}: {self.elements(tensor)} elements, more than {bound_text(MAX_TENSOR_ELEMENTS)} "
            "(MAX_TENSOR_ELEMENTS)"
            for tensor in TENSORS
            if self.elements(tensor) > MAX_TENSOR_ELEMENTS
        ]
        if self.macs > MAX_LAYER_MACS:
            problems.append(f"{self.macs} MACs, more than {bound_text(MAX_LAYER_MACS)} (MAX_LAYER_MACS)")
        elif self.flops > 2 * MAX_LAYER_MACS:
            problems.append(
                f"{self.flops} operations, more than {bound_text(2 * MAX_LAYER_MACS)} (2 x MAX_LAYER_MACS)"
            )
        if problems:
            raise ValueError(f"layer too large: {'; '.join(problems)}")
        return self

    @property
    def has_output(self) -> bool:
        """False when the window does not fit the input (no output element)."""
        return True

    def bits(self, tensor: Tensor) -> int:
        """Bits per element of ``tensor``."""
        if isinstance(self.precision_bits, int):
            return self.precision_bits
        value: int = getattr(self.precision_bits, tensor)
        return value

    @property
    def psum_width(self) -> int:
        """Bits of a partial sum: ``psum_bits``, else the output precision."""
        return self.bits("outputs") if self.psum_bits is None else self.psum_bits

    @property
    def macs(self) -> int:
        """Multiply-accumulates (0 for operators without MACs)."""
        return 0

    @property
    def flops(self) -> int:
        """Arithmetic operations: two per MAC, or the operator's own count."""
        return 2 * self.macs

    @property
    def parameters(self) -> int:
        """Learned parameters (weights and biases); activations do not count."""
        return 0

    def elements(self, tensor: Tensor) -> int:
        """Number of elements of ``tensor``."""
        raise NotImplementedError

    def tensor_bytes(self, tensor: Tensor) -> int:
        """Bytes of ``tensor`` at its precision, rounded up to whole bytes (exact integers)."""
        return -(-self.elements(tensor) * self.bits(tensor) // 8)

    @property
    def compulsory_bytes(self) -> int:
        """Bytes that must cross from memory at least once: every tensor once."""
        return sum(self.tensor_bytes(tensor) for tensor in TENSORS)

    @property
    def loop_bounds(self) -> LoopBounds | None:
        """The canonical loop nest, or None for an operator without MACs."""
        return None


class LoopNestLayer(LayerBase):
    """A layer whose work is the canonical loop nest (conv, fc, matmul)."""

    bias: bool = False

    @property
    def bounds(self) -> LoopBounds:
        """The canonical loop nest of this layer."""
        raise NotImplementedError

    @property
    def loop_bounds(self) -> LoopBounds | None:
        return self.bounds

    @property
    def output_elements_per_group(self) -> int:
        sizes = self.bounds.sizes
        return sizes["N"] * sizes["M"] * sizes["P"] * sizes["Q"]

    @property
    def bias_macs(self) -> int:
        """One accumulate per output element when the layer has a bias."""
        return self.bounds.sizes["G"] * self.output_elements_per_group if self.bias else 0

    @property
    def macs(self) -> int:
        return self.bounds.macs + self.bias_macs

    @property
    def parameters(self) -> int:
        sizes = self.bounds.sizes
        biases = sizes["G"] * sizes["M"] if self.bias else 0
        return self.elements("weights") + biases

    def elements(self, tensor: Tensor) -> int:
        sizes = self.bounds.sizes
        if tensor == "weights":
            return sizes["G"] * sizes["M"] * sizes["C"] * sizes["R"] * sizes["S"]
        if tensor == "outputs":
            return sizes["G"] * self.output_elements_per_group
        return sizes["N"] * sizes["G"] * sizes["C"] * self.input_rows_cols[0] * self.input_rows_cols[1]

    @property
    def input_rows_cols(self) -> tuple[int, int]:
        """Rows x columns of one input channel (1 x 1 for fc and matmul)."""
        return (1, 1)


def _output_extent(size: int, pad: int, kernel: int, stride: int, dilation: int) -> int:
    return (size + 2 * pad - dilation * (kernel - 1) - 1) // stride + 1


class WindowedLayer(LayerBase):
    """Fields shared by convolution and pooling: input size, window, stride, padding.

    Every dimension, stride, dilation and padding is 0 (padding) or 1 to 2^31,
    and the window must fit the padded input (at least one output row and
    column).
    """

    N: Dimension = 1
    C: Dimension
    H: Dimension
    W: Dimension
    R: Dimension
    S: Dimension
    stride: DimensionPair = 1
    padding: PaddingPair = 0
    dilation: DimensionPair = 1

    @property
    def has_output(self) -> bool:
        rows, cols = self.output_rows_cols
        return rows >= 1 and cols >= 1

    @model_validator(mode="after")
    def _check_output_exists(self) -> WindowedLayer:
        for axis, size, kernel, index in (("rows", self.H, self.R, 0), ("columns", self.W, self.S, 1)):
            stride, pad, dilation = (_pair(v)[index] for v in (self.stride, self.padding, self.dilation))
            if _output_extent(size, pad, kernel, stride, dilation) < 1:
                raise ValueError(
                    f"stride/padding: input {axis} {size} with padding {pad}, window {kernel} "
                    f"(dilation {dilation}) and stride {stride} give no output; "
                    f"expected {size} + 2 x padding >= {dilation * (kernel - 1) + 1}"
                )
        return self

    @property
    def output_rows_cols(self) -> tuple[int, int]:
        """Output rows x columns (P x Q)."""
        stride, pad, dil = _pair(self.stride), _pair(self.padding), _pair(self.dilation)
        return (
            _output_extent(self.H, pad[0], self.R, stride[0], dil[0]),
            _output_extent(self.W, pad[1], self.S, stride[1], dil[1]),
        )


class ConvLayer(WindowedLayer, LoopNestLayer):
    """A convolution; ``groups`` = C = M gives a depthwise one.

    ``C`` and ``M`` are the layer's total input and output channels.
    """

    type: Literal["conv"]
    M: Dimension
    groups: Dimension = 1

    @model_validator(mode="after")
    def _check_groups(self) -> ConvLayer:
        for field, channels in (("C", self.C), ("M", self.M)):
            if channels % self.groups:
                raise ValueError(f"groups: {field} = {channels} is not divisible by groups = {self.groups}")
        return self

    @property
    def bounds(self) -> LoopBounds:
        rows, cols = self.output_rows_cols
        sizes = {
            "G": self.groups, "N": self.N, "M": self.M // self.groups, "C": self.C // self.groups,
            "P": rows, "Q": cols, "R": self.R, "S": self.S,
        }  # fmt: skip
        return LoopBounds(
            sizes, _pair(self.stride), _pair(self.dilation), _pair(self.padding), (self.H, self.W)
        )

    @property
    def input_rows_cols(self) -> tuple[int, int]:
        return (self.H, self.W)


class FCLayer(LoopNestLayer):
    """A fully connected layer: ``N`` samples of ``C`` inputs to ``M`` outputs."""

    type: Literal["fc"]
    N: Dimension = 1
    C: Dimension
    M: Dimension

    @property
    def bounds(self) -> LoopBounds:
        return LoopBounds({"G": 1, "N": self.N, "M": self.M, "C": self.C, "P": 1, "Q": 1, "R": 1, "S": 1})


class MatmulLayer(LoopNestLayer):
    """``batch`` independent products A (m x k) x B (k x n).

    ``b_operand`` says whether B is a learned weight matrix (counted as
    parameters) or an activation (attention's K and V).
    """

    type: Literal["matmul"]
    batch: Dimension = 1
    m: Dimension
    k: Dimension
    n: Dimension
    b_operand: Literal["weights", "activations"] = "weights"

    @property
    def bounds(self) -> LoopBounds:
        sizes = {"G": self.batch, "N": self.m, "M": self.n, "C": self.k, "P": 1, "Q": 1, "R": 1, "S": 1}
        return LoopBounds(sizes)

    @property
    def parameters(self) -> int:
        return super().parameters if self.b_operand == "weights" else 0


class PoolLayer(WindowedLayer):
    """Max or average pooling over an ``R x S`` window: one op per window element."""

    type: Literal["pool"]
    mode: Literal["max", "avg"] = "max"

    @property
    def flops(self) -> int:
        rows, cols = self.output_rows_cols
        return self.N * self.C * rows * cols * self.R * self.S

    def elements(self, tensor: Tensor) -> int:
        if tensor == "weights":
            return 0
        if tensor == "inputs":
            return self.N * self.C * self.H * self.W
        rows, cols = self.output_rows_cols
        return self.N * self.C * rows * cols


#: Default operations per output element and input operands of elementwise ops.
ELTWISE_OPS: dict[str, tuple[float, int]] = {
    "relu": (1, 1),
    "add": (1, 2),
    "mul": (1, 2),
    "scale": (1, 1),
    "gelu": (8, 1),
    "silu": (4, 1),
    "copy": (0, 1),
}


class ShapedLayer(LayerBase):
    """An operator over a tensor of a given ``shape`` (any rank).

    Each extent is 1 to 2^31 and their product at most 2^53 elements;
    ``ops_per_element`` is above 0 and at most 2^31.
    """

    shape: Shape
    ops_per_element: OpsPerElement | None = None

    @field_validator("shape")
    @classmethod
    def _check_elements(cls, shape: tuple[int, ...]) -> tuple[int, ...]:
        # Before any product is taken whole: a long list of huge extents stops at the limit.
        if bounded_product(shape, MAX_TENSOR_ELEMENTS) is None:
            raise ValueError(
                f"layer too large: more than {bound_text(MAX_TENSOR_ELEMENTS)} elements (MAX_TENSOR_ELEMENTS)"
            )
        return shape

    @property
    def size(self) -> int:
        """Elements of the output (same as of each input operand)."""
        return math.prod(self.shape)

    @property
    def default_ops_per_element(self) -> float:
        raise NotImplementedError

    @property
    def flops(self) -> int:
        per_element = self.ops_per_element
        if per_element is None:
            per_element = self.default_ops_per_element
        return round(per_element * self.size)

    def elements(self, tensor: Tensor) -> int:
        return 0 if tensor == "weights" else self.size


class EltwiseLayer(ShapedLayer):
    """An elementwise operator: ReLU, residual add, GELU, ... (see :data:`ELTWISE_OPS`)."""

    type: Literal["eltwise"]
    op: Literal["relu", "add", "mul", "scale", "gelu", "silu", "copy"]
    operands: Dimension | None = None

    @property
    def default_ops_per_element(self) -> float:
        return ELTWISE_OPS[self.op][0]

    def elements(self, tensor: Tensor) -> int:
        if tensor == "inputs":
            operands = self.operands if self.operands is not None else ELTWISE_OPS[self.op][1]
            return operands * self.size
        return super().elements(tensor)


class LayerNormLayer(ShapedLayer):
    """Layer normalisation over the last axis of ``shape``.

    Eight operations per element by default: mean (1), variance (3),
    normalise (2) and the affine scale and shift (2). With ``affine`` it has
    2 x features parameters (gamma, beta).
    """

    type: Literal["layernorm"]
    affine: bool = True

    @property
    def default_ops_per_element(self) -> float:
        return 8

    @property
    def parameters(self) -> int:
        return 2 * self.shape[-1] if self.affine else 0

    def elements(self, tensor: Tensor) -> int:
        if tensor == "weights":
            return self.parameters
        return self.size


class SoftmaxLayer(ShapedLayer):
    """Softmax over the last axis: max, subtract, exp, sum and divide (5 ops per element)."""

    type: Literal["softmax"]

    @property
    def default_ops_per_element(self) -> float:
        return 5


Layer = Annotated[
    ConvLayer | FCLayer | MatmulLayer | PoolLayer | EltwiseLayer | LayerNormLayer | SoftmaxLayer,
    Field(discriminator="type"),
]
LAYER_TYPES: frozenset[str] = frozenset({"conv", "fc", "matmul", "pool", "eltwise", "layernorm", "softmax"})


def inherit_precision(layer: Any, precision: Any, psum_bits: Any = None) -> Any:
    """A raw layer mapping with the network's precision (and ``psum_bits``) where it has none."""
    if isinstance(layer, dict) and "precision_bits" not in layer:
        layer = {**layer, "precision_bits": precision}
    if isinstance(layer, dict) and psum_bits is not None and "psum_bits" not in layer:
        layer = {**layer, "psum_bits": psum_bits}
    return layer
