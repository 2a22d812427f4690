r"""The optimal adaptation learning rate of one-step MAML on mixed linear regression.

Theory of Zou, Liu, Li, "Unraveling Model-Agnostic Meta-Learning via the Adaptation Learning Rate"
(ICLR 2022). A task is (Φ_i, a_i) with labels y_i = Φ_i a_i, Φ_i ∈ R^{K×d}; G_i = Φ_iᵀΦ_i.

Loss convention (the paper's): plain MSE ℓ(w) = (1/K)‖Φw − y‖², inner step w' = w − (2α/K)Φᵀ(Φw − y),
same K points inner and outer. Writing the step as w' = w − cΦᵀ(Φw − y), the optimal c* = T2/T3
(T_p = E tr G^p) is convention-free; `alpha_from_c` converts to the MSE (α = Kc/2), half-MSE
(α = Kc, Bernacchia 2021) and sum-of-squares (α = c/2) conventions.

All functions are pure and float64 (NumPy); batched inputs carry the task axis first.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from metagrad.theory._alr_bounds import (
    prop4_alpha_set,
    prop4_bound,
    prop4_epsilon,
    theorem2_alpha_max,
    theorem2_bound,
    theorem2_c_tilde,
)
from metagrad.theory._alr_risk import (
    alpha_star_finite,
    conditional_risk,
    post_adaptation_distance,
    post_adaptation_distance_expected,
    post_adaptation_distance_sim,
    post_adaptation_loss,
)

__all__ = [
    "MomentSums",
    "alpha_from_c",
    "alpha_star_anil_classification",
    "alpha_star_anil_features",
    "anil_feature_variance",
    "alpha_star_heuristic",
    "alpha_star_cov",
    "alpha_star_finite",
    "alpha_star_limit",
    "alpha_star_noise",
    "alpha_star_ntk",
    "alpha_star_plugin",
    "alpha_star_split",
    "alpha_star_wishart",
    "cor1_bounds",
    "conditional_risk",
    "cor1_bounds_realisation",
    "erm_init",
    "post_adaptation_distance",
    "post_adaptation_distance_expected",
    "post_adaptation_distance_sim",
    "post_adaptation_loss",
    "gram",
    "heuristic_range",
    "limit_risk",
    "maml_init",
    "maml_init_derivatives",
    "moment_sums",
    "row_moments",
    "trace_moments_iid",
    "trace_moments_rows",
    "trace_moments_wishart",
    "prop4_alpha_set",
    "prop4_bound",
    "prop4_epsilon",
    "theorem2_alpha_max",
    "theorem2_bound",
    "theorem2_c_tilde",
]

_CONVENTIONS = {
    "mse": lambda c, K: K * c / 2,
    "half_mse": lambda c, K: K * c,
    "sum": lambda c, K: c / 2,
}


class MomentSums(NamedTuple):
    """Precomputed sums S_p = Σ_i G_i^p and v_p = Σ_i G_i^p a_i (p = 1, 2, 3) and K."""

    S: np.ndarray  # (3, d, d)
    v: np.ndarray  # (3, d)
    K: int


def _check_K(K: int) -> None:
    if not int(K) >= 1:
        raise ValueError(f"K={K!r} is out of range: expected an integer >= 1.")


def gram(*, Phis: ArrayLike) -> np.ndarray:
    """Per-task Gram matrices G_i = Φ_iᵀΦ_i.

    Args:
        Phis: features, shape (N, K, d).

    Returns:
        G, shape (N, d, d).
    """
    Phis = np.asarray(Phis, dtype=np.float64)
    if Phis.ndim != 3:
        raise ValueError(f"Phis has shape {Phis.shape}: expected (N, K, d).")
    return np.einsum("nki,nkj->nij", Phis, Phis)


def moment_sums(*, Phis: ArrayLike, a: ArrayLike) -> MomentSums:
    """S_p = Σ_i G_i^p and v_p = Σ_i G_i^p a_i for p = 1, 2, 3 (the fast trick of Sec. 3.1).

    Args:
        Phis: features, shape (N, K, d). a: task optima, shape (N, d).

    Returns:
        `MomentSums` with S of shape (3, d, d), v of shape (3, d).
    """
    G = gram(Phis=Phis)
    a = np.asarray(a, dtype=np.float64)
    G2 = G @ G
    G3 = G2 @ G
    S = np.stack([G.sum(0), G2.sum(0), G3.sum(0)])
    v = np.stack([np.einsum("nij,nj->i", Gp, a) for Gp in (G, G2, G3)])
    return MomentSums(S=S, v=v, K=int(np.shape(Phis)[1]))


def _coeffs(alpha: np.ndarray, K: int) -> np.ndarray:
    """Coefficients (1, −4α/K, 4α²/K²) of B(α) = G − (4α/K)G² + (4α²/K²)G³ (B.8)."""
    return np.stack([np.ones_like(alpha), -4 * alpha / K, 4 * alpha**2 / K**2], axis=-1)


def _combine(moments: MomentSums, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Σ_p c_p S_p and Σ_p c_p v_p for coefficients `c` of shape (..., 3)."""
    return np.einsum("...p,pij->...ij", c, moments.S), np.einsum("...p,pi->...i", c, moments.v)


def erm_init(*, Phis: ArrayLike, a: ArrayLike) -> np.ndarray:
    r"""ERM meta-initialisation w_r = (Σ G_i)⁻¹ Σ G_i a_i. Implements Zou 2022, Eq. 3.1.

    Args:
        Phis: features, shape (N, K, d), with Σ G_i invertible. a: task optima, shape (N, d).

    Returns:
        w_r, shape (d,).
    """
    return maml_init(moments=moment_sums(Phis=Phis, a=a), alpha=0.0)


def maml_init(*, moments: MomentSums, alpha: ArrayLike) -> np.ndarray:
    r"""One-step MAML initialisation w_m(α) = (Σ B_i)⁻¹ Σ B_i a_i, B_i = G_i(I − 2αG_i/K)².

    Implements Zou 2022, Eq. 3.1 with (B.8); one d×d solve per α from `moment_sums`.

    Args:
        moments: from `moment_sums`. alpha: adaptation rate(s) (MSE convention), any shape.

    Returns:
        w_m, shape alpha.shape + (d,).
    """
    alpha = np.asarray(alpha, dtype=np.float64)
    W, nu = _combine(moments, _coeffs(alpha, moments.K))
    return np.linalg.solve(W, nu[..., None])[..., 0]


def maml_init_derivatives(
    *, moments: MomentSums, alpha: ArrayLike
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""w_m(α) and its first two α-derivatives. Generalises Zou 2022, Prop 5 (F.1)/(F.6) to any α.

    Differentiates W(α)w = ν(α) (W = Σ B_i, ν = Σ B_i a_i, coefficients of (B.8)) twice:
    w' = W⁻¹(ν' − W'w), w'' = W⁻¹(ν'' − W''w − 2W'w'). At α = 0 this is the paper's
    w'(0) = (Σ G_i)⁻¹ Σ_j (4/K) G_j²(w_r − a_j) and its derivative w''(0) (derived; docs/zou2022.md).

    Args:
        moments: from `moment_sums`. alpha: adaptation rate(s) (MSE convention), any shape.

    Returns:
        (w_m, dw_m/dα, d²w_m/dα²), each of shape alpha.shape + (d,).
    """
    alpha = np.asarray(alpha, dtype=np.float64)
    K = moments.K
    zero, one = np.zeros_like(alpha), np.ones_like(alpha)
    coeffs = [
        _coeffs(alpha, K),
        np.stack([zero, -4 * one / K, 8 * alpha / K**2], axis=-1),
        np.stack([zero, zero, 8 * one / K**2], axis=-1),
    ]
    (W, nu), (dW, dnu), (d2W, d2nu) = (_combine(moments, c) for c in coeffs)

    def solve(rhs: np.ndarray) -> np.ndarray:
        return np.linalg.solve(W, rhs[..., None])[..., 0]

    def mv(M: np.ndarray, x: np.ndarray) -> np.ndarray:
        return np.einsum("...ij,...j->...i", M, x)

    w = solve(nu)
    dw = solve(dnu - mv(dW, w))
    return w, dw, solve(d2nu - mv(d2W, w) - 2 * mv(dW, dw))


def alpha_from_c(*, c: ArrayLike, K: ArrayLike, convention: str = "mse") -> np.ndarray:
    """Convert the convention-free step c (w' = w − cΦᵀ(Φw − y)) to a learning rate.

    Args:
        c: step, any shape. K: points per task, >= 1.
        convention: "mse" (α = Kc/2, this paper), "half_mse" (α = Kc, Bernacchia 2021), "sum" (α = c/2).

    Returns:
        α, broadcast shape of c and K.
    """
    if convention not in _CONVENTIONS:
        raise ValueError(f"convention={convention!r}: expected one of {sorted(_CONVENTIONS)}.")
    return _CONVENTIONS[convention](np.asarray(c, dtype=np.float64), np.asarray(K))


def alpha_star_limit(*, T2: ArrayLike, T3: ArrayLike, K: ArrayLike) -> np.ndarray:
    r"""α*_lim = K·T2/(2·T3), T_p = E tr[(ΦᵀΦ)^p]. Implements Zou 2022, Eq. 3.3 (Theorem 1).

    Args:
        T2, T3: trace moments, > 0, broadcastable. K: points per task, >= 1.

    Returns:
        α*_lim (MSE convention), broadcast shape.
    """
    return np.asarray(K) * np.asarray(T2) / (2 * np.asarray(T3))


def limit_risk(*, alpha, T1, T2, T3, K, sigma_a2=1.0) -> np.ndarray:
    r"""L_apx(α) = (σ_a²/K)[T1 − (4α/K)T2 + (4α²/K²)T3]. Implements Zou 2022, Eq. B.6.

    Args:
        alpha: rate(s); T1, T2, T3: trace moments; K >= 1; sigma_a2 > 0 (Var a per coordinate).

    Returns:
        L_apx, broadcast shape.
    """
    alpha = np.asarray(alpha, dtype=np.float64)
    return sigma_a2 / K * (T1 - 4 * alpha / K * T2 + 4 * alpha**2 / K**2 * T3)


def trace_moments_rows(*, S, m4, m6, q, K) -> tuple[np.ndarray, np.ndarray]:
    r"""T2, T3 from single-row moments (rows ϕ i.i.d.); row-moment formula (derived; docs/zou2022.md).

    T2 = K m4 + K(K−1) tr S², T3 = K m6 + 3K(K−1) q + K(K−1)(K−2) tr S³, with S = E ϕϕᵀ,
    m4 = E‖ϕ‖⁴, m6 = E‖ϕ‖⁶, q = E[‖ϕ‖² ϕᵀSϕ].

    Args:
        S: (d, d) second-moment matrix; m4, m6, q: scalars; K: points per task (array ok).

    Returns:
        (T2, T3), shape of K.
    """
    S = np.asarray(S, dtype=np.float64)
    K = np.asarray(K, dtype=np.float64)
    trS2 = np.trace(S @ S)
    trS3 = np.trace(S @ S @ S)
    T2 = K * m4 + K * (K - 1) * trS2
    T3 = K * m6 + 3 * K * (K - 1) * q + K * (K - 1) * (K - 2) * trS3
    return T2, T3


def row_moments(*, phi: ArrayLike) -> dict[str, np.ndarray]:
    """Sample estimates of S, m4, m6, q for `trace_moments_rows` from rows phi, shape (n, d)."""
    phi = np.asarray(phi, dtype=np.float64)
    S = phi.T @ phi / phi.shape[0]
    r2 = np.einsum("ni,ni->n", phi, phi)
    q = np.mean(r2 * np.einsum("ni,ij,nj->n", phi, S, phi))
    return {"S": S, "m4": np.mean(r2**2), "m6": np.mean(r2**3), "q": q}


def trace_moments_iid(*, mu2, mu4, mu6, d, K) -> tuple[np.ndarray, np.ndarray]:
    r"""T2, T3 for Φ with i.i.d. zero-mean entries of moments μ2, μ4, μ6 (derived; docs/zou2022.md).

    m4 = dμ4 + d(d−1)μ2², m6 = dμ6 + 3d(d−1)μ4μ2 + d(d−1)(d−2)μ2³, q = μ2 m4, S = μ2 I.
    Corrects Zou 2022 (E.12)-(E.13), which drop the cross terms.

    Returns:
        (T2, T3), broadcast shape.
    """
    m4 = d * mu4 + d * (d - 1) * mu2**2
    m6 = d * mu6 + 3 * d * (d - 1) * mu4 * mu2 + d * (d - 1) * (d - 2) * mu2**3
    K = np.asarray(K, dtype=np.float64)
    T2 = K * m4 + K * (K - 1) * d * mu2**2
    T3 = K * m6 + 3 * K * (K - 1) * mu2 * m4 + K * (K - 1) * (K - 2) * d * mu2**3
    return T2, T3


def trace_moments_wishart(*, s2, d, K) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""T1, T2, T3 for Gaussian N(0, s²) entries (Wishart G) [derived; docs/zou2022.md].

    E G = K s² I, E G² = K(K+d+1)s⁴ I, E G³ = K(K²+d²+3Kd+3K+3d+4)s⁶ I; T_p = d·(that).
    """
    K = np.asarray(K, dtype=np.float64)
    T1 = d * K * s2
    T2 = d * K * (K + d + 1) * s2**2
    T3 = d * K * (K**2 + d**2 + 3 * K * d + 3 * K + 3 * d + 4) * s2**3
    return T1, T2, T3


def alpha_star_wishart(*, s2, d, K) -> np.ndarray:
    r"""α*_lim = K(K+d+1) / (2s²(K²+d²+3Kd+3K+3d+4)) for N(0, s²) entries [derived; docs/zou2022.md]."""
    _, T2, T3 = trace_moments_wishart(s2=s2, d=d, K=K)
    return alpha_star_limit(T2=T2, T3=T3, K=K)


def alpha_star_plugin(*, Phis: ArrayLike) -> float:
    r"""Plug-in estimator α̂ = K Σ_i tr G_i² / (2 Σ_i tr G_i³) from sampled task features (N, K, d)."""
    G = gram(Phis=Phis)
    G2 = G @ G
    return float(
        np.shape(Phis)[1]
        * np.trace(G2, axis1=1, axis2=2).sum()
        / (2 * np.einsum("nij,nji->", G2, G))
    )


def alpha_star_noise(*, T1, T2, T3, K, sigma_a2, sigma_eps2) -> np.ndarray:
    r"""α* with label noise ε ~ (0, σ_ε² I): K(σ_a²T2 + σ_ε²T1) / (2(σ_a²T3 + σ_ε²T2)) [derived]."""
    return K * (sigma_a2 * T2 + sigma_eps2 * T1) / (2 * (sigma_a2 * T3 + sigma_eps2 * T2))


def alpha_star_cov(*, Sigma_a, EG2, EG3, K) -> float:
    r"""α* with Cov(a) = Σ_a: K tr(Σ_a E G²) / (2 tr(Σ_a E G³)) [derived; docs/zou2022.md]."""
    return float(K * np.trace(Sigma_a @ EG2) / (2 * np.trace(Sigma_a @ EG3)))


def alpha_star_split(*, Phis_u: ArrayLike, Phis_t: ArrayLike) -> float:
    r"""Train/val split (Cor. 2, H.6): α = k1 Σ tr[G_u G_t] / (2 Σ tr[G_u G_t G_u]).

    Args:
        Phis_u: support features (N, k1, d). Phis_t: query features (N, k2, d).
    """
    Gu, Gt = gram(Phis=Phis_u), gram(Phis=Phis_t)
    GuGt = Gu @ Gt
    k1 = np.shape(Phis_u)[1]
    return float(
        k1 * np.trace(GuGt, axis1=1, axis2=2).sum() / (2 * np.einsum("nij,nji->", GuGt, Gu))
    )


def alpha_star_ntk(*, Psi_all: ArrayLike, N: int, K: int) -> float:
    r"""NTK estimate α*_est = 1/(2NKσ̃²), σ̃ = std of all entries of Ψ_all. Implements Zou 2022, H.15."""
    _check_K(K)
    return float(1.0 / (2 * N * K * np.var(np.asarray(Psi_all))))


def alpha_star_heuristic(*, N: int, K: int, d: int, sigma2: ArrayLike) -> np.ndarray:
    r"""Deep-learning heuristic α*_lim ≈ 1/(2·min(NK, d)·σ̃²). Implements Zou 2022, Eq. H.18.

    It merges Eq. 3.3 with tr G ≈ K d σ̃² (under-parameterised, d ≤ NK) and the NTK estimate
    H.15 (over-parameterised, NK ≪ d). A heuristic: no theorem bounds its error.

    Args:
        N: training tasks, >= 1. K: points per task, >= 1. d: number of features / parameters, >= 1.
        sigma2: σ̃², the second moment (variance) of the feature entries, > 0; any shape.

    Returns:
        α (MSE convention), shape of ``sigma2``.
    """
    for name, v in (("N", N), ("K", K), ("d", d)):
        if int(v) < 1:
            raise ValueError(f"{name}={v} is out of range: expected >= 1.")
    sigma2 = np.asarray(sigma2, dtype=np.float64)
    if np.any(sigma2 <= 0):
        raise ValueError("sigma2 is out of range: expected > 0.")
    return 1.0 / (2 * min(N * K, d) * sigma2)


def heuristic_range(
    *, N: int, K: int, d: int, n_tilde: int, lo: float = 0.0, hi: float = 1.0
) -> tuple[float, float]:
    r"""Range of the H.18 heuristic when every feature entry lies in [lo, hi] (Zou 2022, H.19–H.25).

    With ñ observations, (hi − lo)²/(2ñ) ≤ σ̃² ≤ (hi − lo)²/4 (von Szőkefalvi Nagy below, Popoviciu
    above), so α ∈ [2/(min(NK, d)(hi − lo)²), ñ/(min(NK, d)(hi − lo)²)]; [0, 1] gives the paper's
    [2/min(NK, d), ñ/min(NK, d)].

    Args:
        N, K, d: as in `alpha_star_heuristic`. n_tilde: observations ñ, >= 2 (the two bounds
            coincide at ñ = 2). lo < hi: bounds of the feature entries.

    Returns:
        (α_low, α_high).
    """
    if int(n_tilde) < 2:
        raise ValueError(f"n_tilde={n_tilde} is out of range: expected >= 2.")
    if not hi > lo:
        raise ValueError(f"hi={hi} must be > lo={lo}.")
    width2 = (hi - lo) ** 2
    a_low = alpha_star_heuristic(N=N, K=K, d=d, sigma2=width2 / 4)
    a_high = alpha_star_heuristic(N=N, K=K, d=d, sigma2=width2 / (2 * n_tilde))
    return float(a_low), float(a_high)


def alpha_star_anil_classification(*, n_way: int, n_shot: int, sigma2: ArrayLike) -> np.ndarray:
    r"""ANIL classification heuristic α* = 1/(2·N_way·N_shot·σ̂²) (Zou 2022, H.3; cross-entropy).

    Args:
        n_way, n_shot: classes per task and support examples per class, >= 1.
        sigma2: σ̂², second moment of the backbone's feature entries, > 0.
    """
    return alpha_star_heuristic(N=1, K=n_way * n_shot, d=n_way * n_shot, sigma2=sigma2)


def anil_feature_variance(*, F: ArrayLike, centre: bool = True) -> np.ndarray:
    r"""σ̂² of the ANIL estimate (Zou 2022, App. H.3) from the features of one or more tasks.

    The rows are L2-normalised first, F = (F_1/‖F_1‖, …, F_n/‖F_n‖). With ``centre`` (default)
    σ̂² is the mean over the h coordinates of the per-coordinate variance over the n rows
    (ddof 0), i.e. the mean diagonal of the covariance (F − F̄)ᵀ(F − F̄)/n, which equals
    (1 − ‖F̄‖²)/h. Without it, the mean diagonal of FᵀF/n, which is exactly 1/h for unit rows
    whatever the features (so an "online" estimate would be a constant); see docs/zou2022.md.

    Args:
        F: features, shape ``(..., n, h)`` (n = N_way·N_shot support rows per task); a zero
            row stays zero.
        centre: subtract the per-coordinate mean over the n rows (default True).

    Returns:
        σ̂², float64, shape ``F.shape[:-2]`` (one value per task).
    """
    F = np.asarray(F, dtype=np.float64)
    if F.ndim < 2 or F.shape[-2] < 1 or F.shape[-1] < 1:
        raise ValueError(f"F has shape {F.shape}: expected (..., n, h) with n, h >= 1.")
    norms = np.linalg.norm(F, axis=-1, keepdims=True)
    U = F / np.maximum(norms, 1e-12)
    if centre:
        U = U - U.mean(axis=-2, keepdims=True)
    return (U**2).mean(axis=(-2, -1))


def alpha_star_anil_features(
    *, F: ArrayLike, n_way: int, n_shot: int, centre: bool = True
) -> float:
    r"""Online ANIL estimate α* = 1/(2·N_way·N_shot·σ̂²) from support features (Zou 2022, App. H.3).

    σ̂² is `anil_feature_variance` of each task averaged over the tasks (a meta-batch), then
    `alpha_star_anil_classification`. In training the estimate feeds the buffer
    α_buf ← 0.9·α_buf + 0.1·α* (`metagrad.train.TrainConfig`, ``inner_lr_rule='online'``).

    Args:
        F: support features of one task ``(n, h)`` or of a meta-batch ``(tasks, n, h)``,
            n = n_way·n_shot; rows are L2-normalised here.
        n_way, n_shot: classes per task and support examples per class, >= 1.
        centre: see `anil_feature_variance`.

    Returns:
        α* (the inner learning rate of cross-entropy on the head), a float.
    """
    for name, v in (("n_way", n_way), ("n_shot", n_shot)):
        if int(v) < 1:
            raise ValueError(f"{name}={v} is out of range: expected >= 1.")
    sigma2 = float(np.mean(anil_feature_variance(F=F, centre=centre)))
    if not sigma2 > 0:
        raise ValueError("F: all normalised support features coincide (σ̂² = 0): α* is infinite.")
    return float(alpha_star_anil_classification(n_way=n_way, n_shot=n_shot, sigma2=sigma2))


def cor1_bounds(*, sigma2, d) -> tuple[np.ndarray, np.ndarray]:
    r"""Corollary 1 (3.5), corrected upper end (D.5): 1/(2dσ²) ≤ α*_lim ≤ d/(2σ²), σ² = E‖ϕ‖².

    Notes: the lower bound can fail in expectation (the proof uses Jensen the wrong way); see
    `cor1_bounds_realisation` for the version that holds for every G.
    """
    sigma2 = np.asarray(sigma2, dtype=np.float64)
    return 1 / (2 * d * sigma2), d / (2 * sigma2)


def cor1_bounds_realisation(*, G: ArrayLike, K) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Per-realisation bounds K/(2trG) ≤ K Σλ²/(2Σλ³) ≤ Kd/(2trG) for fixed G ≻ 0 [derived].

    Args:
        G: Gram matrices, shape (..., d, d). K: points per task.

    Returns:
        (lower, α(G), upper), each of shape G.shape[:-2].
    """
    lam = np.linalg.eigvalsh(np.asarray(G, dtype=np.float64))
    tr = lam.sum(-1)
    d = lam.shape[-1]
    return K / (2 * tr), K * (lam**2).sum(-1) / (2 * (lam**3).sum(-1)), K * d / (2 * tr)
