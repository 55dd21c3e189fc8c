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


def load_mapping(path: str | Path, hierarchy: Hierarchy) -> tuple[str | None, Mapping]:
    """The layer name a mapping file names (or None) and its mapping over ``hierarchy``'s levels."""
    path = Path(path)
    where = display_path(path)
    spec = validate_file_data(MappingFile, read_yaml(path), where, "mapping")  # read_yaml checks the path
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
    mapping = spec.level_mappings(names, {level.name: level.keeps for level in hierarchy.levels})
    return spec.layer, mapping
