"""ResNet-12 (Oreshkin et al. 2018; the RFS/MetaOptNet variant used by Wang, Zhao, Li 2021)."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, PRNGKeyArray

from metagrad.models._norm import BatchStatNorm, conv_batch, max_pool_2x2

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

    def __call__(self, x: Array) -> Array:
        act = lambda z: jax.nn.leaky_relu(z, 0.1)
        h = x
        for i, (conv, norm) in enumerate(zip(self.convs, self.norms)):
            h = norm(conv_batch(conv, h))
            h = act(h) if i < 2 else h
        h = act(h + self.short_norm(conv_batch(self.short_conv, x)))
        return max_pool_2x2(h)


class ResNet12(eqx.Module):
    """ResNet-12: four residual blocks (64-160-320-640 channels), global average pool, `head`.

    As in RFS / MetaOptNet (the backbone of Wang, Zhao, Li 2021's MTL), minus DropBlock. BatchNorm uses
    batch statistics, no running state (see `BatchStatNorm`); convolutions have no bias;
    equinox's default initialisation (the paper's code uses kaiming-normal). Maps
    `[n, c, h, w]` (h, w >= 16) to `[n, n_out]`; `features` are the pooled `[n, channels[-1]]`.
    """

    blocks: tuple[_Block, ...]
    head: eqx.nn.Linear

    def __init__(
        self,
        n_out: int,
        channels: tuple[int, ...] = (64, 160, 320, 640),
        *,
        in_channels: int = 3,
        dtype=jnp.float32,
        key: PRNGKeyArray,
    ):
        if n_out < 1 or len(channels) != 4 or min(channels) < 1:
            raise ValueError(
                f"ResNet12: n_out={n_out} must be >= 1 and channels={channels} 4 positive ints"
            )
        keys = jr.split(key, 5)
        chans = (in_channels, *channels)
        self.blocks = tuple(
            _Block(a, b, dtype=dtype, key=k) for a, b, k in zip(chans[:-1], chans[1:], keys[:4])
        )
        self.head = eqx.nn.Linear(channels[-1], n_out, key=keys[4], dtype=dtype)

    def features(self, x: Array) -> Array:
        """Globally average-pooled features `[n, channels[-1]]`."""
        for block in self.blocks:
            x = block(x)
        return jnp.mean(x, axis=(2, 3))

    def __call__(self, x: Array) -> Array:
        """Logits `[n, n_out]`."""
        return self.features(x) @ self.head.weight.T + self.head.bias
