"""The ODE right-hand side and Eq. (39) against the microscopic FO-ANIL update (seeds/000)."""

import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

from metagrad.sim import teacher_student as sim
from metagrad.theory import teacher_student as ts


def _random_state(key, K, M):
    """A random valid (Q, R, T): overlaps of K+M random vectors of norm ~1."""
    k1, k2 = jr.split(key)
    W = jr.normal(k1, (K + M, K + M)) / np.sqrt(K + M)
    W = W + 0.3 * jr.normal(k2, ()) * jnp.eye(K + M)
    C = W @ W.T + 0.2 * jnp.eye(K + M)
    return C[:K, :K], C[:K, K:], C[K:, K:]


def _params(eta_J, eta_w, V):
    return dict(eta_J=eta_J, eta_w=eta_w, inv_V=1.0 / V, noise=0.0, lam=0.0)


@pytest.mark.parametrize(
    "activation", [pytest.param("erf", marks=pytest.mark.slow), "linear"]
)
def test_rhs_equals_averaged_microscopic_update(getkey, activation):
    K, M, V, eta_J, eta_w = 3, 2, 4, 2.0, 3.0
    for _ in range(2):
        Q, R, T = _random_state(getkey(), K, M)
        dQ, dR = ts.order_parameter_rhs(Q, R, T, _params(eta_J, eta_w, V), activation=activation)
        mQ, mR, sQ, sR = sim.averaged_update(
            Q,
            R,
            T,
            eta_J=eta_J,
            eta_w=eta_w,
            V=V,
            n_tasks=100_000,
            key=getkey(),
            activation=activation,
        )
        np.testing.assert_array_less(np.abs(dR - mR), 5 * sR)
        np.testing.assert_array_less(np.abs(dQ - mQ), 5 * sQ)


@pytest.mark.slow  # measured >= 8 s of the fast suite's wall time (2026-12-02)
def test_eps_equals_monte_carlo(getkey):
    for K, M, eta_w in ((3, 3, 4.0), (2, 4, 9.0)):
        Q, R, T = _random_state(getkey(), K, M)
        eps = ts.meta_generalization_error(Q, R, T, eta_w=eta_w)
        mc, se = sim.mc_meta_error(Q, R, T, eta_w=eta_w, n=400_000, key=getkey())
        assert abs(eps - mc) <= 5 * se


@pytest.mark.slow  # measured >= 8 s of the fast suite's wall time (2026-12-02)
def test_eps_at_alpha0_matches_closed_form():
    """V2: ε(0) = (1/2M) Σ_n (2/π) arcsin(T_nn/(1+T_nn)) for R ≈ 0, any K; linear: tr T/2M."""
    target = (2 / np.pi) * (np.arcsin(1 / 2) + np.arcsin(2 / 3) + np.arcsin(3 / 4)) / 6
    for K in (3, 6):
        Q, R, T = 0.5 * np.eye(K), np.full((K, 3), 1e-12), np.diag([1.0, 2.0, 3.0])
        np.testing.assert_allclose(ts.meta_generalization_error(Q, R, T, eta_w=3.0), target)
    tr = ts.integrate(ts.TSConfig(alpha_max=1.0, d_alpha=0.1, record_every=1))
    np.testing.assert_allclose(tr.eps[0], target, rtol=1e-12)
    lin = ts.integrate(ts.TSConfig(activation="linear", eta_w=0.5, alpha_max=1.0, d_alpha=0.1))
    np.testing.assert_allclose(lin.eps[0], 6 / 6, rtol=1e-12)


@pytest.mark.slow
def test_direct_simulator_matches_ode_at_start(getkey):
    """Direct-simulator runs (N=400) against the ODE over a short window: R agrees."""
    cfg = sim.SimConfig(N=400, K=2, M=2, P=200, V=50, eta_J=2.0, eta_w=3.0, alpha_max=2.0,
                        d_record=1.0)  # fmt: skip
    res = sim.simulate(cfg, method="direct", n_runs=4, key=getkey())
    T, Q0, R0 = (np.asarray(a[0]) for a in (res.T, res.Q[:, 0], res.R[:, 0]))
    tr = ts.integrate(
        ts.TSConfig(
            K=2,
            M=2,
            V=50,
            eta_J=2.0,
            eta_w=3.0,
            T=T,
            Q0=Q0,
            R0=R0,
            alpha_max=2.0,
            d_alpha=0.01,
            record_every=100,
        )  # fmt: skip
    )
    R_sim = np.asarray(res.R[:, -1])
    spread = R_sim.std(0) + 0.02  # seed spread plus the O(1/P) closure bias
    np.testing.assert_array_less(np.abs(R_sim.mean(0) - tr.R[-1]), 5 * spread)


def test_linear_rhs_matches_matrix_form(getkey):
    """App. E: the generic path with linear integrals equals (E3)/(E4) (corrected R_kn R_lm)."""
    K, M, V, eJ, ew = 3, 3, 7.0, 3.0, 0.5
    Q, R, T = _random_state(getkey(), K, M)
    dQ, dR = ts.order_parameter_rhs(Q, R, T, _params(eJ, ew, V), activation="linear")
    G = R @ R.T
    dR_e = eJ * ew / (K * M) * R @ T - eJ * ew**2 / (K**2 * M) * G @ R
    dQ_e = eJ * ew / (K * M) * 2 * G - eJ * ew**2 / (K**2 * M) * (G @ Q + Q @ G)
    dQ_e += eJ**2 * ew**2 / (V * K**2 * M**2) * (jnp.trace(T) * G + 2 * R @ T @ R.T)
    dQ_e -= 2 * eJ**2 * ew**3 / (V * K**3 * M**2) * (jnp.sum(R**2) * G + 2 * G @ G)
    dQ_e += eJ**2 * ew**4 / (V * K**4 * M**2) * (jnp.trace(G @ Q) * G + 2 * G @ Q @ G)
    np.testing.assert_allclose(dR, dR_e, rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(dQ, dQ_e, rtol=1e-11, atol=1e-13)
    eps = ts.meta_generalization_error(Q, R, T, eta_w=ew, activation="linear")
    eps_e = (
        jnp.trace(T) / (2 * M)
        - ew / (K * M) * jnp.sum(R**2)
        + ew**2 / (2 * K**2 * M) * jnp.trace(G @ Q)
    )
    np.testing.assert_allclose(eps, eps_e, rtol=1e-12)
