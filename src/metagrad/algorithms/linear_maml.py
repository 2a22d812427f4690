"""Exact one-step MAML for mixed linear regression (Bernacchia 2021, Sec. 4, App. 7).

The outer problem is least squares in ω (Eq. 66) with B and γ of Eqs. 67–68, affine in α_t:
B = X^v − α_t C, γ = y^v − α_t c, with C(i) = X^v X^tᵀ X^t / n_t and c(i) = X^v X^tᵀ y^t / n_t.
So one data draw serves a whole α_t sweep (common random numbers). The exact outer solution is
ω* = ω0 + B⁺(γ − Bω0) via a QR factorisation and the SVD of its small R factor: the interpolant closest to ω0 when overparameterized (Eq. 69), the
least-squares solution otherwise (Eq. 83). `solve_sweep` by default (method "auto") instead uses the
Gram matrix BBᵀ or BᵀB, quadratic in α_t, with one small Cholesky per α_t, when n_v m is far from p,
and falls back to QR when a condition estimate exceeds `GRAM_MAX_COND` (docs/bernacchia2021.md, Gram solver). Evaluation is exact-conditional (Eqs. 65/123) or sampled
(test tasks × test points, as in the paper). Losses are ½·MSE.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array

from metagrad.tasks.mixed_linear import MetaTrainData, sample_meta_train, sample_tasks_data
from metagrad.theory.negative_lr import conditional_loss

__all__ = ["affine_system", "evaluate_sampled", "outer_solution", "solve_sweep", "sweep_runs"]


def affine_system(data: MetaTrainData) -> tuple[Array, Array, Array, Array]:
    """(X^v, y^v, C, c) stacked over tasks, such that B = X^v − α_t C and γ = y^v − α_t c (Eqs. 67–68).

    Shapes: (m n_v, p), (m n_v,), (m n_v, p), (m n_v,).
    """
    n_t = data.x_t.shape[-2]
    xvxt = jnp.einsum("mvp,mtp->mvt", data.x_v, data.x_t) / n_t
    C = jnp.einsum("mvt,mtp->mvp", xvxt, data.x_t)
    c = jnp.einsum("mvt,mt->mv", xvxt, data.y_t)
    p = data.x_v.shape[-1]
    return data.x_v.reshape(-1, p), data.y_v.reshape(-1), C.reshape(-1, p), c.reshape(-1)


def _pinv_apply(M: Array, v: Array, n_max: int) -> Array:
    """M⁺ v by SVD; singular values below s_max · n_max · eps count as zero."""
    u, s, vt = jnp.linalg.svd(M, full_matrices=False)
    tol = s.max() * n_max * jnp.finfo(M.dtype).eps
    s_inv = jnp.where(s > tol, 1.0 / jnp.where(s > tol, s, 1.0), 0.0)
    return vt.T @ (s_inv * (u.T @ v))


def outer_solution(B: Array, gamma: Array, omega0: Array) -> Array:
    """ω* = ω0 + B⁺(γ − Bω0) (Eqs. 69, 83): min-norm around ω0, or least squares.

    Wide B (overparameterized): Bᵀ = QR, so B⁺r = Q (Rᵀ)⁺ r with an (n_v m)-square SVD.
    Tall B (underparameterized): the R factor of the augmented matrix [B | r], r = γ − Bω0,
    holds R and Qᵀr, so B⁺r = R⁺(Qᵀr) needs only a p × p SVD and Q is never formed. Q has
    orthonormal columns, so the singular values (and the rank cut-off) are those of B; both
    paths are stable (no normal equations; docs/bernacchia2021.md, Gram solver) and faster than a full SVD of B on CPU.
    """
    r = gamma - B @ omega0
    n, p = B.shape
    if n <= p:
        q, R = jnp.linalg.qr(B.T)
        return omega0 + q @ _pinv_apply(R.T, r, p)
    R = jnp.linalg.qr(jnp.concatenate([B, r[:, None]], axis=1), mode="r")
    return omega0 + _pinv_apply(R[:p, :p], R[:p, p], n)


GRAM_RATIO = 2.0
"""``method="auto"`` uses the Gram path when n_v m ≤ p / GRAM_RATIO or n_v m ≥ GRAM_RATIO · p."""

GRAM_MAX_COND = 1e8
"""Largest condition-number estimate of the Gram matrix (≈ κ(B)², so κ(B) ≲ 1e4) accepted by the
Gram path; beyond it the QR/SVD path is used (docs/bernacchia2021.md, Gram solver). Round-off of the Gram solve is then
≲ κ(Gram) · eps ≈ 2e-8 relative."""


def _resolve_method(method: str, n: int, p: int) -> str:
    """Static choice of the outer solver: "gram" or "qr" (see `solve_sweep`)."""
    if method not in ("auto", "gram", "qr"):
        raise ValueError(f"method must be 'auto', 'gram' or 'qr', got {method!r}")
    if method == "auto":
        far = n * GRAM_RATIO <= p or n >= GRAM_RATIO * p
        return "gram" if far else "qr"
    return method


def _solve_sweep_qr(data: MetaTrainData, alpha_t: Array, omega0: Array) -> Array:
    """ω*(α_t) by `outer_solution` (QR + small SVD) for every α_t: shape (a, p)."""
    xv, yv, C, c = affine_system(data)
    return jax.vmap(lambda a: outer_solution(xv - a * C, yv - a * c, omega0))(alpha_t)


def _solve_sweep_gram(data: MetaTrainData, alpha_t: Array, omega0: Array) -> tuple[Array, Array]:
    """ω*(α_t) from Gram matrices quadratic in α_t (Eqs. 67–69, 83), and a condition estimate.

    With B = X^v − α_t C and r = γ − Bω0 = r0 − α_t r1 (r0 = y^v − X^v ω0, r1 = c − C ω0):
    wide B: BBᵀ = G00 − α_t (G01 + G01ᵀ) + α_t² G11 (n_v m square), ω* = ω0 + Bᵀ(BBᵀ)⁻¹ r;
    tall B: BᵀB likewise (p × p), ω* = ω0 + (BᵀB)⁻¹Bᵀr. The three products are formed once per
    run; each α_t costs one small Cholesky solve. Returns (ω* (a, p), κ estimate (a,)): the
    squared ratio of the largest to smallest Cholesky diagonal, a lower bound on κ(Gram)
    (inf if the factorisation failed).
    """
    xv, yv, C, c = affine_system(data)
    r0, r1 = yv - xv @ omega0, c - C @ omega0
    n, p = xv.shape
    if n < p:
        g00, g01, g11 = xv @ xv.T, xv @ C.T, C @ C.T
    else:
        g00, g01, g11 = xv.T @ xv, xv.T @ C, C.T @ C
        h0, h1, h2 = xv.T @ r0, xv.T @ r1 + C.T @ r0, C.T @ r1
    g01s = g01 + g01.T

    def one(a):
        G = g00 - a * g01s + a * a * g11
        L = jnp.linalg.cholesky(G)
        d = jnp.abs(jnp.diagonal(L))
        kappa = (d.max() / d.min()) ** 2
        kappa = jnp.where(jnp.isfinite(kappa), kappa, jnp.inf)
        rhs = r0 - a * r1 if n < p else h0 - a * h1 + a * a * h2
        z = jax.scipy.linalg.cho_solve((L, True), rhs)
        step = xv.T @ z - a * (C.T @ z) if n < p else z
        return omega0 + step, kappa

    return jax.vmap(one)(alpha_t)


def solve_sweep(data: MetaTrainData, alpha_t: Array, omega0: Array, method: str = "auto") -> Array:
    """Exact ω* for every α_t in ``alpha_t`` (shape (a,)) on the same data: shape (a, p).

    ``method``: "qr" — QR + small SVD of B(α_t) for each α_t (`outer_solution`, stable at any
    conditioning); "gram" — Gram matrices quadratic in α_t, one small Cholesky per α_t (fast,
    squares the condition number; entries with κ(Gram) > GRAM_MAX_COND are recomputed by QR);
    "auto" (default) — "gram" when n_v m ≤ p/2 or ≥ 2p, else "qr" (docs/bernacchia2021.md, Gram solver: near n_v m ≈ p
    the Gram matrices are ill-conditioned).
    """
    n, p = data.x_v.shape[-3] * data.x_v.shape[-2], data.x_v.shape[-1]
    if _resolve_method(method, n, p) == "qr":
        return _solve_sweep_qr(data, alpha_t, omega0)
    omegas, kappa = _solve_sweep_gram(data, alpha_t, omega0)
    return jax.lax.cond(
        jnp.all(kappa <= GRAM_MAX_COND),
        lambda: omegas,
        lambda: _solve_sweep_qr(data, alpha_t, omega0),
    )


def evaluate_sampled(
    key: Array,
    omega: Array,
    *,
    alpha_r: Array,
    n_r: int,
    n_s: int,
    n_tasks: int,
    w0: Array,
    chol_Sigma: Array,
    chol_Sigma_w: Array,
    sigma: float,
) -> Array:
    """Sampled test loss: adapt ω (shape (..., p)) one step on n_r target points of ``n_tasks``
    fresh test tasks, average ½·MSE over n_s test points and tasks. Returns shape (..., r)."""
    _, ((xr, yr), (xs, ys)) = sample_tasks_data(
        key,
        m=n_tasks,
        ns=(n_r, n_s),
        w0=w0,
        chol_Sigma=chol_Sigma,
        chol_Sigma_w=chol_Sigma_w,
        sigma=sigma,
    )
    ar = jnp.atleast_1d(alpha_r)

    def one(w):  # w: (p,)
        grad = jnp.einsum("knp,kn->kp", xr, jnp.einsum("knp,p->kn", xr, w) - yr) / n_r
        theta = w - ar[:, None, None] * grad  # (r, k, p)
        res = ys - jnp.einsum("knp,rkp->rkn", xs, theta)
        return 0.5 * jnp.mean(res**2, axis=(1, 2))

    flat = omega.reshape(-1, omega.shape[-1])
    return jax.lax.map(one, flat).reshape(*omega.shape[:-1], ar.shape[0])


def sweep_runs(
    key: Array,
    *,
    n_runs: int,
    alpha_t: Array,
    alpha_r: Array,
    p: int,
    n_t: int,
    n_v: int,
    m: int,
    n_r: int,
    sigma: float,
    w0: Array,
    omega0: Array,
    chol_Sigma: Array,
    chol_Sigma_w: Array,
    F: Array,
    n_test_tasks: int = 0,
    n_s: int = 50,
    alpha_r_sampled=None,
    batch_size: int = 50,
    method: str = "auto",
) -> dict[str, Array]:
    """Monte Carlo of exact MAML over ``n_runs`` independent runs, common data across learning rates.

    Returns "exact": conditional test loss (Eq. 123), shape (n_runs, a, r); and, when
    ``n_test_tasks > 0``, "sampled": the sampled test loss of the same ω* at ``alpha_r_sampled``
    (default ``alpha_r``), shape (n_runs, a, r'). Runs are vmapped in chunks of ``batch_size``.
    ``method`` selects the outer solver ("auto", "gram" or "qr"; see `solve_sweep`).
    """
    _resolve_method(method, n_v * m, p)
    alpha_t, alpha_r = jnp.atleast_1d(alpha_t), jnp.atleast_1d(alpha_r)
    ar_s = alpha_r if alpha_r_sampled is None else jnp.atleast_1d(alpha_r_sampled)
    arrays = (alpha_t, alpha_r, ar_s, w0, omega0, chol_Sigma, chol_Sigma_w, F, sigma)
    statics = dict(m=m, n_t=n_t, n_v=n_v, n_r=n_r, n_test_tasks=n_test_tasks, n_s=n_s)
    return _sweep(jr.split(key, n_runs), *arrays, batch_size=batch_size, method=method, **statics)


@functools.partial(
    jax.jit,
    static_argnames=("m", "n_t", "n_v", "n_r", "n_test_tasks", "n_s", "batch_size", "method"),
)
def _sweep(
    keys,
    alpha_t,
    alpha_r,
    ar_s,
    w0,
    omega0,
    chol_Sigma,
    chol_Sigma_w,
    F,
    sigma,
    *,
    m,
    n_t,
    n_v,
    n_r,
    n_test_tasks,
    n_s,
    batch_size,
    method,
):
    """Jitted body of `sweep_runs` (compiled once per shape and static configuration).

    Runs are vmapped in chunks of ``batch_size`` (a `lax.map` over chunks). With the Gram solver
    (`solve_sweep`, method "auto"/"gram") the condition check is made per chunk, outside the
    vmap, so a chunk falls back to QR only if one of its (run, α_t) systems is ill-conditioned.
    """
    Sigma = chol_Sigma @ chol_Sigma.T
    Sigma_w = chol_Sigma_w @ chol_Sigma_w.T
    use_gram = _resolve_method(method, n_v * m, w0.shape[0]) == "gram"

    def sample(k):
        return sample_meta_train(
            jr.split(k)[0],
            m=m,
            n_t=n_t,
            n_v=n_v,
            w0=w0,
            chol_Sigma=chol_Sigma,
            chol_Sigma_w=chol_Sigma_w,
            sigma=sigma,
        )

    def evaluate(k, omegas):
        exact = conditional_loss(
            omega_star=omegas,
            w0=w0,
            alpha_r=alpha_r,
            n_r=n_r,
            sigma=sigma,
            Sigma=Sigma,
            Sigma_w=Sigma_w,
            F=F,
        )
        out = {"exact": exact}
        if n_test_tasks > 0:
            out["sampled"] = evaluate_sampled(
                jr.split(k)[1],
                omegas,
                alpha_r=ar_s,
                n_r=n_r,
                n_s=n_s,
                n_tasks=n_test_tasks,
                w0=w0,
                chol_Sigma=chol_Sigma,
                chol_Sigma_w=chol_Sigma_w,
                sigma=sigma,
            )
        return out

    def chunk(ks):
        data = jax.vmap(sample)(ks)
        qr = jax.vmap(lambda d: _solve_sweep_qr(d, alpha_t, omega0))
        if use_gram:
            omegas, kappa = jax.vmap(lambda d: _solve_sweep_gram(d, alpha_t, omega0))(data)
            omegas = jax.lax.cond(jnp.all(kappa <= GRAM_MAX_COND), lambda: omegas, lambda: qr(data))
        else:
            omegas = qr(data)
        return jax.vmap(evaluate)(ks, omegas)

    n_runs = keys.shape[0]
    n_full = n_runs // batch_size * batch_size
    parts = []
    if n_full:
        full = jax.lax.map(chunk, keys[:n_full].reshape(-1, batch_size, *keys.shape[1:]))
        parts.append(jax.tree.map(lambda x: x.reshape(n_full, *x.shape[2:]), full))
    if n_full < n_runs:
        parts.append(chunk(keys[n_full:]))
    return jax.tree.map(lambda *xs: jnp.concatenate(xs), *parts) if len(parts) > 1 else parts[0]
