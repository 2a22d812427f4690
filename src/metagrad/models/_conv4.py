"""Conv-4 (Vinyals et al. 2016; Finn et al. 2017): four conv–BN–ReLU–pool blocks and a head."""

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

__all__ = ["Conv4"]


class Conv4(eqx.Module):
    """Conv-4 backbone (3×3 conv, BatchNorm, ReLU, 2×2 max-pool; ×4) plus a linear `head`.

    On 28×28 inputs the spatial size goes 28→14→7→3→1, so the features are the `filters`
    channels (flattened for other sizes). BatchNorm uses batch statistics (`BatchStatNorm`):
    no running state. Maps a batch `[n, channels, h, w]` to logits `[n, n_out]`.

    Args:
        n_out: outputs (N ways), >= 1.
        filters: channels per block, 32 or 64 in the literature (any >= 1 allowed).
        in_channels: image channels (1 for Omniglot-like, 3 for RGB).
        image_size: input height = width, >= 16 (four halvings).
        dtype: parameter dtype (float32 default).
        conv_impl: how the conv–BN–ReLU–pool blocks are computed. `"fast"` (default):
            channels-last inside, hand-written backward rules for convolution, BatchNorm
            and max-pool that differentiate again (second-order MAML), see
            `metagrad.models._fast`. `"matmul"` / `"xla"`: the plain NCHW layers
            differentiated by JAX (im2col + matrix product, or XLA's convolution; see
            `conv_batch`), kept for reference. Same parameters and, up to round-off, the
            same outputs and derivatives; speeds in docs/benchmarks/maml_torch.md.
        key: `jax.random` key.
    """

    convs: tuple[eqx.nn.Conv2d, ...]
    norms: tuple[BatchStatNorm, ...]
    head: eqx.nn.Linear
    conv_impl: str = eqx.field(static=True, default="fast")

    def __init__(
        self,
        n_out: int,
        filters: int = 64,
        *,
        in_channels: int = 1,
        image_size: int = 28,
        dtype=jnp.float32,
        conv_impl: str = "fast",
        key: PRNGKeyArray,
    ):
        if n_out < 1 or filters < 1 or in_channels < 1:
            raise ValueError(
                f"Conv4: n_out={n_out}, filters={filters}, in_channels={in_channels} must be >= 1"
            )
        if image_size < 16:
            raise ValueError(f"Conv4: image_size={image_size} must be >= 16 (four 2x2 pools)")
        if conv_impl not in CONV_IMPLS:
            raise ValueError(f"Conv4: conv_impl={conv_impl!r} must be one of {CONV_IMPLS}")
        self.conv_impl = conv_impl
        keys = jr.split(key, 5)
        chans = [in_channels] + [filters] * 4
        self.convs = tuple(
            eqx.nn.Conv2d(a, b, 3, padding=1, key=k, dtype=dtype)
            for a, b, k in zip(chans[:-1], chans[1:], keys[:4])
        )
        self.norms = tuple(BatchStatNorm(filters, dtype=dtype) for _ in range(4))
        side = image_size
        for _ in range(4):
            side //= 2
        self.head = eqx.nn.Linear(filters * side * side, n_out, key=keys[4], dtype=dtype)

    def features(self, x: Array) -> Array:
        """Flattened backbone features `[n, filters·s·s]` of a batch `[n, c, h, w]`."""
        if self.conv_impl == "fast":
            x = jnp.transpose(x, (0, 2, 3, 1))
            for conv, norm in zip(self.convs, self.norms):
                x = pool_act_nhwc(norm_nhwc(norm, conv_nhwc(conv, x)), jax.nn.relu)
            return jnp.transpose(x, (0, 3, 1, 2)).reshape(x.shape[0], -1)
        for conv, norm in zip(self.convs, self.norms):
            x = max_pool_2x2(jax.nn.relu(norm(conv_batch(conv, x, impl=self.conv_impl))))
        return x.reshape(x.shape[0], -1)

    def __call__(self, x: Array) -> Array:
        """Logits `[n, n_out]`."""
        return self.features(x) @ self.head.weight.T + self.head.bias
