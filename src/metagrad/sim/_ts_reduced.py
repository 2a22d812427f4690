r"""Exact reduced simulator: online FO-ANIL as a Markov chain of the overlaps (Q, R), any finite N.

By rotational invariance of ξ ~ N(0, I_N), the law of one task's update depends on J, B only
through C = [[Q, R], [Rᵀ, T]]. Write every example in an orthonormal basis: ξ = Oᵀa + (rest),
with O the L = K+M rows spanning {J, B} and [J; B] = S O, S Sᵀ = C, a ~ N(0, I_L). Then the fields
are (x, y) = S a, and with c = η_J/(N V √K), a = λη_J/N (App. D decay):

    R ← (1−a) R + c hᵀ y_val,
    Q ← (1−a)² Q + (1−a) c (hᵀx_val + x_valᵀh) + c² [(hᵀa_val)(hᵀa_val)ᵀ + W],

with W ~ Wishart_K(N − L, hᵀh) the part of Σ_νν' h_ν h_ν' ξ_ν·ξ_ν' in the complement of span{J, B}.
Task-varying teacher (App. C): ΔB^t = chol(D) Z/√N with Z·ξ = A a + U b, A ~ N(0,1)^{M×L} the
components of Z along span{J, B}, U Uᵀ ~ Wishart_M(N − L, I) the Gram of the rest, b ~ N(0, I_M)
per example; the complement of W loses M more dimensions. Cost per task O((P+V)(K+M)²), no
N-vectors. The random numbers of a whole record block are drawn in two calls outside the task
loop (one normal, one uniform array), which keeps the compiled task body free of PRNG code; with
``config.rng = "counter"`` (default) they come from the counter stream of ``_ts_rng`` (float32
Box–Muller normals, float64 uniforms; streams t = 2b, 2b + 1 for record block b), otherwise from
``jax.random`` (float64) with a key of that implementation.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jax import Array

from metagrad.sim._ts_config import SimConfig
from metagrad.sim._ts_fields import chol, eps_estimate, task_from_fields, wishart, wishart_size
from metagrad.sim._ts_rng import counter_normals, counter_uniforms, jax_key, key_words

__all__ = ["reduced_run"]


def _sizes(c: SimConfig) -> dict[str, int]:
    """Numbers of normals used per task, by purpose (the uniforms are the Wisharts')."""
    L, n = c.K + c.M, c.P + c.V
    sz = {"u": c.M, "a": n * L, "noise": n if c.noise > 0 else 0, "W": wishart_size(c.K)[0]}
    if c.gamma < 1.0:
        sz.update(A=c.M * L, U=wishart_size(c.M)[0], b=n * c.M)
    return sz


def _split(z, c: SimConfig):
    out, i = {}, 0
    for name, n in _sizes(c).items():
        out[name], i = z[i : i + n], i + n
    return out


def _task(state, rnd, T, Ld, c: SimConfig):
    Q, R = state
    K, M, P, V, L = c.K, c.M, c.P, c.V, c.K + c.M
    z, unif = rnd
    r = _split(z, c)
    nu_W = wishart_size(K)[1]
    S = chol(jnp.block([[Q, R], [R.T, T]]))
    a = r["a"].reshape(P + V, L)
    f = a @ S.T
    lab, dof = f[:, K:], c.N - L
    if c.gamma < 1.0:  # teacher fields ỹ = γy + √(1−γ²) ΔB·ξ, ΔB·ξ = chol(D)(A a + U b)/√N
        U = chol(wishart(r["U"], unif[nu_W:], c.N - L, jnp.eye(M)))
        b = r["b"].reshape(P + V, M)
        d = (a @ r["A"].reshape(M, L).T + b @ U.T) @ Ld.T / np.sqrt(c.N)
        lab, dof = c.gamma * lab + np.sqrt(1.0 - c.gamma**2) * d, dof - M
    nz = np.sqrt(c.noise) * r["noise"] if c.noise > 0 else jnp.zeros(P + V)
    kw = dict(K=K, M=M, P=P, eta_w=c.eta_w, activation=c.activation)
    # the activations in float32 (float64 erf costs ~40 ns a value here, float32 ~1 ns), like the
    # direct simulator's float32 fields; Q and R are updated in float64
    f32 = [v.astype(jnp.float32) for v in (f[:, :K], lab, r["u"], nz)]
    x32, l32, u32, n32 = f32
    _, e, h = task_from_fields(x32[:P], l32[:P], x32[P:], l32[P:], u32, n32[:P], n32[P:], **kw)
    e, h = e.astype(jnp.float64), h.astype(jnp.float64)
    cc, dec = c.eta_J / (c.N * V * np.sqrt(K)), 1.0 - c.lam * c.eta_J / c.N
    ha = h.T @ a[P:]  # (K, L)
    hf = ha @ S.T  # hᵀ f_val = hᵀ a_val Sᵀ: hᵀx_val, hᵀy_val
    quad = ha @ ha.T + wishart(r["W"], unif[:nu_W], dof, h.T @ h)
    if c.gamma < 1.0:
        hb = h.T @ b[P:]
        quad = quad + hb @ hb.T
    Q = dec**2 * Q + dec * cc * (hf[:, :K] + hf[:, :K].T) + cc**2 * quad
    R = dec * R + cc * hf[:, K:]
    return (Q, R), 0.5 * jnp.mean(e**2)


def reduced_run(config: SimConfig, Q0: Array, R0: Array, T: Array, key: Array):
    """One reduced trajectory from (Q0, R0, T); returns (Q (n,K,K), R (n,K,M), eps, eps_ma)."""
    c = config
    D = T if c.D == "T" else jnp.eye(c.M)
    Ld = chol(D)
    eps_kw = dict(K=c.K, M=c.M, P=c.P, eta_w=c.eta_w, gamma=c.gamma, noise=c.noise)
    eps_kw.update(n_eps=c.n_eps, activation=c.activation)
    n_z = sum(_sizes(c).values())
    n_u = wishart_size(c.K)[1] + (wishart_size(c.M)[1] if c.gamma < 1.0 else 0)

    k0, kb, kc = jr.split(key, 3)
    kw = key_words(c.rng, kc, ())

    def draws(k, b):
        shape_z, shape_u = (c.record_every, n_z), (c.record_every, n_u)
        if c.rng == "counter":
            z = counter_normals(kw, 2 * b, shape_z).astype(jnp.float64)
            return z, counter_uniforms(kw, 2 * b + 1, np.prod(shape_u)).reshape(shape_u)
        kz, ku = jr.split(jax_key(c.rng, key_words(c.rng, k, ())))
        return jr.normal(kz, shape_z), jr.uniform(ku, shape_u, minval=1e-300)

    def block(state, kbi):
        k, b = kbi
        kd, ke = jr.split(k)
        z, u = draws(kd, b)
        state, losses = jax.lax.scan(lambda s, r: _task(s, r, T, Ld, c), state, (z, u))
        Q, R = state
        eps = eps_estimate(ke, jnp.block([[Q, R], [R.T, T]]), D, **eps_kw)
        return state, (Q, R, eps, losses.mean() - c.noise / 2)

    eps0 = eps_estimate(k0, jnp.block([[Q0, R0], [R0.T, T]]), D, **eps_kw)
    blocks = (jr.split(kb, c.n_records), jnp.arange(c.n_records, dtype=jnp.uint32))
    _, (Qs, Rs, eps, ma) = jax.lax.scan(block, (Q0, R0), blocks)
    return (
        jnp.concatenate([Q0[None], Qs]),
        jnp.concatenate([R0[None], Rs]),
        jnp.concatenate([eps0[None], eps]),
        jnp.concatenate([jnp.full((1,), jnp.nan), ma]),
    )
