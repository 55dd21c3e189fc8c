"""Shared fixtures: reference tables and a writer of YAML files into tmp_path."""

from __future__ import annotations

import copy
import csv
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

REFERENCE_DIR = Path(__file__).parent / "reference"
REPOSITORY_ROOT = Path(__file__).resolve().parents[1]


def read_reference(name: str) -> list[dict[str, str]]:
    """Rows of one reference CSV (see tests/reference/README.md)."""
    with (REFERENCE_DIR / name).open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def parse_magnitude(text: str) -> float:
    """'61M' -> 61e6, '2.6k' -> 2600, '15.5G' -> 15.5e9."""
    scale = {"k": 1e3, "M": 1e6, "G": 1e9}
    return float(text[:-1]) * scale[text[-1]] if text[-1] in scale else float(text)


def shipped_yaml(kind: str, name: str) -> dict[str, Any]:
    """The parsed shipped file ``kind/name.yaml`` of the repository, to edit in tests."""
    return copy.deepcopy(yaml.safe_load((REPOSITORY_ROOT / kind / f"{name}.yaml").read_text()))


WriteYaml = Callable[[str, Any], Path]


def _file_error(load: Callable[[str], Any], path: Path, match: str) -> str:
    import energysim as es

    with pytest.raises(es.EnergySimError, match=match) as info:
        load(str(path))
    assert str(path) in str(info.value)  # the message names the file
    return str(info.value)


def hierarchy_error(write_yaml: WriteYaml, data: Any, match: str) -> str:
    """Write ``data`` as a hierarchy file; loading it must raise one error that names the file."""
    import energysim as es

    return _file_error(es.load_hierarchy, write_yaml("arch.yaml", data), match)


def workload_error(write_yaml: WriteYaml, data: Any, match: str) -> str:
    """Write ``data`` as a workload file; loading it must raise one error that names the file."""
    import energysim as es

    return _file_error(es.load_workload, write_yaml("net.yaml", data), match)


@pytest.fixture
def write_yaml(tmp_path: Path) -> Callable[[str, Any], Path]:
    """Write ``data`` as YAML to ``tmp_path / filename``; returns the path."""

    def write(filename: str, data: Any) -> Path:
        path = tmp_path / filename
        path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False))
        return path

    return write
