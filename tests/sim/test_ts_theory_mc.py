"""Theory vs field-space Monte Carlo: the O(1/P) correction and the task-varying teacher (γ < 1)."""

import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from jax.scipy.special import erf

from metagrad.sim import teacher_student as sim
from metagrad.sim._ts_fields import label_cov
from metagrad.theory import teacher_student as ts
from metagrad.theory._ts_finite_p import four_point


def _random_state(key, K, M):
    k1, k2 = jr.split(key)
    W = jr.normal(k1, (K + M, K + M)) / np.sqrt(K + M)
    C = W @ W.T + (0.2 + 0.3 * jr.uniform(k2)) * jnp.eye(K + M)
    return C[:K, :K], C[:K, K:], C[K:, K:]


def _p(eJ, ew, V, **kw):
    return dict(eta_J=eJ, eta_w=ew, inv_V=1.0 / V, noise=0.0, lam=0.0, **kw)


def test_four_point_linear_is_isserlis_and_erf_matches_mc(getkey):
    Q, R, T = _random_state(getkey(), 2, 2)
    C = jnp.block([[Q, R], [R.T, T]])
    idx = np.array([[0, 1, 2, 3], [0, 0, 3, 3], [1, 2, 2, 2]])
    z = jr.multivariate_normal(getkey(), jnp.zeros(4), C, (1_000_000,))
    for act, gz in (("linear", z), ("erf", erf(z / np.sqrt(2.0)))):
        v = four_point(C, idx, activation=act)
        prod = jnp.stack([gz[:, i].prod(1) for i in idx], 1)
        se = prod.std(0) / np.sqrt(len(prod))
        np.testing.assert_array_less(np.abs(v - prod.mean(0)), 5 * se)


@pytest.mark.parametrize(
    "activation", ["linear", pytest.param("erf", marks=pytest.mark.slow)]
)
def test_finite_P_eps_exact_and_needed(getkey, activation):
    """ε at P = 3: the corrected theory equals Monte Carlo; the P → ∞ theory does not."""
    K, M, P, ew = 3, 2, 3, 3.0
    Q, R, T = _random_state(getkey(), K, M)
    mc, se = sim.mc_meta_error(
        Q, R, T, eta_w=ew, n=400_000, key=getkey(), P=P, activation=activation
    )
    corr = ts.meta_generalization_error(Q, R, T, eta_w=ew, P=P, activation=activation)
    inf = ts.meta_generalization_error(Q, R, T, eta_w=ew, activation=activation)
    assert abs(corr - mc) <= 5 * se
    assert abs(inf - mc) > 5 * se


@pytest.mark.parametrize(
    "activation", ["linear", pytest.param("erf", marks=pytest.mark.slow)]
)
def test_finite_P_drift_exact(getkey, activation):
    """The O(η_J) drift (every term quadratic in w) with the correction equals Monte Carlo at
    P = 4, with output noise; the uncorrected drift of Q is off."""
    K, M, P, V, eJ, ew, noise = 2, 2, 4, 5, 2.0, 3.0, 0.3
    Q, R, T = _random_state(getkey(), K, M)
    p = _p(eJ, ew, np.inf, inv_P=1.0 / P)
    p.update(inv_V=0.0, noise=noise)
    dQ, dR = ts.order_parameter_rhs(Q, R, T, p, activation=activation)
    mQ, mR, sQ, sR = sim.averaged_update(
        Q, R, T, eta_J=eJ, eta_w=ew, V=V, n_tasks=200_000, key=getkey(), P=P,
        activation=activation, noise=noise, second_order=False,
    )  # fmt: skip
    np.testing.assert_array_less(np.abs(dR - mR), 5 * sR)
    np.testing.assert_array_less(np.abs(dQ - mQ), 5 * sQ)
    p.pop("inv_P")
    dQ_inf, _ = ts.order_parameter_rhs(Q, R, T, p, activation=activation)
    assert np.any(np.abs(dQ_inf - mQ) > 5 * sQ)


@pytest.mark.parametrize(
    "D_kind",
    [pytest.param("T", marks=pytest.mark.slow), pytest.param("I", marks=pytest.mark.slow)],
)
def test_gamma_rhs_and_eps_match_monte_carlo(getkey, D_kind):
    """App. C exact closure (issue 18): RHS and ε for γ = 0.6 against field-space Monte Carlo
    whose teacher fields are built as γy + √(1−γ²)d, d ~ N(0, D) (not by the theory's code)."""
    K, M, V, eJ, ew, gamma = 3, 2, 4, 2.0, 3.0, 0.6
    Q, R, T = _random_state(getkey(), K, M)
    D = T if D_kind == "T" else jnp.eye(M)
    dQ, dR = ts.order_parameter_rhs(Q, R, T, _p(eJ, ew, V, gamma=gamma), D=D)
    mQ, mR, sQ, sR = sim.averaged_update(
        Q, R, T, eta_J=eJ, eta_w=ew, V=V, n_tasks=100_000, key=getkey(), gamma=gamma, D=D
    )
    np.testing.assert_array_less(np.abs(dR - mR), 5 * sR)
    np.testing.assert_array_less(np.abs(dQ - mQ), 5 * sQ)
    eps = ts.meta_generalization_error(Q, R, T, eta_w=ew, gamma=gamma, D=D)
    mc, se = sim.mc_meta_error(Q, R, T, eta_w=ew, n=400_000, key=getkey(), gamma=gamma, D=D)
    assert abs(eps - mc) <= 5 * se
    gam1 = ts.meta_generalization_error(Q, R, T, eta_w=ew)
    assert abs(gam1 - mc) > 5 * se  # γ matters at this state: the check can fail


def test_closure_covariance_invariant_and_construction(getkey):
    """With D = T the covariance block of ỹ equals T for every γ; every block of the closure's
    covariance equals the linear image of (x, y, d) built in the simulator."""
    K, M = 3, 3
    Q, R, T = _random_state(getkey(), K, M)
    for gamma in (0.0, 0.3, 0.8, 1.0):
        C, t, r = ts._cov(Q, R, T, gamma, T)
        np.testing.assert_allclose(C[t, t], T, rtol=1e-13, atol=1e-14)
        for D in (T, jnp.eye(M)):
            C, t, _ = ts._cov(Q, R, T, gamma, D)
            idx = np.r_[np.arange(K), np.arange(C.shape[0])[t]]
            ref = label_cov(jnp.block([[Q, R], [R.T, T]]), D, K, gamma)
            np.testing.assert_allclose(C[np.ix_(idx, idx)], ref, rtol=1e-13, atol=1e-14)


@pytest.mark.slow
def test_integrate_with_P_is_default_at_large_P():
    base = ts.TSConfig(eta_w=4.0, eta_J=6.0, alpha_max=2.0, d_alpha=0.05, record_every=10)
    a = ts.integrate(base)
    b = ts.integrate(ts.TSConfig(**{**base.__dict__, "P": 1e12}))
    np.testing.assert_allclose(b.Q, a.Q, rtol=1e-9)
