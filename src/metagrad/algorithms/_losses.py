"""Loss functions with explicit normalisation conventions: `loss(pred, target) -> scalar`."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int

__all__ = ["cross_entropy", "half_mse", "mse", "sum_squares", "LOSSES"]


def _sq(pred: Array, target: Array) -> Array:
    """Squared error per sample, summed over output dimensions: shape `[n]`."""
    if pred.shape != target.shape:
        raise ValueError(f"loss: pred shape {pred.shape} != target shape {target.shape}")
    diff = pred - target
    return jnp.sum(diff.reshape(diff.shape[0], -1) ** 2, axis=1)


def mse(pred: Float[Array, "n ..."], target: Float[Array, "n ..."]) -> Array:  # noqa: F722
    r"""Mean over samples of the squared error: $\frac1n\sum_i \|f(x_i)-y_i\|^2$.

    Output dimensions are summed, samples averaged (the MAML sinusoid convention).
    """
    return jnp.mean(_sq(pred, target))


def half_mse(pred: Float[Array, "n ..."], target: Float[Array, "n ..."]) -> Array:  # noqa: F722
    r"""Half mean squared error $\frac1{2n}\sum_i \|f(x_i)-y_i\|^2$ (Bernacchia 2021, Eq. 2)."""
    return 0.5 * jnp.mean(_sq(pred, target))


def sum_squares(pred: Float[Array, "n ..."], target: Float[Array, "n ..."]) -> Array:  # noqa: F722
    r"""Sum of squared errors $\sum_i \|f(x_i)-y_i\|^2$ (no normalisation by n)."""
    return jnp.sum(_sq(pred, target))


def cross_entropy(logits: Float[Array, "n c"], labels: Int[Array, " n"]) -> Array:  # noqa: F722
    r"""Mean over samples of $-\log \mathrm{softmax}(f(x_i))_{y_i}$ with integer labels."""
    if logits.ndim != 2 or labels.shape != logits.shape[:1]:
        raise ValueError(
            f"cross_entropy: logits must be [n, c] and labels [n]; got {logits.shape}, "
            f"{labels.shape}"
        )
    logp = jax.nn.log_softmax(logits, axis=-1)
    return -jnp.mean(jnp.take_along_axis(logp, labels[:, None], axis=1))


LOSSES = {
    "mse": mse,
    "half_mse": half_mse,
    "sum_squares": sum_squares,
    "cross_entropy": cross_entropy,
}
"""Name -> loss function, for configs that name their loss."""
