"""Shape checks between the layers of a network: does each layer read what the one before writes?

A workload is a list of layers; by default each layer reads the output of the
layer just before it, and this module checks that the sizes agree:

* a ``conv`` or ``pool`` has ``C`` input channels: the channels of that output
  (a conv's ``M``, a pool's ``C``, an fc's ``M``, or ``shape[1]`` of a rank-4
  ``[N, C, H, W]`` eltwise / layernorm / softmax tensor);
* an ``fc`` reads the whole output, flattened: ``N x C`` is its element count
  (AlexNet's fc6 reads pool5's 256 x 6 x 6 = 9,216 values);
* an ``eltwise``, ``layernorm`` or ``softmax`` has as many elements as that output.

A matmul is not checked (which operand came from where is not in the file),
nor are spatial sizes (an imported asymmetric padding is written with a few
more input rows than the real tensor: see :mod:`energysim.model.onnx_import`).

A layer that reads something else says so with ``inputs``:

* ``inputs: [a, b]`` names earlier layers whose outputs it reads. A conv,
  pool or fc reads them concatenated (channels, or elements, add up); so does an
  ``eltwise`` ``copy`` (a concat); any other eltwise takes them as its operands,
  each of its size (a residual add: ``inputs: [res2a_branch2c, res2a_branch1]``).
* ``inputs: [external]`` means a tensor that is no earlier layer's whole output:
  the network's input, or part of a layer's channels (LeNet-5's C3 connection
  table). It is not checked.

The first layer reads the network's input, whatever its ``inputs`` say (a layer
taken alone from a network, to be analysed, keeps them). A mismatch is an error
naming both layers; all of them are listed at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from energysim.model.layers import (
    ConvLayer,
    EltwiseLayer,
    FCLayer,
    LayerBase,
    MatmulLayer,
    PoolLayer,
    ShapedLayer,
)

#: The ``inputs`` entry for a tensor that is no earlier layer's whole output (not checked).
EXTERNAL = "external"


@dataclass(frozen=True)
class LayerOutput:
    """What a layer writes, as the next layer sees it: elements and channels (None: unknown)."""

    name: str
    elements: int
    channels: int | None


def layer_output(layer: LayerBase) -> LayerOutput:
    """The output of ``layer`` for the checks of the layers that read it."""
    channels: int | None = None
    if isinstance(layer, ConvLayer | FCLayer):
        channels = layer.M
    elif isinstance(layer, PoolLayer):
        channels = layer.C
    elif isinstance(layer, ShapedLayer) and len(layer.shape) == 4:
        channels = layer.shape[1]
    return LayerOutput(layer.name, layer.elements("outputs"), channels)


def _sources_text(sources: Sequence[LayerOutput], implicit: bool) -> str:
    if implicit:
        return f"the previous layer {sources[0].name!r}"
    return "its inputs " + " + ".join(repr(source.name) for source in sources)


def _mismatch(layer: LayerBase, sources: Sequence[LayerOutput], implicit: bool) -> str | None:
    """What does not match between ``layer`` and the outputs it reads, or None."""
    where = _sources_text(sources, implicit)
    hint = "" if not implicit else "; a layer that reads another tensor says so with inputs: [...]"
    if isinstance(layer, ConvLayer | PoolLayer):
        channels = [source.channels for source in sources]
        if any(count is None for count in channels):
            return None
        total = sum(count for count in channels if count is not None)
        if total != layer.C:
            return f"C = {layer.C} input channels, but {where} writes {total} channels{hint}"
        return None
    total_elements = sum(source.elements for source in sources)
    if isinstance(layer, FCLayer):
        if total_elements != layer.N * layer.C:
            return (
                f"N x C = {layer.N} x {layer.C} = {layer.N * layer.C:,} inputs, but {where} "
                f"writes {total_elements:,} elements{hint}"
            )
        return None
    if isinstance(layer, ShapedLayer):
        operands = isinstance(layer, EltwiseLayer) and layer.op != "copy"
        sizes = [source.elements for source in sources] if operands else [total_elements]
        if any(size != layer.size for size in sizes):
            shown = ", ".join(f"{size:,}" for size in sizes)
            return f"shape has {layer.size:,} elements, but {where} writes {shown} elements{hint}"
    return None


def shape_problems(layers: Sequence[LayerBase]) -> list[str]:
    """Every mismatch between a layer and the outputs it reads, one message each.

    Cost is linear in the number of layers and of ``inputs`` entries.
    """
    outputs: dict[str, LayerOutput] = {}
    problems: list[str] = []
    for index, layer in enumerate(layers):
        where = f"layers[{index}] ({layer.name})"
        sources: list[LayerOutput] = []
        if index == 0:
            pass  # reads the network's input, whatever its inputs say (a layer analysed alone)
        elif layer.inputs is None:
            if not isinstance(layer, MatmulLayer):
                sources = [layer_output(layers[index - 1])]
        else:
            unknown = [name for name in layer.inputs if name != EXTERNAL and name not in outputs]
            if unknown:
                shown = ", ".join(repr(name) for name in unknown)
                problems.append(
                    f"{where}.inputs: no earlier layer called {shown}; expected the names of layers "
                    f"listed before {layer.name!r}, or {EXTERNAL!r}"
                )
            elif EXTERNAL not in layer.inputs and not isinstance(layer, MatmulLayer):
                sources = [outputs[name] for name in layer.inputs]
        if sources:
            problem = _mismatch(layer, sources, implicit=layer.inputs is None)
            if problem:
                problems.append(f"{where}: {problem}")
        outputs.setdefault(layer.name, layer_output(layer))
    return problems
