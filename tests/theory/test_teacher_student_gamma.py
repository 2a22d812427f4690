"""Teacher variability γ (Wang, Yip, Li 2024, App. C): invariants of the exact Gaussian closure.

The task teacher's field is ỹ_m = γ y_m + √(1−γ²) ΔB^t_m·ξ with ΔB^t_m ~ N(0, D_mm I/N) (Eq. 41), so
cov(ỹ, ỹ) = γ² T + (1−γ²) D. With D = T (norm-preserving, the default) this block equals T for every γ,
hence every quantity that depends only on the teacher's own fields (ε at R = 0) is γ-independent.
"""

import jax
import jax.random as jr
import numpy as np
import pytest

from metagrad.theory import teacher_student as ts
from metagrad.theory.teacher_student import _cov

K, M = 3, 4  # K ≠ M so that a transposed block would not fit


def _state(key, scale=1.0):
    """Random order parameters of one realisation: (Q, R, T) with an off-diagonal T."""
    A = jr.normal(key, (K + M, 30)) / np.sqrt(30) * scale
    C = np.asarray(A @ A.T)
    return C[:K, :K], C[:K, K:], C[K:, K:]


def _gammas(key, n=6):
    return np.r_[0.0, np.asarray(jr.uniform(key, (n,))), 1.0]


def test_label_block_equals_T_for_every_gamma_when_D_is_T(getkey):
    """The ỹ block of the augmented covariance is exactly T (D = T), for γ in [0, 1]."""
    Q, R, T = _state(getkey())
    for g in _gammas(getkey()):
        C, t, r = _cov(Q, R, T, g, T)
        assert C.shape == (K + 2 * M, K + 2 * M)
        np.testing.assert_allclose(C[t, t], T, rtol=1e-13, atol=1e-15)
        # and its cross-covariances are γ times those of the common teacher field y
        np.testing.assert_allclose(C[:K, t], g * R, rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(C[r, t], g * T, rtol=1e-13, atol=1e-15)


def test_label_block_with_D_identity_interpolates(getkey):
    """With D = I the block is γ² T + (1−γ²) I: T at γ = 1, I at γ = 0."""
    Q, R, T = _state(getkey())
    for g in _gammas(getkey()):
        C, t, _ = _cov(Q, R, T, g, np.eye(M))
        np.testing.assert_allclose(
            C[t, t], g**2 * T + (1 - g**2) * np.eye(M), rtol=1e-13, atol=1e-15
        )


def test_augmented_covariance_is_psd(getkey):
    """ỹ is a linear map of (x, y, ΔB·ξ): the augmented covariance is PSD for every γ."""
    Q, R, T = _state(getkey())
    for g in _gammas(getkey()):
        for D in (T, np.eye(M)):
            C, _, _ = _cov(Q, R, T, g, D)
            assert np.linalg.eigvalsh(np.asarray(C)).min() > -1e-12 * np.abs(C).max()


@pytest.mark.parametrize("K_", [2, 3])
def test_eps_at_zero_overlap_is_gamma_independent_when_D_is_T(getkey, K_):
    """Public consequence: at R = 0 (no learning yet), ε = (1/2M) Σ_m I2(ỹ_m, ỹ_m) depends only on
    the ỹ block, hence equals the γ = 1 value for every γ when D = T (and differs when D = I)."""
    A = jr.normal(getkey(), (M, 30)) / np.sqrt(30)
    T = np.asarray(A @ A.T) + 0.5 * np.eye(M)  # teacher norms away from 1, so that D = I differs
    Q, R = 0.5 * np.eye(K_), np.zeros((K_, M))
    eps_at = jax.jit(lambda g, D: ts.meta_generalization_error(Q, R, T, eta_w=4.0, gamma=g, D=D))
    ref = float(ts.meta_generalization_error(Q, R, T, eta_w=4.0))
    closed = np.mean([2 / np.pi * np.arcsin(T[m, m] / (1 + T[m, m])) for m in range(M)]) / 2
    np.testing.assert_allclose(ref, closed, rtol=1e-12)
    for g in _gammas(getkey(), 4):
        eps = float(eps_at(g, T))
        np.testing.assert_allclose(eps, ref, rtol=1e-12)
    eps_I = float(eps_at(0.5, np.eye(M)))
    assert abs(eps_I - ref) > 1e-3


def test_drift_at_gamma_one_ignores_D(getkey):
    """At γ = 1 the ΔB term has zero weight: the drift is the same for D = T and D = I."""
    Q, R, T = _state(getkey())
    p = {"eta_J": 3.0, "eta_w": 5.0, "inv_V": 0.01, "noise": 0.0, "lam": 0.0, "gamma": 1.0}
    rhs = jax.jit(lambda D: ts.order_parameter_rhs(Q, R, T, p, D=D))
    a, b = rhs(T), rhs(np.eye(M))
    for x, y in zip(a, b):
        np.testing.assert_allclose(x, y, rtol=1e-12, atol=1e-15)
