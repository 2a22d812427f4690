"""ResNet-12 (Oreshkin et al. 2018; the RFS/MetaOptNet variant used by Wang, Zhao, Li 2021)."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, PRNGKeyArray

from metagrad.models._norm import (
    CONV_IMPLS,
    BatchStatNorm,
    conv_batch,
    conv_nhwc,
    max_pool_2x2,
    norm_nhwc,
    pool_act_nhwc,
)

_act = lambda z: jax.nn.leaky_relu(z, 0.1)

__all__ = ["ResNet12"]


class _Block(eqx.Module):
    """Three 3×3 conv–BN(–LeakyReLU 0.1) layers, a 1×1 conv–BN shortcut, add, act, pool."""

    convs: tuple[eqx.nn.Conv2d, ...]
    norms: tuple[BatchStatNorm, ...]
    short_conv: eqx.nn.Conv2d
    short_norm: BatchStatNorm

    def __init__(self, c_in: int, c_out: int, *, dtype, key: PRNGKeyArray):
        k = jr.split(key, 4)
        chans = [c_in, c_out, c_out, c_out]
        self.convs = tuple(
            eqx.nn.Conv2d(a, b, 3, padding=1, use_bias=False, key=kk, dtype=dtype)
            for a, b, kk in zip(chans[:-1], chans[1:], k[:3])
        )
        self.norms = tuple(BatchStatNorm(c_out, dtype=dtype) for _ in range(3))
        self.short_conv = eqx.nn.Conv2d(c_in, c_out, 1, use_bias=False, key=k[3], dtype=dtype)
        self.short_norm = BatchStatNorm(c_out, dtype=dtype)

    def __call__(self, x: Array, conv_impl: str = "matmul") -> Array:
        """NCHW in and out for the plain `conv_impl`s, NHWC for `"fast"`."""
        h = x
        if conv_impl == "fast":
            for i, (conv, norm) in enumerate(zip(self.convs, self.norms)):
                h = norm_nhwc(norm, conv_nhwc(conv, h))
                h = _act(h) if i < 2 else h
            h = h + norm_nhwc(self.short_norm, conv_nhwc(self.short_conv, x))
            return pool_act_nhwc(h, _act)  # LeakyReLU is increasing: pool first
        for i, (conv, norm) in enumerate(zip(self.convs, self.norms)):
            h = norm(conv_batch(conv, h, impl=conv_impl))
            h = _act(h) if i < 2 else h
        h = _act(h + self.short_norm(conv_batch(self.short_conv, x, impl=conv_impl)))
        return max_pool_2x2(h)


class ResNet12(eqx.Module):
    """ResNet-12: four residual blocks (64-160-320-640 channels), global average pool, `head`.

    As in RFS / MetaOptNet (the backbone of Wang, Zhao, Li 2021's MTL), minus DropBlock. BatchNorm uses
    batch statistics, no running state (see `BatchStatNorm`); convolutions have no bias;
    equinox's default initialisation (the paper's code uses kaiming-normal). `conv_impl` as
    in `Conv4` (`"fast"` default; `"matmul"`, `"xla"` the plain reference layers). Maps
    `[n, c, h, w]` (h, w >= 16) to `[n, n_out]`; `features` are the pooled `[n, channels[-1]]`.
    """

    blocks: tuple[_Block, ...]
    head: eqx.nn.Linear
    conv_impl: str = eqx.field(static=True, default="fast")

    def __init__(
        self,
        n_out: int,
        channels: tuple[int, ...] = (64, 160, 320, 640),
        *,
        in_channels: int = 3,
        dtype=jnp.float32,
        conv_impl: str = "fast",
        key: PRNGKeyArray,
    ):
        if n_out < 1 or len(channels) != 4 or min(channels) < 1:
            raise ValueError(
                f"ResNet12: n_out={n_out} must be >= 1 and channels={channels} 4 positive ints"
            )
        if conv_impl not in CONV_IMPLS:
            raise ValueError(f"ResNet12: conv_impl={conv_impl!r} must be one of {CONV_IMPLS}")
        self.conv_impl = conv_impl
        keys = jr.split(key, 5)
        chans = (in_channels, *channels)
        self.blocks = tuple(
            _Block(a, b, dtype=dtype, key=k) for a, b, k in zip(chans[:-1], chans[1:], keys[:4])
        )
        self.head = eqx.nn.Linear(channels[-1], n_out, key=keys[4], dtype=dtype)

    def features(self, x: Array) -> Array:
        """Globally average-pooled features `[n, channels[-1]]`."""
        if self.conv_impl == "fast":
            x = jnp.transpose(x, (0, 2, 3, 1))
            for block in self.blocks:
                x = block(x, "fast")
            return jnp.mean(x, axis=(1, 2))
        for block in self.blocks:
            x = block(x, self.conv_impl)
        return jnp.mean(x, axis=(2, 3))

    def __call__(self, x: Array) -> Array:
        """Logits `[n, n_out]`."""
        return self.features(x) @ self.head.weight.T + self.head.bias
