# ruff: noqa: F722  (jaxtyping shape strings are not forward annotations)
"""Multi-task linear regression with a shared low-rank representation (Yüksel 2024, Assumption 1).

Task i: y_i = X_i B⋆ w⋆,i + z_i with rows of X_i ~ N(0, I_d), z_i ~ N(0, σ²), w⋆,i ~ N(μ⋆, Σ⋆).
"""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, ArrayLike, Float

__all__ = ["LinearTasks", "sample_B_star", "sample_linear_tasks"]


class LinearTasks(NamedTuple):
    """A batch of tasks: X (N, m, d), y (N, m), w_star (N, k), theta_star = B⋆w⋆ (N, d)."""

    X: Array
    y: Array
    w_star: Array
    theta_star: Array


def sample_B_star(*, key: Array, d: int, k: int) -> Float[Array, "d k"]:
    """Random d×k matrix with orthonormal columns (QR of a Gaussian matrix), 1 <= k < d."""
    if not (1 <= k < d):
        raise ValueError(f"k={k} is out of range: expected 1 <= k < d={d}.")
    q, r = jnp.linalg.qr(jr.normal(key, (d, k)))
    return q * jnp.sign(jnp.diag(r))


def sample_linear_tasks(
    *,
    key: Array,
    B_star: Float[ArrayLike, "d k"],
    Sigma_star: Float[ArrayLike, "k k"],
    n_tasks: int,
    m: int,
    sigma2: float,
    mu_star: Float[ArrayLike, " k"] | None = None,
    dtype=jnp.float64,
) -> LinearTasks:
    """Sample `n_tasks` tasks with `m` samples each (Gaussian w⋆, inputs and noise).

    Args:
        key: PRNG key. B_star: (d, k). Sigma_star: covariance of w⋆, (k, k), positive definite.
        n_tasks: >= 1. m: samples per task, >= 1. sigma2: noise variance, >= 0.
        mu_star: mean of w⋆, (k,), default 0. dtype: dtype of X and y.

    Returns:
        LinearTasks with X (n_tasks, m, d), y (n_tasks, m), w_star (n_tasks, k), theta_star (n_tasks, d).
    """
    if n_tasks < 1 or m < 1:
        raise ValueError(f"n_tasks={n_tasks} and m={m} must be >= 1.")
    if sigma2 < 0:
        raise ValueError(f"sigma2={sigma2} is out of range: expected >= 0.")
    Bs = jnp.asarray(B_star, jnp.float64)
    d, k = Bs.shape
    kw, kx, kz = jr.split(key, 3)
    L = jnp.linalg.cholesky(jnp.asarray(Sigma_star, jnp.float64))
    mu = jnp.zeros(k) if mu_star is None else jnp.asarray(mu_star, jnp.float64)
    w_star = mu + jr.normal(kw, (n_tasks, k)) @ L.T
    theta = w_star @ Bs.T
    X = jr.normal(kx, (n_tasks, m, d))
    y = jnp.einsum("nmd,nd->nm", X, theta) + jnp.sqrt(sigma2) * jr.normal(kz, (n_tasks, m))
    return LinearTasks(X.astype(dtype), y.astype(dtype), w_star, theta)
