"""Named energy tables: per-access energies that a hierarchy may cite instead of numbers.

Counting and pricing are kept apart (STYLE.md, 2): a hierarchy file may give
``read_energy_pj`` for every level, or name a table here and leave the fields
out. Each table cites where its numbers come from; the numbers themselves are
in ``shared/reference/energy_per_access.csv`` of the project.

Tables
------
``eyeriss-normalized``
    Chen, Emer, Sze, *Eyeriss*, ISCA 2016, Table IV: the energy of one 16-bit
    access relative to one 16-bit MAC in 65 nm: DRAM 200, global buffer 6,
    array network 2, register file 1, MAC 1. Energies from this table are in
    ``MAC-units`` (1 = the energy of one 16-bit MAC), not picojoules: a
    hierarchy that names it has ``energy_unit: MAC-units``, and every energy
    of its results is in that unit. The paper gives no picojoules for its MAC;
    to convert, give your own pJ per MAC to ``Result.in_pj`` (for an order of
    magnitude: ``horowitz-45nm`` prices a 16-bit integer MAC at 0.84 pJ, in
    45 nm). A wider access costs proportionally more (a 64-bit access is 4
    words).
``horowitz-45nm``
    Horowitz, *Computing's energy problem*, ISSCC 2014, 45 nm, 0.9 V. An SRAM's
    energy per 64-bit read is interpolated log-log between the published 8 KB
    (10 pJ), 32 KB (20 pJ) and 1 MB (100 pJ) points, and extrapolated with the
    end segments' slopes outside them; writes are taken equal to reads (the
    paper gives reads only). DRAM costs 1.3 nJ per 64-bit access (the low end
    of the published 1.3-2.6 nJ). A MAC is one multiply plus one add of its
    datatype: int8 0.2 + 0.03, int32 3.1 + 0.1, fp16 1.1 + 0.4, fp32 3.7 + 0.9
    pJ. The 16-bit integer multiply is the geometric mean of the 8- and 32-bit
    ones (multiplier energy grows with the square of the width: 0.2 x 4 = 0.8),
    and the 16-bit add (0.05 pJ) is from Sze et al., Proc. IEEE 2017.
    The paper has no wire energy; a network between levels is priced from
    Keckler, Dally, Khailany, Garland, Glasco, *GPUs and the future of parallel
    computing*, IEEE Micro 31(5), 2011, Table 1 (40 nm, 0.9 V, the nearest
    published node): moving 256 bits over 10 mm of on-chip wire costs 310 pJ
    (240 fJ per bit per mm per transition, about half the bits toggling), so
    0.121 pJ per bit per mm. *Assumption*: a word travels
    ``NETWORK_DISTANCE_MM`` = 1 mm from a level to an instance below it (about
    half the side of a PE array of a few mm², Eyeriss' die is 4 mm x 4 mm).
    A 16-bit transfer then costs 1.94 pJ; a network that is longer or
    shorter should give its own ``transfer_energy_pj``.

Units
-----
``ENERGY_UNITS`` are the units an energy may be in: ``"pJ"``, and
``"MAC-units"`` (multiples of the energy of one MAC of the array's datatype,
for tables normalised to a MAC). A table's unit becomes the unit of every
hierarchy that names it, and of its results.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final, Literal

#: Picojoules.
PICOJOULE: Final = "pJ"
#: Multiples of the energy of one MAC (tables normalised to a MAC, as Eyeriss').
MAC_UNITS: Final = "MAC-units"
EnergyUnit = Literal["pJ", "MAC-units"]
ENERGY_UNITS: tuple[EnergyUnit, ...] = (PICOJOULE, MAC_UNITS)

#: Datatypes a compute unit may have; the width is the number in the name.
DATATYPE_BITS: dict[str, int] = {
    "int8": 8,
    "int16": 16,
    "int32": 32,
    "fp16": 16,
    "bf16": 16,
    "fp32": 32,
}


class EnergyTableGap(LookupError):
    """The table has no value for what was asked (the caller must give one)."""


@dataclass(frozen=True)
class EnergyTable:
    """Per-access energies by level kind, plus MAC energy by datatype.

    Attributes
    ----------
    name:
        The name a hierarchy file uses in ``energy_table:``.
    citation:
        Where the numbers come from.
    unit:
        ``"pJ"``, or ``"MAC-units"`` for a table normalised to one MAC.
    """

    name: str
    citation: str
    unit: EnergyUnit

    def level_energy_pj(self, kind: str, size_bytes: int | None, access_bits: int) -> float:
        """Energy of one access of ``access_bits`` to a level (read and write alike)."""
        raise NotImplementedError

    def network_energy_pj(self, word_bits: int) -> float:
        """Energy to move one word of ``word_bits`` from a level to one instance below."""
        raise NotImplementedError

    def mac_energy_pj(self, datatype: str) -> float:
        """Energy of one multiply-accumulate of ``datatype``."""
        raise NotImplementedError


@dataclass(frozen=True)
class EyerissNormalized(EnergyTable):
    """Eyeriss' normalised costs, per 16-bit word, in units of one 16-bit MAC."""

    per_word: tuple[tuple[str, float], ...] = (("dram", 200.0), ("sram", 6.0), ("regfile", 1.0))
    network_per_word: float = 2.0
    mac: float = 1.0

    def level_energy_pj(self, kind: str, size_bytes: int | None, access_bits: int) -> float:
        for known_kind, energy in self.per_word:
            if known_kind == kind:
                return energy * access_bits / 16
        raise EnergyTableGap(f"{self.name} has no energy for a level of kind {kind!r}")

    def network_energy_pj(self, word_bits: int) -> float:
        return self.network_per_word * word_bits / 16

    def mac_energy_pj(self, datatype: str) -> float:
        if DATATYPE_BITS.get(datatype) != 16:
            raise EnergyTableGap(f"{self.name} defines only 16-bit MACs, not {datatype!r}")
        return self.mac


#: Horowitz's SRAM points: (size in bytes, pJ per 64-bit read).
HOROWITZ_SRAM_POINTS: tuple[tuple[int, float], ...] = (
    (8 * 1024, 10.0),
    (32 * 1024, 20.0),
    (1024 * 1024, 100.0),
)
HOROWITZ_DRAM_PJ_PER_64_BITS = 1300.0
#: Keckler et al., IEEE Micro 2011, Table 1: 256 bits over 10 mm of wire cost 310 pJ (40 nm).
WIRE_PJ_PER_BIT_PER_MM = 310.0 / (256 * 10)
#: Assumed distance a word travels from a level to one instance below it.
NETWORK_DISTANCE_MM = 1.0
HOROWITZ_MAC_PJ: dict[str, float] = {
    "int8": 0.2 + 0.03,
    "int16": math.sqrt(0.2 * 3.1) + 0.05,
    "int32": 3.1 + 0.1,
    "fp16": 1.1 + 0.4,
    "fp32": 3.7 + 0.9,
}


def interpolate_sram_pj_per_64_bits(size_bytes: int) -> float:
    """Horowitz's SRAM energy for ``size_bytes``, log-log between his points."""
    points = HOROWITZ_SRAM_POINTS
    # The segment that holds size_bytes, or the end segment nearest to it.
    index = 0
    while index < len(points) - 2 and size_bytes > points[index + 1][0]:
        index += 1
    (size_a, energy_a), (size_b, energy_b) = points[index], points[index + 1]
    slope = math.log(energy_b / energy_a) / math.log(size_b / size_a)
    return float(energy_a * (size_bytes / size_a) ** slope)


@dataclass(frozen=True)
class Horowitz45nm(EnergyTable):
    """Horowitz (ISSCC 2014) 45 nm energies, in pJ."""

    def level_energy_pj(self, kind: str, size_bytes: int | None, access_bits: int) -> float:
        if kind == "dram":
            return HOROWITZ_DRAM_PJ_PER_64_BITS * access_bits / 64
        if size_bytes is None:
            raise EnergyTableGap(f"{self.name} needs size_bytes to price a {kind} level")
        return interpolate_sram_pj_per_64_bits(size_bytes) * access_bits / 64

    def network_energy_pj(self, word_bits: int) -> float:
        return WIRE_PJ_PER_BIT_PER_MM * word_bits * NETWORK_DISTANCE_MM

    def mac_energy_pj(self, datatype: str) -> float:
        try:
            return HOROWITZ_MAC_PJ[datatype]
        except KeyError:
            raise EnergyTableGap(
                f"{self.name} has no MAC energy for {datatype!r}; it has {', '.join(HOROWITZ_MAC_PJ)}"
            ) from None


ENERGY_TABLES: dict[str, EnergyTable] = {
    table.name: table
    for table in (
        EyerissNormalized(
            name="eyeriss-normalized",
            citation="Chen, Emer, Sze. Eyeriss. ISCA 2016, Table IV (65 nm, normalised to a MAC)",
            unit=MAC_UNITS,
        ),
        Horowitz45nm(
            name="horowitz-45nm",
            citation=(
                "Horowitz. Computing's energy problem. ISSCC 2014 (45 nm, 0.9 V); wires: Keckler et al. "
                "GPUs and the future of parallel computing. IEEE Micro 2011, Table 1 (1 mm assumed)"
            ),
            unit=PICOJOULE,
        ),
    )
}


def get_energy_table(name: str) -> EnergyTable:
    """The shipped table called ``name``; ``KeyError`` lists the known ones."""
    try:
        return ENERGY_TABLES[name]
    except KeyError:
        raise KeyError(
            f"unknown energy table {name!r}; known tables: {', '.join(sorted(ENERGY_TABLES))}"
        ) from None
