"""Timeloop specs, both ways: ``from_timeloop`` and ``to_timeloop``.

Import reads Timeloop's architecture (v0.3 tree or v0.4 node list), problem
(the CNN layer), optional mapping and optional ERT, and gives an energysim
hierarchy, one-layer workload and mapping, with the warnings that list what
the files say and energysim does not model. Export writes the same triple
(and an ERT with energysim's energies) from a hierarchy, a layer and a
mapping, so that Timeloop runs on exactly energysim's inputs. Details of each
part: :mod:`~energysim.interop.timeloop_arch`,
:mod:`~energysim.interop.timeloop_problem`,
:mod:`~energysim.interop.timeloop_mapping`,
:mod:`~energysim.interop.timeloop_export`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from energysim.errors import EnergySimError
from energysim.interop.timeloop_arch import EXTRA, flatten_architecture
from energysim.interop.timeloop_ert import read_ert
from energysim.interop.timeloop_export import architecture_dict, ert_dict
from energysim.interop.timeloop_levels import build_hierarchy
from energysim.interop.timeloop_mapping import mapping_directives, read_mapping, repeated_dimensions
from energysim.interop.timeloop_problem import problem_dict, read_problem
from energysim.interop.timeloop_values import Source
from energysim.interop.timeloop_yaml import read_timeloop_yaml
from energysim.mapping.check import check_mapping
from energysim.model.files import display_path
from energysim.model.hierarchy import Hierarchy
from energysim.model.layers import LayerBase
from energysim.model.limits import MAX_NAME_CHARS
from energysim.model.mapping import Mapping
from energysim.model.workload import Network


@dataclass(frozen=True)
class TimeloopImport:
    """What a Timeloop spec says, in energysim's terms, and what energysim could not take."""

    hierarchy: Hierarchy
    workload: Network
    mapping: Mapping | None
    warnings: tuple[str, ...]

    @property
    def layer(self) -> LayerBase:
        """The one layer of the problem."""
        return self.workload.layers[0]


def _layer_name(problem: Path) -> str:
    stem = problem.stem.removesuffix(".prob")[:MAX_NAME_CHARS]
    return stem if stem and stem.isprintable() else "timeloop-problem"


def from_timeloop(
    arch: str | Path, problem: str | Path, mapping: str | Path | None = None, ert: str | Path | None = None
) -> TimeloopImport:
    """Read Timeloop's ``arch`` and ``problem`` files (and ``mapping``, ``ert`` if given).

    The mapping is checked against the layer and the hierarchy (it must
    multiply out and fit), as any energysim mapping is. Raises one
    :class:`EnergySimError` naming the file and the field.
    """
    warnings: list[str] = []
    table = None
    if ert is not None:
        table = read_ert(Source(display_path(ert), warnings), read_timeloop_yaml(ert))
    arch_source = Source(display_path(arch), warnings)
    flat = flatten_architecture(arch_source, read_timeloop_yaml(arch))
    hierarchy = build_hierarchy(arch_source, flat, table)
    problem_source = Source(display_path(problem), warnings)
    layer = read_problem(
        problem_source, read_timeloop_yaml(problem), _layer_name(Path(problem)), hierarchy.levels[0].word_bits
    )
    workload = Network.model_validate(
        {"version": 1, "name": layer.name, "source": "Timeloop problem", "layers": [layer.model_dump()]}
    )
    loops = None
    if mapping is not None:
        mapping_source = Source(display_path(mapping), warnings)
        loops = read_mapping(mapping_source, read_timeloop_yaml(mapping), hierarchy, flat.fanouts)
        check_mapping(loops, workload.layers[0], hierarchy, display_path(mapping))
    return TimeloopImport(hierarchy, workload, loops, tuple(warnings))


def to_timeloop(
    hierarchy: Hierarchy, layer: LayerBase, mapping: Mapping | None = None
) -> tuple[dict[str, Any], tuple[str, ...]]:
    """Timeloop's files for ``layer`` on ``hierarchy`` (with ``mapping``): name -> YAML data, and warnings."""
    warnings: list[str] = []
    files = {
        "arch.yaml": architecture_dict(hierarchy, warnings),
        "problem.yaml": problem_dict(layer, warnings),
        "ERT.yaml": ert_dict(hierarchy),
    }
    if mapping is not None:
        check_mapping(mapping, layer, hierarchy)
        if mapping.flattened_level is not None:
            raise EnergySimError(
                f"mapping: level {mapping.levels[mapping.flattened_level].level} flattens C, R, S (im2col), "
                "which a Timeloop mapping cannot say; lower the layer to a matmul to export it"
            )
        repeated = repeated_dimensions(mapping)
        if repeated:
            raise EnergySimError(
                f"mapping: level {repeated[0]} has two temporal loops of one dimension; "
                "Timeloop allows one loop per dimension and level"
            )
        files["mapping.yaml"] = {"mapping": mapping_directives(mapping)}
    return files, tuple(warnings)


def dump_yaml(data: Any) -> str:
    """YAML text in a fixed key order (same data, same bytes)."""
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False, allow_unicode=True, width=100)


def _text_writer(name: str, text: str) -> Callable[[Path], object]:
    def write(folder: Path) -> object:
        return (folder / name).write_text(text, encoding="utf-8")

    return write


def _warnings_text(warnings: tuple[str, ...]) -> str:
    if not warnings:
        return "no warnings: energysim and Timeloop say the same\n"
    return "".join(f"- {warning}\n" for warning in warnings)


def export_writers(files: dict[str, Any], warnings: tuple[str, ...]) -> list[Callable[[Path], object]]:
    """Writers of the Timeloop files and ``warnings.txt`` for :func:`energysim.output_folder.write_folder`."""
    writers = [_text_writer(name, dump_yaml(data)) for name, data in files.items()]
    return [*writers, _text_writer("warnings.txt", _warnings_text(warnings))]


def import_writers(spec: TimeloopImport) -> list[Callable[[Path], object]]:
    """Writers of energysim's hierarchy, workload and mapping YAML files and ``warnings.txt``."""
    hierarchy = spec.hierarchy.model_dump(mode="json", exclude_none=True)
    workload = spec.workload.model_dump(mode="json", exclude_none=True)
    writers = [
        _text_writer("hierarchy.yaml", dump_yaml(hierarchy)),
        _text_writer("workload.yaml", dump_yaml(workload)),
        _text_writer("warnings.txt", _warnings_text(spec.warnings)),
    ]
    if spec.mapping is not None:
        mapping = {**spec.mapping.to_dict(), "layer": spec.layer.name}
        writers.append(_text_writer("mapping.yaml", dump_yaml(mapping)))
    return writers


__all__ = [
    "EXTRA",
    "TimeloopImport",
    "dump_yaml",
    "export_writers",
    "from_timeloop",
    "import_writers",
    "to_timeloop",
]
