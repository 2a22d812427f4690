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
loop (one normal, one uniform array), which keeps the compiled task body free of PRNG code.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jax import Array

from metagrad.sim._ts_config import SimConfig
from metagrad.sim._ts_fields import chol, eps_estimate, task_from_fields, wishart, wishart_size

__all__ = ["reduced_run"]


def _sizes(c: SimConfig) -> dict[str, int]:
    """Numbers of normals used per task, by purpose (the uniforms are the Wisharts')."""
    L, n = c.K + c.M, c.P + c.V
    sz = {"u": c.M, "a": n * L, "noise": n, "W": wishart_size(c.K)[0]}
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
    nz = np.sqrt(c.noise) * r["noise"]
    kw = dict(K=K, M=M, P=P, eta_w=c.eta_w, activation=c.activation)
    _, e, h = task_from_fields(f[:P, :K], lab[:P], f[P:, :K], lab[P:], r["u"], nz[:P], nz[P:], **kw)
    xv, yv = f[P:, :K], f[P:, K:]
    cc, dec = c.eta_J / (c.N * V * np.sqrt(K)), 1.0 - c.lam * c.eta_J / c.N
    ha = h.T @ a[P:]
    quad = ha @ ha.T + wishart(r["W"], unif[:nu_W], dof, h.T @ h)
    if c.gamma < 1.0:
        hb = h.T @ b[P:]
        quad = quad + hb @ hb.T
    Q = dec**2 * Q + dec * cc * (h.T @ xv + xv.T @ h) + cc**2 * quad
    R = dec * R + cc * h.T @ yv
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

    def block(state, k):
        kz, ku, ke = jr.split(k, 3)
        z = jr.normal(kz, (c.record_every, n_z))
        u = jr.uniform(ku, (c.record_every, n_u), minval=1e-300)
        state, losses = jax.lax.scan(lambda s, r: _task(s, r, T, Ld, c), state, (z, u))
        Q, R = state
        eps = eps_estimate(ke, jnp.block([[Q, R], [R.T, T]]), D, **eps_kw)
        return state, (Q, R, eps, losses.mean() - c.noise / 2)

    k0, kb = jr.split(key)
    eps0 = eps_estimate(k0, jnp.block([[Q0, R0], [R0.T, T]]), D, **eps_kw)
    _, (Qs, Rs, eps, ma) = jax.lax.scan(block, (Q0, R0), jr.split(kb, c.n_records))
    return (
        jnp.concatenate([Q0[None], Qs]),
        jnp.concatenate([R0[None], Rs]),
        jnp.concatenate([eps0[None], eps]),
        jnp.concatenate([jnp.full((1,), jnp.nan), ma]),
    )
