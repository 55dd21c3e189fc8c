"""Small checked readers of Timeloop values: integers, numbers, names, lists, factors.

Every Timeloop file is user input: each value is checked where it is read, and
a bad one is one :class:`~energysim.errors.EnergySimError` naming the file and
the YAML path (``mapping[2].factors``). Numbers stay within
:mod:`energysim.model.limits`; Timeloop's expression strings (``depth:
1024*4``) are not evaluated: energysim reads numbers only.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from energysim.errors import EnergySimError
from energysim.model.base import TENSORS, Tensor, shown_value
from energysim.model.limits import MAX_DIMENSION, MAX_NAME_CHARS

#: Timeloop's data space names and energysim's tensors.
DATA_SPACES: dict[str, Tensor] = {"Weights": "weights", "Inputs": "inputs", "Outputs": "outputs"}
TIMELOOP_DATA_SPACE: dict[Tensor, str] = {tensor: name for name, tensor in DATA_SPACES.items()}
_RANGE = re.compile(r"^(?P<base>[^\[\]]+)\[(?P<low>\d{1,12})\.\.(?P<high>\d{1,12})\]$")
_FLOAT = re.compile(r"^[-+]?(\d{1,30}(\.\d{0,30})?|\.\d{1,30})([eE][-+]?\d{1,3})?$")
_FACTOR = re.compile(r"^(?P<dim>[A-Za-z_]+)=?(?P<value>\d{1,12})$")


@dataclass
class Source:
    """One file being read: its shown path, and the warnings collected while reading it."""

    where: str
    warnings: list[str] = field(default_factory=list)

    def error(self, path: str, problem: str) -> EnergySimError:
        """One error naming the file and the YAML path."""
        return EnergySimError(f"{self.where}: {path}: {problem}")

    def warn(self, path: str, problem: str) -> None:
        """A listed warning: something the file says that energysim does not model."""
        self.warnings.append(f"{self.where}: {path}: {problem}")

    def mapping(self, value: Any, path: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.error(path, f"expected a mapping of keys to values, got {shown_value(value)}")
        return value

    def sequence(self, value: Any, path: str) -> list[Any]:
        if not isinstance(value, list):
            raise self.error(path, f"expected a list, got {shown_value(value)}")
        return value

    def integer(self, value: Any, path: str, minimum: int = 1, maximum: int = MAX_DIMENSION) -> int:
        if isinstance(value, float) and value.is_integer() and minimum <= value <= maximum:
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
            raise self.error(
                path,
                f"expected an integer from {minimum} to {maximum}, got {shown_value(value)} "
                "(energysim reads numbers only, not expressions)",
            )
        return value

    def number(self, value: Any, path: str, maximum: float) -> float:
        if isinstance(value, str) and _FLOAT.match(value):
            value = float(value)  # YAML 1.1 reads 1e-09 (no dot) as a string; Accelergy writes it so
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(path, f"expected a number, got {shown_value(value)}")
        number = float(value)
        if not (math.isfinite(number) and 0 <= number <= maximum):
            raise self.error(path, f"expected a number from 0 to {maximum:g}, got {shown_value(value)}")
        return number

    def name(self, value: Any, path: str) -> str:
        if not isinstance(value, str) or not value or len(value) > MAX_NAME_CHARS or not value.isprintable():
            raise self.error(
                path,
                f"expected a name of 1 to {MAX_NAME_CHARS} printable characters, got {shown_value(value)}",
            )
        return value

    def ranged_name(self, value: Any, path: str) -> tuple[str, int]:
        """``PE[0..15]`` -> ("PE", 16); a plain name -> (name, 1)."""
        text = self.name(value, path)
        match = _RANGE.match(text)
        if match is None:
            return text, 1
        low, high = int(match["low"]), int(match["high"])
        if high < low or high - low + 1 > MAX_DIMENSION:
            raise self.error(
                path, f"instance range {text!r}: expected [0..N-1] with 1 to {MAX_DIMENSION} instances"
            )
        return match["base"], high - low + 1

    def tensors(self, value: Any, path: str) -> tuple[Tensor, ...]:
        """Timeloop data space names (``[Weights, Inputs]``) as energysim tensors, in energysim's order."""
        names = self.sequence(value, path)
        unknown = [name for name in names if name not in DATA_SPACES]
        if unknown:
            raise self.error(
                path,
                f"unknown data space {shown_value(unknown[0])}; energysim knows {', '.join(DATA_SPACES)} "
                "(Timeloop's CNN-layer data spaces)",
            )
        chosen = {DATA_SPACES[name] for name in names}
        return tuple(tensor for tensor in TENSORS if tensor in chosen)

    def factors(self, value: Any, path: str) -> dict[str, int]:
        """``"C=3 M=4"``, ``"C3 M4"`` or ``[C=3, M=4]`` as {dim: factor}."""
        items = value.split() if isinstance(value, str) else self.sequence(value, path)
        result: dict[str, int] = {}
        for item in items:
            match = _FACTOR.match(str(item)) if isinstance(item, str) else None
            if match is None:
                raise self.error(path, f"expected factors like 'C=3 M=4', got {shown_value(item)}")
            dim = match["dim"]
            if dim in result:
                raise self.error(path, f"dimension {dim} given twice")
            result[dim] = self.integer(int(match["value"]), f"{path}.{dim}")
        return result

    def permutation(self, value: Any, path: str) -> list[str]:
        """``"RPK"`` or ``[R, P, K]``: Timeloop's order, innermost loop first."""
        if isinstance(value, str):
            dims = list(value.replace(" ", ""))
        else:
            dims = [
                self.name(item, f"{path}[{index}]") for index, item in enumerate(self.sequence(value, path))
            ]
        if len(set(dims)) != len(dims):
            raise self.error(path, f"a dimension is listed twice: {value!r}")
        return dims
