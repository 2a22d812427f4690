"""Field-space Monte Carlo of the task-varying-teacher drift and error (Wang, Yip, Li 2024, App. C).

An independent reference for the closed-form closure of :mod:`metagrad.theory.teacher_student`:
at a given state (Q, R) the label field of the task teacher is *sampled from its definition*,
ỹ_m = B^t_m·ξ = γ y_m + √(1−γ²) z_m with z = ΔB^t·ξ ~ N(0, D) independent of the student and
common-teacher fields (x, y) ~ N(0, [[Q, R], [Rᵀ, T]]) (Eq. 41, N → ∞), instead of being read
from the closure's augmented covariance. Per sample (fields, task vector u ~ N(0, I_M)):

- head (Eq. 29, P → ∞): w = η_w f̃ u / √(KM), f̃_km = ⟨g(x_k) g(ỹ_m)⟩, the I2 (Eq. 31) of the
  covariance of (x, ỹ) obtained by pushing blockdiag(C, D) through that linear map;
- error e = Σ_m u_m g(ỹ_m)/√M − Σ_i w_i g(x_i)/√K, ε = ½⟨e²⟩ (Eqs. 14–15);
- h_k = e w_k g'(x_k) (Eq. 23 / C7), and the drift per validation example (Eqs. 26–27, summed
  over ν): dR_kn/dα = (η_J/√K)⟨h_k y_n⟩, dQ_kl/dα = (η_J/√K)⟨h_k x_l + h_l x_k⟩ + (η_J²/(VK))⟨h_k h_l⟩.

The sample means come with their standard errors (std/√n): a check that the closure equals this
average within k standard errors is a test whose tolerance follows from the sample size.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import jax
import jax.random as jr
import numpy as np
from scipy.special import erf

from metagrad.theory import teacher_student as ts

__all__ = ["GammaMC", "closure_drift", "gamma_mc", "label_field_cov"]

_rhs = jax.jit(ts.order_parameter_rhs, static_argnames=("activation", "paper_literal", "closure"))


@dataclasses.dataclass(frozen=True)
class GammaMC:
    """Closed-form closure next to the field-space Monte Carlo, at B runs × n_s states.

    Attributes:
        alpha: (n_s,) α of the states (records of the trajectory).
        eps_theory, eps_mc, eps_se: (B, n_s) ε of the closure, its Monte Carlo mean and SE.
        dR_theory, dR_mc, dR_se: (B, n_s, K, M) dR/dα, closure / Monte Carlo / SE.
        dQ_theory, dQ_mc, dQ_se: (B, n_s, K, K) dQ/dα, closure / Monte Carlo / SE.
        The Monte Carlo fields are NaN at a state that is not a valid covariance (a broken
        closure can drive (Q, R) there); the claim then fails with a NaN measurement.
    """

    alpha: np.ndarray
    eps_theory: np.ndarray
    eps_mc: np.ndarray
    eps_se: np.ndarray
    dR_theory: np.ndarray
    dR_mc: np.ndarray
    dR_se: np.ndarray
    dQ_theory: np.ndarray
    dQ_mc: np.ndarray
    dQ_se: np.ndarray
    # NaN where a state of the trajectory is not a valid covariance (the check then fails)
    nan_ok: ClassVar[tuple[str, ...]] = ("eps_mc", "eps_se", "dR_mc", "dR_se", "dQ_mc", "dQ_se")


def label_field_cov(*, Q: np.ndarray, R: np.ndarray, T: np.ndarray, D: np.ndarray, gamma: float):
    """(C0, A): covariance of (x, y, z) and the map (x, y, z) -> (x, y, ỹ = γy + √(1−γ²) z).

    Shapes: C0 (K+2M, K+2M) = blockdiag([[Q, R], [Rᵀ, T]], D); A (K+2M, K+2M).
    """
    K, M = R.shape
    C0 = np.zeros((K + 2 * M, K + 2 * M))
    C0[: K + M, : K + M] = np.block([[Q, R], [R.T, T]])
    C0[K + M :, K + M :] = D
    A = np.eye(K + 2 * M)
    A[K + M :, K : K + M] = gamma * np.eye(M)
    A[K + M :, K + M :] = np.sqrt(1.0 - gamma**2) * np.eye(M)
    return C0, A


def _sqrt_psd(C: np.ndarray) -> np.ndarray:
    lam, V = np.linalg.eigh(C)
    return V * np.sqrt(np.clip(lam, 0.0, None))


def _g(x):
    return erf(x / np.sqrt(2.0))


def _gp(x):
    return np.sqrt(2.0 / np.pi) * np.exp(-0.5 * x**2)


def gamma_mc(
    *,
    Q: np.ndarray,
    R: np.ndarray,
    T: np.ndarray,
    D: np.ndarray,
    gamma: float,
    eta_J: float,
    eta_w: float,
    V: float,
    n: int,
    key,
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Monte Carlo (mean, standard error) of ε, dR/dα, dQ/dα at one state (erf, no noise, λ = 0).

    Args:
        Q: (K, K), R: (K, M), T: (M, M), D: (M, M) covariance of ΔB^t (App. C).
        gamma: teacher variability in [0, 1]. eta_J, eta_w: learning rates (> 0). V: validation
            examples per task (> 0, ``inf`` allowed). n: samples (≥ 2). key: ``jax.random`` key.

    Returns:
        ``{"eps": (mean (), se ()), "dR": ((K, M), (K, M)), "dQ": ((K, K), (K, K))}``.
    """
    if not 0.0 <= gamma <= 1.0:
        raise ValueError(f"gamma={gamma} must be in [0, 1].")
    if n < 2:
        raise ValueError(f"n={n} must be >= 2.")
    K, M = R.shape
    C0, A = label_field_cov(Q=Q, R=R, T=T, D=D, gamma=gamma)
    kf, ku = jr.split(key)
    s = np.asarray(jr.normal(kf, (n, K + 2 * M), dtype=np.float64)) @ _sqrt_psd(C0).T
    u = np.asarray(jr.normal(ku, (n, M), dtype=np.float64))
    x, y, z = s[:, :K], s[:, K : K + M], s[:, K + M :]
    yt = gamma * y + np.sqrt(1.0 - gamma**2) * z  # ỹ from its definition (Eq. 41)
    Cl = (A @ C0 @ A.T)[np.r_[0:K, K + M : K + 2 * M]][:, np.r_[0:K, K + M : K + 2 * M]]
    f = np.asarray(ts.i2(Cl))[:K, K:]  # f̃_km = ⟨g(x_k) g(ỹ_m)⟩
    w = eta_w / np.sqrt(K * M) * u @ f.T  # (n, K), Eq. 29
    e = (u * _g(yt)).sum(1) / np.sqrt(M) - (w * _g(x)).sum(1) / np.sqrt(K)
    h = e[:, None] * w * _gp(x)  # (n, K), Eq. 23
    inv_V = 0.0 if np.isinf(V) else 1.0 / V
    samples = {
        "eps": 0.5 * e**2,
        "dR": eta_J / np.sqrt(K) * h[:, :, None] * y[:, None, :],
        "dQ": eta_J / np.sqrt(K) * (h[:, :, None] * x[:, None, :] + x[:, :, None] * h[:, None, :])
        + eta_J**2 * inv_V / K * h[:, :, None] * h[:, None, :],
    }
    return {k: (v.mean(0), v.std(0, ddof=1) / np.sqrt(n)) for k, v in samples.items()}


def closure_drift(
    *,
    Q: np.ndarray,
    R: np.ndarray,
    T: np.ndarray,
    D: np.ndarray,
    gamma: float,
    eta_J: float,
    eta_w: float,
    V: float,
    closure: str = "exact",
) -> tuple[np.ndarray, np.ndarray]:
    """(dQ/dα (K, K), dR/dα (K, M)) of the library's App. C closure at one state (no noise, λ = 0)."""
    p = {
        "eta_J": eta_J,
        "eta_w": eta_w,
        "inv_V": 0.0 if np.isinf(V) else 1.0 / V,
        "noise": 0.0,
        "lam": 0.0,
        "gamma": gamma,
    }
    dQ, dR = _rhs(Q, R, T, p, D=D, closure=closure)
    return np.asarray(dQ), np.asarray(dR)
