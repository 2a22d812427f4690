"""Fixed feature maps ϕ for mixed linear regression tasks y = Φ(X) a (Zou, Liu, Li 2022, Sec. 2).

Identity ("random matrix"), polynomial, Gaussian RBF, NTK features ∇_w f(w_init, x) of a network,
and frozen-backbone features of an MLP (with a bias column). All map a batch of inputs to a
feature matrix; they never sample.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree
from numpy.typing import ArrayLike

__all__ = [
    "backbone_features",
    "identity_features",
    "ntk_features",
    "polynomial_features",
    "rbf_centres",
    "rbf_features",
]


def identity_features(x: ArrayLike) -> np.ndarray:
    """ϕ(x) = x: the "random matrix" features. x has shape (..., d); returned unchanged (float64)."""
    return np.asarray(x, dtype=np.float64)


def polynomial_features(x: ArrayLike, *, d: int) -> np.ndarray:
    """ϕ(x) = (1, x, …, x^{d−1}) for scalar inputs x of shape (...,); returns shape (..., d)."""
    if int(d) < 1:
        raise ValueError(f"d={d!r} is out of range: expected an integer >= 1.")
    x = np.asarray(x, dtype=np.float64)
    return x[..., None] ** np.arange(d)


def rbf_centres(*, d: int, low: float, high: float) -> tuple[np.ndarray, float]:
    """d centres spaced linearly over [low, high] and the width (the spacing; docs/zou2022.md, RBF features)."""
    if int(d) < 2 or not high > low:
        raise ValueError(f"need d >= 2 and high > low, got d={d}, low={low}, high={high}.")
    mu = np.linspace(low, high, d)
    return mu, float(mu[1] - mu[0])


def rbf_features(x: ArrayLike, *, mu: ArrayLike, width: float) -> np.ndarray:
    """Gaussian RBF ϕ_j(x) = exp(−(x − μ_j)²/(2 width²)); x shape (...,) -> (..., d)."""
    if not width > 0:
        raise ValueError(f"width={width!r} must be > 0.")
    x = np.asarray(x, dtype=np.float64)
    return np.exp(-((x[..., None] - np.asarray(mu)) ** 2) / (2 * width**2))


def ntk_features(model: eqx.Module, x: ArrayLike) -> jax.Array:
    """NTK features Ψ = ∇_w f(w_init, x) of a scalar-output model (batch in, [n, 1] out).

    Args:
        model: equinox module mapping (n, in) -> (n, 1) (e.g. `metagrad.models.MLP`).
        x: inputs, shape (n, in).

    Returns:
        Ψ, shape (n, number of parameters), in the parameters' dtype.
    """
    params, static = eqx.partition(model, eqx.is_inexact_array)
    flat, unravel = ravel_pytree(params)

    def f(theta, xi):
        return eqx.combine(unravel(theta), static)(xi[None])[0, 0]

    return jax.vmap(jax.grad(f), in_axes=(None, 0))(flat, jnp.asarray(x, dtype=flat.dtype))


def backbone_features(model: eqx.Module, x: ArrayLike, *, bias: bool = True) -> np.ndarray:
    """Frozen-backbone features `model.features(x)` (float64), with a column of ones if `bias`."""
    h = np.asarray(model.features(jnp.asarray(x)), dtype=np.float64)
    return np.concatenate([h, np.ones_like(h[:, :1])], axis=1) if bias else h
