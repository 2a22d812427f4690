"""Channels-last (NHWC) layers with hand-written, differentiable backward rules.

Why: on XLA:CPU the automatic derivatives of batch-statistics BatchNorm, of max-pooling via
`reduce_window` (`select_and_scatter`) and of a convolution's weight gradient (an XLA
convolution with image-sized windows) cost several times more than the forward pass
(measured in docs/benchmarks/maml_torch.md). Each function below is a `jax.custom_vjp`
whose backward function is itself plain JAX code built from the same functions, so the
rules compose to any order: second-order MAML differentiates the backward rules again, and
gets convolutions, GEMMs and masks, never the slow automatic derivatives.

All tensors are NHWC (`[n, h, w, c]`), convolution kernels HWIO (`[kh, kw, c_in, c_out]`).
Only what Conv-4 and ResNet-12 need is covered: stride-1 "same" convolutions with odd square
kernels, batch-statistics BatchNorm over (n, h, w), 2×2/2 max-pooling (floor).
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
from jax import lax
from jaxtyping import Array

__all__ = ["batch_norm_nhwc", "conv_same_nhwc", "conv_weight_grad_nhwc", "max_pool_2x2_nhwc"]

_DN = ("NHWC", "HWIO", "NHWC")
# Rows of one im2col chunk in the weight gradient: about 2 MB of float32 patches, so each
# chunk's GEMM runs from cache (measured 2.5x faster than one GEMM over all patches).
_CHUNK_BYTES = 2**21


def _xla_conv(x: Array, w: Array) -> Array:
    p = w.shape[0] // 2
    return lax.conv_general_dilated(x, w, (1, 1), ((p, p), (p, p)), dimension_numbers=_DN)


def _flip_t(w: Array) -> Array:
    """The kernel of the adjoint convolution: spatially flipped, in/out channels swapped."""
    return jnp.transpose(w[::-1, ::-1], (0, 1, 3, 2))


@jax.custom_vjp
def conv_same_nhwc(x: Array, w: Array) -> Array:
    """Stride-1 "same" convolution `[n, h, w, c] * [k, k, c, o] -> [n, h, w, o]` (k odd).

    Forward: XLA's convolution. Backward: the input gradient is this convolution with the
    flipped, transposed kernel, the weight gradient is `conv_weight_grad_nhwc`; both are
    again custom-VJP functions, so derivatives of every order stay on these kernels.
    """
    return _xla_conv(x, w)


def _conv_fwd(x, w):
    # The primal output through the custom function itself, not `_xla_conv`: when an outer
    # derivative (second-order MAML) differentiates this forward rule, it then meets the
    # custom rule again instead of JAX's convolution derivatives (slow on XLA:CPU).
    return conv_same_nhwc(x, w), (x, w)


def _conv_bwd(res, g):
    x, w = res
    return conv_same_nhwc(g, _flip_t(w)), conv_weight_grad_nhwc(x, g, w.shape[0])


conv_same_nhwc.defvjp(_conv_fwd, _conv_bwd)


def _patches(x: Array, k: int) -> Array:
    """im2col of a zero-padded batch: `[n·h·w, k·k·c]` (kernel-row-major, channels last)."""
    n, h, w, c = x.shape
    if k == 1:
        return x.reshape(n * h * w, c)
    p = k // 2
    xp = jnp.pad(x, ((0, 0), (p, p), (p, p), (0, 0)))
    cols = [xp[:, i : i + h, j : j + w, :] for i in range(k) for j in range(k)]
    return jnp.concatenate(cols, axis=-1).reshape(n * h * w, k * k * c)


def _weight_grad(x: Array, g: Array, k: int) -> Array:
    n, h, w, c = x.shape
    o = g.shape[-1]
    if k == 1:
        return (x.reshape(-1, c).T @ g.reshape(-1, o)).reshape(1, 1, c, o)
    per_image = h * w * k * k * c * x.dtype.itemsize
    chunk = int(max(1, min(n, _CHUNK_BYTES // max(per_image, 1))))
    if chunk >= n:
        return (_patches(x, k).T @ g.reshape(-1, o)).reshape(k, k, c, o)
    m, rest = divmod(n, chunk)

    # The chunks are sliced out of x and g inside the loop (no reshaped or padded copies):
    # a reshaped loop input made XLA write a second, chunk-shaped copy of g (the BatchNorm
    # backward recomputed into it) and of x; padding to a multiple of the chunk wrote both
    # again. The last n mod chunk images get one GEMM of their own.
    def body(i, acc):
        xx = lax.dynamic_slice_in_dim(x, i * chunk, chunk)
        gg = lax.dynamic_slice_in_dim(g, i * chunk, chunk).reshape(chunk * h * w, o)
        return acc + _patches(xx, k).T @ gg

    acc = lax.fori_loop(0, m, body, jnp.zeros((k * k * c, o), x.dtype))
    if rest:
        acc = acc + _patches(x[m * chunk :], k).T @ g[m * chunk :].reshape(-1, o)
    return acc.reshape(k, k, c, o)


@partial(jax.custom_vjp, nondiff_argnums=(2,))
def conv_weight_grad_nhwc(x: Array, g: Array, k: int) -> Array:
    """Weight gradient `[k, k, c, o]` of `sum(g * conv_same_nhwc(x, w))` (bilinear in x, g).

    Computed as im2col + GEMM in cache-sized chunks of images (`lax.scan`). Its own backward
    is two `conv_same_nhwc` calls: d/dx = conv(g, flip_t(G)), d/dg = conv(x, G).
    """
    return _weight_grad(x, g, k)


def _wg_fwd(x, g, k):
    return conv_weight_grad_nhwc(x, g, k), (x, g)  # custom again under outer derivatives


def _wg_bwd(k, res, gw):
    x, g = res
    return conv_same_nhwc(g, _flip_t(gw)), conv_same_nhwc(x, gw)


conv_weight_grad_nhwc.defvjp(_wg_fwd, _wg_bwd)


@partial(jax.custom_vjp, nondiff_argnums=(3,))
def batch_norm_nhwc(x: Array, weight: Array, bias: Array, eps: float) -> Array:
    """Batch-statistics BatchNorm of `[n, h, w, c]` over (n, h, w), scaled and shifted.

    Two-pass statistics (mean, then the mean of squared deviations: no cancellation when
    |mean| >> std). Backward in closed form, `dx = w·r·(g − mean(g) − x̂·mean(g·x̂))` with
    `r = 1/sqrt(var + eps)`: two reductions and one elementwise pass, in plain JAX so it can
    be differentiated again.
    """
    return _bn_fwd(x, weight, bias, eps)[0]


def _bn_stats(x, eps):
    axes = tuple(range(x.ndim - 1))
    mean = jnp.mean(x, axis=axes)
    d = x - mean
    r = lax.rsqrt(jnp.mean(d * d, axis=axes) + eps)
    return d * r, r


def _bn_fwd(x, weight, bias, eps):
    xhat, r = _bn_stats(x, eps)
    return xhat * weight + bias, (xhat, r, weight)


def _bn_bwd(eps, res, g):
    xhat, r, weight = res
    axes = tuple(range(g.ndim - 1))
    db = jnp.sum(g, axis=axes)
    dw = jnp.sum(g * xhat, axis=axes)
    m = g.size // g.shape[-1]
    dx = (weight * r) * (g - db / m - xhat * (dw / m))
    return dx, dw, db


batch_norm_nhwc.defvjp(_bn_fwd, _bn_bwd)


def _pool_windows(x: Array) -> Array:
    n, h, w, c = x.shape
    return x.reshape(n, h // 2, 2, w // 2, 2, c)


@jax.custom_vjp
def _max_pool_even(x: Array) -> Array:
    return jnp.max(_pool_windows(x), axis=(2, 4))


def _pool_fwd(x):
    # The winner of each window is chosen once, here, and the output is read from it: the
    # backward routes by this index and never compares floats again. (Comparing a recomputed
    # input with the pooled output can fail under jit, where XLA may evaluate the input in two
    # fusions that round differently; every mismatch sent the gradient to the wrong entry.)
    # Row-major window index 0..3 of the first maximum (as `reduce_window`'s gradient), by
    # elementwise selects: an `argmax` + gather here cost ~10x the whole pool on XLA:CPU.
    x6 = _pool_windows(x)
    a, b = x6[:, :, 0, :, 0, :], x6[:, :, 0, :, 1, :]
    c, d = x6[:, :, 1, :, 0, :], x6[:, :, 1, :, 1, :]
    top, bottom = jnp.maximum(a, b), jnp.maximum(c, d)
    second = bottom > top  # the first maximum stays in the top row on ties
    y = jnp.where(second, bottom, top)
    idx = jnp.where(second, 2 + (d > c).astype(jnp.int8), (b > a).astype(jnp.int8))
    return y, idx


def _pool_bwd(idx, g):
    # One elementwise select in the input's own [n, h, w, c] shape: each entry takes its
    # window's gradient where its position (row-major 0..3) is the window's index. Stacking
    # four masked copies, or building [n, h/2, 2, w/2, 2, c] and reshaping, made XLA write
    # the full-size gradient two or three times, each time recomputing the forward pass
    # (BatchNorm and window index) that produces `idx` (measured in
    # docs/benchmarks/maml_torch.md, 2026-12-02 afternoon).
    n, h2, w2, c = g.shape

    def up(a):  # nearest-neighbour 2x upsampling, [n, h2, w2, c] -> [n, 2 h2, 2 w2, c]
        a6 = jnp.broadcast_to(a[:, :, None, :, None, :], (n, h2, 2, w2, 2, c))
        return a6.reshape(n, 2 * h2, 2 * w2, c)

    row = lax.broadcasted_iota(jnp.int8, (1, 2 * h2, 2 * w2, 1), 1) % 2
    col = lax.broadcasted_iota(jnp.int8, (1, 2 * h2, 2 * w2, 1), 2) % 2
    gu = up(g)
    return (jnp.where(up(idx) == 2 * row + col, gu, jnp.zeros_like(gu)),)


_max_pool_even.defvjp(_pool_fwd, _pool_bwd)


def max_pool_2x2_nhwc(x: Array) -> Array:
    """2×2 max-pooling with stride 2 (floor) of `[n, h, w, c]`.

    Backward: the gradient goes to the (first) maximum of each window, by the window index
    chosen in the forward pass; linear in the incoming gradient, so it differentiates again.
    Max-pooling commutes with any increasing elementwise map (ReLU, LeakyReLU), so
    `act(pool(x)) == pool(act(x))` and the callers activate after pooling, on 4× fewer values.
    """
    h, w = x.shape[1], x.shape[2]
    return _max_pool_even(x[:, : 2 * (h // 2), : 2 * (w // 2), :])
