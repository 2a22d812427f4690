"""Tests of the wang2021 studies' helpers (the studies themselves run in test_contract.py)."""

import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from scipy.linalg import expm

from metagrad.experiments import ConfigError
from metagrad.experiments import wang2021 as W
from metagrad.experiments._wang2021_nets import _adapt_T


def test_sample_tasks_family(getkey):
    x, y = W.sample_tasks(getkey(), n_tasks=400, n_points=3, d=4)
    assert x.shape == (400, 3, 4) and y.shape == (400, 3) and x.dtype == np.float64
    # y = ν‖x − μ‖² with ‖x − μ‖² ~ ν² χ²_d: E[y] = E[ν³] d, ν ~ U(1.3, 1.6)
    e_nu3 = (1.6**4 - 1.3**4) / (4 * 0.3)
    se = y.std(ddof=1) / np.sqrt(y.size)
    assert abs(y.mean() - 4 * e_nu3) < 5 * se
    # the points of a task share μ: within-task spread ν² per coordinate, E[ν²] = 1.9633
    v = x.var(axis=1, ddof=1)
    assert abs(v.mean() - (1.6**3 - 1.3**3) / (3 * 0.3)) < 5 * v.std(ddof=1) / np.sqrt(v.size)
    with pytest.raises(ValueError, match="n_points"):
        W.sample_tasks(getkey(), n_tasks=2, n_points=0, d=3)


def test_adaptation_operator_of_the_networks(getkey):
    A = np.asarray(jr.normal(getkey(), (2, 4, 4)))
    K = A @ np.swapaxes(A, -1, -2) + 0.1 * np.eye(4)
    T = np.asarray(_adapt_T(jnp.asarray(K), 0.3))
    for b in range(2):
        ref = np.linalg.solve(K[b], np.eye(4) - expm(-0.3 * K[b]))
        assert np.allclose(T[b], ref, atol=1e-10)


def test_config_validation():
    with pytest.raises(ConfigError, match="lam_taus"):
        W.fig1_study.config("quick", {"lam_taus": (0.1, 0.2)})
    with pytest.raises(ConfigError):
        W.fig1_study.config("quick", {"kernel": "other"})
    with pytest.raises(ConfigError):
        W.lemma5_study.config("quick", {"depths": (1, 2)})
    assert W.nets_study.config("paper").width == 512
