"""Batch normalisation without hidden state, and conv helpers shared by Conv4 and ResNet-12."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array

__all__ = ["BatchStatNorm", "conv_batch", "max_pool_2x2"]


class BatchStatNorm(eqx.Module):
    """BatchNorm that always normalises with the statistics of the batch it is given.

    BatchNorm state, made explicit: there are no running averages. Each call (a support set,
    a query set, a test batch) is normalised by its own mean and variance over the batch and
    spatial axes, then scaled by `weight` and shifted by `bias` (both learnable, adapted by
    MAML with the rest). This is the "transductive" batch norm of the MAML reference code
    (Finn et al. 2017) and of learn2learn's examples; it makes every model a pure function
    of its parameters and one batch, so `adapt`, `vmap` over tasks and `jit` need no state.
    Consequence: predictions on a query batch depend on the whole query batch.
    """

    weight: Array
    bias: Array
    eps: float = eqx.field(static=True, default=1e-5)

    def __init__(self, channels: int, *, dtype=jnp.float32, eps: float = 1e-5):
        self.weight = jnp.ones((channels,), dtype)
        self.bias = jnp.zeros((channels,), dtype)
        self.eps = eps

    def __call__(self, x: Array) -> Array:
        """Normalise `x` of shape `[n, c, h, w]` over axes (n, h, w)."""
        mean = jnp.mean(x, axis=(0, 2, 3), keepdims=True)
        var = jnp.var(x, axis=(0, 2, 3), keepdims=True)
        xhat = (x - mean) * jax.lax.rsqrt(var + self.eps)
        return xhat * self.weight[None, :, None, None] + self.bias[None, :, None, None]


def conv_batch(conv: eqx.nn.Conv2d, x: Array) -> Array:
    """Apply an `eqx.nn.Conv2d` to a batch `[n, c, h, w]`."""
    return jax.vmap(conv)(x)


def max_pool_2x2(x: Array) -> Array:
    """2×2 max-pooling with stride 2 (floor) on `[n, c, h, w]`."""
    return jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")
