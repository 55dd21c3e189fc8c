"""Timeloop architectures (v0.3 ``subtree``/``local`` trees, v0.4 ``nodes`` lists), flattened.

Both forms are flattened to Timeloop's own view: a chain of components,
outermost first, ending in one arithmetic component (the MAC). Instances are
the product of the name ranges (v0.3 ``PE[0..167]``) or the ``spatial:
{meshX, meshY}`` fan-outs (v0.4 containers and components) on the way down;
``meshX`` is the X extent. A v0.4 container with a fan-out is remembered as a
fan-out point of the storage level above it (a mapping's spatial directive may
target it). A v0.4 ``constraints.dataspace`` keep/bypass is the level's keeps.

What Timeloop can say and energysim cannot is an error (branching subtrees,
an unknown node tag) or a listed warning (``!Nothing`` placeholders, skipped;
``!Parallel`` siblings, which become
a chain with bypasses as Timeloop itself flattens them; mapper constraints;
keys no energysim field holds). :mod:`energysim.interop.timeloop_levels` turns
the chain into a hierarchy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from energysim.interop.timeloop_values import Source
from energysim.interop.timeloop_yaml import NODE_TAG
from energysim.model.base import TENSORS, Tensor
from energysim.model.limits import MAX_INSTANCES, MAX_LEVELS

#: The prefix of the attributes energysim writes for fields Timeloop has no word for.
EXTRA = "energysim_"
_NODE_KEYS = {
    "name",
    "class",
    "subclass",
    "attributes",
    "constraints",
    "spatial",
    NODE_TAG,
    "required_actions",
}


@dataclass
class Component:
    """One storage or arithmetic component of the flattened architecture."""

    name: str
    cls: str
    attributes: dict[str, Any]
    instances: int
    mesh_x: int
    path: str
    keeps: tuple[Tensor, ...] | None = None


@dataclass
class FlatArch:
    """The chain of components, outermost first, and v0.4 fan-out points (container -> level above)."""

    name: str
    components: list[Component] = field(default_factory=list)
    fanouts: dict[str, str] = field(default_factory=dict)
    system_attributes: dict[str, Any] = field(default_factory=dict)
    #: (YAML path, attributes) of every container (v0.3 subtree, v0.4 !Container): Accelergy
    #: hands them down to the components inside.
    containers: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


def _mesh(source: Source, spatial: Any, path: str) -> tuple[int, int]:
    """(meshX, meshY) of a v0.4 ``spatial:`` or a v0.3 attribute set."""
    spatial = source.mapping(spatial, path)
    mesh_x = source.integer(spatial.get("meshX", 1), f"{path}.meshX", maximum=MAX_INSTANCES)
    mesh_y = source.integer(spatial.get("meshY", 1), f"{path}.meshY", maximum=MAX_INSTANCES)
    return mesh_x, mesh_y


def _scaled(source: Source, value: int, path: str) -> int:
    if value > MAX_INSTANCES:
        raise source.error(path, f"{value} instances, more than {MAX_INSTANCES} (MAX_INSTANCES)")
    return value


def _dataspace_keeps(source: Source, node: dict[str, Any], path: str) -> tuple[Tensor, ...] | None:
    constraints = source.mapping(node.get("constraints", {}), f"{path}.constraints")
    other = sorted(set(constraints) - {"dataspace"})
    if other:
        source.warn(
            f"{path}.constraints", f"{', '.join(other)}: mapper constraints; the mapping fixes the loops"
        )
    if "dataspace" not in constraints:
        return None
    dataspace = source.mapping(constraints["dataspace"], f"{path}.constraints.dataspace")
    if "keep" in dataspace:
        return source.tensors(dataspace["keep"], f"{path}.constraints.dataspace.keep")
    bypass = source.tensors(dataspace.get("bypass", []), f"{path}.constraints.dataspace.bypass")
    return tuple(tensor for tensor in TENSORS if tensor not in bypass)


def _flatten_v4(source: Source, nodes: list[Any], flat: FlatArch, path: str, scale: tuple[int, int]) -> None:
    instances, mesh_x = scale
    for index, raw in enumerate(nodes):
        where = f"{path}[{index}]"
        node = source.mapping(raw, where)
        tag = node.get(NODE_TAG)
        if tag == "Parallel":
            source.warn(
                where,
                "!Parallel siblings become a chain of levels, outermost first, each keeping what its "
                "dataspace constraint keeps (as Timeloop flattens them); energysim has no side-by-side "
                "levels",
            )
        if tag == "Nothing":
            source.warn(
                where, "!Nothing: a placeholder node that stores nothing; energysim has no level for it"
            )
            continue
        if tag in ("Hierarchical", "Parallel"):
            sub = source.sequence(node.get("nodes", []), f"{where}.nodes")
            _flatten_v4(source, sub, flat, f"{where}.nodes", (instances, mesh_x))
            continue
        if tag not in ("Container", "Component"):
            raise source.error(
                where, "expected a node tagged !Container, !Component, !Parallel or !Hierarchical"
            )
        name = source.name(node.get("name"), f"{where}.name")
        unknown = sorted(set(node) - _NODE_KEYS)
        if unknown:
            source.warn(where, f"keys {', '.join(map(str, unknown))}: not modelled by energysim (ignored)")
        step_x, step_y = _mesh(source, node.get("spatial", {}), f"{where}.spatial")
        instances = _scaled(source, instances * step_x * step_y, f"{where}.spatial")
        mesh_x *= step_x
        attributes = source.mapping(node.get("attributes", {}), f"{where}.attributes")
        if tag == "Container":
            flat.containers.append((f"{where}.attributes", attributes))
            if not flat.components and not flat.system_attributes:
                flat.name, flat.system_attributes = name, attributes
            if step_x * step_y > 1:
                if not flat.components:
                    raise source.error(where, "a fan-out above every storage level: nothing feeds it")
                flat.fanouts[name] = flat.components[-1].name
            continue
        keeps = _dataspace_keeps(source, node, where)
        cls = str(node.get("class", ""))
        flat.components.append(Component(name, cls, attributes, instances, mesh_x, where, keeps))


def _flatten_v3(
    source: Source, tree: dict[str, Any], flat: FlatArch, path: str, scale: tuple[int, int]
) -> None:
    name, count = source.ranged_name(tree.get("name"), f"{path}.name")
    attributes = source.mapping(tree.get("attributes", {}), f"{path}.attributes")
    if not flat.components and not flat.system_attributes and not flat.name:
        flat.name, flat.system_attributes = name, attributes
    flat.containers.append((f"{path}.attributes", attributes))
    instances = _scaled(source, scale[0] * count, f"{path}.name")
    mesh_x = scale[1] * count if "meshX" not in attributes else source.integer(attributes["meshX"], path)
    for index, raw in enumerate(source.sequence(tree.get("local", []), f"{path}.local")):
        where = f"{path}.local[{index}]"
        node = source.mapping(raw, where)
        local_name, local_count = source.ranged_name(node.get("name"), f"{where}.name")
        local_attributes = source.mapping(node.get("attributes", {}), f"{where}.attributes")
        total = _scaled(source, instances * local_count, f"{where}.name")
        if "instances" in local_attributes:
            total = source.integer(
                local_attributes["instances"], f"{where}.attributes.instances", 1, MAX_INSTANCES
            )
        local_mesh = mesh_x * local_count
        if "meshX" in local_attributes:
            local_mesh = source.integer(
                local_attributes["meshX"], f"{where}.attributes.meshX", 1, MAX_INSTANCES
            )
        cls = str(node.get("class", ""))
        flat.components.append(Component(local_name, cls, local_attributes, total, local_mesh, where))
    subtrees = source.sequence(tree.get("subtree", []), f"{path}.subtree")
    if len(subtrees) > 1:
        raise source.error(
            f"{path}.subtree", f"{len(subtrees)} sibling subtrees: energysim models one chain of levels"
        )
    for raw in subtrees:
        _flatten_v3(
            source, source.mapping(raw, f"{path}.subtree[0]"), flat, f"{path}.subtree[0]", (instances, mesh_x)
        )


def flatten_architecture(source: Source, data: Any) -> FlatArch:
    """The chain of components of a Timeloop architecture file (v0.3 tree or v0.4 node list)."""
    top = source.mapping(data, "file")
    if "architecture" not in top:
        raise source.error("architecture", "missing: expected a Timeloop architecture (architecture: ...)")
    arch = source.mapping(top["architecture"], "architecture")
    flat = FlatArch(name="")
    if "nodes" in arch:
        _flatten_v4(
            source, source.sequence(arch["nodes"], "architecture.nodes"), flat, "architecture.nodes", (1, 1)
        )
    elif "subtree" in arch:
        trees = source.sequence(arch["subtree"], "architecture.subtree")
        if len(trees) != 1:
            raise source.error("architecture.subtree", f"expected one top subtree, got {len(trees)}")
        _flatten_v3(
            source,
            source.mapping(trees[0], "architecture.subtree[0]"),
            flat,
            "architecture.subtree[0]",
            (1, 1),
        )
    else:
        raise source.error("architecture", "expected 'subtree' (v0.3) or 'nodes' (v0.4)")
    if len(flat.components) > MAX_LEVELS + 1:
        raise source.error(
            "architecture", f"{len(flat.components)} components, more than {MAX_LEVELS} levels"
        )
    flat.name = flat.name or "timeloop-architecture"
    return flat


def is_compute(component: Component) -> bool:
    """An arithmetic component: a MAC class and no storage depth."""
    cls = component.cls.lower()
    storage = any(key in component.attributes for key in ("depth", "memory_depth"))
    return not storage and ("mac" in cls or cls in ("compute", "multiplier", "adder"))


def storage_kind(source: Source, component: Component) -> str:
    """energysim's level kind of a storage component, or an error for anything else."""
    cls = component.cls.lower()
    if EXTRA + "kind" in component.attributes:
        kind = component.attributes[EXTRA + "kind"]
        if kind in ("dram", "sram", "regfile"):
            return str(kind)
    if "dram" in cls:
        return "dram"
    if not any(key in component.attributes for key in ("depth", "memory_depth")):
        raise source.error(
            component.path,
            f"component {component.name} (class {component.cls or 'none'}): neither a storage (no depth) "
            "nor a MAC; energysim cannot model it (network and other components are not supported)",
        )
    return "regfile" if any(word in cls for word in ("regfile", "register", "_rf", "rf")) else "sram"
