# ruff: noqa: F722  (jaxtyping shape strings are not forward annotations)
r"""Meta-learning a shared linear representation with the two-layer linear model x ↦ xᵀBw.

Training (full batch over N fixed tasks, Yüksel 2024, Eqs. (2)-(4) and (12)):

- ``"fo_anil"``, ``"fo_maml"``: hand-written first-order gradients. FO-MAML's inner update of B is
  the rank-one matrix −α g_i wᵀ, so B_{t,i}w_{t,i} = Bw_{t,i} − α g_i (wᵀw_{t,i}) and the N adapted
  copies of B are never formed.
- ``"anil"``, ``"maml"``: exact second-order gradients by autodiff of :func:`meta_objective`.
- ``"bm"``: Burer–Monteiro multi-task factorisation (12) by GD on (B, W); the W step is the per-task
  gradient (the 1/N of the objective is undone).
- ``"fo_anil_inf_samples"``: FO-ANIL with exact per-task population gradients (m_in = ∞).
- :func:`infinite_task_trajectory`: the N = ∞ recursion (5)-(7) of
  :mod:`metagrad.theory.linear_representation`.

Test time: :func:`one_step_adapt` (the paper's 1-GD) and :func:`ridge_risks` (ridge on learned
features, one eigendecomposition per task for the whole λ grid; F = I gives single-task ridge and
F = B⋆ the oracle). Risks are the halved excess risk ½‖θ̂ − θ⋆‖² (exact for x ~ N(0, I)).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

from metagrad.theory.linear_representation import fo_anil_step, representation_diagnostics

__all__ = [
    "METHODS",
    "SplitTasks",
    "bm_grads",
    "fo_anil_grads",
    "fo_maml_grads",
    "inf_samples_grads",
    "infinite_task_trajectory",
    "meta_objective",
    "one_step_adapt",
    "ridge_risks",
    "split_tasks",
    "train",
]

METHODS = ("fo_anil", "fo_maml", "anil", "maml", "bm", "fo_anil_inf_samples")


class SplitTasks(NamedTuple):
    """Fixed training tasks: inner (first m_in rows) and outer (last m_out rows) splits, the full
    data for Burer–Monteiro, and θ⋆ for the infinite-samples variant."""

    X_in: Array
    y_in: Array
    X_out: Array
    y_out: Array
    X: Array
    y: Array
    theta_star: Array


def split_tasks(X: Array, y: Array, theta_star: Array, *, m_in: int) -> SplitTasks:
    """Split tasks X (N, m, d), y (N, m) into the first `m_in` and the last m − m_in rows."""
    if not 1 <= m_in < X.shape[1]:
        raise ValueError(f"m_in={m_in} is out of range: expected 1 <= m_in < m={X.shape[1]}.")
    return SplitTasks(X[:, :m_in], y[:, :m_in], X[:, m_in:], y[:, m_in:], X, y, theta_star)


def _inner(B: Array, w: Array, X: Array, y: Array) -> Array:
    """Per-task gradient of (1/2m)‖XBw − y‖² with respect to θ = Bw: shape (N, d)."""
    r = jnp.einsum("nmd,d->nm", X, B @ w) - y
    return jnp.einsum("nmd,nm->nd", X, r) / X.shape[1]


def _outer_resid(X: Array, u: Array, y: Array) -> Array:
    """Per-task r_i = X_iᵀ(X_i u_i − y_i)/m: shape (N, d)."""
    r = jnp.einsum("nmd,nd->nm", X, u) - y
    return jnp.einsum("nmd,nm->nd", X, r) / X.shape[1]


def fo_anil_grads(B: Array, w: Array, data: SplitTasks, *, alpha: float) -> tuple[Array, Array]:
    """FO-ANIL outer gradient, Eq. (3) with Ĥ = I: mean of (r_i w_iᵀ, Bᵀr_i), w_i from Eq. (4)."""
    w_i = w - alpha * _inner(B, w, data.X_in, data.y_in) @ B
    r = _outer_resid(data.X_out, w_i @ B.T, data.y_out)
    n = r.shape[0]
    return r.T @ w_i / n, B.T @ r.mean(0)


def fo_maml_grads(B: Array, w: Array, data: SplitTasks, *, alpha: float) -> tuple[Array, Array]:
    """FO-MAML outer gradient with the rank-one inner update B_i = B − α g_i wᵀ (Yüksel et al. 2024, App. B; derivation in docs/yuksel2024.md)."""
    g = _inner(B, w, data.X_in, data.y_in)
    w_i = w - alpha * g @ B
    c = w_i @ w  # wᵀw_i, shape (N,)
    s = _outer_resid(data.X_out, w_i @ B.T - alpha * g * c[:, None], data.y_out)
    n = s.shape[0]
    gw = B.T @ s.mean(0) - alpha * w * jnp.mean(jnp.sum(g * s, axis=1))
    return s.T @ w_i / n, gw


def meta_objective(
    B: Array, w: Array, data: SplitTasks, *, alpha: float, maml: bool, first_order: bool
) -> Array:
    """Empirical (FO-)ANIL/MAML objective mean_i (1/2m_out)‖X_out,i B_i w_i − y_out,i‖².

    With ``first_order=True`` the inner-step increments are wrapped in ``stop_gradient``, so its
    autodiff gradient is the first-order one (Ĥ = I); otherwise it is the exact gradient.
    """
    sg = jax.lax.stop_gradient if first_order else (lambda a: a)
    g = _inner(B, w, data.X_in, data.y_in)
    w_i = w + sg(-alpha * g @ B)
    u = w_i @ B.T
    if maml:
        u = u - sg(alpha * g) * (w_i @ sg(w))[:, None]
    r = jnp.einsum("nmd,nd->nm", data.X_out, u) - data.y_out
    return 0.5 * jnp.mean(jnp.mean(r**2, axis=1))


def bm_grads(B: Array, W: Array, data: SplitTasks) -> tuple[Array, Array]:
    """Burer–Monteiro (12): gradient in B of mean_i (1/2m)‖X_iBW_i − y_i‖² and per-task W_i gradients."""
    r = _outer_resid(data.X, W @ B.T, data.y)
    return r.T @ W / r.shape[0], r @ B


def inf_samples_grads(B: Array, w: Array, data: SplitTasks, *, alpha: float) -> tuple[Array, Array]:
    """FO-ANIL with infinite samples: population inner step and outer gradient per task."""
    w_i = w - alpha * (B @ w - data.theta_star) @ B
    r = w_i @ B.T - data.theta_star
    return r.T @ w_i / r.shape[0], B.T @ r.mean(0)


def _grad_fn(method: str, alpha: float) -> Callable:
    if method == "fo_anil":
        return lambda B, w, d: fo_anil_grads(B, w, d, alpha=alpha)
    if method == "fo_maml":
        return lambda B, w, d: fo_maml_grads(B, w, d, alpha=alpha)
    if method in ("anil", "maml"):
        f = lambda B, w, d: meta_objective(  # noqa: E731
            B, w, d, alpha=alpha, maml=method == "maml", first_order=False
        )
        return jax.grad(f, argnums=(0, 1))
    if method == "bm":
        return bm_grads
    if method == "fo_anil_inf_samples":
        return lambda B, w, d: inf_samples_grads(B, w, d, alpha=alpha)
    raise ValueError(f"method={method!r} is not allowed: expected one of {METHODS}.")


def _checkpoint_loop(run: Callable, state, checkpoints: Sequence[int], diag: Callable):
    """Advance `state` with ``run(state, n_steps)`` to each checkpoint in turn and record diag."""
    ts = np.asarray(checkpoints, dtype=int)
    if ts.size == 0 or ts[0] < 0 or np.any(np.diff(ts) <= 0):
        raise ValueError(f"checkpoints={ts.tolist()} must be non-negative and strictly increasing.")
    out, t = [], 0
    for c in ts:
        state = run(state, int(c - t))
        t = int(c)
        out.append({k: np.asarray(v) for k, v in diag(state).items()})
    return state, {k: np.stack([o[k] for o in out]) for k in out[0]}


@functools.partial(jax.jit, static_argnames=("method", "alpha", "beta"))
def _run_finite(state, n, data, *, method: str, alpha: float, beta: float):
    """n full-batch steps (dynamic trip count: one compilation per method and step sizes)."""
    grad = _grad_fn(method, alpha)

    def body(_, s):
        gB, gw = grad(s[0], s[1], data)
        return s[0] - beta * gB, s[1] - beta * gw

    return jax.lax.fori_loop(0, n, body, state)


@functools.partial(jax.jit, static_argnames=("alpha", "beta", "m_in", "sigma2"))
def _run_infinite(state, n, B_star, Sigma_star, *, alpha, beta, m_in, sigma2):
    kw = dict(
        B_star=B_star, Sigma_star=Sigma_star, alpha=alpha, beta=beta, m_in=m_in, sigma2=sigma2
    )
    return jax.lax.fori_loop(0, n, lambda _, s: fo_anil_step(B=s[0], w=s[1], **kw), state)


def train(
    method: str,
    *,
    B0: Float[ArrayLike, "d kp"],
    w0: Float[ArrayLike, " kp"],
    data: SplitTasks,
    B_star: Float[ArrayLike, "d k"],
    alpha: float,
    beta: float,
    checkpoints: Sequence[int],
) -> tuple[tuple[Array, Array], dict[str, np.ndarray]]:
    """Full-batch training of a linear two-layer model with one of :data:`METHODS`.

    Args:
        method: one of METHODS. B0: (d, k'). w0: (k',). data: :class:`SplitTasks` (dtype of the run).
        B_star: (d, k), used only for the diagnostics. alpha: inner step (for ``"bm"`` unused).
        beta: outer step (GD step for ``"bm"``). checkpoints: increasing step counts to record.

    Returns:
        ((B, w), diagnostics); for ``"bm"`` w is the (N, k') matrix W. diagnostics holds arrays
        over checkpoints: ``star_sv2`` (T, k), ``perp_max``, ``perp_mean``, ``norm_Bw`` (T,).
    """
    _grad_fn(method, alpha)  # validates the method name before any compute
    dt = data.X.dtype
    B = jnp.asarray(B0, dt)
    w = jnp.asarray(w0, dt)
    if method == "bm":
        w = jnp.broadcast_to(w, (data.X.shape[0], B.shape[1]))
    kw = dict(method=method, alpha=float(alpha), beta=float(beta))
    run = lambda s, n: _run_finite(s, n, data, **kw)  # noqa: E731

    def diag(s):
        wm = s[1].mean(0) if method == "bm" else s[1]
        return representation_diagnostics(B=s[0], w=wm, B_star=B_star)

    return _checkpoint_loop(run, (B, w), checkpoints, diag)


def infinite_task_trajectory(
    *,
    B0: ArrayLike,
    w0: ArrayLike,
    B_star: ArrayLike,
    Sigma_star: ArrayLike,
    alpha: float,
    beta: float,
    m_in: float,
    sigma2: float,
    checkpoints: Sequence[int],
) -> tuple[tuple[Array, Array], dict[str, np.ndarray]]:
    """Iterate the N = ∞ recursion (5)-(7) in float64 (``m_in = inf``: infinite samples too)."""
    Bs, S = jnp.asarray(B_star, jnp.float64), jnp.asarray(Sigma_star, jnp.float64)
    kw = dict(alpha=float(alpha), beta=float(beta), m_in=float(m_in), sigma2=float(sigma2))
    run = lambda s, n: _run_infinite(s, n, Bs, S, **kw)  # noqa: E731
    diag = lambda s: representation_diagnostics(B=s[0], w=s[1], B_star=Bs)  # noqa: E731
    state = (jnp.asarray(B0, jnp.float64), jnp.asarray(w0, jnp.float64))
    return _checkpoint_loop(run, state, checkpoints, diag)


def one_step_adapt(
    B: Float[ArrayLike, "d kp"],
    w: Float[ArrayLike, " kp"],
    X: Float[ArrayLike, "n m d"],
    y: Float[ArrayLike, "n m"],
    *,
    alpha: float,
    update_B: bool = False,
) -> Float[Array, "n d"]:
    """The paper's 1-GD, Eq. (11), with the full gradient: θ̂_i = B w_test,i per test task.

    With ``update_B=True`` the whole θ = (B, w) takes the step (MAML-consistent, rank one).
    """
    B, w = jnp.asarray(B, jnp.float64), jnp.asarray(w, jnp.float64)
    g = _inner(B, w, jnp.asarray(X, jnp.float64), jnp.asarray(y, jnp.float64))
    w_t = w - alpha * g @ B
    theta = w_t @ B.T
    return theta - alpha * g * (w_t @ w)[:, None] if update_B else theta


def ridge_risks(
    F: Float[ArrayLike, "d p"],
    X: Float[ArrayLike, "n m d"],
    y: Float[ArrayLike, "n m"],
    theta_star: Float[ArrayLike, "n d"],
    lambdas: Float[ArrayLike, " L"],
) -> Float[Array, "n L"]:
    r"""Excess risks ½‖F c_λ − θ⋆‖² of ridge on features XF, c_λ = (FᵀXᵀXF/m + λI)⁻¹FᵀXᵀy/m.

    One eigendecomposition of FᵀXᵀXF/m per task serves the whole λ grid.

    Returns:
        Array (n_tasks, len(lambdas)).
    """
    F, X, y, th = (jnp.asarray(a, jnp.float64) for a in (F, X, y, theta_star))
    m = X.shape[1]
    Z = jnp.einsum("nmd,dp->nmp", X, F)
    e, V = jnp.linalg.eigh(jnp.einsum("nmp,nmq->npq", Z, Z) / m)
    q = jnp.einsum("npq,nm,nmp->nq", V, y, Z) / m
    FV = jnp.einsum("dp,npq->ndq", F, V)
    c = q[:, None, :] / (e[:, None, :] + jnp.asarray(lambdas, jnp.float64)[None, :, None])
    err = jnp.einsum("ndq,nlq->nld", FV, c) - th[:, None, :]
    return 0.5 * jnp.sum(err**2, axis=-1)
