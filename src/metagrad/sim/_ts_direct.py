r"""Direct simulator: online FO-ANIL with N-dimensional weights (Wang, Yip, Li 2024, Eqs. 9–13, 22).

All runs share one ``lax.scan`` over tasks with the runs on a batch axis (``vmap``). Inputs are
drawn on the fly, task by task, and never stored: memory is O(n_runs (P+V) N), independent of α_max.
The inputs and the fields are computed in float32 (random-number generation dominates the cost;
float32 halves it); J is accumulated in float64, and Q, R are measured from float64 J and B.
The inputs come from the stream ``config.rng`` (default ``"counter"``: Threefry-2x32 on counters
(position, task) with one key per run, ~3x the rate of ``jax.random.normal``'s normals on this CPU;
see ``_ts_rng`` and docs/benchmarks/ts_sim.md), the rest from the caller's key.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jax import Array

from metagrad.sim._ts_config import SimConfig
from metagrad.sim._ts_fields import eps_estimate, task_from_fields
from metagrad.sim._ts_rng import key_words, task_normals

__all__ = ["direct_runs"]

_F32 = jnp.float32


def _task(J, rnd, B, Ld, c: SimConfig):
    """One task for one run: J (K, N) float64, B (M, N) float64; rnd = (key words, task index,
    small normals)."""
    K, M, P, V, N = c.K, c.M, c.P, c.V, c.N
    kw, t, small = rnd
    u, nz = small[:M], np.sqrt(c.noise) * small[M:]
    X = task_normals(c.rng, kw, t, (P + V + (M if c.gamma < 1.0 else 0), N))
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


CHUNK_BYTES = 2**21  # float32 inputs of one task step for all the runs of a chunk, at most


def run_chunk(config: SimConfig, n_runs: int) -> int:
    """Runs simulated side by side (a divisor of n_runs): the largest whose inputs of one task fit
    in ``CHUNK_BYTES``, so that each step's draw is read by the matmuls from cache (measured: 10
    runs at once ran ~25 % slower per run than 3; docs/benchmarks/ts_sim.md); at least 1."""
    c = config
    fit = max(CHUNK_BYTES // (4 * (c.P + c.V + c.M) * c.N), 1)
    return max(d for d in range(1, n_runs + 1) if n_runs % d == 0 and d <= fit)


def direct_runs(config: SimConfig, B: Array, J0: Array, key: Array):
    """Runs on a batch axis: B (R, M, N), J0 (R, K, N) -> (Q, R, eps, eps_ma) with run axis first.

    The runs are split into chunks of :func:`run_chunk` runs, simulated one chunk after the other
    (``lax.map``), each from its own key."""
    n_runs = B.shape[0]
    size = run_chunk(config, n_runs)
    n_chunks = n_runs // size
    parts = (B.reshape(n_chunks, size, *B.shape[1:]), J0.reshape(n_chunks, size, *J0.shape[1:]))
    out = jax.lax.map(lambda a: _chunk_runs(config, *a), (*parts, jr.split(key, n_chunks)))
    return tuple(o.reshape(n_runs, *o.shape[2:]) for o in out)


def _chunk_runs(config: SimConfig, B: Array, J0: Array, key: Array):
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
    k0, kb, kc = jr.split(key, 3)
    run_words = key_words(c.rng, kc, (n_runs,))  # the counter stream: one key per run
    every = c.record_every

    def block(J, kbi):
        k, b = kbi
        kt, ks, ke = jr.split(k, 3)
        t = (b * every + jnp.arange(every, dtype=jnp.uint32))[:, None]  # task index
        t = jnp.broadcast_to(t, (every, n_runs))
        if c.rng == "counter":
            kw = jnp.broadcast_to(run_words, (every, *run_words.shape))
        else:  # jax.random: one key per run and task
            kw = key_words(c.rng, kt, (every, n_runs))
        small = jr.normal(ks, (every, n_runs, c.M + c.P + c.V))
        J, losses = jax.lax.scan(lambda Jc, r: task(Jc, r, B, Ld), J, (kw, t, small))
        Q, R, eps = jax.vmap(measure)(J, B, jr.split(ke, n_runs))
        return J, (Q, R, eps, losses.mean(0) - c.noise / 2)

    Q0, R0, e0 = jax.vmap(measure)(J0, B, jr.split(k0, n_runs))
    blocks = (jr.split(kb, c.n_records), jnp.arange(c.n_records, dtype=jnp.uint32))
    _, (Qs, Rs, eps, ma) = jax.lax.scan(block, J0, blocks)
    mv = lambda a0, a: jnp.concatenate([a0[:, None], jnp.moveaxis(a, 0, 1)], 1)  # noqa: E731
    return mv(Q0, Qs), mv(R0, Rs), mv(e0, eps), mv(jnp.full((n_runs,), jnp.nan), ma)
