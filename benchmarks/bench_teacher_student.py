"""Benchmark: a Fig. 5-style (η_w, η_J) grid of teacher–student ODE solves (seeds/000).

Alternatives, in one process: one vmapped batched call vs a serial loop of single jitted solves.
Run: python benchmarks/bench_teacher_student.py [K ...]   (default K = 3 6 9)
"""

import os
import platform
import sys
import timeit

import jax
import numpy as np

import metagrad  # noqa: F401  (float64)
from metagrad.theory import teacher_student as ts

GRID, ALPHA, DA = 4, 50.0, 0.02


def main() -> None:
    w, j = np.meshgrid(np.linspace(2, 12, GRID), np.linspace(1, 8, GRID))
    w, j = w.ravel(), j.ravel()
    rows = []
    for K in [int(a) for a in sys.argv[1:]] or (3, 6, 9):
        cfg = ts.TSConfig(K=K, alpha_max=ALPHA, d_alpha=DA, record_every=50, ic_perturbation=1e-10)

        def batched(cfg=cfg):
            jax.block_until_ready(ts.integrate_batch(cfg, eta_w=w, eta_J=j).eps)

        def serial(cfg=cfg):
            for a, b in zip(w, j):
                c = ts.TSConfig(**{**cfg.__dict__, "eta_w": float(a), "eta_J": float(b)})
                jax.block_until_ready(ts.integrate(c).eps)

        batched(), serial()  # warm-up (compilation)
        tb = min(timeit.repeat(batched, number=1, repeat=3))
        tsr = min(timeit.repeat(serial, number=1, repeat=3))
        rows.append((K, len(w) / tb, len(w) / tsr, tsr / tb))
    steps = int(ALPHA / DA)
    print(
        f"| K | vmapped solves/s | serial solves/s | speed-up | ({len(w)} solves, {steps} RK4 steps)"
    )
    print("|---|---|---|---|")
    for K, b, s, r in rows:
        print(f"| {K} | {b:.2f} | {s:.2f} | {r:.2f}x |")
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"jax {jax.__version__}, CPU shared with other jobs"
    )


if __name__ == "__main__":
    main()
