"""The README's scripted scenario runs as written and says what it claims."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _scenario() -> str:
    text = README.read_text(encoding="utf-8")
    match = re.search(r"<!-- scenario: run by tests/test_readme.py -->\n```python\n(.*?)```", text, re.S)
    assert match, "the README has no scenario block"
    return match.group(1)


def test_scenario_is_short() -> None:
    assert len(_scenario().strip().splitlines()) <= 15


def test_scenario_runs_and_compares_two_hierarchies(capsys: pytest.CaptureFixture[str]) -> None:
    exec(compile(_scenario(), "README.md scenario", "exec"), {})
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == ["eyeriss", "eyeriss-2x-glb"]
    per_mac = [float(line.split(": ")[1].split()[0]) for line in lines]
    assert all(value > 1 for value in per_mac)  # more than a MAC's worth per MAC: data movement
