"""What Timeloop architectures can say that the schema now can too, with hand-computed energies.

* ``update_energy_pj``: an update (a partial sum written back) priced apart
  from a fill (a write from above); default the write energy.
* ``power_gating``: only the instances a mapping uses leak.
* ``block_rounding="per_instance"``: each instance's count is rounded up to
  whole blocks, as Timeloop rounds each action's per-instance count
  (``src/model/buffer.cpp``: ``ceil(accesses / block_size)`` per instance,
  times the utilised instances).
"""

from __future__ import annotations

from typing import Any

import pytest

import energysim as es
from energysim.analysis.accesses import count_accesses, plan_accesses
from energysim.analysis.energy import (
    compute_static_energy_pj,
    level_static_energy_pj,
    price,
    rounded_accesses,
)
from energysim.analysis.plan import BlockRounding
from energysim.engine import simulate_layer
from energysim.errors import EnergySimError
from energysim.model.hierarchy import Hierarchy
from energysim.model.layers import FCLayer
from energysim.model.mapping import LevelMapping, Loop, Mapping


def _hierarchy(
    rf: dict[str, Any] | None = None, dram: dict[str, Any] | None = None, pes: int = 1
) -> Hierarchy:
    """DRAM (write 120, read 100) above ``pes`` register files (write 3, read 1), one per PE."""
    level = {"bandwidth_bytes_per_cycle": 8.0, "word_bits": 16}
    return Hierarchy.model_validate(
        {
            "version": 1,
            "name": "options",
            "clock_ghz": 1.0,
            "levels": [
                {"name": "DRAM", "kind": "dram", "read_energy_pj": 100.0, "write_energy_pj": 120.0}
                | level
                | (dram or {}),
                {
                    "name": "RF",
                    "kind": "regfile",
                    "size_bytes": 256,
                    "instances": pes,
                    "read_energy_pj": 1.0,
                    "write_energy_pj": 3.0,
                }
                | level
                | (rf or {}),
            ],
            "compute": {"array": {"rows": 1, "cols": pes}, "mac_energy_pj": 1.0},
        }
    )


FC = FCLayer.model_validate({"name": "fc", "type": "fc", "C": 4, "M": 2})
#: C outer at DRAM: each output leaves the RF after half its terms and comes back.
SPILLING = Mapping((LevelMapping("DRAM", (Loop("C", 2), Loop("M", 2))), LevelMapping("RF", (Loop("C", 2),))))


def _energy(result: es.Result, level: str, tensor: str, action: str) -> float:
    frame = result.accesses
    rows = frame[(frame["level"] == level) & (frame["tensor"] == tensor) & (frame["action"] == action)]
    assert len(rows) == 1
    return float(rows["energy"].iloc[0])


def test_update_energy_prices_updates_and_only_updates() -> None:
    """fc C=4 M=2, DRAM ``C2 M2`` | RF ``C2``, 16-bit data and words.

    Updates: the RF takes one per MAC (8), DRAM one per drain (4: 2 spilled
    psums, 2 finished outputs). Fills: the RF's 2 refilled outputs. With
    ``update_energy_pj`` 7 at the RF and 150 at DRAM: RF updates 8 x 7 = 56,
    DRAM updates 4 x 150 = 600; the RF's output fills stay at its write
    energy, 2 x 3 = 6. Without the field an update costs the write energy:
    8 x 3 = 24 and 4 x 120 = 480.
    """
    plain = es.analyze(FC, _hierarchy(), mapping=SPILLING)
    priced = es.analyze(
        FC, _hierarchy(rf={"update_energy_pj": 7.0}, dram={"update_energy_pj": 150.0}), mapping=SPILLING
    )
    assert (_energy(plain, "RF", "outputs", "update"), _energy(plain, "DRAM", "outputs", "update")) == (
        24,
        480,
    )
    assert (_energy(priced, "RF", "outputs", "update"), _energy(priced, "DRAM", "outputs", "update")) == (
        56,
        600,
    )
    assert _energy(priced, "RF", "outputs", "fill") == _energy(plain, "RF", "outputs", "fill") == 6
    assert priced.total_energy - plain.total_energy == pytest.approx((56 - 24) + (600 - 480))


def test_update_energy_is_range_checked_like_the_other_energies() -> None:
    with pytest.raises(ValueError, match="update_energy_pj"):
        _hierarchy(rf={"update_energy_pj": -1.0})
    with pytest.raises(ValueError, match="update_energy_pj"):
        _hierarchy(rf={"update_energy_pj": float("inf")})


def test_power_gating_leaks_only_the_used_instances() -> None:
    """4 register files of 2 mW each, a mapping using 1, for 1000 cycles at 1 GHz (1 us).

    Ungated: 4 x 2 mW x 1 us = 8 nJ = 8000 pJ. Gated: 1 x 2 mW x 1 us = 2000
    pJ. The array (16 mW for all 4 PEs, 1 used): 16000 pJ, gated 4000 pJ.
    The used count comes from the mapping (a plan's ``instances``).
    """
    machine = _hierarchy(rf={"static_power_mw": 2.0}, pes=4)
    rf = machine.levels[1]
    one_pe = Mapping(
        (LevelMapping("DRAM", (Loop("C", 2), Loop("M", 2))), LevelMapping("RF", (Loop("C", 2),)))
    )
    bounds = FC.loop_bounds
    assert bounds is not None
    used = count_accesses(one_pe, bounds, machine, FC.macs).instances["RF"]
    assert used == 1
    assert level_static_energy_pj(rf, used, 1000, 1e9) == pytest.approx(8000)
    assert level_static_energy_pj(rf, used, 1000, 1e9, gated=True) == pytest.approx(2000)
    gated_rf = rf.model_copy(update={"power_gating": True})
    assert level_static_energy_pj(gated_rf, used, 1000, 1e9) == pytest.approx(2000)
    assert level_static_energy_pj(gated_rf, used, 1000, 1e9, gated=False) == pytest.approx(8000)
    array = machine.compute.model_copy(update={"static_power_mw": 16.0})
    assert compute_static_energy_pj(array, 1, 1000, 1e9) == pytest.approx(16000)
    assert compute_static_energy_pj(array.model_copy(update={"power_gating": True}), 1, 1000, 1e9) == (
        pytest.approx(4000)
    )


def test_power_gating_is_a_strict_boolean_of_the_schema() -> None:
    assert _hierarchy(rf={"power_gating": True}).levels[1].power_gating
    assert not _hierarchy().levels[1].power_gating
    with pytest.raises(ValueError, match="power_gating"):
        _hierarchy(rf={"power_gating": "sometimes"})


def test_per_instance_block_rounding() -> None:
    """fc C=5 M=2 on 2 RFs (DRAM spatial M2), each RF looping over C5, 64-bit RF blocks of 4 16-bit words.

    Each RF is filled with its 5 weights and the 5 inputs (which both RFs
    need): 10 weight fills and 10 input fills in all. Rounded on the total:
    ceil(10 / 4) = 3 accesses each; per instance: 2 x ceil(5 / 4) = 4. The
    RF's 10 MAC updates (5 per RF) alike: 3 vs 4. DRAM has one instance:
    the same either way.
    """
    layer = FCLayer.model_validate({"name": "fc", "type": "fc", "C": 5, "M": 2})
    machine = _hierarchy(rf={"access_bits": 64}, pes=2)
    mapping = Mapping((LevelMapping("DRAM", spatial=(Loop("M", 2),)), LevelMapping("RF", (Loop("C", 5),))))
    bounds = layer.loop_bounds
    assert bounds is not None
    counts = count_accesses(mapping, bounds, machine, layer.macs)
    total, per_instance = (
        {
            (row["level"], row["tensor"], row["action"]): row["accesses"]
            for row in price(counts, layer, machine, mode)
        }
        for mode in ("total", "per_instance")
    )
    for key in (("RF", "weights", "fill"), ("RF", "inputs", "fill"), ("RF", "outputs", "update")):
        assert counts.counts[key] == 10
        assert (total[key], per_instance[key]) == (3, 4), key
    dram = [key for key in total if key[0] == "DRAM"]
    assert dram
    assert all(total[key] == per_instance[key] for key in dram)
    assert price(counts, layer, machine) == price(counts, layer, machine, "total")
    # A counting mode may say how its counts round (Timeloop's does); an explicit argument wins.
    counts.block_rounding = "per_instance"
    assert price(counts, layer, machine) == price(counts, layer, machine, "per_instance")
    assert price(counts, layer, machine, "total") != price(counts, layer, machine)


WEIGHT_FILLS = ("RF", "weights", "fill")


def test_a_plan_carries_its_block_rounding_to_analyze_and_the_engine_and_price_rejects_others() -> None:
    """The per-instance case above: a plan marked ``per_instance`` (as the timeloop mode will mark its
    plans) gives counts that price RF weight fills at 4 accesses, in its totals (analyze) and in the
    engine's counts alike; an unknown rounding is one EnergySimError naming the choices."""
    layer = FCLayer.model_validate({"name": "fc", "type": "fc", "C": 5, "M": 2})
    machine = _hierarchy(rf={"access_bits": 64}, pes=2)
    mapping = Mapping((LevelMapping("DRAM", spatial=(Loop("M", 2),)), LevelMapping("RF", (Loop("C", 5),))))
    bounds = layer.loop_bounds
    assert bounds is not None
    plan = plan_accesses(mapping, bounds, machine, layer.macs)
    cases: list[tuple[BlockRounding, int]] = [("total", 3), ("per_instance", 4)]
    for rounding, accesses in cases:
        plan.block_rounding = rounding
        for counts in (plan.totals(), simulate_layer(plan, layer, machine).counts):
            rows = price(counts, layer, machine)
            fills = [
                row["accesses"]
                for row in rows
                if (row["level"], row["tensor"], row["action"]) == WEIGHT_FILLS
            ]
            assert fills == [accesses], (rounding, counts.block_rounding)
    with pytest.raises(EnergySimError, match=r"block_rounding: 'per_tile' is not a block rounding; expected"):
        price(plan.totals(), layer, machine, "per_tile")  # type: ignore[arg-type]


def test_uneven_counts_are_shared_as_evenly_as_they_can_be() -> None:
    """Blocks of 4 elements over 2 instances: 7 -> shares 4 and 3 -> 1 + 1 = 2 blocks;
    9 -> shares 5 and 4 -> 2 + 1 = 3 (the total rounds to 3 too); 10 -> 5 and 5 -> 4.

    Elements wider than a block ignore the option: 3 32-bit elements in
    16-bit blocks are 3 x 2 = 6 accesses either way.
    """
    rf = _hierarchy(rf={"access_bits": 64}).levels[1]
    assert [rounded_accesses(rf, 16, n, 2, "per_instance") for n in (7, 9, 10)] == [2, 3, 4]
    assert [rounded_accesses(rf, 16, n, 2, "total") for n in (7, 9, 10)] == [2, 3, 3]
    word = _hierarchy().levels[1]
    assert rounded_accesses(word, 32, 3, 2, "per_instance") == rounded_accesses(word, 32, 3, 2, "total") == 6


def test_timeloop_counting_rounds_per_instance_and_leaks_only_used_instances_end_to_end() -> None:
    """The per-instance case above, through ``es.analyze`` / ``es.simulate``.

    Exact mode rounds RF weight fills on the total (ceil(10 / 4) = 3), the
    timeloop mode per instance (2 x ceil(5 / 4) = 4), as ``buffer.cpp``'s
    ``ComputeVectorAccesses`` does. Leakage: 4 RFs of 2 mW, the mapping uses
    2 (DRAM spatial M2). Exact mode charges all 4 (the level is not gated);
    timeloop mode only the 2 used, whatever the level says: the RF's static
    energy halves for the same cycles.
    """
    layer = FCLayer.model_validate({"name": "fc", "type": "fc", "C": 5, "M": 2})
    network = es.Network.model_validate({"version": 1, "name": "one-fc", "layers": [layer.model_dump()]})
    machine = _hierarchy(rf={"access_bits": 64, "static_power_mw": 2.0}, pes=4)
    mapping = Mapping((LevelMapping("DRAM", spatial=(Loop("M", 2),)), LevelMapping("RF", (Loop("C", 5),))))
    fills = {
        mode: _accesses(es.analyze(network, machine, mapping=mapping, counting=mode), *WEIGHT_FILLS)
        for mode in ("exact", "timeloop")
    }
    assert fills == {"exact": 3, "timeloop": 4}
    static = {}
    for mode in ("exact", "timeloop"):
        result = es.simulate(network, machine, mapping=mapping, counting=mode)
        seconds = float(result.layers["cycles"].iloc[0]) / 1e9
        static[mode] = _energy(result, "RF", "none", "static") / (2.0e-3 * seconds * 1e12)
    assert static == {"exact": pytest.approx(4), "timeloop": pytest.approx(2)}


def _accesses(result: es.Result, level: str, tensor: str, action: str) -> int:
    frame = result.accesses
    rows = frame[(frame["level"] == level) & (frame["tensor"] == tensor) & (frame["action"] == action)]
    assert len(rows) == 1
    return int(rows["accesses"].iloc[0])
