"""Benchmark: Fig. 2b of Bernacchia 2021 (runs × 41 α_t, exact outer solution, exact evaluator).

JAX (vmapped runs in chunks, affine B(α_t), jit; default method "auto" = Gram matrices quadratic in
α_t with one small Cholesky per α_t; also the QR/SVD path for reference) against the obvious per-run
NumPy loop (rebuild B and γ from the inner step for every α_t, np.linalg.lstsq). Usage:
    python benchmarks/bench_negative_lr.py [n_runs]   (default 1000)
"""

import platform
import sys
import timeit

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

import metagrad  # noqa: F401  (x64)
from metagrad.algorithms.linear_maml import sweep_runs

P, N_T, N_V, M, N_R, SIGMA, NU = 60, 30, 2, 3, 20, 1.0, 0.5
ALPHA_T = np.linspace(-3, 3, 41)
ALPHA_R = 0.2


def run_jax(n_runs, method="auto"):
    eye = jnp.eye(P)
    out = sweep_runs(
        jr.PRNGKey(0),
        n_runs=n_runs,
        alpha_t=ALPHA_T,
        alpha_r=jnp.array([ALPHA_R]),
        p=P,
        n_t=N_T,
        n_v=N_V,
        m=M,
        n_r=N_R,
        sigma=SIGMA,
        w0=jnp.zeros(P),
        omega0=jnp.zeros(P),
        chol_Sigma=eye,
        chol_Sigma_w=NU / np.sqrt(P) * eye,
        F=(P + 2) * eye,
        method=method,
    )
    return jax.block_until_ready(out["exact"]).mean(0)


def run_numpy(n_runs):
    rng = np.random.default_rng(0)
    h_r = (1 - ALPHA_R) ** 2 + ALPHA_R**2 * (P + 1) / N_R
    out = np.empty((n_runs, ALPHA_T.size))
    for r in range(n_runs):
        w = NU / np.sqrt(P) * rng.standard_normal((M, P))
        xt, xv = rng.standard_normal((M, N_T, P)), rng.standard_normal((M, N_V, P))
        yt = np.einsum("mnp,mp->mn", xt, w) + SIGMA * rng.standard_normal((M, N_T))
        yv = np.einsum("mnp,mp->mn", xv, w) + SIGMA * rng.standard_normal((M, N_V))
        for j, a in enumerate(ALPHA_T):
            B = np.concatenate([xv[i] @ (np.eye(P) - a / N_T * xt[i].T @ xt[i]) for i in range(M)])
            g = np.concatenate([yv[i] - a / N_T * xv[i] @ xt[i].T @ yt[i] for i in range(M)])
            om = np.linalg.lstsq(B, g, rcond=None)[0]
            out[r, j] = SIGMA**2 / 2 * (1 + ALPHA_R**2 * P / N_R) + h_r / 2 * (NU**2 + om @ om)
    return out.mean(0)


def main():
    n_runs = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    run_jax(n_runs)  # warm-up (compile)
    run_jax(n_runs, "qr")
    run_numpy(2)
    t_jax = min(timeit.repeat(lambda: run_jax(n_runs), number=1, repeat=3))
    t_qr = min(timeit.repeat(lambda: run_jax(n_runs, "qr"), number=1, repeat=3))
    t_np = min(timeit.repeat(lambda: run_numpy(n_runs), number=1, repeat=1))
    print(
        f"machine: {platform.processor() or platform.machine()}, {jax.devices()[0].platform}, "
        f"jax {jax.__version__}, numpy {np.__version__} (shared with other jobs)"
    )
    print(f"| Fig. 2b, {n_runs} runs x 41 alpha_t | seconds |")
    print("|---|---|")
    print(f"| JAX vmapped (chunks of 50), jit, method auto (Gram) | {t_jax:.3f} |")
    print(f"| JAX vmapped (chunks of 50), jit, method qr (reference) | {t_qr:.3f} |")
    print(f"| NumPy per-run loop, lstsq | {t_np:.3f} |")
    print(f"| ratio NumPy / JAX auto | {t_np / t_jax:.1f}x |")
    print(f"| ratio NumPy / JAX qr | {t_np / t_qr:.1f}x |")


if __name__ == "__main__":
    main()
