"""Batch normalisation without hidden state, and conv helpers shared by Conv4 and ResNet-12."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array

from metagrad.models._fast import (
    batch_norm_nhwc,
    conv_same_nhwc,
    max_pool_2x2_nhwc,
)

__all__ = [
    "BatchStatNorm",
    "CONV_IMPLS",
    "conv_batch",
    "conv_matmul",
    "conv_nhwc",
    "max_pool_2x2",
    "norm_nhwc",
    "pool_act_nhwc",
]


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


CONV_IMPLS = ("fast", "matmul", "xla")
"""Layer implementations of Conv4 / ResNet12: `"fast"` (default: channels-last, hand-written
differentiable backward rules, `metagrad.models._fast`), `"matmul"` and `"xla"` (the plain
NCHW implementations differentiated by JAX, kept for reference; see `conv_batch`)."""


def conv_batch(conv: eqx.nn.Conv2d, x: Array, *, impl: str = "matmul") -> Array:
    """Apply an `eqx.nn.Conv2d` to a batch `[n, c, h, w]`, giving `[n, c_out, h', w']`.

    Args:
        conv: the convolution (its weight `[c_out, c, kh, kw]`, bias, padding).
        x: batch of images `[n, c, h, w]`.
        impl: `"matmul"` (default) computes stride-1, undilated, ungrouped, zero-padded
            convolutions as im2col + one matrix product (`conv_matmul`), and falls back to
            `"xla"` for any other convolution; `"xla"` is `jax.vmap(conv)` (XLA's convolution).
            Both give the same numbers up to round-off. Why the default is `"matmul"`: on
            XLA:CPU, the weight-gradient and second-order convolutions of a MAML meta-step
            run several times slower than the equivalent matrix products (measured in
            docs/benchmarks/maml_torch.md).
    """
    if impl not in ("matmul", "xla"):
        raise ValueError(f"conv_batch: impl={impl!r} must be 'matmul' or 'xla'")
    if impl == "matmul" and _is_plain(conv):
        return conv_matmul(conv, x)
    return jax.vmap(conv)(x)


def conv_nhwc(conv: eqx.nn.Conv2d, x: Array) -> Array:
    """Apply an `eqx.nn.Conv2d` (weights stored OIHW) to a channels-last batch `[n, h, w, c]`.

    Stride-1 "same" convolutions (odd square kernel, padding k // 2, zero padding) use
    `conv_same_nhwc` (hand-written backward rules of every order); any other convolution
    uses XLA's convolution differentiated by JAX.
    """
    w = jnp.transpose(conv.weight, (2, 3, 1, 0))  # OIHW -> HWIO
    k = w.shape[0]
    pads = tuple(tuple(p) for p in conv.padding)
    if _is_plain(conv) and w.shape[1] == k and k % 2 == 1 and pads == ((k // 2,) * 2,) * 2:
        y = conv_same_nhwc(x, w)
    else:
        y = jax.lax.conv_general_dilated(
            x,
            w,
            tuple(conv.stride),
            pads,
            rhs_dilation=tuple(conv.dilation),
            dimension_numbers=("NHWC", "HWIO", "NHWC"),
            feature_group_count=conv.groups,
        )
    return y if conv.bias is None else y + conv.bias.reshape(-1)


def norm_nhwc(norm: BatchStatNorm, x: Array) -> Array:
    """`BatchStatNorm` applied to a channels-last batch `[n, h, w, c]` (custom backward)."""
    return batch_norm_nhwc(x, norm.weight, norm.bias, norm.eps)


def pool_act_nhwc(x: Array, act) -> Array:
    """`pool(act(x))` for an increasing `act`, computed as `act(pool(x))` (equal values)."""
    return act(max_pool_2x2_nhwc(x))


def _is_plain(conv: eqx.nn.Conv2d) -> bool:
    """Stride 1, no dilation, one group, zero padding: the cases `conv_matmul` implements."""
    return (
        tuple(conv.stride) == (1, 1)
        and tuple(conv.dilation) == (1, 1)
        and conv.groups == 1
        and str(conv.padding_mode).upper().endswith("ZEROS")
    )


def conv_matmul(conv: eqx.nn.Conv2d, x: Array) -> Array:
    """A stride-1 zero-padded `conv` on `[n, c, h, w]` as im2col and one `einsum`.

    The `kh·kw` shifted views of the padded input are stacked into patches
    `[n, c, kh·kw, h', w']` and contracted with the weight `[c_out, c, kh·kw]`; derivatives of
    any order are then slices, pads and matrix products.
    """
    c_out, c_in, kh, kw = conv.weight.shape
    xp = jnp.pad(x, ((0, 0), (0, 0), *conv.padding))
    h, w = xp.shape[2] - kh + 1, xp.shape[3] - kw + 1
    patches = jnp.stack(
        [xp[:, :, i : i + h, j : j + w] for i in range(kh) for j in range(kw)], axis=2
    )
    y = jnp.einsum("nckhw,ock->nohw", patches, conv.weight.reshape(c_out, c_in, kh * kw))
    return y if conv.bias is None else y + conv.bias[None]


def max_pool_2x2(x: Array) -> Array:
    """2×2 max-pooling with stride 2 (floor) on `[n, c, h, w]`."""
    return jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")
