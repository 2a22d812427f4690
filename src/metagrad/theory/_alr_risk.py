"""Finite-N risks and fast-adaptation distances for `metagrad.theory.adaptation_lr` (Zou 2022)."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy.optimize import minimize_scalar

__all__ = [
    "alpha_star_finite",
    "conditional_risk",
    "post_adaptation_distance",
    "post_adaptation_distance_expected",
    "post_adaptation_distance_sim",
    "post_adaptation_loss",
]


def _gram(Phis: ArrayLike) -> np.ndarray:
    Phis = np.asarray(Phis, dtype=np.float64)
    if Phis.ndim != 3:
        raise ValueError(f"Phis has shape {Phis.shape}: expected (N, K, d).")
    return np.einsum("nki,nkj->nij", Phis, Phis)


def _power_sums(G: np.ndarray, pmax: int) -> np.ndarray:
    """Σ_i G_i^p for p = 1..pmax, shape (pmax, d, d)."""
    out, Gp = [], G
    for _ in range(pmax):
        out.append(Gp.sum(0))
        Gp = Gp @ G
    return np.stack(out)


def conditional_risk(
    *,
    alpha: ArrayLike,
    Phis: ArrayLike,
    EG: ArrayLike,
    EG2: ArrayLike,
    EG3: ArrayLike,
    sigma_a2: float = 1.0,
) -> np.ndarray:
    r"""Exact L̄_m(α | {Φ_i}) averaged over centred isotropic a_i [derived from Eq. B.5; docs/zou2022.md].

    L̄_m = (σ_a²/K)[tr(M W⁻¹ (Σ_j B_j²) W⁻¹) + tr M], W = Σ B_i, B = G − 2cG² + c²G³, c = 2α/K,
    M(α) = E G − (4α/K) E G² + (4α²/K²) E G³ (population moments of a fresh task).

    Args:
        alpha: rates, shape (n_alpha,) or scalar. Phis: training features (N, K, d).
        EG, EG2, EG3: population moment matrices (d, d). sigma_a2: Var a per coordinate, > 0.

    Returns:
        risk, shape of alpha.
    """
    Phis = np.asarray(Phis, dtype=np.float64)
    K = Phis.shape[1]
    P = _power_sums(_gram(Phis), 6)  # P[p-1] = Σ G^p
    c = 2 * np.asarray(alpha, dtype=np.float64)[..., None, None] / K
    W = P[0] - 2 * c * P[1] + c**2 * P[2]
    # B² = G² − 4cG³ + 6c²G⁴ − 4c³G⁵ + c⁴G⁶  (powers of one G commute)
    B2 = P[1] - 4 * c * P[2] + 6 * c**2 * P[3] - 4 * c**3 * P[4] + c**4 * P[5]
    M = EG - 2 * c * EG2 + c**2 * EG3
    Winv = np.linalg.inv(W)
    first = np.einsum("...ij,...jk,...kl,...li->...", M, Winv, B2, Winv)
    return sigma_a2 / K * (first + np.trace(M, axis1=-2, axis2=-1))


def alpha_star_finite(*, Phis: ArrayLike, EG, EG2, EG3, alpha_max: float) -> float:
    r"""α*(N, K): argmin of the exact conditional risk `conditional_risk` (the finite-task definition of α*, Zou, Liu, Li 2022, Sec. 3; docs/zou2022.md).

    Bounded Brent on [0, alpha_max] after a 64-point grid bracket.
    """
    if not alpha_max > 0:
        raise ValueError(f"alpha_max={alpha_max!r} must be > 0.")
    grid = np.linspace(0, alpha_max, 65)
    r = conditional_risk(alpha=grid, Phis=Phis, EG=EG, EG2=EG2, EG3=EG3)
    i = int(np.argmin(r))
    lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, 64)]
    f = lambda x: float(conditional_risk(alpha=x, Phis=Phis, EG=EG, EG2=EG2, EG3=EG3))  # noqa: E731
    return float(minimize_scalar(f, bounds=(lo, hi), method="bounded", options={"xatol": 1e-12}).x)


def _spectrum(Phis: ArrayLike, eta: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Eigen-decomposition G_i = U diag(λ) Uᵀ and the contraction factors f = 1 − 2ηλ/K."""
    if not eta > 0:
        raise ValueError(f"eta={eta!r} must be > 0.")
    Phis = np.asarray(Phis, dtype=np.float64)
    lam, U = np.linalg.eigh(_gram(Phis))
    return lam, U, 1 - 2 * eta * lam / Phis.shape[1]


def _adapted(w0, Phis, a, eta, t, loss: bool) -> np.ndarray:
    lam, U, f = _spectrum(Phis, eta)
    z2 = np.einsum("nji,nj->ni", U, np.asarray(w0)[None] - np.asarray(a)) ** 2
    if loss:
        z2 = z2 * lam
    t = np.asarray(t, dtype=np.float64).reshape(-1, 1, 1)
    return (f[None] ** (2 * t) * z2[None]).sum(-1).mean(-1)


def post_adaptation_distance(
    *, w0: ArrayLike, Phis: ArrayLike, a: ArrayLike, eta: float, t: ArrayLike
) -> np.ndarray:
    r"""F_t(w⁰) = mean_i ‖Q_i^t (w⁰ − a_i)‖², Q_i = I − (2η/K)G_i, exact over given tasks.

    Implements Zou 2022, Def. 1 with (G.1)-(G.5), via one eigen-decomposition per task.

    Args:
        w0: initialisation (d,). Phis: (N, K, d). a: (N, d). eta: step > 0. t: steps (n_t,) >= 0.

    Returns:
        F_t, shape (n_t,).
    """
    return _adapted(w0, Phis, a, eta, t, loss=False)


def post_adaptation_loss(
    *, w0: ArrayLike, Phis: ArrayLike, a: ArrayLike, eta: float, t: ArrayLike
) -> np.ndarray:
    r"""mean_i ‖Φ_i(w_i^t − a_i)‖² after t GD steps from w⁰ (the loss ℓ_t of Fig. 5a, sum of squares).

    Returns shape (n_t,).
    """
    return _adapted(w0, Phis, a, eta, t, loss=True)


def post_adaptation_distance_expected(
    *, w0: ArrayLike, Phis: ArrayLike, eta: float, t: ArrayLike, sigma_a2: float
) -> np.ndarray:
    r"""F_t(w⁰) = w⁰ᵀ E[Q^{2t}] w⁰ + σ_a² tr E[Q^{2t}] for centred a ⊥ X [derived; docs/zou2022.md].

    E over the given task features (N, K, d). Returns shape (n_t,).
    """
    _, U, f = _spectrum(Phis, eta)
    z2 = np.einsum("nji,j->ni", U, np.asarray(w0, dtype=np.float64)) ** 2 + sigma_a2
    t = np.asarray(t, dtype=np.float64).reshape(-1, 1, 1)
    return (f[None] ** (2 * t) * z2[None]).sum(-1).mean(-1)


def post_adaptation_distance_sim(
    *, w0: ArrayLike, Phis: ArrayLike, a: ArrayLike, eta: float, t: int
) -> np.ndarray:
    """Empirical F_s for s = 0..t by running t gradient steps on ℓ = (1/K)‖Φw − Φa‖² per task.

    Returns shape (t + 1,).
    """
    Phis = np.asarray(Phis, dtype=np.float64)
    a = np.asarray(a, dtype=np.float64)
    K = Phis.shape[1]
    y = np.einsum("nkd,nd->nk", Phis, a)
    w = np.broadcast_to(np.asarray(w0, dtype=np.float64), a.shape).copy()
    out = [((w - a) ** 2).sum(-1).mean()]
    for _ in range(int(t)):
        res = np.einsum("nkd,nd->nk", Phis, w) - y
        w = w - 2 * eta / K * np.einsum("nkd,nk->nd", Phis, res)
        out.append(((w - a) ** 2).sum(-1).mean())
    return np.array(out)
