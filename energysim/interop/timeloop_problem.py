"""Timeloop's CNN-layer problem <-> energysim layers.

Timeloop's ``cnn-layer`` shape has dimensions C, K (``M`` in v0.4), R, S, N,
P, Q and data spaces Weights [C, K, R, S], Inputs [N, C, R*Wdilation +
P*Wstride, S*Hdilation + Q*Hstride] and Outputs [N, K, Q, P] (read-write).
energysim's nest is the same with K named M: R and P share energysim's first
axis (``stride[0]``, ``dilation[0]``, input rows ``H``), which is Timeloop's
W axis (``Wstride``, ``Wdilation``); S and Q share the second (Timeloop's H).
Only the names differ; the loops are the same. An imported layer is named
after the problem file and has the outermost level's datawidth as precision;
an exported problem carries the layer's own (``energysim_layer``, a top-level
key Timeloop ignores).

Timeloop has no zero padding: an input is as wide as its windows reach,
(P - 1) x stride + (R - 1) x dilation + 1. An imported layer has that input
and no padding; v0.4's informational ``H``, ``W``, ``Hpad``, ``Wpad`` are not
used by Timeloop's model and are listed as a warning if they disagree. A
problem with P = Q = R = S = 1 and unit strides is an ``fc`` layer. Shapes
other than the CNN layer (or its subsets, such as the tutorials' conv1d)
are an error. Export writes the v0.3 form with the full shape; a grouped layer
(depthwise, batched matmul) and layers without MACs cannot be written in it.
"""

from __future__ import annotations

import copy
from typing import Any, cast

from energysim.errors import EnergySimError
from energysim.interop.timeloop_values import Source
from energysim.model.base import validate_file_data
from energysim.model.layers import LayerBase, LoopNestLayer, MatmulLayer
from energysim.model.workload import Network

#: Timeloop dimension -> energysim dimension (v0.3's K and v0.4's M are both output channels).
DIMENSION_NAMES = {"C": "C", "K": "M", "M": "M", "R": "R", "S": "S", "N": "N", "P": "P", "Q": "Q"}
COEFFICIENTS = ("Wstride", "Hstride", "Wdilation", "Hdilation")
#: Each data space's ranks as sets of (dimension, allowed coefficient names).
_PROJECTIONS: dict[str, list[set[tuple[str, str | None]]]] = {
    "Weights": [{("C", None)}, {("M", None)}, {("R", None)}, {("S", None)}],
    "Inputs": [
        {("N", None)}, {("C", None)},
        {("R", "Wdilation"), ("P", "Wstride")}, {("S", "Hdilation"), ("Q", "Hstride")},
    ],
    "Outputs": [{("N", None)}, {("M", None)}, {("Q", None)}, {("P", None)}],
}  # fmt: skip
_INFORMATIONAL = ("H", "W", "Hpad", "Wpad")
#: A top-level key of an exported problem (Timeloop ignores it): the layer's name and precision.
EXTRA_LAYER = "energysim_layer"


#: Timeloop's CNN-layer shape (v0.3 form), as an exported problem states it in full.
CNN_LAYER_SHAPE: dict[str, Any] = {
    "name": "CNN-Layer",
    "dimensions": ["C", "K", "R", "S", "N", "P", "Q"],
    "coefficients": [{"name": name, "default": 1} for name in COEFFICIENTS],
    "data-spaces": [
        {"name": "Weights", "projection": [[["C"]], [["K"]], [["R"]], [["S"]]]},
        {
            "name": "Inputs",
            "projection": [
                [["N"]],
                [["C"]],
                [["R", "Wdilation"], ["P", "Wstride"]],
                [["S", "Hdilation"], ["Q", "Hstride"]],
            ],
        },
        {"name": "Outputs", "projection": [[["N"]], [["K"]], [["Q"]], [["P"]]], "read-write": True},
    ],
}


def _check_shape(source: Source, shape: Any, dims: set[str]) -> None:
    """The shape must be Timeloop's CNN layer, or the part of it over ``dims``."""
    if isinstance(shape, str):
        if shape.lower().replace("_", "-") not in ("cnn-layer", "cnn-layer.yaml"):
            raise source.error("problem.shape", f"a shape by name must be cnn-layer, got {shape!r}")
        return
    shape = source.mapping(shape, "problem.shape")
    spaces = shape.get("data-spaces", shape.get("data_spaces"))
    if spaces is None:
        return
    names = []
    for index, raw in enumerate(source.sequence(spaces, "problem.shape.data-spaces")):
        path = f"problem.shape.data-spaces[{index}]"
        space = source.mapping(raw, path)
        name = space.get("name")
        if name not in _PROJECTIONS:
            raise source.error(
                f"{path}.name",
                f"data space {name!r}: energysim handles the CNN layer's Weights, Inputs, Outputs only",
            )
        names.append(name)
        expected = [
            frozenset((dim, coef) for dim, coef in rank if dim in dims) for rank in _PROJECTIONS[name]
        ]
        expected = [rank for rank in expected if rank]
        found = [
            _rank(source, rank, f"{path}.projection[{number}]")
            for number, rank in enumerate(source.sequence(space.get("projection"), f"{path}.projection"))
        ]
        if not _same_projection(found, expected):
            raise source.error(
                f"{path}.projection",
                f"not the CNN layer's projection of {name}; energysim handles that shape only",
            )
    if sorted(names) != sorted(_PROJECTIONS):
        raise source.error(
            "problem.shape.data-spaces",
            f"expected Weights, Inputs and Outputs, got {', '.join(map(str, names))}",
        )


def _rank(source: Source, rank: Any, path: str) -> frozenset[tuple[str, str | None]]:
    terms = []
    for term in source.sequence(rank, path):
        items = source.sequence(term, path)
        if not items or len(items) > 2 or not all(isinstance(item, str) for item in items):
            raise source.error(path, "expected terms like [P, Wstride] or [C]")
        terms.append((DIMENSION_NAMES.get(items[0], items[0]), items[1] if len(items) == 2 else None))
    return frozenset(terms)


def _same_projection(
    found: list[frozenset[tuple[str, str | None]]], expected: list[frozenset[tuple[str, str | None]]]
) -> bool:
    if len(found) != len(expected):
        return False
    for rank in found:
        match = next(
            (want for want in expected if {dim for dim, _ in want} == {dim for dim, _ in rank}), None
        )
        if match is None:
            return False
        allowed = dict(match)
        if any(coef is not None and coef != allowed[dim] for dim, coef in rank):
            return False
        expected = [want for want in expected if want is not match]
    return True


def read_problem(source: Source, data: Any, name: str, precision_bits: int) -> LoopNestLayer:
    """The layer of a Timeloop problem file (v0.3 or v0.4)."""
    top = source.mapping(data, "file")
    problem = source.mapping(top.get("problem"), "problem")
    instance = source.mapping(
        problem.get("instance", {k: v for k, v in problem.items() if k not in ("shape", "version")}),
        "problem.instance",
    )
    shape = problem.get("shape", "cnn-layer")
    declared = shape.get("dimensions") if isinstance(shape, dict) else None
    timeloop_dims = (
        list(DIMENSION_NAMES)
        if declared is None
        else [str(dim) for dim in source.sequence(declared, "problem.shape.dimensions")]
    )
    unknown = [dim for dim in timeloop_dims if dim not in DIMENSION_NAMES]
    if unknown or ("K" in timeloop_dims and "M" in timeloop_dims and declared is not None):
        raise source.error(
            "problem.shape.dimensions",
            f"{', '.join(unknown) or 'K and M'}: energysim handles the CNN layer's C, K (or M), R, S, "
            "N, P, Q",
        )
    ours = {DIMENSION_NAMES[dim] for dim in timeloop_dims}
    _check_shape(source, shape, ours)
    coefficients = _coefficients(source, shape)
    sizes = dict.fromkeys(("N", "M", "C", "P", "Q", "R", "S"), 1)
    for key, value in instance.items():
        if key in DIMENSION_NAMES:
            sizes[DIMENSION_NAMES[key]] = source.integer(value, f"problem.instance.{key}")
        elif key in COEFFICIENTS:
            coefficients[key] = source.integer(value, f"problem.instance.{key}")
        elif key not in _INFORMATIONAL:
            raise source.error(f"problem.instance.{key}", "not a dimension or coefficient of the CNN layer")
    stride = (coefficients["Wstride"], coefficients["Hstride"])
    dilation = (coefficients["Wdilation"], coefficients["Hdilation"])
    extents = [
        (sizes[out] - 1) * stride[axis] + (sizes[win] - 1) * dilation[axis] + 1
        for axis, (out, win) in enumerate((("P", "R"), ("Q", "S")))
    ]
    _informational(source, instance, extents)
    if all(sizes[dim] == 1 for dim in "PQRS") and stride == (1, 1) and dilation == (1, 1):
        layer: dict[str, Any] = {"type": "fc", "N": sizes["N"], "C": sizes["C"], "M": sizes["M"]}
    else:
        layer = {
            "type": "conv", "N": sizes["N"], "C": sizes["C"], "M": sizes["M"], "H": extents[0],
            "W": extents[1], "R": sizes["R"], "S": sizes["S"],
            "stride": _pair_or_one(stride), "dilation": _pair_or_one(dilation),
        }  # fmt: skip
    extra = source.mapping(top.get(EXTRA_LAYER, {}), EXTRA_LAYER)
    name = extra.get("name", name)
    network = {
        "version": 1,
        "name": name,
        "precision_bits": extra.get("precision_bits", precision_bits),
        "layers": [{"name": name, **layer}],
    }
    result = validate_file_data(Network, network, source.where, "problem (as an energysim layer)")
    return cast(LoopNestLayer, result.layers[0])


def _pair_or_one(pair: tuple[int, int]) -> int | list[int]:
    """One value when rows and columns agree (as a hand-written layer says it), else the pair."""
    return pair[0] if pair[0] == pair[1] else list(pair)


def _coefficients(source: Source, shape: Any) -> dict[str, int]:
    values = dict.fromkeys(COEFFICIENTS, 1)
    if not isinstance(shape, dict):
        return values
    for index, raw in enumerate(source.sequence(shape.get("coefficients", []), "problem.shape.coefficients")):
        path = f"problem.shape.coefficients[{index}]"
        coefficient = source.mapping(raw, path)
        if coefficient.get("name") not in COEFFICIENTS:
            raise source.error(
                f"{path}.name", f"expected one of {', '.join(COEFFICIENTS)}, got {coefficient.get('name')!r}"
            )
        values[coefficient["name"]] = source.integer(coefficient.get("default", 1), f"{path}.default")
    return values


def _informational(source: Source, instance: dict[str, Any], extents: list[int]) -> None:
    for key, extent in (("W", extents[0]), ("H", extents[1])):
        if key in instance and instance[key] != extent:
            pad = instance.get(f"{key}pad", 0)
            source.warn(
                f"problem.instance.{key}",
                f"{key} = {instance[key]} (pad {pad}) is not used by Timeloop's model; the input is as wide "
                "as "
                f"its windows reach, {extent}, padding included, and energysim uses that",
            )


def problem_dict(layer: LayerBase, warnings: list[str]) -> dict[str, Any]:
    """The Timeloop v0.3 problem (full CNN-layer shape and instance) of an energysim layer.

    What Timeloop cannot say is appended to ``warnings``: zero padding (the
    exported input includes the border, which Timeloop reads like data), a bias,
    per-tensor precisions.
    """
    bounds = layer.loop_bounds
    if bounds is None:
        raise EnergySimError(
            f"layer {layer.name}: a {getattr(layer, 'type', 'layer')} has no MACs; Timeloop's CNN layer "
            "cannot describe it"
        )
    if bounds.sizes["G"] != 1:
        kind = "batched matmul" if isinstance(layer, MatmulLayer) else "grouped (depthwise) conv"
        raise EnergySimError(
            f"layer {layer.name}: a {kind} ({bounds.sizes['G']} groups): Timeloop's CNN layer has no "
            "group dimension"
        )
    if bounds.padding != (0, 0):
        warnings.append(
            f"layer {layer.name}: padding {bounds.padding}: Timeloop has no zero padding; its input "
            "includes the "
            "padded border, which it reads from DRAM like data (same P, Q and MACs)"
        )
    if getattr(layer, "bias", False):
        warnings.append(
            f"layer {layer.name}: bias: Timeloop's CNN layer has none (its MACs exclude the bias adds)"
        )
    if len({layer.bits(tensor) for tensor in ("weights", "inputs", "outputs")}) > 1:
        warnings.append(f"layer {layer.name}: per-tensor precision: Timeloop has one datawidth per level")
    instance = {
        "C": bounds.sizes["C"],
        "K": bounds.sizes["M"],
        "R": bounds.sizes["R"],
        "S": bounds.sizes["S"],
        "N": bounds.sizes["N"],
        "P": bounds.sizes["P"],
        "Q": bounds.sizes["Q"],
    }
    instance.update(
        {
            "Wstride": bounds.stride[0],
            "Hstride": bounds.stride[1],
            "Wdilation": bounds.dilation[0],
            "Hdilation": bounds.dilation[1],
        }
    )
    shape = copy.deepcopy(CNN_LAYER_SHAPE)
    extra = {"name": layer.name, "precision_bits": layer.model_dump(mode="json")["precision_bits"]}
    return {"problem": {"shape": shape, "instance": instance}, EXTRA_LAYER: extra}
