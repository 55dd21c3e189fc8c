"""The hardware model: an ordered memory hierarchy feeding a PE array.

A :class:`Hierarchy` is a list of storage :class:`Level` objects, outermost
(DRAM) first, then the :class:`Compute` (the PE array). A level has a capacity
(whole, or split per tensor as Eyeriss' scratchpads are), a number of
instances (one global buffer, one register file per PE), the tensors it keeps
(the others bypass it), per-access energies, bandwidth, latency and ports.
Between a level and the many instances below it there may be an
:class:`Interconnect` that multicasts and charges per transfer.

Energies can be written per field or taken from a named energy table
(:mod:`energysim.model.energy_tables`); the table fills only what the file
leaves out. ``energy_unit`` says what every ``*_energy_pj`` field of the file
really is: ``pJ`` (the default), or ``MAC-units`` (multiples of one MAC) for
numbers normalised to a MAC. A table sets it (``eyeriss-normalized`` is in
MAC-units); a file with its own normalised numbers and no table says so.
Structure is a validated fact, not a comment: level names are unique, only
the outermost level may be DRAM, instance counts grow inward and divide each
other, and the PE count is a multiple of the innermost level's instances.
"""

from __future__ import annotations

import contextlib
import itertools
from typing import Annotated, Any, Literal

from pydantic import Field, Tag, model_validator

from energysim.model.base import (
    SCALAR_OR_STRUCTURED,
    SCALAR_TAG,
    STRUCTURED_TAG,
    TENSORS,
    Bandwidth,
    Bits,
    ClockGHz,
    Description,
    Energy,
    Instances,
    LatencyCycles,
    MacsPerCycle,
    Name,
    Ports,
    PowerMW,
    SizeBytesInt,
    StrictModel,
    Tensor,
    Version,
    bound_text,
    shown_value,
)
from energysim.model.energy_tables import (
    ENERGY_TABLES,
    PICOJOULE,
    EnergyTableGap,
    EnergyUnit,
    get_energy_table,
)
from energysim.model.limits import MAX_BITS, MAX_INSTANCES, MAX_LEVELS, MAX_SIZE_BYTES

LevelKind = Literal["dram", "sram", "regfile"]
Datatype = Literal["int8", "int16", "int32", "fp16", "bf16", "fp32"]


class PerTensorBytes(StrictModel):
    """A capacity split into one partition per tensor (bytes per instance)."""

    weights: SizeBytesInt | None = None
    inputs: SizeBytesInt | None = None
    outputs: SizeBytesInt | None = None

    def get(self, tensor: Tensor) -> int | None:
        """The partition of ``tensor``, or None if it has none."""
        value: int | None = getattr(self, tensor)
        return value


SizeBytes = Annotated[
    Annotated[SizeBytesInt, Tag(SCALAR_TAG)] | Annotated[PerTensorBytes, Tag(STRUCTURED_TAG)],
    SCALAR_OR_STRUCTURED,
]


class Interconnect(StrictModel):
    """The network from a level to the instances below it.

    ``transfer_energy_pj`` is charged for every word delivered to one receiving
    instance; with ``multicast`` one read at the sender reaches many receivers.
    """

    multicast: bool = True
    transfer_energy_pj: Energy
    bandwidth_bytes_per_cycle: Bandwidth | None = None


class Level(StrictModel):
    """One storage level of the hierarchy (all of its instances alike).

    ``size_bytes`` is per instance; None means unbounded (DRAM only).
    ``access_bits`` is the block one access moves (defaults to ``word_bits``).
    ``bandwidth_bytes_per_cycle`` is per port; ``static_power_mw`` is the
    leakage of one instance. ``read_bandwidth_bytes_per_cycle`` and
    ``write_bandwidth_bytes_per_cycle`` (optional) give the level separate
    read and write ports, ``ports`` of each: reads (fills of the levels
    below, operands to the PEs) use the one, writes from below (drained
    partial sums, MAC results) the other, so neither waits for the other.
    One left out takes ``bandwidth_bytes_per_cycle``; with neither, one set
    of ports carries both directions. ``update_energy_pj`` prices an update
    (a partial sum written back from below, Timeloop's "update"); left out,
    an update costs ``write_energy_pj``. With ``power_gating`` the instances
    a layer's mapping leaves unused do not leak: static energy is
    ``static_power_mw`` x used instances x time, not x all instances.

    Ranges (:mod:`energysim.model.limits`): ``size_bytes`` (each partition)
    1 to 2^60; ``instances`` 1 to 2^31; ``word_bits`` and ``access_bits`` 1 to
    2^16; energies 0 to 1e12; ``bandwidth_bytes_per_cycle`` above 0, at most
    2^60; ``latency_cycles`` 0 to 2^31; ``ports`` 1 to 2^16;
    ``static_power_mw`` 0 to 1e12. Energies and bandwidths are finite; the
    read and write bandwidths have the bandwidth's range.
    """

    name: Name
    kind: LevelKind
    size_bytes: SizeBytes | None = None
    instances: Instances = 1
    keeps: tuple[Tensor, ...] = Field(default=TENSORS, min_length=1, max_length=len(TENSORS))
    word_bits: Bits = 16
    access_bits: Bits | None = None
    read_energy_pj: Energy
    write_energy_pj: Energy
    update_energy_pj: Energy | None = None
    bandwidth_bytes_per_cycle: Bandwidth
    read_bandwidth_bytes_per_cycle: Bandwidth | None = None
    write_bandwidth_bytes_per_cycle: Bandwidth | None = None
    latency_cycles: LatencyCycles = 0
    ports: Ports = 1
    static_power_mw: PowerMW = 0.0
    power_gating: bool = False
    double_buffered: bool = False
    network: Interconnect | None = None

    @model_validator(mode="after")
    def _check_consistency(self) -> Level:
        problems = []
        if len(set(self.keeps)) != len(self.keeps):
            problems.append(f"keeps: lists a tensor twice: {list(self.keeps)}")
        if self.size_bytes is None and self.kind != "dram":
            problems.append(f"size_bytes: required for a {self.kind} level (only DRAM is unbounded)")
        if isinstance(self.size_bytes, PerTensorBytes):
            for tensor in TENSORS:
                partition = self.size_bytes.get(tensor)
                if tensor in self.keeps and partition is None:
                    problems.append(f"size_bytes.{tensor}: missing, but the level keeps {tensor}")
                if tensor not in self.keeps and partition is not None:
                    problems.append(
                        f"size_bytes.{tensor}: given, but the level does not keep {tensor} "
                        f"(keeps: {', '.join(self.keeps)})"
                    )
        if self.access_bits is not None and self.access_bits % self.word_bits:
            problems.append(
                f"access_bits: {self.access_bits} is not a whole number of {self.word_bits}-bit words"
            )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def separate_read_write(self) -> bool:
        """True if reads and writes have ports of their own (a read or write bandwidth is given)."""
        return (
            self.read_bandwidth_bytes_per_cycle is not None
            or self.write_bandwidth_bytes_per_cycle is not None
        )

    def direction_bandwidth(self, write: bool) -> float:
        """Bytes per cycle of one port for reads (``write`` False) or writes."""
        given = self.write_bandwidth_bytes_per_cycle if write else self.read_bandwidth_bytes_per_cycle
        return self.bandwidth_bytes_per_cycle if given is None else given

    @property
    def update_energy(self) -> float:
        """Energy of one update access: ``update_energy_pj``, else the write energy."""
        return self.write_energy_pj if self.update_energy_pj is None else self.update_energy_pj

    @property
    def block_bits(self) -> int:
        """Bits moved by one access (one block)."""
        return self.access_bits or self.word_bits

    @property
    def unbounded(self) -> bool:
        """True for a level with no capacity limit (DRAM without a size)."""
        return self.size_bytes is None

    def capacity_bytes(self, tensor: Tensor) -> int | None:
        """Bytes per instance available to ``tensor`` (shared, or its partition).

        None means unbounded; 0 means the level does not keep ``tensor``.
        """
        if tensor not in self.keeps:
            return 0
        if isinstance(self.size_bytes, PerTensorBytes):
            return self.size_bytes.get(tensor)
        return self.size_bytes

    @property
    def total_size_bytes(self) -> int | None:
        """Bytes per instance, all partitions together; None if unbounded."""
        if isinstance(self.size_bytes, PerTensorBytes):
            return sum(self.size_bytes.get(tensor) or 0 for tensor in TENSORS)
        return self.size_bytes


class PEArray(StrictModel):
    """The shape of the PE array: rows and cols 1 to 2^31, rows x cols at most 2^31 PEs."""

    rows: Instances
    cols: Instances

    @model_validator(mode="after")
    def _check_pes(self) -> PEArray:
        if self.rows * self.cols > MAX_INSTANCES:
            raise ValueError(
                f"{self.rows} x {self.cols} = {self.rows * self.cols} PEs, more than "
                f"{bound_text(MAX_INSTANCES)} (MAX_INSTANCES)"
            )
        return self


class Compute(StrictModel):
    """The PE array: its shape, throughput and energy per MAC by datatype.

    ``mac_energy_pj`` may be one number (for ``datatype``) or a mapping from
    datatype to energy; ``datatype`` is what the array computes in. Ranges:
    ``macs_per_cycle_per_pe`` 1 to 2^16, energies 0 to 1e12, ``static_power_mw``
    (the whole array) 0 to 1e12. With ``power_gating`` only the PEs a
    mapping uses leak (their share of ``static_power_mw``).
    """

    name: Name = "PE"
    array: PEArray
    macs_per_cycle_per_pe: MacsPerCycle = 1
    datatype: Datatype = "int16"
    mac_energy_pj: dict[Datatype, Energy]
    systolic: bool = False
    static_power_mw: PowerMW = 0.0
    power_gating: bool = False

    @model_validator(mode="before")
    @classmethod
    def _one_energy_is_for_the_datatype(cls, data: Any) -> Any:
        energy = data.get("mac_energy_pj") if isinstance(data, dict) else None
        datatype = data.get("datatype", "int16") if isinstance(data, dict) else None
        if isinstance(energy, int | float) and not isinstance(energy, bool) and isinstance(datatype, str):
            data = {**data, "mac_energy_pj": {datatype: energy}}
        return data

    @model_validator(mode="after")
    def _check_datatype_priced(self) -> Compute:
        if self.datatype not in self.mac_energy_pj:
            raise ValueError(
                f"mac_energy_pj: no energy for the array's datatype {self.datatype!r} "
                f"(given for {', '.join(self.mac_energy_pj) or 'nothing'})"
            )
        return self

    @property
    def pes(self) -> int:
        """Number of processing elements."""
        return self.array.rows * self.array.cols

    @property
    def peak_macs_per_cycle(self) -> int:
        """MACs the whole array can do per cycle."""
        return self.pes * self.macs_per_cycle_per_pe

    @property
    def energy_per_mac(self) -> float:
        """Energy of one MAC in the array's own datatype, in the hierarchy's ``energy_unit``."""
        return self.mac_energy_pj[self.datatype]


def _fill_from_energy_table(data: Any) -> Any:
    """Fill energies a hierarchy file leaves out from its named ``energy_table``.

    Runs before validation, on the raw mapping: values the table cannot price
    (or raw values too broken to price) are left out, and validation then
    reports them as missing or wrong with their field path.
    """
    if not isinstance(data, dict) or not isinstance(data.get("energy_table"), str):
        return data
    try:
        table = get_energy_table(data["energy_table"])
    except KeyError:
        known = ", ".join(sorted(ENERGY_TABLES))
        name = shown_value(data["energy_table"])
        raise ValueError(f"energy_table: unknown energy table {name}; known tables: {known}") from None
    data = dict(data)
    data.setdefault("energy_unit", table.unit)
    if isinstance(data.get("levels"), list):
        data["levels"] = [_priced_level(level, table) for level in data["levels"]]
    compute = data.get("compute")
    if isinstance(compute, dict) and "mac_energy_pj" not in compute:
        datatype = compute.get("datatype", "int16")
        with contextlib.suppress(EnergyTableGap, TypeError):
            data["compute"] = {**compute, "mac_energy_pj": {datatype: table.mac_energy_pj(datatype)}}
    return data


def _in_range(value: Any, maximum: int) -> bool:
    """True for an integer that validation will accept (1 to ``maximum``)."""
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= maximum


def _priced_level(level: Any, table: Any) -> Any:
    """``level`` with the energies the table gives; values out of range are not priced.

    Pricing runs before validation, so it only uses sizes and widths that
    validation will accept: a 400-digit ``access_bits`` never reaches the
    table's float arithmetic. Such a level gets placeholder energies (0) so
    that validation, which must fail on the bad value, reports only that value
    and its range, not "missing" energies too.
    """
    if not isinstance(level, dict):
        return level
    level = dict(level)
    size = level.get("size_bytes")
    if isinstance(size, dict):
        partitions = [value for value in size.values() if _in_range(value, MAX_SIZE_BYTES)]
        size = max(partitions) if partitions else None
    word_bits = level.get("word_bits", 16)
    access_bits = level.get("access_bits") or word_bits
    size_ok = size is None or _in_range(size, MAX_SIZE_BYTES)
    if not (size_ok and _in_range(word_bits, MAX_BITS) and _in_range(access_bits, MAX_BITS)):
        level.setdefault("read_energy_pj", 0.0)
        level.setdefault("write_energy_pj", 0.0)
        if isinstance(level.get("network"), dict):
            level["network"] = {"transfer_energy_pj": 0.0, **level["network"]}
        return level
    try:
        energy = table.level_energy_pj(level.get("kind"), size, access_bits)
        level.setdefault("read_energy_pj", energy)
        level.setdefault("write_energy_pj", energy)
    except (EnergyTableGap, TypeError, ValueError, ZeroDivisionError):
        pass
    network = level.get("network")
    if isinstance(network, dict) and "transfer_energy_pj" not in network:
        with contextlib.suppress(EnergyTableGap, TypeError):
            level["network"] = {**network, "transfer_energy_pj": table.network_energy_pj(word_bits)}
    return level


class Hierarchy(StrictModel):
    """A memory hierarchy, outermost level first, and the compute it feeds.

    Build one from a file with :func:`energysim.load_hierarchy`, or from a
    dict with ``Hierarchy.model_validate(...)``; both check the same rules.
    ``clock_ghz`` is 0.001 (1 MHz) to 1000 (1 THz); at most 64 levels
    (MAX_LEVELS).
    """

    version: Version
    name: Name
    description: Description = ""
    energy_table: Name | None = None
    energy_unit: EnergyUnit = PICOJOULE
    clock_ghz: ClockGHz
    levels: tuple[Level, ...] = Field(min_length=1)
    compute: Compute
    #: The dataflow this hardware is built for (ws, os, is, rs or nlr): the default when none is given.
    default_dataflow: Literal["ws", "os", "is", "rs", "nlr"] | None = None

    @model_validator(mode="before")
    @classmethod
    def _apply_energy_table(cls, data: Any) -> Any:
        levels = data.get("levels") if isinstance(data, dict) else None
        if isinstance(levels, list | tuple) and len(levels) > MAX_LEVELS:
            raise ValueError(f"levels: {len(levels)} levels, more than {MAX_LEVELS} (MAX_LEVELS)")
        return _fill_from_energy_table(data)

    @model_validator(mode="after")
    def _check_structure(self) -> Hierarchy:
        problems = []
        seen: dict[str, int] = {}
        for index, level in enumerate(self.levels):
            if level.name in seen:
                problems.append(
                    f"levels[{index}].name: duplicate level name {level.name!r} "
                    f"(also levels[{seen[level.name]}])"
                )
            seen.setdefault(level.name, index)
            if level.kind == "dram" and index > 0:
                problems.append(
                    f"levels[{index}].kind: only the outermost level (levels[0]) may be dram; "
                    "levels are listed outermost first"
                )
        outer = self.levels[0]
        missing = [tensor for tensor in TENSORS if tensor not in outer.keeps]
        if missing:
            problems.append(
                f"levels[0].keeps: the outermost level must keep every tensor (missing {', '.join(missing)})"
            )
        for index, (above, below) in enumerate(itertools.pairwise(self.levels)):
            if below.instances % above.instances:
                problems.append(
                    f"levels[{index + 1}].instances: {below.instances} is not a multiple of "
                    f"levels[{index}].instances ({above.instances}); inner levels fan out "
                    "from outer ones"
                )
        innermost = self.levels[-1]
        if self.compute.pes % innermost.instances:
            problems.append(
                f"compute.array: {self.compute.pes} PEs is not a multiple of the innermost "
                f"level's {innermost.instances} instances"
            )
        problems += self._unit_problems()
        if problems:
            raise ValueError("\n".join(problems))
        return self

    def _unit_problems(self) -> list[str]:
        """The unit must agree with the table, and leakage (mW x time) is only ever pJ."""
        problems = []
        if self.energy_table is not None:
            table_unit = get_energy_table(self.energy_table).unit
            if self.energy_unit != table_unit:
                problems.append(
                    f"energy_unit: {self.energy_unit!r}, but energy_table {self.energy_table} is in "
                    f"{table_unit!r}; leave energy_unit out, or drop the table"
                )
        if self.energy_unit != PICOJOULE:
            leaking = [f"levels[{i}]" for i, level in enumerate(self.levels) if level.static_power_mw > 0]
            leaking += ["compute"] if self.compute.static_power_mw > 0 else []
            problems += [
                f"{where}.static_power_mw: leakage (mW x time) is in pJ, but this hierarchy's energies "
                f"are in {self.energy_unit}; give 0 or price the hierarchy in pJ"
                for where in leaking
            ]
        return problems

    @property
    def peak_macs_per_cycle(self) -> int:
        """MACs the PE array can do per cycle."""
        return self.compute.peak_macs_per_cycle

    @property
    def clock_hz(self) -> float:
        """Clock frequency in Hz (the simulation's cycle is one period)."""
        return self.clock_ghz * 1e9

    @property
    def peak_flops_per_s(self) -> float:
        """Peak arithmetic throughput, two FLOPs per MAC."""
        return 2 * self.peak_macs_per_cycle * self.clock_hz

    @property
    def per_pe_level(self) -> int | None:
        """Index of the innermost level with one instance per PE (the PEs' own storage), if any."""
        for index in range(len(self.levels) - 1, -1, -1):
            if self.levels[index].instances == self.compute.pes:
                return index
        return None

    @property
    def array_level(self) -> int:
        """Where the PE array begins: the per-PE level, else the innermost level.

        Storage at and below it sits with the PEs: its accesses happen within
        compute bursts and are counted, not simulated one by one. (A hierarchy
        of DRAM alone has its array past the last level.)
        """
        local = self.per_pe_level
        if local is not None:
            return local
        return max(len(self.levels) - 1, 1)

    @property
    def outermost(self) -> Level:
        """The outermost level (DRAM in every shipped hierarchy)."""
        return self.levels[0]

    def level(self, name: str) -> Level:
        """The level called ``name``; ``KeyError`` lists the names there are."""
        for level in self.levels:
            if level.name == name:
                return level
        raise KeyError(f"no level {name!r} in {self.name}; levels: {[lv.name for lv in self.levels]}")

    def total_bandwidth_bytes_per_cycle(self, level: Level) -> float:
        """Bandwidth of all ports of all instances of ``level`` together."""
        return level.bandwidth_bytes_per_cycle * level.ports * level.instances

    # Variations (energysim.model.variations): a new validated hierarchy named after the change.
    def with_level(self, level_name: str, **changes: Any) -> Hierarchy:
        """A copy with fields of one level changed: ``with_level("GLB", size_bytes=2 * 1024**2)``."""
        from energysim.model.variations import with_level

        return with_level(self, level_name, **changes)

    def with_compute(self, **changes: Any) -> Hierarchy:
        """A copy with the compute changed: ``with_compute(rows=32, cols=32)`` (per-PE levels follow)."""
        from energysim.model.variations import with_compute

        return with_compute(self, **changes)

    def with_energy_table(self, table: str) -> Hierarchy:
        """A copy priced entirely by the energy table ``table`` (and in its unit)."""
        from energysim.model.variations import with_energy_table

        return with_energy_table(self, table)
