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


@pytest.fixture
def write_yaml(tmp_path: Path) -> Callable[[str, Any], Path]:
    """Write ``data`` as YAML to ``tmp_path / filename``; returns the path."""

    def write(filename: str, data: Any) -> Path:
        path = tmp_path / filename
        path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False))
        return path

    return write
