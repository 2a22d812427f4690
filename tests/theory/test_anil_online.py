"""Zou 2022, App. H.3: the online ANIL estimate α* = 1/(2·N_way·N_shot·σ̂²) from features."""

import jax.random as jr
import numpy as np
import pytest

from metagrad.theory import adaptation_lr as alr


def test_sigma2_is_the_mean_covariance_diagonal_of_the_normalised_rows(getkey):
    F = np.asarray(jr.normal(getkey(), (3, 20, 8)), np.float64) + 1.0
    got = alr.anil_feature_variance(F=F)
    for t in range(3):
        U = np.stack([r / np.sqrt(r @ r) for r in F[t]])
        cov = np.cov(U.T, bias=True)  # (h, h), centred, ddof 0
        assert got[t] == pytest.approx(np.trace(cov) / 8, rel=1e-12)
        assert got[t] == pytest.approx((1 - U.mean(0) @ U.mean(0)) / 8, rel=1e-12)


def test_uncentred_reading_is_the_constant_one_over_h(getkey):
    F = np.asarray(jr.normal(getkey(), (5, 20, 8)), np.float64) * 3.0 + 2.0
    np.testing.assert_allclose(alr.anil_feature_variance(F=F, centre=False), 1 / 8, rtol=1e-12)


def test_alpha_star_from_features(getkey):
    F = np.asarray(jr.uniform(getkey(), (4, 20, 64)), np.float64)
    U = F / np.linalg.norm(F, axis=-1, keepdims=True)
    s2 = np.mean([np.var(U[t], axis=0).mean() for t in range(4)])
    got = alr.alpha_star_anil_features(F=F, n_way=20, n_shot=1)
    assert got == pytest.approx(1 / (40 * s2), rel=1e-12)
    assert alr.alpha_star_anil_features(F=F[0], n_way=20, n_shot=1) == pytest.approx(
        1 / (40 * np.var(U[0], axis=0).mean()), rel=1e-12)


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="n_way"):
        alr.alpha_star_anil_features(F=np.ones((4, 3)) + np.eye(4, 3), n_way=0, n_shot=1)
    with pytest.raises(ValueError, match="σ̂² = 0"):
        alr.alpha_star_anil_features(F=np.ones((4, 3)), n_way=4, n_shot=1)
    with pytest.raises(ValueError, match="shape"):
        alr.anil_feature_variance(F=np.ones(3))
