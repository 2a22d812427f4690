r"""Direct simulator: online FO-ANIL with N-dimensional weights (Wang, Yip, Li 2024, Eqs. 9–13, 22).

All runs share one ``lax.scan`` over tasks with the runs on a batch axis (``vmap``). Inputs are
drawn on the fly, task by task, and never stored: memory is O(n_runs (P+V) N), independent of α_max.
The inputs and the fields are computed in float32 (random-number generation dominates the cost;
float32 halves it); J is accumulated in float64, and Q, R are measured from float64 J and B.
The inputs are drawn with threefry keys (one per run and task), the rest with the caller's key:
on this CPU XLA's RngBitGenerator (``rbg``) produced float32 normals 2-4x slower than threefry
(docs/benchmarks/ts_sim.md), and the inputs are nearly all of the work.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jax import Array

from metagrad.sim._ts_config import SimConfig
from metagrad.sim._ts_fields import eps_estimate, task_from_fields

__all__ = ["direct_runs"]

_F32 = jnp.float32


def _task(J, rnd, B, Ld, c: SimConfig):
    """One task for one run: J (K, N) float64, B (M, N) float64; rnd = (key, small normals)."""
    K, M, P, V, N = c.K, c.M, c.P, c.V, c.N
    key, small = rnd
    u, nz = small[:M], np.sqrt(c.noise) * small[M:]
    X = jr.normal(key, (P + V + (M if c.gamma < 1.0 else 0), N), _F32)
    W = jnp.concatenate([J, B]).astype(_F32)
    if c.gamma < 1.0:  # task teacher B^t = γB + √(1−γ²)ΔB^t (App. C, Eq. 41), labels only
        dB = (Ld.astype(_F32) @ X[P + V :]) / np.sqrt(N)
        W = jnp.concatenate([W, c.gamma * B.astype(_F32) + np.sqrt(1.0 - c.gamma**2) * dB])
    z = (X[: P + V] @ W.T).astype(jnp.float64)
    lab = z[:, K + M :] if c.gamma < 1.0 else z[:, K : K + M]
    kw = dict(K=K, M=M, P=P, eta_w=c.eta_w, activation=c.activation)
    _, e, h = task_from_fields(z[:P, :K], lab[:P], z[P:, :K], lab[P:], u, nz[:P], nz[P:], **kw)
    step = (h.T.astype(_F32) @ X[P : P + V]).astype(jnp.float64)
    J = (1.0 - c.lam * c.eta_J / N) * J + c.eta_J / (N * V * np.sqrt(K)) * step
    return J, 0.5 * jnp.mean(e**2)


def direct_runs(config: SimConfig, B: Array, J0: Array, key: Array):
    """Runs on a batch axis: B (R, M, N), J0 (R, K, N) -> (Q, R, eps, eps_ma) with run axis first."""
    c = config
    n_runs = B.shape[0]
    eps_kw = dict(K=c.K, M=c.M, P=c.P, eta_w=c.eta_w, gamma=c.gamma, noise=c.noise)
    eps_kw.update(n_eps=c.n_eps, activation=c.activation)

    def measure(J, Bm, k):
        Q, R, T = J @ J.T, J @ Bm.T, Bm @ Bm.T
        D = T if c.D == "T" else jnp.eye(c.M)
        return Q, R, eps_estimate(k, jnp.block([[Q, R], [R.T, T]]), D, **eps_kw)

    Ld = jax.vmap(lambda Bm: jnp.linalg.cholesky(Bm @ Bm.T if c.D == "T" else jnp.eye(c.M)))(B)
    task = jax.vmap(lambda J, k, Bm, L: _task(J, k, Bm, L, c))

    def block(J, k):
        kt, ks, ke = jr.split(k, 3)
        keys = jr.wrap_key_data(
            jr.bits(kt, (c.record_every, n_runs, 2), jnp.uint32), impl="threefry2x32"
        )
        small = jr.normal(ks, (c.record_every, n_runs, c.M + c.P + c.V))
        J, losses = jax.lax.scan(lambda Jc, r: task(Jc, r, B, Ld), J, (keys, small))
        Q, R, eps = jax.vmap(measure)(J, B, jr.split(ke, n_runs))
        return J, (Q, R, eps, losses.mean(0) - c.noise / 2)

    k0, kb = jr.split(key)
    Q0, R0, e0 = jax.vmap(measure)(J0, B, jr.split(k0, n_runs))
    _, (Qs, Rs, eps, ma) = jax.lax.scan(block, J0, jr.split(kb, c.n_records))
    mv = lambda a0, a: jnp.concatenate([a0[:, None], jnp.moveaxis(a, 0, 1)], 1)  # noqa: E731
    return mv(Q0, Qs), mv(R0, Rs), mv(e0, eps), mv(jnp.full((n_runs,), jnp.nan), ma)
