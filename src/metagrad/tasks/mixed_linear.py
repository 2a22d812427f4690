"""Mixed linear regression tasks of Bernacchia 2021 (Sec. 4 and 5.3).

A task is w ~ N(w0, Σ_w); inputs x ~ N(0, Σ); labels y = xᵀw + z, z ~ N(0, σ²). The Gaussian case of
Sec. 4 is Σ = I, Σ_w = ν²/p I. Covariances are passed as Cholesky factors (lower triangular, (p, p)).
"""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array

__all__ = ["MetaTrainData", "sample_meta_train", "sample_tasks_data"]


class MetaTrainData(NamedTuple):
    """Meta-training data of one run (add leading axes for batches of runs).

    Attributes:
        x_t: training inputs, (m, n_t, p).  y_t: training labels, (m, n_t).
        x_v: validation inputs, (m, n_v, p).  y_v: validation labels, (m, n_v).
    """

    x_t: Array
    y_t: Array
    x_v: Array
    y_v: Array


def sample_tasks_data(
    key: Array,
    *,
    m: int,
    ns: tuple[int, ...],
    w0: Array,
    chol_Sigma: Array,
    chol_Sigma_w: Array,
    sigma: float,
) -> tuple[Array, list[tuple[Array, Array]]]:
    """Draw m tasks w ~ N(w0, Σ_w) and, for each size n in ``ns``, data (X (m, n, p), y (m, n)).

    Returns (w of shape (m, p), [(X, y) for n in ns]); each split has fresh inputs and noise.
    """
    p = w0.shape[0]
    kw, *ks = jr.split(key, 1 + 2 * len(ns))
    w = w0 + jr.normal(kw, (m, p)) @ chol_Sigma_w.T
    out = []
    for i, n in enumerate(ns):
        x = jr.normal(ks[2 * i], (m, n, p)) @ chol_Sigma.T
        y = jnp.einsum("mnp,mp->mn", x, w) + sigma * jr.normal(ks[2 * i + 1], (m, n))
        out.append((x, y))
    return w, out


def sample_meta_train(
    key: Array,
    *,
    m: int,
    n_t: int,
    n_v: int,
    w0: Array,
    chol_Sigma: Array,
    chol_Sigma_w: Array,
    sigma: float,
) -> MetaTrainData:
    """Draw one run's meta-training set: m tasks with n_t training and n_v validation points."""
    _, ((x_t, y_t), (x_v, y_v)) = sample_tasks_data(
        key,
        m=m,
        ns=(n_t, n_v),
        w0=w0,
        chol_Sigma=chol_Sigma,
        chol_Sigma_w=chol_Sigma_w,
        sigma=sigma,
    )
    return MetaTrainData(x_t, y_t, x_v, y_v)
