"""Reading a hand-written mapping from YAML.

```yaml
version: 1
layer: conv3            # optional: the layer it is for
levels:                 # outermost first; levels left out have no loops
  - level: DRAM
    temporal: {M: 8, C: 16}          # outer to inner
  - level: GLB
    temporal: {M: 4, Q: 13}
    spatial: {C: 4, P: 13, R: 3}     # over the instances below
  - level: RF
    temporal: {M: 12, C: 4, S: 3}
    keeps: [weights, inputs, outputs]   # default: what the hardware level keeps
```
"""

from __future__ import annotations

from pathlib import Path

from energysim.errors import EnergySimError
from energysim.model.base import validate_file_data
from energysim.model.files import display_path, read_yaml
from energysim.model.hierarchy import Hierarchy
from energysim.model.mapping import Mapping, MappingFile


def _mapping_of(spec: MappingFile, where: str, hierarchy: Hierarchy) -> Mapping:
    """A validated mapping file's mapping over ``hierarchy``'s levels (each once, outermost first)."""
    names = [level.name for level in hierarchy.levels]
    unknown = [level.level for level in spec.levels if level.level not in names]
    if unknown:
        raise EnergySimError(
            f"{where}: invalid mapping: levels: {', '.join(map(repr, unknown))} not in hierarchy "
            f"{hierarchy.name} (its levels: {', '.join(names)})"
        )
    order = [names.index(level.level) for level in spec.levels]
    if order != sorted(order) or len(set(order)) != len(order):
        raise EnergySimError(
            f"{where}: invalid mapping: levels: list each level once, outermost first ({names})"
        )
    return spec.level_mappings(names, {level.name: level.keeps for level in hierarchy.levels})


def load_mapping(path: str | Path, hierarchy: Hierarchy) -> tuple[str | None, Mapping]:
    """The layer name a mapping file names (or None) and its mapping over ``hierarchy``'s levels."""
    path = Path(path)
    where = display_path(path)
    spec = validate_file_data(MappingFile, read_yaml(path), where, "mapping")  # read_yaml checks the path
    return spec.layer, _mapping_of(spec, where, hierarchy)


def read_mapping_file(path: str | Path, hierarchy: Hierarchy) -> dict[str | None, Mapping]:
    """The mappings of a file, by the layer each names, read once.

    A file of one mapping gives one entry (keyed None if it names no layer);
    a file of several (``version: 1`` and a list ``mappings`` of per-layer
    mappings, each naming its layer, as ``energysim search --out`` writes)
    gives one entry per layer.
    """
    path = Path(path)
    where = display_path(path)
    data = read_yaml(path)  # read_yaml checks the path
    if not (isinstance(data, dict) and "mappings" in data):
        spec = validate_file_data(MappingFile, data, where, "mapping")
        return {spec.layer: _mapping_of(spec, where, hierarchy)}
    entries = data["mappings"]
    if (
        set(data) - {"version", "hierarchy", "mappings"}
        or data.get("version") != 1
        or not isinstance(entries, list)
    ):
        raise EnergySimError(f"{where}: expected 'version: 1' and a list 'mappings' of per-layer mappings")
    result: dict[str | None, Mapping] = {}
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise EnergySimError(f"{where}: mappings[{index}]: expected a mapping of keys to values")
        entry = {key: value for key, value in entry.items() if key != "note"}
        spec = validate_file_data(MappingFile, entry, f"{where}: mappings[{index}]", "mapping")
        if spec.layer is None:
            raise EnergySimError(f"{where}: mappings[{index}]: expected a 'layer' name")
        if spec.layer in result:
            raise EnergySimError(f"{where}: mappings[{index}]: layer {spec.layer!r} is mapped twice")
        result[spec.layer] = _mapping_of(spec, f"{where}: mappings[{index}]", hierarchy)
    return result


def load_mappings(path: str | Path, hierarchy: Hierarchy) -> dict[str, Mapping]:
    """The mappings of a file of one mapping or of several (:func:`read_mapping_file`), by layer name;
    every mapping must name its layer."""
    mappings = read_mapping_file(path, hierarchy)
    named = {layer: mapping for layer, mapping in mappings.items() if layer is not None}
    if len(named) != len(mappings):
        raise EnergySimError(
            f"{display_path(Path(path))}: the mapping names no layer; add 'layer: NAME' to the file"
        )
    return named
