"""Shared pieces of every validated model: strict fields, tensor names, errors.

Every YAML file of energysim goes through one schema discipline (STYLE.md, 4):
pydantic models that are immutable, reject unknown keys while listing the
valid ones, and take numbers only as numbers (``"5"`` or ``true`` is not a
size) within a documented range: every numeric field has one of the bounded
types below, whose bounds come from :mod:`energysim.model.limits`, and a value
outside (a 400-digit integer, ``1e30`` bytes, NaN) is one error that states the
range. :func:`validate_file_data` turns pydantic's errors into one
:class:`~energysim.errors.EnergySimError` that names the file and the field path
of every problem at once.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from functools import partial
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Strict,
    ValidationError,
    model_validator,
)

from energysim.errors import EnergySimError
from energysim.model.limits import (
    MAX_BANDWIDTH_BYTES_PER_CYCLE,
    MAX_BITS,
    MAX_CLOCK_GHZ,
    MAX_DESCRIPTION_CHARS,
    MAX_DIMENSION,
    MAX_ENERGY_PJ,
    MAX_INSTANCES,
    MAX_LATENCY_CYCLES,
    MAX_MACS_PER_CYCLE_PER_PE,
    MAX_NAME_CHARS,
    MAX_PORTS,
    MAX_POWER_MW,
    MAX_SIZE_BYTES,
    MIN_CLOCK_GHZ,
)

#: The three data spaces of a DNN layer, in Timeloop's sense.
Tensor = Literal["weights", "inputs", "outputs"]
TENSORS: tuple[Tensor, ...] = ("weights", "inputs", "outputs")

#: A count or size: a true integer (not a bool, float or string), above zero. Unbounded:
#: every field of a file uses one of the bounded types below instead.
PositiveInt = Annotated[int, Strict(), Field(gt=0)]
#: A count that may be zero, unbounded (see :func:`int_range`).
NonNegativeInt = Annotated[int, Strict(), Field(ge=0)]


def bound_text(value: float) -> str:
    """A bound as a message shows it: ``2147483648 (2^31)``, ``1e+12``, ``0.001``."""
    if value >= 1024 and float(value).is_integer() and int(value) & (int(value) - 1) == 0:
        return f"{int(value)} (2^{int(value).bit_length() - 1})"
    return str(value) if isinstance(value, int) else f"{value:g}"


def shown_value(value: Any) -> str:
    """A bad value as a message shows it, briefly: a 400-digit integer is not printed whole."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        if value.bit_length() > 13_000:  # str() refuses more than 4,300 digits
            return f"an integer of {value.bit_length():,} bits"
        return f"a {len(str(abs(value)))}-digit integer"
    if isinstance(value, str) and len(value) > 40:
        return repr(f"{value[:40]}...")
    if isinstance(value, dict | list | tuple | set):
        return f"a {type(value).__name__}"
    return repr(value)


def _check_integer(value: Any, minimum: int, maximum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(
            f"expected an integer from {minimum} to {bound_text(maximum)}, got {shown_value(value)}"
        )
    if value > maximum:
        raise ValueError(f"must be at most {bound_text(maximum)}, got {shown_value(value)}")
    if value < minimum:
        raise ValueError(f"must be at least {minimum}, got {shown_value(value)}")
    return value


def _check_real(value: Any, minimum: float, maximum: float, above_minimum: bool) -> float:
    low = f"above {bound_text(minimum)}" if above_minimum else f"at least {bound_text(minimum)}"
    expected = f"a finite number {low} and at most {bound_text(maximum)}"
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"expected {expected}, got {shown_value(value)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"must be {expected}, got {shown_value(value)}")
    if value > maximum:  # exact for ints of any size: no conversion to float before the check
        raise ValueError(f"must be at most {bound_text(maximum)}, got {shown_value(value)}")
    if value < minimum or (above_minimum and value == minimum):
        rule = "greater than" if above_minimum else "at least"
        raise ValueError(f"must be {rule} {bound_text(minimum)}, got {shown_value(value)}")
    return float(value)


def int_range(minimum: int, maximum: int) -> BeforeValidator:
    """Validates an integer field in ``[minimum, maximum]``: a bool, float or string is an error.

    The check runs before pydantic converts anything, so a 400-digit integer
    is one clear message naming the range, never an overflow.
    """
    return BeforeValidator(partial(_check_integer, minimum=minimum, maximum=maximum))


def real_range(minimum: float, maximum: float, *, above_minimum: bool = False) -> BeforeValidator:
    """Validates a finite real in ``[minimum, maximum]`` (``(minimum, maximum]`` with ``above_minimum``).

    Integers are accepted (and compared exactly before conversion); a bool,
    string (``"1e3"``), NaN or infinity is an error.
    """
    return BeforeValidator(
        partial(_check_real, minimum=minimum, maximum=maximum, above_minimum=above_minimum)
    )


# The bounded types of every numeric field (ranges from energysim.model.limits).
#: A loop bound, tensor dimension, loop factor, stride, dilation or group count: 1 to 2^31.
Dimension = Annotated[int, int_range(1, MAX_DIMENSION), Strict()]
#: Zero padding: 0 to 2^31.
Padding = Annotated[int, int_range(0, MAX_DIMENSION), Strict()]
#: Bits per element, per word or per access: 1 to 2^16.
Bits = Annotated[int, int_range(1, MAX_BITS), Strict()]
#: Bytes of one level instance (or of one tensor's partition): 1 to 2^60 (an exabyte).
SizeBytesInt = Annotated[int, int_range(1, MAX_SIZE_BYTES), Strict()]
#: Instances of a level, and rows or columns of the PE array: 1 to 2^31.
Instances = Annotated[int, int_range(1, MAX_INSTANCES), Strict()]
#: Ports of a level: 1 to 2^16.
Ports = Annotated[int, int_range(1, MAX_PORTS), Strict()]
#: Latency of an access (cycles): 0 to 2^31.
LatencyCycles = Annotated[int, int_range(0, MAX_LATENCY_CYCLES), Strict()]
#: MACs per cycle of one PE: 1 to 2^16.
MacsPerCycle = Annotated[int, int_range(1, MAX_MACS_PER_CYCLE_PER_PE), Strict()]
#: Bandwidth of one port (bytes per cycle): above 0, at most 2^60.
Bandwidth = Annotated[float, real_range(0.0, MAX_BANDWIDTH_BYTES_PER_CYCLE, above_minimum=True)]
#: Clock frequency (GHz): 0.001 (1 MHz) to 1000 (1 THz).
ClockGHz = Annotated[float, real_range(MIN_CLOCK_GHZ, MAX_CLOCK_GHZ)]
#: Energy of one access, transfer or MAC (pJ, or MAC units): 0 to 1e12.
Energy = Annotated[float, real_range(0.0, MAX_ENERGY_PJ)]
#: Static power of one instance (mW): 0 to 1e12.
PowerMW = Annotated[float, real_range(0.0, MAX_POWER_MW)]
#: Operations per element of an operator without MACs: above 0, at most 2^31.
OpsPerElement = Annotated[float, real_range(0.0, float(MAX_DIMENSION), above_minimum=True)]


def _check_name(value: Any) -> Any:
    if isinstance(value, str):
        if not value:
            raise ValueError("must not be empty")
        if len(value) > MAX_NAME_CHARS:
            raise ValueError(f"must be at most {MAX_NAME_CHARS} characters, got {len(value):,}")
        if any(not character.isprintable() for character in value):
            raise ValueError(f"must be printable (no control characters), got {shown_value(value)}")
    return value


#: A name (of a layer, level, workload, hierarchy): 1 to MAX_NAME_CHARS printable characters.
Name = Annotated[str, BeforeValidator(_check_name), Strict()]
#: Free text: at most MAX_DESCRIPTION_CHARS characters.
Description = Annotated[str, Field(max_length=MAX_DESCRIPTION_CHARS)]


def _check_version(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int) or value != 1:
        raise ValueError(f"must be 1 (the only file format so far), got {shown_value(value)}")
    return value


#: The ``version:`` of every file: exactly the integer 1.
Version = Annotated[Literal[1], BeforeValidator(_check_version)]

#: At most this many problems and unknown keys are listed in one message.
MAX_LISTED = 20


def bounded_product(values: Iterable[int], limit: int) -> int | None:
    """The product of positive ``values``, or None as soon as it exceeds ``limit``.

    Stops early, so a list of a million huge factors costs one multiplication
    past the limit, never a product millions of bits long.
    """
    product = 1
    for value in values:
        product *= value
        if product > limit:
            return None
    return product


ModelT = TypeVar("ModelT", bound=BaseModel)

#: Tags of fields that take either one number or a structured value (see
#: :data:`SCALAR_OR_STRUCTURED`); they never appear in a file's field paths.
SCALAR_TAG = "scalar"
STRUCTURED_TAG = "structured"


def _scalar_or_structured(value: Any) -> str:
    return STRUCTURED_TAG if isinstance(value, dict | list | tuple | BaseModel) else SCALAR_TAG


#: Discriminator for a field such as ``size_bytes: 512`` or ``size_bytes: {weights: 448}``:
#: the value is validated only as what it looks like, so an error is about that.
SCALAR_OR_STRUCTURED = Discriminator(_scalar_or_structured)


class StrictModel(BaseModel):
    """Base of every schema model: frozen, and unknown keys are errors.

    A typo such as ``bandwith_bytes_per_cycle`` is reported with the list of
    valid keys, which is the quickest way for a user to see the right name.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="before")
    @classmethod
    def _reject_unknown_keys(cls, data: Any) -> Any:
        if isinstance(data, dict):
            valid = {field.alias or name for name, field in cls.model_fields.items()}
            unknown = sorted(str(key) for key in data if key not in valid)
            if unknown:
                plural = "s" if len(unknown) > 1 else ""
                listed = ", ".join(shown_value(key) for key in unknown[:MAX_LISTED])
                if len(unknown) > MAX_LISTED:
                    listed += f" and {len(unknown) - MAX_LISTED:,} more"
                raise ValueError(f"unknown key{plural} {listed}; valid keys: {', '.join(sorted(valid))}")
        return data


def format_location(location: tuple[int | str, ...], skip: frozenset[str] = frozenset()) -> str:
    """Render a pydantic error location as a YAML path, ``levels[2].size_bytes``.

    ``skip`` names location parts that pydantic inserts but the file does not
    have (the tag of a discriminated union, such as a layer's ``type``).
    """
    path = ""
    for part in location:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part in skip or part in (SCALAR_TAG, STRUCTURED_TAG):
            continue
        else:
            path += f".{part}" if path else part
    return path


def _describe(error: Any, skip: frozenset[str]) -> list[str]:
    path = format_location(tuple(error["loc"]), skip)
    message = str(error["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
    if error["type"] == "missing":
        message = "missing required field"
        if path.endswith("_energy_pj"):
            message += " (give it, or name an energy_table that prices it)"
    elif error["type"] not in {"value_error", "union_tag_invalid", "union_tag_not_found"}:
        value = error.get("input")
        if not isinstance(value, dict | list):
            message += f" (got {shown_value(value)})"
    # A cross-field check reports several problems, one a line, each with its own path.
    return [f"{path}: {line}" if path else line for line in message.split("\n")]


def _is_echo(error: Any, errors: list[Any]) -> bool:
    """A too-short error on a list whose items failed: pydantic counts only the valid items."""
    location = tuple(error["loc"])
    return error["type"] == "too_short" and any(
        len(other["loc"]) > len(location) and tuple(other["loc"][: len(location)]) == location
        for other in errors
    )


def validation_problems(exc: ValidationError, skip: frozenset[str] = frozenset()) -> list[str]:
    """One line per problem found by pydantic, with its field path."""
    errors = exc.errors()
    return [line for error in errors if not _is_echo(error, errors) for line in _describe(error, skip)]


def validate_file_data(
    model: type[ModelT], data: Any, source: str, what: str, skip: frozenset[str] = frozenset()
) -> ModelT:
    """Validate parsed YAML ``data`` as ``model``; raise one error naming ``source``.

    ``what`` says what the file should be ("hierarchy", "workload") so that a
    message for a file of the wrong kind still reads well.
    """
    if not isinstance(data, dict):
        raise EnergySimError(
            f"{source}: expected a {what} (a YAML mapping of keys to values), got {type(data).__name__}"
        )
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = validation_problems(exc, skip)
        if len(problems) == 1:
            raise EnergySimError(f"{source}: invalid {what}: {problems[0]}") from exc
        listing = "\n".join(f"  - {problem}" for problem in problems[:MAX_LISTED])
        if len(problems) > MAX_LISTED:
            listing += f"\n  - and {len(problems) - MAX_LISTED:,} more"
        raise EnergySimError(f"{source}: invalid {what}, {len(problems)} problems:\n{listing}") from exc
