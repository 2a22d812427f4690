# ruff: noqa: F722
r"""Test predictors of MTL and ANIL in the infinite-width limit (Wang, Zhao, Li 2021, Lemma 1,
Eqs. 15–17; finite training time, Lemma 2, Eqs. 40–44) and the discrepancy quantities of
Eq. 67, Lemma 4 (Eqs. 69–71), Lemma 5 (Eq. 73) and Theorem 1 (Eq. 18).

Initial outputs are taken as 0 (the paper's assumption in B.3.1), so every f_θ0 term is dropped.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from metagrad.theory._mtl_ntk_phi import (
    TaskKernels,
    _diag_blocks,
    _phi1,
    _spectral,
    _test_base,
    adaptation_operator,
    inner_loop_decay,
    phi_anil,
    phi_mtl,
    spd_eigh,
)

__all__ = [
    "Lemma4Structure",
    "Theorem1Terms",
    "kernel_inverse_gap",
    "lemma4_structure",
    "predict_anil",
    "predict_mtl",
    "theorem1_terms",
    "train_adapted_output",
]


def _labels(kernels: TaskKernels, Y: ArrayLike, Y_support: ArrayLike):
    """𝒴 as (Nn, k), Y' as (..., n_s, k), and whether to squeeze k at the end."""
    Y, Ys = np.asarray(Y, np.float64), np.asarray(Y_support, np.float64)
    m, n_s = kernels.K.shape[0], kernels.K_ss.shape[-1]
    squeeze = Y.ndim == 1
    Y = Y[:, None] if squeeze else Y
    Ys = Ys[..., None] if squeeze else Ys
    if Y.shape[0] != m or Y.ndim != 2:
        raise ValueError(f"Y must have shape (Nn,) or (Nn, k) with Nn={m}; got {Y.shape}.")
    if Ys.shape[-2:] != (n_s, Y.shape[1]):
        raise ValueError(
            f"Y_support must have shape (..., {n_s}) or (..., {n_s}, k) matching Y; got "
            f"{np.shape(Y_support)}."
        )
    return Y, Ys, squeeze


def _solve(Phi: np.ndarray, R: np.ndarray, *, name: str, eta_t: float, max_cond: float):
    """Φ⁻¹ R (converged, conditioning check) or T_Φ^{η,t} R = Φ⁻¹(I − e^{−ηΦt}) R (Eq. 40)."""
    if np.isinf(eta_t):
        s, V = spd_eigh(Phi, name=name, max_cond=max_cond)
        return _spectral(s, V, 1 / s) @ R
    s, V = np.linalg.eigh((Phi + Phi.T) / 2)
    return _spectral(s, V, eta_t * _phi1(eta_t * np.maximum(s, 0.0))) @ R


def _check_eta_t(eta_t: float) -> float:
    eta_t = float(eta_t)
    if not eta_t > 0:
        raise ValueError(f"eta_t={eta_t!r} is out of range: expected a value > 0 (inf: converged).")
    return eta_t


def train_adapted_output(*, K: ArrayLike, N: int, Y: ArrayLike, lam_tau: float) -> np.ndarray:
    r"""G_τ(𝒳, 𝒳, 𝒴) = vec_i K(X_i, X_i) T_K^{τ}(X_i) Y_i, the inner-loop outputs on training tasks.

    Implements the function G of Wang et al. 2021, Lemma 1 (Eq. 17) on each training task.
    Equals (I − E)𝒴 exactly, E = blockdiag e^{−λτK_ii}.

    Args:
        K: K(𝒳, 𝒳), (Nn, Nn).
        N: training tasks, >= 1.
        Y: 𝒴, (Nn,) or (Nn, k).
        lam_tau: λτ >= 0.

    Returns:
        G_τ, the shape of Y.
    """
    K, Y = np.asarray(K, np.float64), np.asarray(Y, np.float64)
    Kb = _diag_blocks(K, N)
    T = adaptation_operator(K_ss=Kb, lam_tau_hat=lam_tau)
    Yb = Y.reshape((N, -1) + Y.shape[1:])
    return np.einsum("iab,ibc,ic...->ia...", Kb, T, Yb).reshape(Y.shape)


def predict_mtl(
    *,
    kernels: TaskKernels,
    Y: ArrayLike,
    Y_support: ArrayLike,
    lam_tau_hat: float,
    eta_t: float = np.inf,
    max_cond: float = 1e12,
) -> np.ndarray:
    r"""F_MTL(X, X', Y') = G_τ̂(X, X', Y') + Φ'_MTL Φ_MTL⁻¹ 𝒴 (Wang et al. 2021, Eq. 15).

    At finite training time (Lemma 2, Eqs. 43–44) Φ_MTL⁻¹ is replaced by
    T_Φ^{η,t} = Φ⁻¹(I − e^{−ηΦt}) (Eq. 40).

    Args:
        kernels: :class:`TaskKernels` (test side may be batched over test tasks).
        Y: training labels 𝒴, (Nn,) or (Nn, k).
        Y_support: support labels Y', (..., n_s) or (..., n_s, k).
        lam_tau_hat: test-time λτ̂ >= 0, or inf (converged adaptation).
        eta_t: training ηt > 0, or inf (converged, t = ∞).
        max_cond: conditioning threshold for Φ_MTL (and K(X', X') when λτ̂ = inf).

    Returns:
        F_MTL on the query points, (..., n_q) or (..., n_q, k).
    """
    eta_t = _check_eta_t(eta_t)
    Yc, Ys, squeeze = _labels(kernels, Y, Y_support)
    T = adaptation_operator(K_ss=kernels.K_ss, lam_tau_hat=lam_tau_hat, max_cond=max_cond)
    G = kernels.K_qs @ T @ Ys
    Phi = phi_mtl(Theta=kernels.Theta, K=kernels.K, N=kernels.N)
    coef = _solve(Phi, Yc, name="Φ_MTL", eta_t=eta_t, max_cond=max_cond)
    base = _test_base(kernels, lam_tau_hat, "appendix", max_cond)
    out = G + base @ coef
    return out[..., 0] if squeeze else out


def predict_anil(
    *,
    kernels: TaskKernels,
    Y: ArrayLike,
    Y_support: ArrayLike,
    lam_tau: float,
    lam_tau_hat: float,
    eta_t: float = np.inf,
    variant: str = "appendix",
    residual: str = "exact",
    solver: str = "direct",
    max_cond: float = 1e12,
) -> np.ndarray:
    r"""F_ANIL(X, X', Y') = G_τ̂(X, X', Y') + Φ'_ANIL Φ_ANIL⁻¹ [𝒴 − G_τ(𝒳, 𝒳, 𝒴)] (Eq. 16).

    Implements Wang et al. 2021, Eq. 16 with Φ_ANIL = EΘE (Eq. 60), Φ'_ANIL = Φ'_MTL E (Eq. 66);
    finite training time by T_Φ^{η,t} (Lemma 2, Eqs. 40–42).

    Since 𝒴 − G_τ = E𝒴 exactly, at t = ∞ the term equals Φ'_MTL Θ⁻¹ 𝒴: the converged predictor
    does not depend on the training λτ (docs/wang2021.md). ``solver="direct"`` evaluates the
    stated formula literally (Φ_ANIL is factorised; it fails the conditioning check for large λτ,
    since cond(EΘE) grows like e^{2λτσ_max(K_ii)}); ``solver="reduced"`` (t = ∞ only) uses the
    exact identity Φ'_ANIL Φ_ANIL⁻¹ = Φ'_base Θ⁻¹ E⁻¹ with E⁻¹(𝒴 − G_τ) = 𝒴.

    Args:
        kernels: :class:`TaskKernels`.
        Y: training labels 𝒴, (Nn,) or (Nn, k).
        Y_support: support labels Y', (..., n_s) or (..., n_s, k).
        lam_tau: training inner-loop λτ >= 0.
        lam_tau_hat: test-time λτ̂ >= 0, or inf.
        eta_t: training ηt > 0, or inf (t = ∞).
        variant: Φ'_ANIL as in the appendix (Eq. 61, default) or "main_text" (Lemma 1 as printed).
        residual: "exact" (𝒴 − G_τ, Eq. 16) or "labels" (𝒴 in place of 𝒴 − G_τ; a variant).
        solver: "direct" or "reduced".
        max_cond: conditioning threshold for Φ_ANIL (direct) or Θ(𝒳, 𝒳) (reduced).

    Returns:
        F_ANIL on the query points, (..., n_q) or (..., n_q, k).
    """
    eta_t = _check_eta_t(eta_t)
    if residual not in ("exact", "labels"):
        raise ValueError(f"residual={residual!r} is not allowed: expected 'exact' or 'labels'.")
    if solver not in ("direct", "reduced"):
        raise ValueError(f"solver={solver!r} is not allowed: expected 'direct' or 'reduced'.")
    if solver == "reduced" and not np.isinf(eta_t):
        raise ValueError("solver='reduced' needs eta_t=inf (the identity holds at t = ∞ only).")
    Yc, Ys, squeeze = _labels(kernels, Y, Y_support)
    T = adaptation_operator(K_ss=kernels.K_ss, lam_tau_hat=lam_tau_hat, max_cond=max_cond)
    G = kernels.K_qs @ T @ Ys
    base = _test_base(kernels, lam_tau_hat, variant, max_cond)
    N = kernels.N
    if solver == "reduced":
        if residual == "exact":
            Einv_r = Yc  # E⁻¹(𝒴 − G_τ) = E⁻¹E𝒴 = 𝒴
        else:
            s, V = np.linalg.eigh(_diag_blocks(kernels.K, N))
            Einv = _spectral(s, V, np.exp(float(lam_tau) * np.maximum(s, 0.0)))
            Einv_r = np.einsum("iab,ib...->ia...", Einv, Yc.reshape(N, -1, Yc.shape[1]))
            Einv_r = Einv_r.reshape(Yc.shape)
        coef = _solve(kernels.Theta, Einv_r, name="Θ(𝒳, 𝒳)", eta_t=eta_t, max_cond=max_cond)
        out = G + base @ coef
        return out[..., 0] if squeeze else out
    r = Yc
    if residual == "exact":
        r = Yc - train_adapted_output(K=kernels.K, N=N, Y=Yc, lam_tau=lam_tau)
    E = inner_loop_decay(K=kernels.K, N=N, lam_tau=lam_tau)
    Phi = phi_anil(Theta=kernels.Theta, K=kernels.K, N=N, lam_tau=lam_tau)
    coef = _solve(Phi, r, name="Φ_ANIL", eta_t=eta_t, max_cond=max_cond)
    # Φ'_ANIL coef = base · blockdiag(E) · coef
    Ec = np.einsum("iab,ib...->ia...", E, coef.reshape(N, -1, coef.shape[1])).reshape(coef.shape)
    out = G + base @ Ec
    return out[..., 0] if squeeze else out


def kernel_inverse_gap(*, Theta: ArrayLike, K: ArrayLike, N: int, max_cond: float = 1e12) -> float:
    r"""‖Θ(𝒳, 𝒳)⁻¹ − Φ_MTL⁻¹(𝒳, 𝒳)‖_op, the quantity of Eq. 68 bounded by O(1/L²) in Lemma 5 (Eq. 73).

    Args:
        Theta: Θ(𝒳, 𝒳), (Nn, Nn).
        K: K(𝒳, 𝒳), (Nn, Nn).
        N: training tasks, >= 1.
        max_cond: conditioning threshold for Θ and Φ_MTL.

    Returns:
        The operator (spectral) norm, a float.
    """
    return _sym_op_norm(_inverse_difference(Theta, K, N, max_cond))


def _inverse_difference(Theta: ArrayLike, K: ArrayLike, N: int, max_cond: float) -> np.ndarray:
    """Θ(𝒳, 𝒳)⁻¹ − Φ_MTL⁻¹(𝒳, 𝒳), both inverted through their checked eigendecompositions."""
    s1, V1 = spd_eigh(Theta, name="Θ(𝒳, 𝒳)", max_cond=max_cond)
    s2, V2 = spd_eigh(phi_mtl(Theta=Theta, K=K, N=N), name="Φ_MTL", max_cond=max_cond)
    return _spectral(s1, V1, 1 / s1) - _spectral(s2, V2, 1 / s2)


def _sym_op_norm(D: np.ndarray) -> float:
    """Operator norm of a (numerically) symmetric matrix: its largest |eigenvalue|."""
    return float(np.max(np.abs(np.linalg.eigvalsh((D + D.T) / 2))))


class Lemma4Structure(NamedTuple):
    """Large-depth structure of Θ and K (Lemma 4), in the paper's units (kernels halved).

    Attributes:
        A: Θ/2 − L(¼11ᵀ + ¾I), (m, m); O(1) entries by Eq. 69.
        B: L²(K/2 − 11ᵀ), (m, m); O(1) entries by Eq. 70.
        theta_eigs: eigenvalues of Θ/2, ascending, (m,); Eq. 71: top (m+3)L/4 + O(1), bulk 3L/4 + O(1).
        k_eigs: eigenvalues of K/2, ascending, (m,); Eq. 71: top m + O(1/L²), bulk O(1/L²).
    """

    A: np.ndarray
    B: np.ndarray
    theta_eigs: np.ndarray
    k_eigs: np.ndarray


def lemma4_structure(*, Theta: ArrayLike, K: ArrayLike, L: int) -> Lemma4Structure:
    r"""Residual matrices A, B of Θ = L(¼11ᵀ + ¾I) + A and K = 11ᵀ + B/L² (Eqs. 69–71).

    Inputs are in the units of :func:`relu_kernels` with σ_w² = 2 (K(x, x) = 2); they are halved
    to the paper's units (K(x, x) = 1, Θ(x, x) = L).

    Args:
        Theta: Θ(𝒳, 𝒳), (m, m).
        K: K(𝒳, 𝒳), (m, m).
        L: depth, >= 1.

    Returns:
        :class:`Lemma4Structure`.
    """
    if int(L) != L or L < 1:
        raise ValueError(f"L={L!r} is out of range: expected an integer >= 1.")
    Th, Kh = np.asarray(Theta, np.float64) / 2, np.asarray(K, np.float64) / 2
    m = Th.shape[0]
    A = Th - L * (np.full((m, m), 0.25) + 0.75 * np.eye(m))
    B = L**2 * (Kh - 1.0)
    return Lemma4Structure(A, B, np.linalg.eigvalsh(Th), np.linalg.eigvalsh(Kh))


class Theorem1Terms(NamedTuple):
    """Terms of the bound of Theorem 1 (proof in App. B.5) for a batch of test tasks.

    Attributes:
        gap: ‖Φ'_MTL (Θ⁻¹ − Φ_MTL⁻¹) 𝒴‖₂ per test task, (...,): the leading term of Eq. 67.
        phi_test_norm: ‖Φ'_MTL‖_op per test task, (...,): O(L) in the proof.
        inverse_gap: ‖Θ⁻¹ − Φ_MTL⁻¹‖_op: O(1/L²) (Lemma 5).
        y_norm: ‖𝒴‖₂.
        bound: phi_test_norm · inverse_gap · y_norm, (...,): the O(1/L) term of Eq. 18.
        lam_tau_term: λτ σ_max(K), σ_max(K) = max_i σ_max(K(X_i, X_i)): the O(λτ) term of Eq. 67.
    """

    gap: np.ndarray
    phi_test_norm: np.ndarray
    inverse_gap: float
    y_norm: float
    bound: np.ndarray
    lam_tau_term: float


def theorem1_terms(
    *,
    kernels: TaskKernels,
    Y: ArrayLike,
    lam_tau: float,
    lam_tau_hat: float,
    max_cond: float = 1e12,
) -> Theorem1Terms:
    r"""The quantities of the bound ‖F_ANIL − F_MTL‖₂ ≤ O(λτ + 1/L) + ε (Theorem 1, Eq. 18; Eq. 67).

    Args:
        kernels: :class:`TaskKernels`.
        Y: 𝒴, (Nn,) (scalar outputs).
        lam_tau: training λτ >= 0.
        lam_tau_hat: test-time λτ̂ >= 0, or inf.
        max_cond: conditioning threshold.

    Returns:
        :class:`Theorem1Terms`.
    """
    Y = np.asarray(Y, np.float64)
    if Y.shape != (kernels.K.shape[0],):
        raise ValueError(f"Y must have shape ({kernels.K.shape[0]},); got {Y.shape}.")
    base = _test_base(kernels, lam_tau_hat, "appendix", max_cond)
    D = _inverse_difference(kernels.Theta, kernels.K, kernels.N, max_cond)
    gap = np.linalg.norm(base @ (D @ Y), axis=-1)
    phi_norm = np.linalg.norm(base, ord=2, axis=(-2, -1))
    inv_gap = _sym_op_norm(D)
    y_norm = float(np.linalg.norm(Y))
    sig_k = float(np.max(np.linalg.eigvalsh(_diag_blocks(kernels.K, kernels.N))))
    return Theorem1Terms(
        gap, phi_norm, inv_gap, y_norm, phi_norm * inv_gap * y_norm, lam_tau * sig_k
    )
