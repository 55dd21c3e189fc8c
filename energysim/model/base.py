"""Shared pieces of every validated model: strict fields, tensor names, errors.

Every YAML file of energysim goes through one schema discipline (STYLE.md, 4):
pydantic models that are immutable, reject unknown keys while listing the
valid ones, and take numbers only as numbers (``"5"`` or ``true`` is not a
size). :func:`validate_file_data` turns pydantic's errors into one
:class:`~energysim.errors.EnergySimError` that names the file and the field path
of every problem at once.
"""

from __future__ import annotations

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

#: The three data spaces of a DNN layer, in Timeloop's sense.
Tensor = Literal["weights", "inputs", "outputs"]
TENSORS: tuple[Tensor, ...] = ("weights", "inputs", "outputs")

#: A count or size: a true integer (not a bool, float or string), above zero.
PositiveInt = Annotated[int, Strict(), Field(gt=0)]
#: A count that may be zero (latency, padding).
NonNegativeInt = Annotated[int, Strict(), Field(ge=0)]


def _not_a_bool(value: Any) -> Any:
    """``true`` is not a number, even though Python says ``True == 1``."""
    if isinstance(value, bool):
        raise ValueError(f"expected a number, got {value!r}")
    return value


#: A physical quantity above zero (bandwidth, clock); integers are accepted.
PositiveFloat = Annotated[float, BeforeValidator(_not_a_bool), Field(gt=0, allow_inf_nan=False)]
#: An energy or power: zero is allowed (an ideal wire), negative is not.
NonNegativeFloat = Annotated[float, BeforeValidator(_not_a_bool), Field(ge=0, allow_inf_nan=False)]

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
                raise ValueError(
                    f"unknown key{plural} {', '.join(map(repr, unknown))}; "
                    f"valid keys: {', '.join(sorted(valid))}"
                )
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
            message += f" (got {value!r})"
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
        listing = "\n".join(f"  - {problem}" for problem in problems)
        raise EnergySimError(f"{source}: invalid {what}, {len(problems)} problems:\n{listing}") from exc
