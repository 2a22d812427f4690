"""Tests of metagrad.tasks.features (feature maps for Zou 2022)."""

import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

from metagrad.models import MLP
from metagrad.tasks import features as F


def test_polynomial_and_rbf(getkey):
    x = np.asarray(jr.normal(getkey(), (7,)))
    P = F.polynomial_features(x, d=4)
    assert P.shape == (7, 4) and np.allclose(P[:, 0], 1) and np.allclose(P[:, 3], x**3)
    mu, width = F.rbf_centres(d=5, low=-2, high=2)
    R = F.rbf_features(x, mu=mu, width=width)
    assert R.shape == (7, 5) and np.allclose(R[:, 2], np.exp(-(x**2) / 2))
    assert np.array_equal(F.identity_features(x), x)
    with pytest.raises(ValueError, match="d="):
        F.polynomial_features(x, d=0)
    with pytest.raises(ValueError, match="width"):
        F.rbf_features(x, mu=mu, width=0.0)


def test_ntk_features_linearise_the_model(getkey):
    model = MLP(2, 1, width=8, depth=1, dtype=jnp.float64, key=getkey())
    x = jr.normal(getkey(), (5, 2))
    Psi = F.ntk_features(model, x)
    n_par = sum(
        p.size
        for p in (model.hidden[0].weight, model.hidden[0].bias, model.head.weight, model.head.bias)
    )
    assert Psi.shape == (5, n_par)


def test_ntk_features_directional_derivative(getkey):
    import equinox as eqx
    from jax.flatten_util import ravel_pytree

    model = MLP(1, 1, width=6, depth=2, activation=jnp.tanh, dtype=jnp.float64, key=getkey())
    x = jr.normal(getkey(), (4, 1))
    Psi = F.ntk_features(model, x)
    params, static = eqx.partition(model, eqx.is_inexact_array)
    flat, unravel = ravel_pytree(params)
    v = jr.normal(getkey(), flat.shape)
    eps = 1e-6
    f = lambda th: eqx.combine(unravel(th), static)(x)[:, 0]  # noqa: E731
    fd = (f(flat + eps * v) - f(flat - eps * v)) / (2 * eps)
    assert np.allclose(Psi @ v, fd, rtol=1e-6, atol=1e-8)


def test_backbone_bias_column(getkey):
    model = MLP(1, 1, width=40, depth=2, key=getkey())
    Phi = F.backbone_features(model, jr.uniform(getkey(), (10, 1), minval=-5, maxval=5))
    assert Phi.shape == (10, 41) and Phi.dtype == np.float64 and np.all(Phi[:, -1] == 1)
