"""Finding and reading YAML files: shipped names or user paths.

Everywhere a hierarchy or workload is asked for, a shipped name (``eyeriss``)
or a path to a user's file (``my/arch.yaml``) is accepted. Shipped files live
in the repository's ``hierarchies/`` and ``workloads/`` folders; an installed
wheel carries copies of them inside the package (``energysim/_shipped/``).

Reading is safe against hostile files (bounds in :mod:`energysim.model.limits`):

* only a regular file is read (a folder, a FIFO or ``/dev/zero`` is an error,
  and opening never blocks), and at most :data:`MAX_FILE_BYTES` of it;
* nesting deeper than :data:`MAX_YAML_DEPTH` and documents that expand to more
  than :data:`MAX_YAML_NODES` nodes (each use of an alias counts the whole
  aliased node, so a billion-laughs bomb stops after a few thousand nodes) are
  rejected while the document is composed, before anything recurses;
* mapping keys must be scalars (``{[a]: 1}`` is an error, not a crash), and a
  key given twice in one mapping is an error;
* only the JSON-like core of YAML is constructed: null, booleans, integers,
  floats, strings, lists and mappings. ``!!set``, ``!!binary``, ``!!omap``,
  ``!!pairs``, ``!!timestamp`` and any other tag are errors, and an unquoted
  date (``2024-01-01``) stays a string;
* ``<<`` merge keys are supported, because they are the YAML way to share
  defaults between levels (``<<: *sram_defaults``): the merged keys come first,
  explicit keys override them, the duplicate-key check applies to the explicit
  keys of every mapping (merged ones included), and the merged nodes count
  towards the node and depth bounds like any alias.

Every error names the file, and the line and column where the YAML points.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import yaml
from yaml.composer import Composer, ComposerError
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.events import (
    AliasEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
)
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import Resolver
from yaml.scanner import Scanner

from energysim.errors import EnergySimError
from energysim.model.limits import MAX_FILE_BYTES, MAX_YAML_DEPTH, MAX_YAML_NODES

ShippedKind = Literal["hierarchies", "workloads"]
_PACKAGE_DIR = Path(__file__).resolve().parent.parent
_SUFFIXES = (".yaml", ".yml")
#: Longest integer or float literal constructed (characters). A longer number is beyond
#: every bound anyway, and converting it would cost time quadratic in its length.
_MAX_NUMBER_CHARS = 1000
_MERGE_TAG = "tag:yaml.org,2002:merge"


#: Longest path shown whole in a message (Linux's PATH_MAX); longer ones are shortened.
_MAX_SHOWN_PATH = 4096


def display_path(path: str | Path) -> str:
    """``path`` for a one-line message: control characters (a NUL, a newline) escaped,
    and a path longer than any the system accepts shortened to its start and length."""
    text = str(path)
    if len(text) > _MAX_SHOWN_PATH:
        text = f"{text[:200]}... ({len(text):,} characters)"
    return text if text.isprintable() else repr(text)[1:-1]


def shipped_dir(kind: ShippedKind) -> Path:
    """The folder of shipped ``kind`` files: inside the wheel, or the repository's."""
    for candidate in (_PACKAGE_DIR / "_shipped" / kind, _PACKAGE_DIR.parent / kind):
        if candidate.is_dir():
            return candidate
    raise EnergySimError(f"the shipped {kind} folder is missing: is energysim installed correctly?")


def shipped_names(kind: ShippedKind) -> list[str]:
    """Names of the shipped files of ``kind``, sorted."""
    return sorted(path.stem for path in shipped_dir(kind).iterdir() if path.suffix in _SUFFIXES)


def _file_mode(path: Path) -> int | None:
    """The ``st_mode`` of ``path``, or None if there is nothing readable there (never raises)."""
    try:
        return path.stat().st_mode
    except (OSError, ValueError):  # ENAMETOOLONG, ENOTDIR, EACCES, a NUL byte in the name, ...
        return None


def is_regular_file(path: Path) -> bool:
    """True for a regular file; False for anything else, never an OSError (too long, NUL byte...)."""
    mode = _file_mode(path)
    return mode is not None and stat.S_ISREG(mode)


def resolve(name_or_path: str | Path, kind: ShippedKind) -> Path:
    """The file meant by a shipped name or a path; a clear error if there is none.

    Never raises anything but :class:`EnergySimError`, whatever the string
    (too long, a NUL byte, a parent that is a file).
    """
    text = str(name_or_path)
    looks_like_path = isinstance(name_or_path, Path) or text.endswith(_SUFFIXES) or "/" in text
    if looks_like_path or is_regular_file(Path(text)):
        path = Path(text)
        problem = _not_a_readable_file(path)
        if problem:
            raise EnergySimError(f"{display_path(path)}: {problem}")
        return path
    candidate = shipped_dir(kind) / f"{text}.yaml"
    if "\0" not in text and is_regular_file(candidate):
        return candidate
    what = "hierarchy" if kind == "hierarchies" else "workload"
    shown = text if len(text) <= 80 else f"{text[:80]}... ({len(text)} characters)"
    raise EnergySimError(
        f"unknown {what} {display_path(shown)!r}; shipped {kind}: {', '.join(shipped_names(kind))} "
        "(or give the path to a .yaml file)"
    )


def _not_a_readable_file(path: Path) -> str | None:
    """Why ``path`` cannot be read as a YAML file, or None if it looks fine."""
    try:
        mode = os.stat(path).st_mode
    except ValueError:
        return "not a valid file name (it contains a NUL byte)"
    except OSError as exc:
        return _os_problem(exc)
    return _mode_problem(mode)


def _os_problem(exc: OSError, expected: str = "a .yaml file") -> str:
    reasons = {
        errno.ENOENT: "no such file",
        errno.ENAMETOOLONG: "file name too long",
        errno.ENOTDIR: "not a file: a folder in its path is a file",
        errno.EACCES: "cannot read: permission denied",
        errno.EISDIR: f"is a folder, expected {expected}",
    }
    return reasons.get(exc.errno or 0, f"cannot read: {exc.strerror or exc}")


def _mode_problem(mode: int, expected: str = "a .yaml file") -> str | None:
    if stat.S_ISDIR(mode):
        return f"is a folder, expected {expected}"
    if not stat.S_ISREG(mode):
        return f"not a regular file (a pipe, device or socket); expected {expected}"
    return None


def read_bounded(
    path: Path,
    max_bytes: int = MAX_FILE_BYTES,
    bound: str = "MAX_FILE_BYTES",
    expected: str = "a .yaml file",
) -> bytes:
    """At most ``max_bytes`` (the limit named ``bound``) of the regular file ``path``; never blocks
    on a FIFO. Every problem is one error naming the file (``expected`` says what it should be)."""
    where = display_path(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        descriptor = os.open(path, flags)
    except ValueError as exc:
        raise EnergySimError(f"{where}: not a valid file name (it contains a NUL byte)") from exc
    except OSError as exc:
        raise EnergySimError(f"{where}: {_os_problem(exc, expected)}") from exc
    try:
        info = os.fstat(descriptor)
        problem = _mode_problem(info.st_mode, expected)
        if problem:
            raise EnergySimError(f"{where}: {problem}")
        if info.st_size > max_bytes:
            raise EnergySimError(_too_large(where, info.st_size, max_bytes, bound))
        with os.fdopen(descriptor, "rb", closefd=False) as handle:
            data = handle.read(max_bytes + 1)  # the file may have grown since fstat
    except OSError as exc:
        raise EnergySimError(f"{where}: {_os_problem(exc, expected)}") from exc
    finally:
        os.close(descriptor)
    if len(data) > max_bytes:
        raise EnergySimError(_too_large(where, len(data), max_bytes, bound))
    return data


def _too_large(where: str, size: int, max_bytes: int, bound: str) -> str:
    return (
        f"{where}: file too large: {size:,} bytes, more than the {max_bytes:,} bytes"
        f" ({bound}) energysim reads"
    )


def read_text(path: Path, expected: str = "a .yaml file") -> str:
    """The UTF-8 text of the bounded file ``path`` (see :func:`read_bounded`)."""
    try:
        return read_bounded(path, expected=expected).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise EnergySimError(f"{display_path(path)}: not a UTF-8 text file") from exc


def parse_explained(text: str, where: str, parse: Callable[[str], Any]) -> Any:
    """``parse(text)`` with any YAML problem as one error naming ``where`` (and line and column)."""
    try:
        return parse(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        place = f"{where}:{mark.line + 1}:{mark.column + 1}" if mark else where
        kind = "YAML beyond a limit" if isinstance(exc, YamlBoundError) else "YAML syntax error"
        raise EnergySimError(f"{place}: {kind}: {exc.problem}") from exc
    except yaml.YAMLError as exc:
        detail = " ".join(str(exc).split())
        raise EnergySimError(f"{where}: YAML syntax error: {detail}") from exc


# --- the YAML loader ------------------------------------------------------------------------------


class YamlBoundError(yaml.MarkedYAMLError):
    """A bound of :mod:`~energysim.model.limits` hit while composing a YAML document."""


class BoundedComposer(Composer):
    """A composer that builds the node tree with a loop, counting nodes and depth as it goes.

    PyYAML's own composer recurses once per level (a RecursionError at a few
    hundred); this one keeps the open collections on a list, so depth costs
    nothing but the bound check. Each collection's expanded size and height
    are memoised, so an alias costs one lookup however large the node it
    names: the bounds are checked in time linear in the file, before
    construction or validation sees the document.
    """

    get_event: Any  # from the parser and the resolver it is mixed with
    resolve: Any

    def __init__(self) -> None:
        super().__init__()
        self._nodes = 0
        self._sizes: dict[int, tuple[int, int]] = {}  # id(collection) -> (expanded nodes, height)
        self._explicit: dict[int, list[tuple[Node, Node]]] = {}  # id(mapping) -> pairs as written
        self._tags: dict[tuple[str, Any], str] = {}  # (scalar, implicit) -> resolved tag

    def explicit_pairs(self, node: MappingNode) -> list[tuple[Node, Node]]:
        """The key-value pairs of ``node`` as written (merging rewrites ``node.value``)."""
        pairs = self._explicit.get(id(node))
        return list(node.value or []) if pairs is None else pairs

    def compose_node(self, parent: Node | None, index: Any) -> Node:
        """The whole node that starts at the next event, children included."""
        open_nodes: list[tuple[Node, list[Node]]] = []  # collection, pending mapping key
        while True:
            event = self.get_event()
            if isinstance(event, (SequenceEndEvent, MappingEndEvent)):
                node, _ = open_nodes.pop()
                node.end_mark = event.end_mark
                self._sizes[id(node)] = self._measure(node)
                if isinstance(node, MappingNode):
                    self._explicit[id(node)] = list(node.value)
            else:
                node = self._start_node(event, len(open_nodes))
                if open_nodes:
                    self._attach(node, *open_nodes[-1])
                if isinstance(event, (SequenceStartEvent, MappingStartEvent)):
                    open_nodes.append((node, []))
                    continue
            if not open_nodes:
                return node

    @staticmethod
    def _attach(child: Node, parent: Node, pending_key: list[Node]) -> None:
        if isinstance(parent, SequenceNode):
            parent.value.append(child)
        elif pending_key:
            parent.value.append((pending_key.pop(), child))
        else:
            pending_key.append(child)

    def _start_node(self, event: Any, depth: int) -> Node:
        if isinstance(event, AliasEvent):
            return self._alias(event, depth)
        if event.anchor is not None and event.anchor in self.anchors:
            raise ComposerError(
                f"found duplicate anchor {event.anchor!r}; first occurrence",
                self.anchors[event.anchor].start_mark,
                "second occurrence",
                event.start_mark,
            )
        node: Node
        start: Any = event.start_mark  # libyaml's marks are duck-typed yaml.Mark
        if isinstance(event, ScalarEvent):
            self._count(1, depth, start)
            end: Any = event.end_mark
            node = ScalarNode(self._scalar_tag(event), event.value, start, end, event.style)
        else:
            self._count(1, depth + 1, event.start_mark)
            kind = SequenceNode if isinstance(event, SequenceStartEvent) else MappingNode
            tag = event.tag if event.tag not in (None, "!") else self.resolve(kind, None, event.implicit)
            node = kind(tag, [], event.start_mark, None, flow_style=event.flow_style)
        if event.anchor is not None:
            self.anchors[event.anchor] = node
        return node

    def _scalar_tag(self, event: Any) -> str:
        if event.tag not in (None, "!"):
            return str(event.tag)
        key = (event.value, event.implicit)
        tag = self._tags.get(key)
        if tag is None:
            tag = self._tags[key] = self.resolve(ScalarNode, event.value, event.implicit)
        return tag

    def _alias(self, event: Any, depth: int) -> Node:
        node = self.anchors.get(event.anchor)
        if node is None:
            raise ComposerError(None, None, f"found undefined alias {event.anchor!r}", event.start_mark)
        if isinstance(node, ScalarNode):
            self._count(1, depth, event.start_mark)
            return node
        size = self._sizes.get(id(node))
        if size is None:
            raise YamlBoundError(
                problem=f"alias *{event.anchor} is used inside the node it names (a recursive structure)",
                problem_mark=event.start_mark,
            )
        self._count(size[0], depth + size[1], event.start_mark)
        return node

    def _measure(self, node: Node) -> tuple[int, int]:
        if isinstance(node, MappingNode):
            children = [child for pair in node.value for child in pair]
        else:
            children = list(node.value)
        sizes = [self._sizes.get(id(child), (1, 0)) for child in children]  # a scalar: 1 node, no depth
        return 1 + sum(size for size, _ in sizes), 1 + max((height for _, height in sizes), default=0)

    def _count(self, nodes: int, depth: int, mark: Any) -> None:
        self._nodes += nodes
        if self._nodes > MAX_YAML_NODES:
            raise YamlBoundError(
                problem=f"the document expands to more than {MAX_YAML_NODES:,} YAML nodes "
                "(MAX_YAML_NODES; aliases count every time they are used)",
                problem_mark=mark,
            )
        if depth > MAX_YAML_DEPTH:
            raise YamlBoundError(
                problem=f"nested deeper than {MAX_YAML_DEPTH} levels (MAX_YAML_DEPTH; aliases included)",
                problem_mark=mark,
            )


class CoreConstructor(SafeConstructor):
    """Constructs only null, booleans, integers, floats, strings, lists and mappings."""

    def construct_yaml_int(self, node: ScalarNode) -> int:
        _check_number_length(node)
        return super().construct_yaml_int(node)

    def construct_yaml_float(self, node: ScalarNode) -> float:
        _check_number_length(node)
        return super().construct_yaml_float(node)

    def construct_unsupported(self, node: Node) -> Any:
        raise ConstructorError(
            problem=f"unsupported YAML tag {_short_tag(node.tag)}; energysim files hold only "
            "numbers, strings, booleans, lists and mappings",
            problem_mark=node.start_mark,
        )

    def construct_unique_mapping(self, node: MappingNode) -> dict[Any, Any]:
        _check_keys(self, node)  # before merging: flatten_mapping rewrites node.value
        return self.construct_mapping(node)


def _short_tag(tag: str) -> str:
    return tag.replace("tag:yaml.org,2002:", "!!")


def _check_number_length(node: ScalarNode) -> None:
    if len(node.value) > _MAX_NUMBER_CHARS:
        raise ConstructorError(
            problem=f"a number of {len(node.value):,} characters; numbers longer than "
            f"{_MAX_NUMBER_CHARS} characters are beyond every bound",
            problem_mark=node.start_mark,
        )


def _check_keys(loader: Any, node: MappingNode) -> None:
    """Keys of ``node`` are scalars, each given once; merged mappings are checked alike."""
    seen: set[Any] = set()
    for key_node, value_node in loader.explicit_pairs(node):
        if key_node.tag == _MERGE_TAG:
            key: Any = "<<"
            for merged in value_node.value if isinstance(value_node, SequenceNode) else [value_node]:
                if isinstance(merged, MappingNode):
                    _check_keys(loader, merged)  # depth bounded by MAX_YAML_DEPTH
        elif not isinstance(key_node, ScalarNode):
            kind = "list" if isinstance(key_node, SequenceNode) else "mapping"
            raise ConstructorError(
                problem=f"a {kind} as a mapping key; keys must be plain names or numbers",
                problem_mark=key_node.start_mark,
            )
        else:
            key = loader.construct_object(key_node)
        if key in seen:
            raise ConstructorError(problem=f"duplicate key {key!r}", problem_mark=key_node.start_mark)
        seen.add(key)


_CORE_TAGS = {"null", "bool", "int", "float", "str", "seq", "map"}
for _tag in ("set", "omap", "pairs", "binary", "timestamp"):
    CoreConstructor.add_constructor(f"tag:yaml.org,2002:{_tag}", CoreConstructor.construct_unsupported)  # type: ignore[type-var]
CoreConstructor.add_constructor(None, CoreConstructor.construct_unsupported)  # type: ignore[type-var]
CoreConstructor.add_constructor("tag:yaml.org,2002:int", CoreConstructor.construct_yaml_int)  # type: ignore[type-var]
CoreConstructor.add_constructor("tag:yaml.org,2002:float", CoreConstructor.construct_yaml_float)  # type: ignore[type-var]
CoreConstructor.add_constructor("tag:yaml.org,2002:map", CoreConstructor.construct_unique_mapping)  # type: ignore[type-var]


class CoreResolver(Resolver):
    """YAML 1.1's implicit types without timestamps (``2024-01-01`` stays a string) or ``=``."""


CoreResolver.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag.rsplit(":", 1)[-1] in _CORE_TAGS | {"merge"}]
    for first, resolvers in Resolver.yaml_implicit_resolvers.items()
}


class _PythonLoader(BoundedComposer, Reader, Scanner, Parser, CoreConstructor, CoreResolver):
    """The bounded loader on PyYAML's own (iterative, pure-Python) parser."""

    def __init__(self, stream: str) -> None:
        Reader.__init__(self, stream)
        Scanner.__init__(self)
        Parser.__init__(self)
        BoundedComposer.__init__(self)
        CoreConstructor.__init__(self)
        CoreResolver.__init__(self)


_Loader: type[BoundedComposer] = _PythonLoader
try:
    from yaml._yaml import CParser
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    pass
else:

    class _LibyamlLoader(BoundedComposer, CParser, CoreConstructor, CoreResolver):
        """The bounded loader on libyaml's parser (C, iterative): several times faster."""

        def __init__(self, stream: str) -> None:
            CParser.__init__(self, stream)
            BoundedComposer.__init__(self)
            CoreConstructor.__init__(self)
            CoreResolver.__init__(self)

    _Loader = _LibyamlLoader


def _parse_with(loader_type: type[BoundedComposer], text: str) -> Any:
    loader: Any = loader_type(text)  # type: ignore[call-arg]
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def parse_yaml(text: str) -> Any:
    """Parse YAML ``text`` with the bounded loader (raises ``yaml.YAMLError``).

    Newer libyaml (the one in PyYAML 6.0.4's wheels) stops flow collections
    nested 1,000 deep while *scanning*, before the composer has seen depth
    ``MAX_YAML_DEPTH``; such a text is parsed again by the pure-Python parser,
    so that the error names the bound where it is hit, whatever the build.
    """
    try:
        return _parse_with(_Loader, text)
    except yaml.MarkedYAMLError as exc:
        if _Loader is _PythonLoader or "maximum nesting depth" not in str(exc.problem):
            raise
    return _parse_with(_PythonLoader, text)


def read_yaml(path: Path) -> Any:
    """Parse ``path``; any problem is one error naming the file (and line and column)."""
    return parse_explained(read_text(path), display_path(path), parse_yaml)
