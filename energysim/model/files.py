"""Finding and reading YAML files: shipped names or user paths.

Everywhere a hierarchy or workload is asked for, a shipped name (``eyeriss``)
or a path to a user's file (``my/arch.yaml``) is accepted. Shipped files live
in the repository's ``hierarchies/`` and ``workloads/`` folders; an installed
wheel carries copies of them inside the package (``energysim/_shipped/``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml

from energysim.errors import EnergySimError

ShippedKind = Literal["hierarchies", "workloads"]
_PACKAGE_DIR = Path(__file__).resolve().parent.parent
_SUFFIXES = (".yaml", ".yml")


def shipped_dir(kind: ShippedKind) -> Path:
    """The folder of shipped ``kind`` files: inside the wheel, or the repository's."""
    for candidate in (_PACKAGE_DIR / "_shipped" / kind, _PACKAGE_DIR.parent / kind):
        if candidate.is_dir():
            return candidate
    raise EnergySimError(f"the shipped {kind} folder is missing: is energysim installed correctly?")


def shipped_names(kind: ShippedKind) -> list[str]:
    """Names of the shipped files of ``kind``, sorted."""
    return sorted(path.stem for path in shipped_dir(kind).iterdir() if path.suffix in _SUFFIXES)


def resolve(name_or_path: str | Path, kind: ShippedKind) -> Path:
    """The file meant by a shipped name or a path; a clear error if there is none."""
    text = str(name_or_path)
    looks_like_path = isinstance(name_or_path, Path) or text.endswith(_SUFFIXES) or "/" in text
    if looks_like_path or Path(text).is_file():
        path = Path(text)
        if path.is_dir():
            raise EnergySimError(f"{path}: is a folder, expected a .yaml file")
        if not path.is_file():
            raise EnergySimError(f"{path}: no such file")
        return path
    candidate = shipped_dir(kind) / f"{text}.yaml"
    if candidate.is_file():
        return candidate
    what = "hierarchy" if kind == "hierarchies" else "workload"
    raise EnergySimError(
        f"unknown {what} {text!r}; shipped {kind}: {', '.join(shipped_names(kind))} "
        "(or give the path to a .yaml file)"
    )


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe YAML loader that rejects a key given twice in one mapping."""


def _construct_unique_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            mark = key_node.start_mark
            raise yaml.MarkedYAMLError(problem=f"duplicate key {key!r}", problem_mark=mark)
        seen.add(key)
    return loader.construct_mapping(node)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_unique_mapping)


def read_yaml(path: Path) -> Any:
    """Parse ``path``; a syntax error names the file, line and column."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise EnergySimError(f"{path}: cannot read: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise EnergySimError(f"{path}: not a UTF-8 text file") from exc
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise EnergySimError(f"{where}: YAML syntax error: {exc.problem}") from exc
    except yaml.YAMLError as exc:
        raise EnergySimError(f"{path}: YAML syntax error: {exc}") from exc
