"""Quadratic (nonlinear) regression tasks of Bernacchia 2021, Sec. 5.4 (Fig. 5).

A task is (w, b) with w ~ N(0, ν²/p I_p) and b ~ N(0, 1); inputs x ~ N(0, I_p); labels
y = (wᵀx + b)² + z with z ~ N(0, σ²). Each split of a task has fresh inputs and noise.
"""

from __future__ import annotations

import jax.numpy as jnp
import jax.random as jr
from jaxtyping import PRNGKeyArray

from metagrad.tasks._task import Task

__all__ = ["sample_quadratic_tasks"]


def sample_quadratic_tasks(
    key: PRNGKeyArray,
    *,
    n_tasks: int,
    n_support: int,
    n_query: int,
    p: int,
    nu: float,
    sigma: float,
) -> Task:
    r"""Draw `n_tasks` quadratic regression tasks with support and query sets.

    $w \sim N(0, \nu^2/p\, I_p)$, $b \sim N(0, 1)$, $x \sim N(0, I_p)$,
    $y = (w^\top x + b)^2 + z$, $z \sim N(0, \sigma^2)$: Bernacchia (2021), Sec. 5.4.

    Args:
        key: `jax.random` key.
        n_tasks: number of tasks, >= 1 (m for meta-training; test tasks at meta-test).
        n_support: support points per task, >= 1 (n_t, or n_r at meta-test).
        n_query: query points per task, >= 1 (n_v, or n_s at meta-test).
        p: input dimension, >= 1.
        nu: task variability, >= 0.
        sigma: label noise standard deviation, >= 0.

    Returns:
        A `Task` with `x_*` of shape `[n_tasks, n, p]` and `y_*` of shape `[n_tasks, n, 1]`.
    """
    for name, value in (("n_tasks", n_tasks), ("n_support", n_support), ("n_query", n_query)):
        if value < 1:
            raise ValueError(f"sample_quadratic_tasks: {name}={value} must be >= 1")
    kw, kb, kxs, kzs, kxq, kzq = jr.split(key, 6)
    w = nu / jnp.sqrt(p) * jr.normal(kw, (n_tasks, p))
    b = jr.normal(kb, (n_tasks,))

    def split(kx, kz, n):
        x = jr.normal(kx, (n_tasks, n, p))
        z = sigma * jr.normal(kz, (n_tasks, n))
        y = ((jnp.einsum("tnp,tp->tn", x, w) + b[:, None]) ** 2 + z)[..., None]
        return x, y

    xs, ys = split(kxs, kzs, n_support)
    xq, yq = split(kxq, kzq, n_query)
    return Task(xs, ys, xq, yq)
