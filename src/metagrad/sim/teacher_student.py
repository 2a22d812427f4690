"""Microscopic online FO-ANIL in the teacher–student scenario (seeds/000, spec §2).

Two tools:

- :func:`simulate`: the direct simulator with N-dimensional weights (spec §2.1), in ``lax.scan``.
- :func:`averaged_update` / :func:`mc_meta_error`: one-task updates and the test error drawn in
  *field space* — the fields (x, y) = (Jξ, Bξ) of every example are exactly N(0, C) with
  C = [[Q, R], [Rᵀ, T]] — so averaging many tasks at one state gives the N → ∞ drift N·⟨ΔR⟩,
  N·⟨ΔQ⟩ that the ODE right-hand side must equal, and a Monte Carlo of ε_meta.

``P=None`` means the infinite-P head w = (η_w/√(KM)) f u (the closure (32) of the paper); a finite
P draws P training examples per task.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jax import Array
from jax.scipy.special import erf

from metagrad.theory._ts_integrals import i2

__all__ = ["SimTrace", "averaged_update", "mc_meta_error", "simulate"]


def _g(x, activation):
    return erf(x / np.sqrt(2.0)) if activation == "erf" else x


def _gp(x, activation):
    if activation == "erf":
        return np.sqrt(2.0 / np.pi) * jnp.exp(-(x**2) / 2)
    return jnp.ones_like(x)


def _factor(C):
    """A square root S of the PSD matrix C (C = S Sᵀ), via eigh (robust to singular C)."""
    lam, U = jnp.linalg.eigh(C)
    return U * jnp.sqrt(jnp.clip(lam, 0.0))


def _fields(key, S, n):
    """n samples of N(0, S Sᵀ), shape (n, L)."""
    return jr.normal(key, (n, S.shape[0])) @ S.T


def _head(key, C, S, u, K, M, eta_w, P, activation):
    """Inner-loop head w (K,) for teacher head u (M,), from P fields or the P → ∞ mean."""
    if P is None:
        f = i2(C, activation=activation)[:K, K : K + M]
        return eta_w / np.sqrt(K * M) * f @ u
    z = _fields(key, S, P)
    s = _g(z[:, K:], activation) @ u / np.sqrt(M)
    return eta_w / (P * np.sqrt(K)) * _g(z[:, :K], activation).T @ s


def _one_task(key, C, S, K, M, eta_J, eta_w, V, P, activation):
    ku, kw, kv = jr.split(key, 3)
    u = jr.normal(ku, (M,))
    w = _head(kw, C, S, u, K, M, eta_w, P, activation)
    z = _fields(kv, S, V)
    x, y = z[:, :K], z[:, K:]
    e = _g(y, activation) @ u / np.sqrt(M) - _g(x, activation) @ w / np.sqrt(K)
    h = e[:, None] * w[None, :] * _gp(x, activation)
    c = eta_J / (V * np.sqrt(K))
    dR = c * h.T @ y
    dQ = c * (h.T @ x + x.T @ h) + c**2 * h.T @ h  # ξ^ν·ξ^ν' = N δ_νν'
    return dQ, dR


def averaged_update(
    Q: Array,
    R: Array,
    T: Array,
    *,
    eta_J: float,
    eta_w: float,
    V: int,
    n_tasks: int,
    key: Array,
    P: int | None = None,
    activation: str = "erf",
) -> tuple[Array, Array, Array, Array]:
    """N·⟨ΔQ⟩ and N·⟨ΔR⟩ of one FO-ANIL task at the state (Q, R, T), as N → ∞, by Monte Carlo.

    Per task (spec §2.1, Eqs. (11), (22)–(23)): draw u, the training fields (or the P → ∞ head)
    and V validation fields ~ N(0, C); then N·ΔR = c hᵀy and N·ΔQ = c(hᵀx + xᵀh) + c² V hᵀh with
    c = η_J/(V√K) (the off-diagonal ξ^ν·ξ^ν'/N terms vanish as N → ∞).

    Args:
        Q: (K, K), R: (K, M), T: (M, M) order parameters.
        eta_J, eta_w: learning rates.  V: validation examples (≥ 1).  n_tasks: tasks averaged.
        key: PRNG key.  P: training examples (None = the P → ∞ head).
        activation: ``"erf"`` or ``"linear"``.

    Returns:
        (mean N·ΔQ (K,K), mean N·ΔR (K,M), standard error of ΔQ, standard error of ΔR).
    """
    K, M = R.shape
    chunk = min(n_tasks, 1000)
    if n_tasks % chunk:
        raise ValueError(f"n_tasks={n_tasks} must be <= 1000 or a multiple of 1000.")
    C = jnp.block([[Q, R], [R.T, T]])
    S = _factor(C)
    fn = jax.vmap(lambda k: _one_task(k, C, S, K, M, eta_J, eta_w, V, P, activation))
    keys = jr.split(key, n_tasks)
    dQ, dR = jax.lax.map(fn, keys.reshape((-1, chunk) + keys.shape[1:]))
    dQ, dR = dQ.reshape(n_tasks, K, K), dR.reshape(n_tasks, K, M)
    se = lambda a: a.std(0) / np.sqrt(n_tasks)  # noqa: E731
    return dQ.mean(0), dR.mean(0), se(dQ), se(dR)


def mc_meta_error(
    Q: Array,
    R: Array,
    T: Array,
    *,
    eta_w: float,
    n: int,
    key: Array,
    P: int | None = None,
    activation: str = "erf",
) -> tuple[Array, Array]:
    """Monte Carlo of ε_meta = ⟨½(σ̃ − σ)²⟩ over tasks u, the head's training set and a test point.

    Args:
        Q, R, T: order parameters (K,K), (K,M), (M,M).  eta_w: inner learning rate.
        n: number of (task, test point) samples.  key: PRNG key.
        P: training examples per task (None = the P → ∞ head of Eq. (29)).
        activation: ``"erf"`` or ``"linear"``.

    Returns:
        (mean, standard error), scalars.
    """
    K, M = R.shape
    C = jnp.block([[Q, R], [R.T, T]])
    S = _factor(C)

    def one(k):
        ku, kw, kz = jr.split(k, 3)
        u = jr.normal(ku, (M,))
        w = _head(kw, C, S, u, K, M, eta_w, P, activation)
        z = _fields(kz, S, 1)[0]
        e = _g(z[K:], activation) @ u / np.sqrt(M) - _g(z[:K], activation) @ w / np.sqrt(K)
        return 0.5 * e**2

    loss = jax.vmap(one)(jr.split(key, n))
    return loss.mean(), loss.std() / np.sqrt(n)


class SimTrace(NamedTuple):
    """Records of :func:`simulate`: alpha (n,), Q (n,K,K), R (n,K,M), val_loss (n,).

    ``val_loss`` is the mean over the last ``record_every`` tasks of the pre-update validation
    loss ½ mean_ν e_ν² (an unbiased estimate of ε_meta, spec §2.2).
    """

    alpha: Array
    Q: Array
    R: Array
    val_loss: Array


def simulate(
    B: Array,
    J0: Array,
    *,
    eta_J: float,
    eta_w: float,
    P: int,
    V: int,
    n_steps: int,
    record_every: int,
    key: Array,
    activation: str = "erf",
) -> SimTrace:
    """Direct online FO-ANIL simulation with N-dimensional weights (spec §2.1).

    Args:
        B: (M, N) teacher representation.  J0: (K, N) initial student representation.
        eta_J, eta_w: outer and inner learning rates.  P, V: training / validation examples.
        n_steps: number of tasks (α = n_steps / N).  record_every: tasks between records.
        key: PRNG key.  activation: ``"erf"`` or ``"linear"``.

    Returns:
        :class:`SimTrace` with n_steps // record_every + 1 records (the first at α = 0, with NaN
        loss).
    """
    (M, N), K = B.shape, J0.shape[0]

    def task(J, k):
        ku, kt, kv = jr.split(k, 3)
        u = jr.normal(ku, (M,))
        Xt, Xv = jr.normal(kt, (P, N)), jr.normal(kv, (V, N))
        s = _g(Xt @ B.T, activation) @ u / np.sqrt(M)
        w = eta_w / (P * np.sqrt(K)) * _g(Xt @ J.T, activation).T @ s
        xv = Xv @ J.T
        e = _g(Xv @ B.T, activation) @ u / np.sqrt(M) - _g(xv, activation) @ w / np.sqrt(K)
        H = e[:, None] * w[None, :] * _gp(xv, activation)
        J = J + eta_J / (N * V * np.sqrt(K)) * H.T @ Xv
        return J, 0.5 * jnp.mean(e**2)

    def block(J, k):
        J, losses = jax.lax.scan(task, J, jr.split(k, record_every))
        return J, (J @ J.T, J @ B.T, losses.mean())

    n_rec = n_steps // record_every
    _, (Qs, Rs, ls) = jax.lax.scan(block, J0, jr.split(key, n_rec))
    Qs = jnp.concatenate([(J0 @ J0.T)[None], Qs])
    Rs = jnp.concatenate([(J0 @ B.T)[None], Rs])
    ls = jnp.concatenate([jnp.array([jnp.nan]), ls])
    alpha = record_every * jnp.arange(n_rec + 1) / N
    return SimTrace(alpha, Qs, Rs, ls)
