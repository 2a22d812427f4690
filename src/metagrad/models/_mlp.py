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


def _normal_init(layer: eqx.nn.Linear, key: PRNGKeyArray) -> eqx.nn.Linear:
    """The layer with weights redrawn from N(0, 1/fan_in) and zero biases."""
    w = layer.weight
    weight = jr.normal(key, w.shape, w.dtype) / jnp.sqrt(w.shape[1]).astype(w.dtype)
    layer = eqx.tree_at(lambda lin: lin.weight, layer, weight)
    if layer.bias is None:
        return layer
    return eqx.tree_at(lambda lin: lin.bias, layer, jnp.zeros_like(layer.bias))


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
        init: `"uniform"` (equinox's default, U(-1/sqrt(fan_in), 1/sqrt(fan_in)) weights and
            biases) or `"normal"` (weights N(0, 1/fan_in), biases 0; Bernacchia 2021, Sec. 5.4).
        key: `jax.random` key for the initialisation.
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
        init: str = "uniform",
        key: PRNGKeyArray,
    ):
        for name, value, low in (("in_size", in_size, 1), ("out_size", out_size, 1)):
            if value < low:
                raise ValueError(f"MLP: {name}={value} must be >= {low}")
        if width < 1 or depth < 0:
            raise ValueError(f"MLP: width={width} must be >= 1 and depth={depth} >= 0")
        if init not in ("uniform", "normal"):
            raise ValueError(f"MLP: init={init!r} must be 'uniform' or 'normal'")
        keys = jr.split(key, depth + 1)
        sizes = [in_size] + [width] * depth
        self.hidden = tuple(
            eqx.nn.Linear(a, b, key=k, dtype=dtype)
            for a, b, k in zip(sizes[:-1], sizes[1:], keys[:-1])
        )
        self.head = eqx.nn.Linear(sizes[-1], out_size, key=keys[-1], dtype=dtype)
        if init == "normal":
            self.hidden = tuple(_normal_init(lin, k) for lin, k in zip(self.hidden, keys[:-1]))
            self.head = _normal_init(self.head, keys[-1])
        self.activation = activation

    def features(self, x: Float[Array, "n d"]) -> Float[Array, "n h"]:  # noqa: F722
        """Backbone output (last hidden layer) for a batch `x` of shape `[n, in_size]`."""
        for layer in self.hidden:
            x = self.activation(_linear_batch(layer, x))
        return x

    def __call__(self, x: Float[Array, "n d"]) -> Float[Array, "n out"]:  # noqa: F722
        """Predictions of shape `[n, out_size]` for a batch `x` of shape `[n, in_size]`."""
        return _linear_batch(self.head, self.features(x))
