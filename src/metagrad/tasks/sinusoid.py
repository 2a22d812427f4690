"""Sinusoid regression tasks (Finn et al. 2017, Sec. 5.1): y = a·sin(x + b)."""

from __future__ import annotations

import math

import jax.numpy as jnp
import jax.random as jr
from jax.typing import ArrayLike
from jaxtyping import Array, PRNGKeyArray

from metagrad.tasks._task import Task

__all__ = ["sample_sinusoid", "sample_sinusoid_batch", "sinusoid"]

AMPLITUDE = (0.1, 5.0)
PHASE = (0.0, math.pi)
X_RANGE = (-5.0, 5.0)


def sinusoid(x: ArrayLike, *, a: ArrayLike, b: ArrayLike) -> Array:
    r"""The task function $y = a \sin(x + b)$ (Finn et al. 2017, Sec. 5.1); broadcasts."""
    return a * jnp.sin(x + b)


def _check(n_support: int, n_query: int) -> None:
    for name, v in (("n_support", n_support), ("n_query", n_query)):
        if not isinstance(v, int) or v < 1:
            raise ValueError(f"sinusoid: {name}={v!r} must be an int >= 1")


def sample_sinusoid(
    *, key: PRNGKeyArray, n_support: int = 10, n_query: int = 10, dtype=jnp.float32
) -> Task:
    """One sinusoid task with MAML's ranges: a ~ U[0.1, 5], b ~ U[0, π], x ~ U[-5, 5].

    Noise-free targets, as in Finn et al. (2017).

    Args:
        key: `jax.random` key.
        n_support: support points K, >= 1 (MAML: 5, 10 or 20).
        n_query: query points, >= 1.
        dtype: dtype of inputs and targets (float32 to match the models).

    Returns:
        A `Task` with `x_*`, `y_*` of shape `[n, 1]`, `classes=None`.
    """
    _check(n_support, n_query)
    ka, kb, kx = jr.split(key, 3)
    a = jr.uniform(ka, (), dtype, *AMPLITUDE)
    b = jr.uniform(kb, (), dtype, *PHASE)
    x = jr.uniform(kx, (n_support + n_query, 1), dtype, *X_RANGE)
    y = sinusoid(x, a=a, b=b)
    return Task(x[:n_support], y[:n_support], x[n_support:], y[n_support:])


def sample_sinusoid_batch(
    *, key: PRNGKeyArray, tasks: int, n_support: int = 10, n_query: int = 10, dtype=jnp.float32
) -> Task:
    """A meta-batch of `tasks` independent sinusoid tasks: every field gets a leading axis."""
    import jax

    if not isinstance(tasks, int) or tasks < 1:
        raise ValueError(f"sinusoid: tasks={tasks!r} must be an int >= 1")
    _check(n_support, n_query)
    keys = jr.split(key, tasks)
    return jax.vmap(
        lambda k: sample_sinusoid(key=k, n_support=n_support, n_query=n_query, dtype=dtype)
    )(keys)
