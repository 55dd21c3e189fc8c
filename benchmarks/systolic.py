"""energysim's cycles on systolic arrays next to SCALE-Sim's fold model.

Run: python benchmarks/systolic.py

A fold of an S_R x S_C array over T temporal steps takes 2 S_R + S_C + T - 2
cycles (Samajdar et al., ISPASS 2020), for weight, output and input
stationary alike. Each layer is lowered im2col-style to a GEMM of m = P*Q*N
rows, k = R*S*C (per group) and n = M (per group), and mapped by hand: ws
spreads k over the rows and n over the columns and streams m; os spreads m
and n and streams k; is spreads k and m and streams n. A dimension larger
than the array folds (its last fold partial, padded). The array sits below a
double-buffered SRAM, with bandwidth no transfer notices, so the layer's time
should be the sum of the formula over its folds. A grouped layer runs its
groups one after another (cycles of one group x groups, on both sides).
It prints; it exits 0 whatever the errors (a report, not a test).
"""

from __future__ import annotations

import energysim as es

AMPLE = 1e12
ARRAYS = [(32, 32), (128, 128)]
DATAFLOWS = {
    "ws": (("k", "n"), "m", "weights"),
    "os": (("m", "n"), "k", "outputs"),
    "is": (("k", "m"), "n", "inputs"),
}
#: The nest dimension of each GEMM size: m rows (N), k reduction (C), n columns (M).
DIMS = {"m": "N", "k": "C", "n": "M"}
#: (name, m, k, n, groups): GEMMs, AlexNet conv1-5 lowered, a ResNet-18 3x3 conv (conv2_x).
LAYERS = [
    ("gemm 256x256x256", 256, 256, 256, 1),
    ("gemm 1024x512x128", 1024, 512, 128, 1),
    ("gemm 100x300x70", 100, 300, 70, 1),
    ("alexnet conv1", 55 * 55, 11 * 11 * 3, 96, 1),
    ("alexnet conv2", 27 * 27, 5 * 5 * 48, 128, 2),
    ("alexnet conv3", 13 * 13, 3 * 3 * 256, 384, 1),
    ("alexnet conv4", 13 * 13, 3 * 3 * 192, 192, 2),
    ("alexnet conv5", 13 * 13, 3 * 3 * 192, 128, 2),
    ("resnet18 3x3 56x56x64", 56 * 56, 3 * 3 * 64, 64, 1),
]


def machine(rows: int, cols: int) -> es.Hierarchy:
    """DRAM -> double-buffered multicast SRAM -> a 4-byte register per PE; systolic."""
    return es.Hierarchy.model_validate(
        {
            "version": 1,
            "name": f"systolic-{rows}x{cols}",
            "energy_table": "eyeriss-normalized",
            "clock_ghz": 1.0,
            "levels": [
                {"name": "DRAM", "kind": "dram", "bandwidth_bytes_per_cycle": AMPLE},
                {
                    "name": "SRAM",
                    "kind": "sram",
                    "size_bytes": 1 << 30,
                    "bandwidth_bytes_per_cycle": AMPLE,
                    "double_buffered": True,
                    "network": {"multicast": True},
                },
                {
                    "name": "PE",
                    "kind": "regfile",
                    "instances": rows * cols,
                    "size_bytes": 4,
                    "bandwidth_bytes_per_cycle": AMPLE,
                },
            ],
            "compute": {"array": {"rows": rows, "cols": cols}, "systolic": True},
        }
    )


def gemm(m: int, k: int, n: int) -> es.Network:
    layer = {"name": "gemm", "type": "matmul", "m": m, "k": k, "n": n, "precision_bits": 8}
    return es.Network.model_validate({"version": 1, "name": "gemm", "layers": [layer]})


def folded(size: int, width: int) -> tuple[int, int]:
    """(folds, PEs used) of a dimension spread over ``width`` PEs."""
    used = min(size, width)
    return -(-size // used), used


def run(rows: int, cols: int, dataflow: str, m: int, k: int, n: int) -> tuple[float, int]:
    """energysim's cycles and the fold formula's for one GEMM."""
    (row_dim, col_dim), stream, keeps = DATAFLOWS[dataflow]
    size = {"m": m, "k": k, "n": n}
    row_folds, row_pes = folded(size[row_dim], rows)
    col_folds, col_pes = folded(size[col_dim], cols)
    outer = tuple(es.Loop(DIMS[d], f) for d, f in ((row_dim, row_folds), (col_dim, col_folds)) if f > 1)
    spatial = (es.Loop(DIMS[row_dim], row_pes), es.Loop(DIMS[col_dim], col_pes))
    mapping = es.Mapping(
        (
            es.LevelMapping("DRAM"),
            es.LevelMapping("SRAM", outer, spatial),
            es.LevelMapping("PE", (es.Loop(DIMS[stream], size[stream]),), keeps=(keeps,)),  # type: ignore[arg-type]
        )
    )
    result = es.simulate(gemm(m, k, n), machine(rows, cols), mapping=mapping, dataflow=None)
    formula = row_folds * col_folds * (2 * rows + cols + size[stream] - 2)
    return float(result.cycles or 0.0), formula


def main() -> None:
    print(f"{'layer':<24}{'array':>9}{'flow':>6}{'energysim':>13}{'fold formula':>14}{'error':>9}")
    worst = 0.0
    for name, m, k, n, groups in LAYERS:
        for rows, cols in ARRAYS:
            for dataflow in DATAFLOWS:
                cycles, formula = run(rows, cols, dataflow, m, k, n)
                error = cycles / formula - 1
                worst = max(worst, abs(error))
                print(
                    f"{name:<24}{f'{rows}x{cols}':>9}{dataflow:>6}{groups * cycles:>13,.0f}"
                    f"{groups * formula:>14,}{error:>9.2%}"
                )
    print(f"worst relative error: {worst:.4%}")


if __name__ == "__main__":
    main()
