"""The field-space Monte Carlo of the App. C model (Wang, Yip, Li 2024) against the exact closure.

The Monte Carlo samples the task teacher's field from its definition ỹ = γy + √(1−γ²) ΔB·ξ (Eq. 41);
the library's closure reads ỹ's covariance from a closed-form block. At random states both must give
the same ε and drift within k standard errors (k from a Bonferroni bound over all entries).
"""

import jax.random as jr
import numpy as np
import pytest
from scipy.special import ndtri

from metagrad.experiments._wang2024_mc import closure_drift, gamma_mc, label_field_cov
from metagrad.theory import teacher_student as ts

K, M = 3, 3
N_SAMPLES = 200_000


def _state(key):
    A = jr.normal(key, (K + M, 20)) / np.sqrt(20) * 1.3
    C = np.asarray(A @ A.T)
    return C[:K, :K], C[:K, K:], C[K:, K:]


def _z(theory, mc):
    mean, se = mc
    return np.abs(np.asarray(theory) - mean) / se


@pytest.mark.parametrize("gamma,D", [(0.9, "T"), (0.6, "T"), (0.7, "I")])
def test_closure_equals_field_space_monte_carlo(getkey, gamma, D):
    Q, R, T = _state(getkey())
    Dm = T if D == "T" else np.eye(M)
    kw = dict(Q=Q, R=R, T=T, D=Dm, gamma=gamma, eta_J=6.0, eta_w=8.0, V=100.0)
    mc = gamma_mc(**kw, n=N_SAMPLES, key=getkey())
    dQ, dR = closure_drift(**kw)
    eps = float(ts.meta_generalization_error(Q, R, T, eta_w=8.0, gamma=gamma, D=Dm))
    z = np.r_[_z(eps, mc["eps"]), _z(dR, mc["dR"]).ravel(), _z(dQ, mc["dQ"])[np.triu_indices(K)]]
    k = -ndtri(1e-4 / (2 * z.size))  # family-wise false alarm 1e-4
    assert z.max() <= k, (z.max(), k)


def test_monte_carlo_sees_a_wrong_label_variance(getkey):
    """Power: the closure evaluated with D = 2T (a wrong (1−γ²) factor on the ΔB part of ỹ's
    variance) is rejected by the Monte Carlo of the D = T model at γ = 0.8."""
    Q, R, T = _state(getkey())
    kw = dict(Q=Q, R=R, T=T, gamma=0.8, eta_J=6.0, eta_w=8.0, V=100.0)
    mc = gamma_mc(**kw, D=T, n=N_SAMPLES, key=getkey())
    eps_bad = float(ts.meta_generalization_error(Q, R, T, eta_w=8.0, gamma=0.8, D=2 * T))
    dQ, dR = closure_drift(**kw, D=2 * T)
    z = np.r_[_z(eps_bad, mc["eps"]), _z(dR, mc["dR"]).ravel()]
    assert z.max() > 10


def test_label_field_map(getkey):
    """The map (x, y, z) -> (x, y, γy + √(1−γ²) z) gives the ỹ block γ²T + (1−γ²)D."""
    Q, R, T = _state(getkey())
    D = np.diag(np.asarray(jr.uniform(getkey(), (M,), minval=0.5, maxval=2.0)))
    g = float(jr.uniform(getkey()))
    C0, A = label_field_cov(Q=Q, R=R, T=T, D=D, gamma=g)
    C = A @ C0 @ A.T
    np.testing.assert_allclose(
        C[K + M :, K + M :], g**2 * T + (1 - g**2) * D, rtol=1e-12, atol=1e-15
    )
    np.testing.assert_allclose(C[:K, K + M :], g * R, rtol=1e-12, atol=1e-15)


def test_bad_gamma_is_rejected():
    Q, R, T = np.eye(K), np.zeros((K, M)), np.eye(M)
    with pytest.raises(ValueError, match="gamma"):
        gamma_mc(
            Q=Q, R=R, T=T, D=T, gamma=1.5, eta_J=1.0, eta_w=1.0, V=10.0, n=10, key=jr.PRNGKey(0)
        )
