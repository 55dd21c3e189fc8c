"""Helpers shared by the report scripts: where outputs go, and how tables are written."""

from __future__ import annotations

from pathlib import Path

REPORTS = Path(__file__).resolve().parent


def markdown_table(frame: object, floats: str = "{:.4g}") -> str:
    """A pandas DataFrame as a Markdown table (for the lab notes)."""
    import pandas as pd

    assert isinstance(frame, pd.DataFrame)
    header = "| " + " | ".join(map(str, frame.columns)) + " |"
    rule = "| " + " | ".join("---" for _ in frame.columns) + " |"
    rows = [
        "| "
        + " | ".join(
            floats.format(v) if isinstance(v, float) else f"{v:,}" if isinstance(v, int) else str(v)
            for v in row
        )
        + " |"
        for row in frame.itertuples(index=False)
    ]
    return "\n".join([header, rule, *rows])
