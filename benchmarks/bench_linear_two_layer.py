"""Benchmark: one full-batch FO-ANIL / FO-MAML step at N = 5000 tasks, JAX (jit) vs NumPy.

Paper setting of Yüksel 2024 (d = k' = 50, m = 30, m_in = 20), float32. Run as
``python benchmarks/bench_linear_two_layer.py``; prints a Markdown table (steps per second).
"""

from __future__ import annotations

import os
import platform
import timeit

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

from metagrad.algorithms import linear_two_layer as ltl
from metagrad.tasks.linear_representation import sample_B_star, sample_linear_tasks

N, D, M, M_IN, K, ALPHA, BETA = 5000, 50, 30, 20, 5, 0.1, 0.1


def np_fo_anil(B, w, Xi, yi, Xo, yo):
    """NumPy FO-ANIL step, same algebra as `ltl.fo_anil_grads`."""
    g = np.einsum("nmd,nm->nd", Xi, Xi @ (B @ w) - yi) / Xi.shape[1]
    w_i = w - ALPHA * g @ B
    r = np.einsum("nmd,nm->nd", Xo, np.einsum("nmd,nd->nm", Xo, w_i @ B.T) - yo) / Xo.shape[1]
    return B - BETA * r.T @ w_i / N, w - BETA * B.T @ r.mean(0)


def np_fo_maml(B, w, Xi, yi, Xo, yo):
    """NumPy FO-MAML step with the rank-one inner update of B."""
    g = np.einsum("nmd,nm->nd", Xi, Xi @ (B @ w) - yi) / Xi.shape[1]
    w_i = w - ALPHA * g @ B
    u = w_i @ B.T - ALPHA * g * (w_i @ w)[:, None]
    s = np.einsum("nmd,nm->nd", Xo, np.einsum("nmd,nd->nm", Xo, u) - yo) / Xo.shape[1]
    gw = B.T @ s.mean(0) - ALPHA * w * np.mean(np.sum(g * s, axis=1))
    return B - BETA * s.T @ w_i / N, w - BETA * gw


def main(repeat: int = 5, number: int = 20) -> None:
    Bs = sample_B_star(key=jr.PRNGKey(0), d=D, k=K)
    t = sample_linear_tasks(
        key=jr.PRNGKey(1),
        B_star=Bs,
        Sigma_star=jnp.eye(K),
        n_tasks=N,
        m=M,
        sigma2=4.0,
        dtype=jnp.float32,
    )
    data = ltl.split_tasks(t.X, t.y, t.theta_star.astype(jnp.float32), m_in=M_IN)
    B = (jr.normal(jr.PRNGKey(2), (D, D)) / np.sqrt(D)).astype(jnp.float32)
    w = (0.01 * jr.normal(jr.PRNGKey(3), (D,))).astype(jnp.float32)
    npd = [np.asarray(a) for a in (data.X_in, data.y_in, data.X_out, data.y_out)]
    Bn, wn = np.asarray(B), np.asarray(w)
    rows = []
    for name, grads, npstep in (
        ("FO-ANIL", ltl.fo_anil_grads, np_fo_anil),
        ("FO-MAML", ltl.fo_maml_grads, np_fo_maml),
    ):
        step = jax.jit(
            lambda B, w, g=grads: jax.tree.map(
                lambda p, q: p - BETA * q, (B, w), g(B, w, data, alpha=ALPHA)
            )
        )
        jax.block_until_ready(step(B, w))  # warm-up / compile
        npstep(Bn, wn, *npd)
        tj = (
            min(
                timeit.repeat(
                    lambda s=step: jax.block_until_ready(s(B, w)), repeat=repeat, number=number
                )
            )
            / number
        )
        tn = (
            min(timeit.repeat(lambda f=npstep: f(Bn, wn, *npd), repeat=repeat, number=number))
            / number
        )
        np.testing.assert_allclose(
            np.asarray(step(B, w)[0]), npstep(Bn, wn, *npd)[0], rtol=1e-3, atol=1e-5
        )
        rows.append((name, 1 / tj, 1 / tn, tn / tj))
    print(f"N={N}, d=k'={D}, m={M}, m_in={M_IN}, float32; min of {repeat} repeats x {number} steps")
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, jax {jax.__version__}, numpy {np.__version__}"
    )
    print("| step | JAX jit (steps/s) | NumPy (steps/s) | ratio JAX/NumPy |\n|---|---|---|---|")
    for r in rows:
        print(f"| {r[0]} | {r[1]:.1f} | {r[2]:.1f} | {r[3]:.2f} |")


if __name__ == "__main__":
    main()
