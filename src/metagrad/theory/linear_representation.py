# ruff: noqa: F722  (jaxtyping shape strings are not forward annotations)
r"""FO-ANIL on multi-task linear regression with a low-rank shared representation.

Theory of Yüksel, Boursier, Flammarion, "First-order ANIL provably learns representations despite
overparametrisation" (ICLR 2024): the infinite-task recursion (5)-(7) and its non-zero-mean
extension, the limit Λ⋆ of Theorem 1, the closed-form ANIL objective, the exact one-step (1-GD)
excess risk at the limit, and diagnostics of a learned representation B.

Conventions: B⋆ is d×k with orthonormal columns, B is d×k', w has k' entries, Σ⋆ is the (k×k)
covariance of w⋆, σ² the label-noise variance, m_in the number of inner samples
(``m_in = inf`` gives the infinite-samples idealisation). All functions are pure and use float64.
"""

from __future__ import annotations

import math

import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float

__all__ = [
    "anil_objective",
    "anil_objective_min",
    "fo_anil_step",
    "head_second_moment",
    "lambda_star",
    "one_step_error_bound",
    "one_step_excess_risk",
    "representation_diagnostics",
]


def _check_pos(name: str, value: float, allow_inf: bool = False) -> None:
    v = float(value)
    if not (v > 0) or (math.isinf(v) and not allow_inf):
        rng = "(0, inf]" if allow_inf else "(0, inf)"
        raise ValueError(f"{name}={value!r} is out of range: expected a value in {rng}.")


def _inv_n(m_in: float) -> float:
    _check_pos("m_in", m_in, allow_inf=True)
    return 0.0 if math.isinf(float(m_in)) else 1.0 / float(m_in)


def lambda_star(
    *, alpha: float, m_in: float, Sigma_star: Float[ArrayLike, "k k"], sigma2: float
) -> Float[Array, "k k"]:
    r"""Limit Λ⋆ of B⋆ᵀB_tB_tᵀB⋆ under infinite-task FO-ANIL.

    .. math:: Λ⋆ = \frac1α \frac{m_{in}}{m_{in}+1}\Big(I_k - \big(\tfrac{m_{in}+1}{λ^2}Σ⋆ + I_k\big)^{-1}\Big),
              \quad λ^2 = \operatorname{Tr}Σ⋆ + σ^2.

    Implements Yüksel 2024, Theorem 1, Eq. (8) (reconstructed; docs/yuksel2024.md).

    Args:
        alpha: inner step size, > 0.
        m_in: inner samples per task, in (0, inf]; ``inf`` gives Λ⋆ = I/α.
        Sigma_star: covariance of w⋆, symmetric positive definite, shape (k, k).
        sigma2: label-noise variance, >= 0.

    Returns:
        Λ⋆, shape (k, k).
    """
    _check_pos("alpha", alpha)
    if float(sigma2) < 0:
        raise ValueError(f"sigma2={sigma2!r} is out of range: expected >= 0.")
    S = jnp.asarray(Sigma_star, dtype=jnp.float64)
    inv_n = _inv_n(m_in)
    lam2 = jnp.trace(S) + sigma2
    eye = jnp.eye(S.shape[0])
    # Equivalent form (1/α) (n/(n+1)) Σ (Σ + λ²/(n+1) I)^{-1}, valid also for n = inf.
    shrink = 1.0 / (1.0 + inv_n)
    return shrink / alpha * S @ jnp.linalg.inv(S + lam2 * inv_n * shrink * eye)


def head_second_moment(
    *,
    B: Float[ArrayLike, "d kp"],
    w: Float[ArrayLike, " kp"],
    B_star: Float[ArrayLike, "d k"],
    Sigma_star: Float[ArrayLike, "k k"],
    alpha: float,
    m_in: float,
    sigma2: float,
    mu_star: Float[ArrayLike, " k"] | None = None,
) -> Float[Array, "kp kp"]:
    r"""Second moment E[w_{t,i}w_{t,i}ᵀ] of the head after one inner step.

    With v = Bw − B⋆w⋆ and n = m_in,
    E[wwᵀ] = wwᵀ − αwE[v]ᵀB − αBᵀE[v]wᵀ + α²Bᵀ[(1+1/n)E[vvᵀ] + (1/n)(tr E[vvᵀ] + σ²)I_d]B.
    For μ⋆ = 0 this is Eq. (7).

    Implements Yüksel 2024, Eq. (7) (Lemma 15), and the non-zero-mean version derived in docs/yuksel2024.md.

    Args:
        B: representation, shape (d, k'). w: head, shape (k',).
        B_star: orthonormal ground-truth representation, shape (d, k).
        Sigma_star: covariance of w⋆, shape (k, k). mu_star: mean of w⋆, shape (k,), default 0.
        alpha: inner step size > 0. m_in: inner samples in (0, inf]. sigma2: noise variance >= 0.

    Returns:
        E[w_{t,i}w_{t,i}ᵀ], shape (k', k').
    """
    inv_n = _inv_n(m_in)
    B, w, Bs = (jnp.asarray(a, jnp.float64) for a in (B, w, B_star))
    S = jnp.asarray(Sigma_star, jnp.float64)
    mu = jnp.zeros(Bs.shape[1]) if mu_star is None else jnp.asarray(mu_star, jnp.float64)
    Bw, Bmu = B @ w, Bs @ mu
    Ev = Bw - Bmu
    Evv = (
        jnp.outer(Bw, Bw)
        - jnp.outer(Bw, Bmu)
        - jnp.outer(Bmu, Bw)
        + Bs @ (S + jnp.outer(mu, mu)) @ Bs.T
    )
    inner = (1 + inv_n) * Evv + inv_n * (jnp.trace(Evv) + sigma2) * jnp.eye(B.shape[0])
    cross = jnp.outer(w, B.T @ Ev)
    return jnp.outer(w, w) - alpha * (cross + cross.T) + alpha**2 * B.T @ inner @ B


def fo_anil_step(
    *,
    B: Float[ArrayLike, "d kp"],
    w: Float[ArrayLike, " kp"],
    B_star: Float[ArrayLike, "d k"],
    Sigma_star: Float[ArrayLike, "k k"],
    alpha: float,
    beta: float,
    m_in: float,
    sigma2: float,
    mu_star: Float[ArrayLike, " k"] | None = None,
) -> tuple[Float[Array, "d kp"], Float[Array, " kp"]]:
    r"""One step of infinite-task FO-ANIL.

    w_{t+1} = w_t − β(I − αBᵀB)(BᵀBw_t − BᵀB⋆μ⋆),
    B_{t+1} = B_t − β(B E[ww_iᵀ] − B⋆E[w⋆w_iᵀ]), E[w⋆w_iᵀ] = μ⋆wᵀ(I − αBᵀB) + αS⋆B⋆ᵀB,
    with S⋆ = Σ⋆ + μ⋆μ⋆ᵀ. For μ⋆ = 0 these are Eqs. (5)-(6).

    Implements Yüksel 2024, Eqs. (5)-(7) and the non-zero-mean recursion derived in docs/yuksel2024.md.

    Args:
        As :func:`head_second_moment`, plus beta: outer step size > 0.

    Returns:
        (B_{t+1}, w_{t+1}) with the shapes of (B, w).
    """
    B, w, Bs = (jnp.asarray(a, jnp.float64) for a in (B, w, B_star))
    S = jnp.asarray(Sigma_star, jnp.float64)
    mu = jnp.zeros(Bs.shape[1]) if mu_star is None else jnp.asarray(mu_star, jnp.float64)
    Eww = head_second_moment(
        B=B, w=w, B_star=Bs, Sigma_star=S, alpha=alpha, m_in=m_in, sigma2=sigma2, mu_star=mu
    )
    G = jnp.eye(B.shape[1]) - alpha * B.T @ B
    Ews = jnp.outer(mu, G @ w) + alpha * (S + jnp.outer(mu, mu)) @ Bs.T @ B
    w_new = w - beta * G @ (B.T @ (B @ w - Bs @ mu))
    B_new = B - beta * (B @ Eww - Bs @ Ews)
    return B_new, w_new


def anil_objective(
    *,
    B: Float[ArrayLike, "d kp"],
    w: Float[ArrayLike, " kp"],
    B_star: Float[ArrayLike, "d k"],
    Sigma_star: Float[ArrayLike, "k k"],
    alpha: float,
    m_in: float,
    sigma2: float,
) -> Array:
    r"""Closed-form ANIL objective (zero task mean, Gaussian inputs).

    .. math:: L_{ANIL}(B,w) = \tfrac12\big[\operatorname{tr}(B E[ww_iᵀ] Bᵀ)
              − 2α \operatorname{tr}(BBᵀB⋆Σ⋆B⋆ᵀ) + \operatorname{Tr}Σ⋆ + σ^2\big].

    Implements Yüksel 2024, Eq. (1) in closed form (derived; docs/yuksel2024.md).

    Returns:
        Scalar, the expected post-adaptation test loss (with the ½ and the noise).
    """
    B, w, Bs = (jnp.asarray(a, jnp.float64) for a in (B, w, B_star))
    S = jnp.asarray(Sigma_star, jnp.float64)
    Eww = head_second_moment(
        B=B, w=w, B_star=Bs, Sigma_star=S, alpha=alpha, m_in=m_in, sigma2=sigma2
    )
    cross = jnp.trace(B @ B.T @ Bs @ S @ Bs.T)
    return 0.5 * (jnp.trace(B @ Eww @ B.T) - 2 * alpha * cross + jnp.trace(S) + sigma2)


def anil_objective_min(*, Sigma_star: Float[ArrayLike, "k k"], m_in: float, sigma2: float) -> Array:
    r"""Minimum of the closed-form ANIL objective, attained at B = B⋆Q, QQᵀ = Λ⋆, Bw = 0.

    .. math:: L^⋆ = \tfrac12\Big[σ^2 + \sum_j \Big(s_j − \frac{s_j^2}{(1+1/m_{in})s_j + λ^2/m_{in}}\Big)\Big],

    with s_j the eigenvalues of Σ⋆. Derived in docs/yuksel2024.md (consistent with App. F).

    Returns:
        Scalar.
    """
    inv_n = _inv_n(m_in)
    s = jnp.linalg.eigvalsh(jnp.asarray(Sigma_star, jnp.float64))
    lam2 = jnp.sum(s) + sigma2
    return 0.5 * (sigma2 + jnp.sum(s - s**2 / ((1 + inv_n) * s + lam2 * inv_n)))


def one_step_excess_risk(
    *, Sigma_star: Float[ArrayLike, "k k"], m_in: float, sigma2: float, m_test: ArrayLike
) -> Array:
    r"""Expected 1-GD excess risk E‖B̂w_test − θ⋆‖² on a new task at the FO-ANIL limit.

    With M = αΛ⋆ (independent of α) and λ² = Tr Σ⋆ + σ²,

    .. math:: E‖B̂w_{test} − θ⋆‖^2 = \operatorname{tr}(Σ⋆(I−M)^2)
              + \tfrac1{m_{test}}\big[\operatorname{tr}(Σ⋆M^2) + λ^2\operatorname{tr}(M^2)\big].

    Implements Yüksel 2024, Eq. (11) and Proposition 1 in expectation (derived; docs/yuksel2024.md).
    The norm is not halved; Table 1 of the paper corresponds to half of this value.

    Args:
        Sigma_star: shape (k, k). m_in: in (0, inf]. sigma2: >= 0.
        m_test: test-task samples, >= 1, any shape (broadcasts).

    Returns:
        Array with the shape of m_test.
    """
    m_test = jnp.asarray(m_test, jnp.float64)
    if jnp.any(m_test < 1):
        raise ValueError(f"m_test={m_test} is out of range: expected >= 1.")
    S = jnp.asarray(Sigma_star, jnp.float64)
    M = lambda_star(alpha=1.0, m_in=m_in, Sigma_star=S, sigma2=sigma2)
    eye = jnp.eye(S.shape[0])
    lam2 = jnp.trace(S) + sigma2
    bias = jnp.trace(S @ (eye - M) @ (eye - M))
    var = jnp.trace(S @ M @ M) + lam2 * jnp.trace(M @ M)
    return bias + var / m_test


def one_step_error_bound(
    *,
    Sigma_star: Float[ArrayLike, "k k"],
    m_in: float,
    sigma2: float,
    m_test: ArrayLike,
    w_star_norm: ArrayLike,
) -> dict[str, Array]:
    r"""High-probability bound on the 1-GD error ‖B̂w_test − B⋆w⋆‖₂ on a new task at the limit (9).

    Proposition 1 states, for m_test ≥ k and with probability at least 1 − 4e^{−k/2},
    ‖B̂w_test − B⋆w⋆‖ = O((1 + λ²/λ_min(Σ⋆))/m_in ‖w⋆‖ + ‖w⋆‖√(k/m_test) + σ√(k/m_test)).
    This function gives the three terms with explicit constants (our derivation, docs/yuksel2024.md),
    with M = αΛ⋆, r = √(k/m_test), λ² = Tr Σ⋆ + σ²:

    .. math:: \underbrace{\frac{1 + λ^2/λ_{min}(Σ⋆)}{m_{in}}‖w⋆‖}_{\text{bias}}
              + \underbrace{4‖M‖(1 + r)\, r\, ‖w⋆‖}_{\text{variance}}
              + \underbrace{2‖M‖(1 + 2r)\, σ r}_{\text{noise}},

    valid with probability at least 1 − 3e^{−k/2} over X (i.i.d. N(0, 1) entries) and z ~ N(0, σ²I),
    for fixed w⋆. ‖M‖ ≤ 1, so for m_test ≥ k the constants are at most 8 and 6.

    Implements Yüksel 2024, Proposition 1 (with Eqs. (9)-(11)), for Gaussian label noise.

    Args:
        Sigma_star: covariance of w⋆, symmetric positive definite, shape (k, k).
        m_in: inner samples of training, in (0, inf] (``inf``: the bias term is 0).
        sigma2: label-noise variance σ² of the training and test tasks, >= 0.
        m_test: test-task samples, >= k; any shape (broadcast with ``w_star_norm``).
        w_star_norm: ‖w⋆‖ of the test task, >= 0; any shape.

    Returns:
        Dict of arrays of the broadcast shape: ``bias``, ``variance``, ``noise`` and ``total``
        (their sum), and the scalar ``probability`` 1 − 3e^{−k/2} (a lower bound, possibly ≤ 0).
    """
    S = jnp.asarray(Sigma_star, jnp.float64)
    k = S.shape[0]
    m_test = jnp.asarray(m_test, jnp.float64)
    w_norm = jnp.asarray(w_star_norm, jnp.float64)
    if jnp.any(m_test < k):
        raise ValueError(f"m_test={m_test} is out of range: expected >= k={k} (Proposition 1).")
    if jnp.any(w_norm < 0):
        raise ValueError(f"w_star_norm={w_star_norm} is out of range: expected >= 0.")
    M = lambda_star(alpha=1.0, m_in=m_in, Sigma_star=S, sigma2=sigma2)
    s = jnp.linalg.eigvalsh(S)
    m_norm = jnp.linalg.eigvalsh(0.5 * (M + M.T))[-1]  # M is symmetric: it commutes with Σ⋆
    r = jnp.sqrt(k / m_test)
    bias = (1.0 + (jnp.sum(s) + sigma2) / s[0]) * _inv_n(m_in) * w_norm
    variance = 4.0 * m_norm * (1.0 + r) * r * w_norm
    noise = 2.0 * m_norm * (1.0 + 2.0 * r) * math.sqrt(float(sigma2)) * r
    bias, variance, noise = jnp.broadcast_arrays(bias, variance, noise)
    total = bias + variance + noise
    return {
        "bias": bias,
        "variance": variance,
        "noise": noise,
        "total": total,
        "probability": jnp.asarray(1.0 - 3.0 * math.exp(-k / 2.0)),
    }


def representation_diagnostics(
    *, B: Float[ArrayLike, "d kp"], w: Float[ArrayLike, " kp"], B_star: Float[ArrayLike, "d k"]
) -> dict[str, Array]:
    r"""Squared singular values of B⋆ᵀB and B⋆,⊥ᵀB, and ‖Bw‖ (Figs 2-3 of Yüksel 2024).

    The complement uses B⋆,⊥B⋆,⊥ᵀ = I − B⋆B⋆ᵀ, so B⋆,⊥ itself is never formed.

    Returns:
        Dict with ``star_sv2`` (k ascending squared singular values of B⋆ᵀB),
        ``perp_max`` and ``perp_mean`` (largest and mean of the min(d−k, k') squared singular values
        of B⋆,⊥ᵀB), and ``norm_Bw`` (scalar).
    """
    B, w, Bs = (jnp.asarray(a, jnp.float64) for a in (B, w, B_star))
    d, k = Bs.shape
    C = Bs.T @ B
    star = jnp.linalg.eigvalsh(C @ C.T)
    gram = B.T @ B - C.T @ C  # Bᵀ(I − B⋆B⋆ᵀ)B
    r = min(d - k, B.shape[1])
    return {
        "star_sv2": star,
        "perp_max": jnp.linalg.eigvalsh(gram)[-1],
        "perp_mean": jnp.trace(gram) / r,
        "norm_Bw": jnp.linalg.norm(B @ w),
    }
