"""Multi-layer perceptron with a separate linear head (the ANIL split)."""

from __future__ import annotations

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, Float, PRNGKeyArray

__all__ = ["MLP"]


def _linear_batch(layer: eqx.nn.Linear, x: Array) -> Array:
    """Apply an `eqx.nn.Linear` to a batch `[n, in]` as one matrix product."""
    y = x @ layer.weight.T
    return y if layer.bias is None else y + layer.bias


class MLP(eqx.Module):
    """Fully connected network `x -> head(features(x))` acting on a batch of inputs.

    All metagrad models map a *batch* `[n, ...]` to `[n, out]` (so that batch-statistics
    normalisation, as in Conv4/ResNet-12, needs no hidden state). The last layer is the
    field `head`; everything else is the backbone, so ANIL adapts `model.head` only.

    Args:
        in_size: input dimension, >= 1.
        out_size: output dimension, >= 1.
        width: hidden width, >= 1 (MAML sinusoid: 40).
        depth: number of hidden layers, >= 0 (MAML sinusoid: 2).
        activation: elementwise nonlinearity (default ReLU).
        dtype: parameter dtype, float32 by default (even though metagrad enables x64).
        key: `jax.random` key for the initialisation (equinox's default, uniform fan-in).
    """

    hidden: tuple[eqx.nn.Linear, ...]
    head: eqx.nn.Linear
    activation: Callable[[Array], Array] = eqx.field(static=True)

    def __init__(
        self,
        in_size: int,
        out_size: int,
        width: int = 40,
        depth: int = 2,
        *,
        activation: Callable[[Array], Array] = jax.nn.relu,
        dtype: jnp.dtype = jnp.float32,
        key: PRNGKeyArray,
    ):
        for name, value, low in (("in_size", in_size, 1), ("out_size", out_size, 1)):
            if value < low:
                raise ValueError(f"MLP: {name}={value} must be >= {low}")
        if width < 1 or depth < 0:
            raise ValueError(f"MLP: width={width} must be >= 1 and depth={depth} >= 0")
        keys = jr.split(key, depth + 1)
        sizes = [in_size] + [width] * depth
        self.hidden = tuple(
            eqx.nn.Linear(a, b, key=k, dtype=dtype)
            for a, b, k in zip(sizes[:-1], sizes[1:], keys[:-1])
        )
        self.head = eqx.nn.Linear(sizes[-1], out_size, key=keys[-1], dtype=dtype)
        self.activation = activation

    def features(self, x: Float[Array, "n d"]) -> Float[Array, "n h"]:  # noqa: F722
        """Backbone output (last hidden layer) for a batch `x` of shape `[n, in_size]`."""
        for layer in self.hidden:
            x = self.activation(_linear_batch(layer, x))
        return x

    def __call__(self, x: Float[Array, "n d"]) -> Float[Array, "n out"]:  # noqa: F722
        """Predictions of shape `[n, out_size]` for a batch `x` of shape `[n, in_size]`."""
        return _linear_batch(self.head, self.features(x))
