"""Theorem 2 and Proposition 1/4 bounds for `metagrad.theory.adaptation_lr` (Zou, Liu, Li 2022).

Both take the eigenvalue bounds of Assumption 2: every G = Φ(X)ᵀΦ(X) has its eigenvalues in
[λ_I, λ_S] with probability 1 (`lambda_I`, `lambda_S`). Plain-MSE convention (inner step 2α/K).
What is printed, what is corrected and which constants are unusable: docs/zou2022.md#bounds.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "prop4_alpha_set",
    "prop4_bound",
    "prop4_epsilon",
    "theorem2_alpha_max",
    "theorem2_bound",
    "theorem2_c_tilde",
]


def _check_lambdas(lambda_S: float, lambda_I: float) -> None:
    if not 0 < lambda_I <= lambda_S:
        raise ValueError(
            f"lambda_I={lambda_I}, lambda_S={lambda_S}: expected 0 < lambda_I <= lambda_S."
        )


def _check_pos_int(name: str, v: int) -> None:
    if int(v) < 1:
        raise ValueError(f"{name}={v} is out of range: expected an integer >= 1.")


def theorem2_c_tilde(*, E_lam: ArrayLike, E_lam2: ArrayLike, E_lam3: ArrayLike) -> float:
    r"""The largest constant c̃ of Theorem 2: (1/d) Σ_m (E λ_m³ E λ_m − (E λ_m²)²) (Eqs. G.28–G.29).

    Under Theorem 2's extra assumption G_T = U Σ_T Uᵀ (one fixed basis U), λ_m is the m-th diagonal
    entry of Σ_T. (G.29) needs Σ_m (E λ³ E λ − (E λ²)²) ≥ c̃ d; every c̃ in (0, this value] is valid
    and the bound grows with c̃, so this is the strongest admissible choice. Cauchy–Schwarz (Prop. 3)
    makes it >= 0; it is 0 only when every λ_m is deterministic.

    Args:
        E_lam, E_lam2, E_lam3: (d,) first three moments of each eigenvalue λ_m, > 0.

    Returns:
        c̃ (a float >= 0).
    """
    m1, m2, m3 = (np.asarray(x, dtype=np.float64) for x in (E_lam, E_lam2, E_lam3))
    if m1.shape != m2.shape or m1.shape != m3.shape or m1.ndim != 1:
        raise ValueError(
            f"E_lam, E_lam2, E_lam3 have shapes {m1.shape}, {m2.shape}, {m3.shape}: expected (d,)."
        )
    if np.any(m1 <= 0) or np.any(m2 <= 0) or np.any(m3 <= 0):
        raise ValueError("E_lam, E_lam2, E_lam3 are out of range: expected > 0.")
    return float(np.mean(m3 * m1 - m2**2))


def theorem2_alpha_max(*, K: int, lambda_S: float, lambda_I: float, c_tilde: float) -> float:
    r"""ᾱ of Theorem 2 (Eq. 3.8, as printed in G.42): the bound holds for α ∈ (0, ᾱ).

    ᾱ = K[−2λ_S⁴ + √(4λ_S⁸ + 1.5 c̃ λ_I⁴(4λ_S⁶ − λ_I⁶)/λ_S³)] / (λ_I²(4λ_S⁶ − λ_I⁶)).

    Args:
        K: points per task, >= 1. lambda_S >= lambda_I > 0: eigenvalue bounds (Assumption 2).
        c_tilde: c̃ >= 0 (`theorem2_c_tilde`).

    Returns:
        ᾱ (MSE convention), >= 0.
    """
    _check_pos_int("K", K)
    _check_lambdas(lambda_S, lambda_I)
    if not c_tilde >= 0:
        raise ValueError(f"c_tilde={c_tilde} is out of range: expected >= 0.")
    D = 4 * lambda_S**6 - lambda_I**6
    root = np.sqrt(4 * lambda_S**8 + 1.5 * c_tilde * lambda_I**4 * D / lambda_S**3)
    return float(K * (root - 2 * lambda_S**4) / (lambda_I**2 * D))


def theorem2_bound(
    *,
    alpha: ArrayLike,
    d: int,
    N: int,
    K: int,
    eta: float,
    t: ArrayLike,
    lambda_S: float,
    lambda_I: float,
    c_tilde: float,
) -> np.ndarray:
    r"""Theorem 2 (Eq. 3.8): E_{T_1..T_N}[F_t(w_r) − F_t(w_m(α))] ≥ (1 − 2ηλ_S/K)^{2t}·4αdc̃/(NKλ_S³).

    The right-hand side, as printed, for α ∈ [0, ᾱ) (`theorem2_alpha_max`); F_t is Definition 1
    (`post_adaptation_distance_expected`). Assumptions: 1 (centred isotropic task optima, unit
    variance per coordinate), 2 (eigenvalues of G in [λ_I, λ_S]) and G_T = U Σ_T Uᵀ with one fixed U.

    Args:
        alpha: adaptation rate(s) in [0, ᾱ), any shape. d, N, K: integers >= 1.
        eta: test-time GD step, >= 0. t: step count(s) >= 0, broadcast with alpha.
        lambda_S >= lambda_I > 0: eigenvalue bounds. c_tilde: c̃ >= 0 (`theorem2_c_tilde`).

    Returns:
        the lower bound, broadcast shape of alpha and t.
    """
    for name, v in (("d", d), ("N", N)):
        _check_pos_int(name, v)
    a_max = theorem2_alpha_max(K=K, lambda_S=lambda_S, lambda_I=lambda_I, c_tilde=c_tilde)
    alpha = np.asarray(alpha, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)
    if np.any(alpha < 0) or np.any(alpha >= a_max):
        raise ValueError(f"alpha is out of range: Theorem 2 needs 0 <= alpha < {a_max:.6g}.")
    if not eta >= 0:
        raise ValueError(f"eta={eta} is out of range: expected >= 0.")
    if np.any(t < 0):
        raise ValueError("t is out of range: expected >= 0.")
    decay = (1 - 2 * eta * lambda_S / K) ** (2 * t)
    return decay * 4 * alpha * d * c_tilde / (N * K * lambda_S**3)


def prop4_epsilon(*, alpha: ArrayLike, K: int, lambda_S: float, lambda_I: float) -> np.ndarray:
    r"""ε(α, K) of Proposition 4 (Eqs. C.1, C.14–C.15).

    ε = (λ_S − 4αλ_I²/K + 4α²λ_S³/K²) / (λ_I − 4αλ_S²/K + 4α²λ_I³/K²)²: the upper eigenvalue bound
    of C(α)ᵀC(α) over the square of the lower one (B.12), so ‖A‖ ≤ ε/N² in (C.14).

    Args:
        alpha: rate(s), any shape. K >= 1. lambda_S >= lambda_I > 0.

    Returns:
        ε, shape of alpha (infinite where the denominator's base is <= 0: outside `prop4_alpha_set`).
    """
    _check_pos_int("K", K)
    _check_lambdas(lambda_S, lambda_I)
    a = np.asarray(alpha, dtype=np.float64)
    hi = lambda_S - 4 * a * lambda_I**2 / K + 4 * a**2 * lambda_S**3 / K**2
    lo = lambda_I - 4 * a * lambda_S**2 / K + 4 * a**2 * lambda_I**3 / K**2
    return np.where(lo > 0, hi / np.where(lo > 0, lo, 1.0) ** 2, np.inf)


def prop4_alpha_set(*, K: int, lambda_S: float, lambda_I: float) -> tuple[float, float]:
    r"""The α set of Proposition 4 (C.1, B.13): [0, α₁) ∪ (α₂, ∞), α₁,₂ = K(λ_S² ∓ √(λ_S⁴ − λ_I⁴))/(2λ_I³).

    There the lower eigenvalue bound λ_I − 4αλ_S²/K + 4α²λ_I³/K² of C(α)ᵀC(α) is positive.

    Returns:
        (α₁, α₂).
    """
    _check_pos_int("K", K)
    _check_lambdas(lambda_S, lambda_I)
    r = np.sqrt(lambda_S**4 - lambda_I**4)
    return (
        float(K * (lambda_S**2 - r) / (2 * lambda_I**3)),
        float(K * (lambda_S**2 + r) / (2 * lambda_I**3)),
    )


def prop4_bound(
    *,
    alpha: ArrayLike,
    N: int,
    K: int,
    d: int,
    L: float,
    delta: float,
    lambda_S: float,
    lambda_I: float,
    c: float,
    form: str = "corrected",
) -> np.ndarray:
    r"""Proposition 4 (= Prop. 1, Eqs. 3.4 / C.1 / C.19): |L_m(w_m, α) − L̄_m(α, N)| ≤ this, w.p. ≥ 1 − δ.

    corrected (from C.18 with the Hanson–Wright constant c kept):
        (L²/K)·max(ε √(d log(2/δ)/c) / N, ε log(2/δ) / (c N));
    printed (C.19, no c, ε not squared under the root):
        (L²/K)·max(√(d ε log(2/δ)) / N, ε log(2/δ) / N).

    c is the absolute constant of the Hanson–Wright inequality, which the paper does not give
    (docs/zou2022.md#bounds); L bounds the sub-Gaussian norm of the coordinates of
    u_i = C_i(α)ᵀC_i(α)a_i.

    Args:
        alpha: rate(s) in `prop4_alpha_set`, any shape. N, K, d: integers >= 1.
        L: sub-Gaussian norm bound, > 0. delta: failure probability in (0, 1).
        lambda_S >= lambda_I > 0: eigenvalue bounds. c: Hanson–Wright constant, > 0 (unused by
        the printed form). form: "corrected" or "printed".

    Returns:
        the bound, shape of alpha (infinite outside `prop4_alpha_set`).
    """
    for name, v in (("N", N), ("d", d)):
        _check_pos_int(name, v)
    if form not in ("corrected", "printed"):
        raise ValueError(f"form={form!r}: expected 'corrected' or 'printed'.")
    if not L > 0:
        raise ValueError(f"L={L} is out of range: expected > 0.")
    if not 0 < delta < 1:
        raise ValueError(f"delta={delta} is out of range: expected 0 < delta < 1.")
    if not c > 0:
        raise ValueError(f"c={c} is out of range: expected > 0.")
    eps = prop4_epsilon(alpha=alpha, K=K, lambda_S=lambda_S, lambda_I=lambda_I)
    log = np.log(2 / delta)
    if form == "printed":
        return L**2 / K * np.maximum(np.sqrt(d * eps * log) / N, eps * log / N)
    return L**2 / K * np.maximum(eps * np.sqrt(d * log / c) / N, eps * log / (c * N))
