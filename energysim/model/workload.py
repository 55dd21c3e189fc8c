"""A workload: a named network of layers, as read from ``workloads/*.yaml``.

A network's ``precision_bits`` is the default of its layers; a layer may
override it, per tensor if it likes. ``psum_bits`` (the accumulator's width,
1 to 2^16) is inherited alike; left out, partial sums are as wide as the outputs.
Layer names are unique, so a layer is found by name: ``network["conv1"]``.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, Strict, TypeAdapter, ValidationError, model_validator

from energysim.errors import EnergySimError
from energysim.model.base import MAX_LISTED, Bits, Description, Name, StrictModel, Version, int_range
from energysim.model.layers import Layer, Precision, PrecisionBits, inherit_precision
from energysim.model.limits import MAX_LAYERS, MAX_ONNX_NODES
from energysim.model.shapes import shape_problems

_PRECISION: TypeAdapter[int | Precision] = TypeAdapter(PrecisionBits)
_BITS: TypeAdapter[int] = TypeAdapter(Bits)


def _is_valid_bits(value: Any) -> bool:
    try:
        _BITS.validate_python(value)
    except ValidationError:
        return False
    return True


def _is_valid_precision(value: Any) -> bool:
    try:
        _PRECISION.validate_python(value)
    except ValidationError:
        return False
    return True


class Network(StrictModel):
    """An ordered list of layers run one after another (at most 10,000: MAX_LAYERS)."""

    version: Version
    name: Name
    description: Description = ""
    source: str = ""
    precision_bits: PrecisionBits = 16
    psum_bits: Bits | None = None
    layers: tuple[Layer, ...] = Field(min_length=1)
    #: Operators of the source model that no layer stands for, with their counts: an ONNX
    #: import with ``skip_unsupported`` lists them here, and a run's summary shows them.
    unsupported_ops: dict[Name, Annotated[int, int_range(1, MAX_ONNX_NODES), Strict()]] = Field(
        default_factory=dict, max_length=MAX_ONNX_NODES
    )

    @model_validator(mode="before")
    @classmethod
    def _layers_inherit_precision(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("layers"), list | tuple):
            if len(data["layers"]) > MAX_LAYERS:
                raise ValueError(
                    f"layers: {len(data['layers'])} layers, more than {MAX_LAYERS:,} (MAX_LAYERS)"
                )
            precision = data.get("precision_bits", 16)
            psum_bits = data.get("psum_bits")
            if not _is_valid_bits(psum_bits):
                psum_bits = None  # its one error is enough, not one per layer
            if _is_valid_precision(precision):  # else its one error is enough, not one per layer
                data = {
                    **data,
                    "layers": [inherit_precision(layer, precision, psum_bits) for layer in data["layers"]],
                }
        return data

    @model_validator(mode="after")
    def _check_unique_names(self) -> Network:
        seen: dict[str, int] = {}
        problems = []
        for index, layer in enumerate(self.layers):
            if layer.name in seen:
                problems.append(
                    f"layers[{index}].name: duplicate layer name {layer.name!r} "
                    f"(also layers[{seen[layer.name]}])"
                )
            seen.setdefault(layer.name, index)
        if problems:
            raise ValueError("\n".join(problems))
        return self

    def __getitem__(self, name: str) -> Layer:
        """The layer called ``name``; ``KeyError`` lists the names there are."""
        for layer in self.layers:
            if layer.name == name:
                return layer
        names = ", ".join(layer.name for layer in self.layers)
        raise KeyError(f"no layer {name!r} in {self.name}; layers: {names}")

    @property
    def layer_names(self) -> list[str]:
        """Names of the layers, in order."""
        return [layer.name for layer in self.layers]

    @property
    def total_macs(self) -> int:
        """MACs of all layers."""
        return sum(layer.macs for layer in self.layers)

    @property
    def total_weights(self) -> int:
        """Learned parameters of all layers (weights and biases)."""
        return sum(layer.parameters for layer in self.layers)

    @property
    def total_flops(self) -> int:
        """Operations of all layers, two per MAC."""
        return sum(layer.flops for layer in self.layers)


def check_layer_shapes(network: Network, source: str) -> Network:
    """``network`` if each layer reads what the previous one (or its ``inputs``) writes.

    The check of :mod:`energysim.model.shapes`, for networks read from a file
    (YAML or ONNX): one error naming ``source`` lists every mismatch. A network
    built in Python is not checked (tests and sweeps line up unrelated layers);
    :func:`~energysim.model.shapes.shape_problems` checks one on request.
    """
    problems = shape_problems(network.layers)
    if len(problems) == 1:
        raise EnergySimError(f"{source}: invalid workload: {problems[0]}")
    if problems:
        listing = "\n".join(f"  - {problem}" for problem in problems[:MAX_LISTED])
        if len(problems) > MAX_LISTED:
            listing += f"\n  - and {len(problems) - MAX_LISTED:,} more"
        raise EnergySimError(f"{source}: invalid workload, {len(problems)} problems:\n{listing}")
    return network
