"""Variations of a hierarchy without dict surgery: one level, the compute, or the energy table changed.

A design-space sweep asks "the same chip, but with a 2 MiB GLB", "... a 32 x 32
array", "... priced by Horowitz's 45 nm table". Each function here returns a
new, validated :class:`~energysim.model.hierarchy.Hierarchy` (the same rules
as a file), named after what changed so that a frame of many variations stays
readable: ``eyeriss[GLB.size_bytes=2MiB]``, ``eyeriss[array=32x32]``,
``eyeriss[energy_table=horowitz-45nm]``; chained changes append, and a name is
kept within ``MAX_NAME_CHARS`` (a long one ends with ``~`` and a hash of the whole).

Energies follow the change as if the field had been edited in the file: an
energy the hierarchy's table priced is priced again (a larger SRAM costs more
per access under ``horowitz-45nm``), an energy given in the file stays. (An
energy given in the file that equals the table's value exactly cannot be told
apart from the table's, and is priced again.) :meth:`Hierarchy.with_level`,
:meth:`Hierarchy.with_compute` and :meth:`Hierarchy.with_energy_table` call
these functions.
"""

from __future__ import annotations

import hashlib
from typing import Any

from energysim.errors import EnergySimError
from energysim.model.base import validate_file_data
from energysim.model.hierarchy import Hierarchy, PerTensorBytes
from energysim.model.limits import MAX_NAME_CHARS

_LEVEL_ENERGIES = ("read_energy_pj", "write_energy_pj")
_BINARY_UNITS = (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10))


def size_text(size_bytes: int) -> str:
    """Bytes as a name shows them: ``2MiB``, ``108KiB``, ``1000B`` (binary units only when exact)."""
    for unit, scale in _BINARY_UNITS:
        if size_bytes >= scale and size_bytes % scale == 0:
            return f"{size_bytes // scale}{unit}"
    return f"{size_bytes}B"


def value_text(field: str, value: Any) -> str:
    """A changed value as a hierarchy name shows it (sizes in binary units, floats short)."""
    if isinstance(value, PerTensorBytes):
        value = value.model_dump(exclude_none=True)
    if isinstance(value, dict):
        return "(" + ",".join(f"{key}={value_text(field, item)}" for key, item in value.items()) + ")"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int) and field.endswith("bytes") and value > 0:
        return size_text(value)
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list | tuple):
        return "+".join(value_text(field, item) for item in value)
    return "".join(character if character.isprintable() else "?" for character in str(value))


def variation_name(base: str, change: str) -> str:
    """``base[change]``, at most ``MAX_NAME_CHARS``: a longer name keeps its start, then ``~`` and
    8 hex digits of the SHA-256 of the whole name, so different long names stay different."""
    name = f"{base}[{change}]"
    if len(name) <= MAX_NAME_CHARS:
        return name
    digest = hashlib.sha256(name.encode("utf-8", "surrogateescape")).hexdigest()[:8]
    return f"{name[: MAX_NAME_CHARS - 9]}~{digest}"


def _dumped(hierarchy: Hierarchy) -> dict[str, Any]:
    """``hierarchy`` as plain data (lists, not tuples), ready to change and validate again."""
    data: dict[str, Any] = hierarchy.model_dump(mode="json")
    return data


def _validated(data: dict[str, Any], name: str) -> Hierarchy:
    """``data`` as a Hierarchy; an error names the variation and the field."""
    return validate_file_data(Hierarchy, data, name, "hierarchy variation")


def _table_priced(hierarchy: Hierarchy, data: dict[str, Any]) -> Hierarchy | None:
    """``data`` with every energy left for the table to price, validated; None if that fails.

    Tells which energies of ``hierarchy`` the table gave: those equal to this repricing.
    """
    if hierarchy.energy_table is None:
        return None
    bare = _without_energies(data)
    try:
        return Hierarchy.model_validate(bare)
    except ValueError:  # pydantic's ValidationError: something the table cannot price
        return None


def _without_energies(data: dict[str, Any]) -> dict[str, Any]:
    """A dumped hierarchy without per-access, network and MAC energies (and its unit)."""
    bare = dict(data)
    bare.pop("energy_unit", None)
    levels = []
    for level in data["levels"]:
        level = {key: value for key, value in level.items() if key not in _LEVEL_ENERGIES}
        if isinstance(level.get("network"), dict):
            level["network"] = {k: v for k, v in level["network"].items() if k != "transfer_energy_pj"}
        levels.append(level)
    bare["levels"] = levels
    bare["compute"] = {k: v for k, v in data["compute"].items() if k != "mac_energy_pj"}
    return bare


def with_level(hierarchy: Hierarchy, level_name: str, **changes: Any) -> Hierarchy:
    """``hierarchy`` with fields of level ``level_name`` changed, e.g. ``size_bytes=2 * 1024**2``.

    Energies the table priced for that level are priced again for the changed
    level; an energy given in ``changes`` is used as given.
    """
    names = [level.name for level in hierarchy.levels]
    if level_name not in names:
        raise EnergySimError(f"{hierarchy.name}: no level {level_name!r} to vary; levels: {', '.join(names)}")
    if not changes:
        raise EnergySimError(f"{hierarchy.name}: with_level({level_name!r}) needs a field to change")
    if "name" in changes:
        raise EnergySimError(f"{hierarchy.name}: with_level cannot rename level {level_name!r}")
    index = names.index(level_name)
    change = ",".join(f"{level_name}.{field}={value_text(field, value)}" for field, value in changes.items())
    name = variation_name(hierarchy.name, change)
    data = _dumped(hierarchy)
    priced = _table_priced(hierarchy, data)
    level = dict(data["levels"][index])
    if priced is not None:
        old, table = hierarchy.levels[index], priced.levels[index]
        for field in _LEVEL_ENERGIES:
            if field not in changes and getattr(old, field) == getattr(table, field):
                level.pop(field)
        old_network = None if old.network is None else old.network.transfer_energy_pj
        table_network = None if table.network is None else table.network.transfer_energy_pj
        if "network" not in changes and old_network is not None and old_network == table_network:
            level["network"] = {k: v for k, v in level["network"].items() if k != "transfer_energy_pj"}
    level.update(changes)
    data["levels"][index] = level
    data["name"] = name
    return _validated(data, name)


def with_compute(hierarchy: Hierarchy, **changes: Any) -> Hierarchy:
    """``hierarchy`` with its compute changed: ``rows=``, ``cols=`` (the array's shape) or any
    field of the compute (``macs_per_cycle_per_pe``, ``datatype``, ...).

    Levels with one instance per PE (the PEs' own storage) keep one per PE: a
    32 x 32 array gets 1,024 register files. A MAC energy that the table priced
    is priced again for a new ``datatype``.
    """
    if not changes:
        raise EnergySimError(f"{hierarchy.name}: with_compute needs a field to change")
    data = _dumped(hierarchy)
    compute = dict(data["compute"])
    shape = {key: changes.pop(key) for key in ("rows", "cols") if key in changes}
    parts = []
    if shape:
        if "array" in changes:
            raise EnergySimError(f"{hierarchy.name}: with_compute takes rows/cols or array, not both")
        array = {**compute["array"], **shape}
        changes = {"array": array, **changes}
    for field, value in changes.items():
        if field == "array" and isinstance(value, dict):
            rows, cols = value_text("rows", value.get("rows")), value_text("cols", value.get("cols"))
            parts.append(f"array={rows}x{cols}")
        else:
            parts.append(f"compute.{field}={value_text(field, value)}")
    name = variation_name(hierarchy.name, ",".join(parts))
    priced = _table_priced(hierarchy, data)
    table_mac = priced is not None and hierarchy.compute.energy_per_mac == priced.compute.energy_per_mac
    if table_mac and "mac_energy_pj" not in changes:
        compute.pop("mac_energy_pj")
    compute.update(changes)
    data["compute"] = compute
    new_pes = _pes(compute.get("array"))
    if new_pes is not None:
        for level in data["levels"]:
            if level["instances"] == hierarchy.compute.pes:
                level["instances"] = new_pes
    data["name"] = name
    return _validated(data, name)


def _pes(array: Any) -> int | None:
    """rows x cols of a dumped or changed array, if both are plain integers."""
    if not isinstance(array, dict):
        return None
    rows, cols = array.get("rows"), array.get("cols")
    if type(rows) is not int or type(cols) is not int:  # not a bool, not a float
        return None
    return rows * cols


def with_energy_table(hierarchy: Hierarchy, table: str) -> Hierarchy:
    """``hierarchy`` priced entirely by the energy table ``table``: every per-access, network and
    MAC energy comes from it (given ones too: energies of two tables, or of two units, never mix),
    and the hierarchy takes the table's unit. A field the table cannot price is an error naming it.
    """
    name = variation_name(hierarchy.name, f"energy_table={value_text('energy_table', table)}")
    data = _without_energies(_dumped(hierarchy))
    data["energy_table"] = table
    data["name"] = name
    return _validated(data, name)


#: What prices a mapping without deciding whether it fits or how long it runs.
_LEVEL_PRICES = ("read_energy_pj", "write_energy_pj", "update_energy_pj")


def _without_sizes(hierarchy: Hierarchy, energies: bool) -> tuple[dict[str, Any], list[Any]]:
    """``hierarchy``'s fields but its name and its levels' sizes (and, unless ``energies``, its
    prices); and the sizes, level by level."""
    data = hierarchy.model_dump(mode="json")
    data.pop("name", None)
    if not energies:
        for key in ("energy_unit", "energy_table"):
            data.pop(key, None)
        data.get("compute", {}).pop("mac_energy_pj", None)
    sizes = []
    for level in data.get("levels", []):
        sizes.append(level.pop("size_bytes", None))
        if not energies:
            for key in _LEVEL_PRICES:
                level.pop(key, None)
            if isinstance(level.get("network"), dict):
                level["network"].pop("transfer_energy_pj", None)
    return data, sizes


def _at_least(larger: Any, smaller: Any) -> bool:
    """A level of size ``larger`` holds at least ``smaller`` (per tensor if split; None: unbounded)."""
    if larger is None or smaller is None:
        return larger is None
    if isinstance(larger, dict) or isinstance(smaller, dict):
        if not (isinstance(larger, dict) and isinstance(smaller, dict)) or set(larger) != set(smaller):
            return False
        return all(_at_least(larger[key], smaller[key]) for key in larger)
    return bool(larger >= smaller)


def dominates(larger: Hierarchy, smaller: Hierarchy, energies: bool = True) -> bool:
    """True if ``larger`` is ``smaller`` with every level at least as large and nothing else changed.

    Then every mapping that fits ``smaller`` fits ``larger`` (only capacity
    decides fit) and costs the same there: same counts, same energies, same
    engine time. The names may differ. With ``energies=False`` the prices
    (per-access, network and MAC energies, the energy table and unit) may
    differ too, as they do when a table re-prices a larger SRAM
    (:meth:`Hierarchy.with_level`): the mappings still fit and take the same
    engine time, only their energy changes.
    """
    big, big_sizes = _without_sizes(larger, energies)
    small, small_sizes = _without_sizes(smaller, energies)
    return (
        big == small
        and len(big_sizes) == len(small_sizes)
        and all(_at_least(b, s) for b, s in zip(big_sizes, small_sizes, strict=True))
    )
