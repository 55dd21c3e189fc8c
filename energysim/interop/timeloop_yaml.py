"""Reading Timeloop's YAML files with energysim's bounded loader, plus v0.4's node tags.

Timeloop's v0.4 architecture marks its nodes with local tags (``!Container``,
``!Component``, ``!Parallel``, ``!Hierarchical``, ``!Nothing``). energysim's own loader
(:mod:`energysim.model.files`) rejects every tag beyond YAML's JSON-like core,
and stays so: this variant shares its reader, composer and bounds (file size,
depth, node count with aliases counted at every use, number length, duplicate
keys) and adds only those five tags, for Timeloop files only. A tagged node
becomes a plain mapping with one more key, :data:`NODE_TAG`, holding the tag's
name (``"Container"``); any other tag is still an error with its line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.scanner import Scanner

from energysim.model.files import (
    BoundedComposer,
    CoreConstructor,
    CoreResolver,
    display_path,
    parse_explained,
    read_text,
)

#: The key a tagged v0.4 node's mapping gets, holding its tag's name.
NODE_TAG = "!tag"
#: The node tags of Timeloop's v0.4 architecture.
TIMELOOP_TAGS = ("Container", "Component", "Parallel", "Hierarchical", "Nothing")


class _TimeloopConstructor(CoreConstructor):
    """The core constructor, and v0.4's node tags as mappings with :data:`NODE_TAG`."""

    def construct_timeloop_node(self, node: Node) -> dict[Any, Any]:
        if not isinstance(node, MappingNode):
            raise yaml.constructor.ConstructorError(
                problem=f"{node.tag} must tag a mapping (a node with name:, attributes: ...)",
                problem_mark=node.start_mark,
            )
        data = self.construct_unique_mapping(node)
        if NODE_TAG in data:
            raise yaml.constructor.ConstructorError(
                problem=f"the key {NODE_TAG!r} is reserved", problem_mark=node.start_mark
            )
        return {**data, NODE_TAG: node.tag.removeprefix("!")}


for _tag in TIMELOOP_TAGS:
    _TimeloopConstructor.add_constructor(f"!{_tag}", _TimeloopConstructor.construct_timeloop_node)  # type: ignore[type-var]


class _TimeloopLoader(BoundedComposer, Reader, Scanner, Parser, _TimeloopConstructor, CoreResolver):
    """The bounded pure-Python loader with Timeloop's node tags (files are small: no libyaml needed)."""

    def __init__(self, stream: str) -> None:
        Reader.__init__(self, stream)
        Scanner.__init__(self)
        Parser.__init__(self)
        BoundedComposer.__init__(self)
        _TimeloopConstructor.__init__(self)
        CoreResolver.__init__(self)


def parse_timeloop_yaml(text: str) -> Any:
    """Parse Timeloop YAML ``text`` within energysim's bounds (raises ``yaml.YAMLError``)."""
    loader = _TimeloopLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def read_timeloop_yaml(path: str | Path) -> Any:
    """Parse the Timeloop file ``path``; any problem is one error naming the file (and line)."""
    path = Path(path)
    return parse_explained(read_text(path), display_path(path), parse_timeloop_yaml)
