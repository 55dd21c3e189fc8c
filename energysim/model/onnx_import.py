"""Read an ONNX model as an energysim workload (a :class:`Network`), or as its YAML text.

``load_onnx("model.onnx")`` runs ONNX's shape inference
(:mod:`energysim.model.onnx_graph`) and turns each node into a layer by the
rules of :mod:`energysim.model.onnx_layers`, in the graph's (topological)
order. What else it decides:

* **Names**: a node's name when it is a valid, unused layer name, else
  ``<op><index>`` (``conv3``).
* **Precision**: bits per tensor from the ONNX element types (float32 -> 32,
  int8 -> 8, ...), or ``precision_bits`` for every tensor (an fp32 export that
  stands for int8 hardware: ``--precision 8``).
* **Where inputs come from**: a layer that does not read the previous layer's
  output gets the ``inputs`` marker of :mod:`energysim.model.shapes` (the
  producing layers, or ``external`` for the graph's input, an unsupported
  node's output or a reshaped tensor a conv reads), so the imported network
  passes the same shape check as a YAML file.
* **Unsupported operators** are listed by name and count in one error; with
  ``skip_unsupported`` they are left out and listed in
  ``Network.unsupported_ops``, which a run's summary shows.
* **Symbolic dims** (a dynamic batch) are an error naming the tensor, unless
  ``batch`` fixes dim 0 of the graph inputs.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from energysim.errors import EnergySimError
from energysim.model.base import MAX_LISTED, validate_file_data
from energysim.model.files import display_path
from energysim.model.layers import LAYER_TYPES
from energysim.model.limits import MAX_BITS, MAX_DIMENSION, MAX_NAME_CHARS
from energysim.model.onnx_graph import OnnxGraph, label, read_graph, text_of
from energysim.model.onnx_layers import (
    CONVERTERS,
    METADATA_OPS,
    NOTE,
    VIEW_OPS,
    RawLayer,
    Unsupported,
    data_inputs,
)
from energysim.model.shapes import EXTERNAL
from energysim.model.workload import Network, check_layer_shapes

#: Layers that read channels (their check needs an un-reshaped tensor from a channel-producing layer).
_CHANNEL_READERS = frozenset({"conv", "pool"})


class _Names:
    """Unique, valid layer names: the node's own when it can be, else ``<op><index>``."""

    def __init__(self) -> None:
        self.used: set[str] = {EXTERNAL}

    def name(self, node: Any, index: int) -> str:
        own = text_of(node.name).strip()
        valid = 0 < len(own) <= MAX_NAME_CHARS - 8 and own.isprintable()
        name = own if valid else f"{label(node.op_type).lower()[:40]}{index}"
        unique, suffix = name, 2
        while unique in self.used:
            unique, suffix = f"{name}_{suffix}", suffix + 1
        self.used.add(unique)
        return unique


def _check_option(value: int | None, what: str, largest: int) -> None:
    if value is not None and (
        isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= largest
    ):
        raise EnergySimError(f"{what}: expected an integer from 1 to {largest:,}, got {value!r}")


class _Importer:
    """One pass over the nodes: layers in order, producers of tensors, unsupported counts."""

    def __init__(self, graph: OnnxGraph, precision_bits: int | None) -> None:
        self.graph = graph
        self.precision_bits = precision_bits
        self.layers: list[RawLayer] = []
        self.kinds: dict[str, str] = {}  # layer name -> type
        self.unsupported: Counter[str] = Counter()
        #: tensor name -> (producing layer or None, reshaped by a view since)
        self.producers: dict[str, tuple[str | None, bool]] = {}
        self.names = _Names()
        #: layer name -> what the import approximated there (a comment in the YAML)
        self.notes: dict[str, str] = {}
        #: tensors that hold shapes or constants computed from constants (no data moves for them)
        self.metadata: set[str] = set()

    def run(self) -> None:
        for index, node in enumerate(self.graph.nodes):
            domain_ok = node.domain in ("", "ai.onnx")
            if self._computes_metadata(node, domain_ok):
                self.metadata.update(node.output)
            elif domain_ok and node.op_type in VIEW_OPS and node.input:
                source = self.producers.get(node.input[0], (None, False))
                for output in node.output:
                    self.producers[output] = (source[0], True)
            elif domain_ok and node.op_type in CONVERTERS:
                try:
                    layer = CONVERTERS[node.op_type](node, self.graph)
                except Unsupported as exc:
                    self._unsupported(node, f"{node.op_type} ({exc.label})")
                    continue
                except (ArithmeticError, IndexError, TypeError, ValueError) as exc:
                    # a malformed node that shape inference let through: one error, no traceback
                    raise EnergySimError(
                        f"{self.graph.source}: node {label(node.name)!r} ({label(node.op_type)}): "
                        f"malformed: {type(exc).__name__}: {label(str(exc))}"
                    ) from exc
                self._add(node, index, layer)
            else:
                self._unsupported(
                    node,
                    label(node.op_type if domain_ok else f"{text_of(node.domain)}.{text_of(node.op_type)}"),
                )

    def _computes_metadata(self, node: Any, domain_ok: bool) -> bool:
        """A node that makes shapes or constants (Shape, Constant, or any op on those only:
        the Gather/Concat chain that builds a Reshape's shape): folded away, not a layer."""
        if domain_ok and node.op_type in METADATA_OPS:
            return True
        inputs = [name for name in node.input if name]
        return bool(inputs) and all(name in self.metadata or name in self.graph.constants for name in inputs)

    def _unsupported(self, node: Any, label: str) -> None:
        self.unsupported[label] += 1
        for output in node.output:
            self.producers[output] = (None, False)

    def _add(self, node: Any, index: int, layer: RawLayer) -> None:
        name = self.names.name(node, index)
        if NOTE in layer:
            self.notes[name] = layer.pop(NOTE)
        sources = self._sources(node, layer)
        previous = self.layers[-1]["name"] if self.layers else None
        marked: dict[str, Any] = {"name": name}
        if self.layers and sources != [previous]:
            marked["inputs"] = sources
        marked.update(layer)
        marked["precision_bits"] = self._precision(node, layer)
        self.layers.append(marked)
        self.kinds[name] = layer["type"]
        for output in node.output:
            self.producers[output] = (name, False)

    def _sources(self, node: Any, layer: RawLayer) -> list[str]:
        """The layers whose outputs the node reads, ``external`` where the check cannot follow."""
        names = data_inputs(node, self.graph)
        if not names:
            return [EXTERNAL]
        if layer["type"] == "matmul":  # not checked: name the producers for the reader
            producers = [self.producers.get(tensor, (None, False))[0] for tensor in names]
            return [EXTERNAL] if None in producers else [name for name in producers if name]
        out_elements = self.graph.elements(node.output[0], node)
        sources: list[str] = []
        for tensor in names:
            producer, reshaped = self.producers.get(tensor, (None, False))
            channel_reader = layer["type"] in _CHANNEL_READERS
            operand = layer["type"] == "eltwise" and layer["op"] != "copy"
            if (
                producer is None
                or (channel_reader and (reshaped or self.kinds[producer] in ("fc", "matmul")))
                or (operand and self.graph.elements(tensor, node) != out_elements)  # broadcast
            ):
                producer = EXTERNAL  # the check cannot follow it (and skips this layer)
            if producer not in sources or producer != EXTERNAL:
                sources.append(producer)
        return sources

    def _precision(self, node: Any, layer: RawLayer) -> int | dict[str, int]:
        if self.precision_bits is not None:
            return self.precision_bits
        data = [name for name in node.input if name]
        weights_tensor = None
        if layer["type"] in ("conv", "fc", "matmul"):
            constants = [name for name in data if name in self.graph.constants]
            weights_tensor = constants[0] if constants else (data[1] if len(data) > 1 else None)
        fallback = self.graph.bits(data[0]) if data else None
        bits = {
            "weights": self.graph.bits(weights_tensor) if weights_tensor else fallback,
            "inputs": fallback,
            "outputs": self.graph.bits(node.output[0]),
        }
        known = {tensor: value or fallback or 32 for tensor, value in bits.items()}
        values = set(known.values())
        return values.pop() if len(values) == 1 else known


def load_onnx(
    path: str | Path,
    precision_bits: int | None = None,
    skip_unsupported: bool = False,
    batch: int | None = None,
) -> Network:
    """The workload of the ONNX model at ``path`` (see the module docstring)."""
    network, _ = _import(Path(path), precision_bits, skip_unsupported, batch)
    return network


def onnx_workload_yaml(
    path: str | Path,
    precision_bits: int | None = None,
    skip_unsupported: bool = False,
    batch: int | None = None,
) -> tuple[Network, str]:
    """The workload of the ONNX model at ``path`` and its YAML text, with a comment on each
    layer the import approximated (asymmetric padding)."""
    network, notes = _import(Path(path), precision_bits, skip_unsupported, batch)
    return network, workload_yaml(network, notes)


def _import(
    path: Path, precision_bits: int | None, skip_unsupported: bool, batch: int | None
) -> tuple[Network, dict[str, str]]:
    _check_option(precision_bits, "precision_bits (--precision)", MAX_BITS)
    _check_option(batch, "batch (--batch)", MAX_DIMENSION)
    graph = read_graph(path, batch)
    importer = _Importer(graph, precision_bits)
    importer.run()
    where = display_path(path)
    listed = sorted(importer.unsupported.items())
    counts = ", ".join(f"{op} x{count}" for op, count in listed[:MAX_LISTED])
    if len(listed) > MAX_LISTED:
        counts += f" and {len(listed) - MAX_LISTED:,} more operators"
    if importer.unsupported and not skip_unsupported:
        raise EnergySimError(
            f"{where}: unsupported ONNX operators: {counts}; energysim maps {', '.join(sorted(CONVERTERS))} "
            "(skip_unsupported / --skip-unsupported imports the rest and lists these in the result)"
        )
    if not importer.layers:
        raise EnergySimError(f"{where}: no node energysim can model (only views, constants or skipped ops)")
    graph_name = text_of(graph.name).strip()
    name = graph_name if 0 < len(graph_name) <= MAX_NAME_CHARS else path.stem[:MAX_NAME_CHARS]
    data = _network_data(importer, name or "onnx-model", path.name, graph.opset)
    network = validate_file_data(Network, data, where, "workload", skip=LAYER_TYPES)
    return check_layer_shapes(network, where), importer.notes


def _network_data(importer: _Importer, name: str, file_name: str, opset: int) -> dict[str, Any]:
    layers = importer.layers
    default = layers[0]["precision_bits"]
    if not isinstance(default, int):
        default = default["inputs"]
    for layer in layers:
        if layer["precision_bits"] == default:
            del layer["precision_bits"]
    described = file_name if len(file_name) <= 200 else f"{file_name[:200]}..."
    return {
        "version": 1,
        "name": name if name.isprintable() else "onnx-model",
        "description": f"Imported by energysim from the ONNX model {described!r} (opset {opset}).",
        "precision_bits": default,
        "layers": layers,
        "unsupported_ops": dict(sorted(importer.unsupported.items())),
    }


def workload_yaml(network: Network, notes: dict[str, str] | None = None) -> str:
    """``network`` as workload YAML text, one flow mapping per layer; it loads back equal.

    Fields at their defaults are left out, and a layer's precision when it is
    the network's; ``notes`` (layer name -> text) become a comment above the layer.
    """
    head: dict[str, Any] = {
        "version": 1,
        "name": network.name,
        "description": network.description,
        "precision_bits": _plain(network.precision_bits),
    }
    if network.source:
        head["source"] = network.source
    if network.unsupported_ops:
        head["unsupported_ops"] = dict(network.unsupported_ops)
    lines = [yaml.safe_dump(head, sort_keys=False, width=100).rstrip(), "layers:"]
    for layer in network.layers:
        fields = layer.model_dump(mode="json", exclude_defaults=True)
        fields.pop("precision_bits", None)
        if layer.precision_bits != network.precision_bits:
            fields["precision_bits"] = _plain(layer.precision_bits)
        fields = {"name": fields.pop("name"), "type": fields.pop("type"), **fields}
        text = yaml.safe_dump(fields, sort_keys=False, default_flow_style=True, width=10**6).strip()
        if notes and layer.name in notes:
            lines.append(f"  # {label(layer.name)}: {notes[layer.name]}")
        lines.append(f"  - {text}")
    return "\n".join(lines) + "\n"


def _plain(value: Any) -> Any:
    return value if isinstance(value, int) else value.model_dump(mode="json")
