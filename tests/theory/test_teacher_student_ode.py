"""Symmetries, batching and first_crossing of the teacher–student ODE solver (seeds/000)."""

import numpy as np
import pytest

from metagrad.theory import teacher_student as ts

CFG = ts.TSConfig(
    eta_w=9.0,
    alpha_max=30.0,
    d_alpha=0.05,
    record_every=20,
    R0=1e-3,
    ic_perturbation=0.5,
    ic_seed=3,
)


@pytest.fixture(scope="module")
def base():
    return ts.integrate(CFG)


def _with_R0(R0):
    return ts.TSConfig(**{**CFG.__dict__, "R0": tuple(map(tuple, R0)), "ic_perturbation": 0.0})


def test_student_permutation_permutes_trajectory(base):
    _, _, _, R0 = CFG.matrices()
    perm = np.array([2, 0, 1])
    tr = ts.integrate(_with_R0(R0[perm]))
    np.testing.assert_allclose(tr.R, base.R[:, perm], rtol=1e-9, atol=1e-14)
    np.testing.assert_allclose(tr.Q, base.Q[:, perm][:, :, perm], rtol=1e-9, atol=1e-14)
    np.testing.assert_allclose(tr.eps, base.eps, rtol=1e-10)


def test_sign_flip_of_student_flips_its_R_row(base):
    _, _, _, R0 = CFG.matrices()
    R0 = R0.copy()
    R0[1] *= -1
    tr = ts.integrate(_with_R0(R0))
    s = np.array([1.0, -1.0, 1.0])
    np.testing.assert_allclose(tr.R, base.R * s[None, :, None], rtol=1e-9, atol=1e-14)
    np.testing.assert_allclose(tr.Q, base.Q * np.outer(s, s), rtol=1e-9, atol=1e-14)


def test_batch_equals_single_solves(base):
    tr = ts.integrate_batch(CFG, eta_w=np.array([3.0, 9.0]))
    np.testing.assert_allclose(tr.eps[1], base.eps, rtol=1e-12)
    assert tr.Q.shape == (2,) + base.Q.shape


def test_eps_decreases_and_first_crossing(base):
    assert base.eps[-1] < base.eps[0]
    level = float(base.eps[len(base.eps) // 2])
    a = ts.first_crossing(base, level)
    assert a <= base.alpha[len(base.eps) // 2] and np.isnan(ts.first_crossing(base, -1.0))


def test_config_validation():
    with pytest.raises(ValueError, match="eta_w"):
        ts.TSConfig(eta_w=-1.0)
    with pytest.raises(ValueError, match="gamma"):
        ts.TSConfig(gamma=1.5)
    with pytest.raises(ValueError, match="positive semi-definite"):
        ts.integrate(ts.TSConfig(R0=2.0))


def test_gamma_one_equals_no_variability(base):
    """At γ = 1 the exact App. C closure (augmented covariance, singular) reduces to the base ODE."""
    tr = ts.integrate(ts.TSConfig(**{**CFG.__dict__, "gamma": 1.0}))
    np.testing.assert_allclose(tr.eps, base.eps, rtol=1e-8)
    np.testing.assert_allclose(tr.R, base.R, rtol=1e-8, atol=1e-12)
