"""Helpers of tests/train: a tiny 14-class dataset of 8x8 images and a tiny network."""

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

from metagrad.data import from_arrays


class TinyNet(eqx.Module):
    """features(x) = relu(flatten(x) W); a linear head of n_out outputs (fast to compile)."""

    w: jax.Array
    head: eqx.nn.Linear

    def __init__(self, n_out, *, d=64, h=8, key):
        k1, k2 = jr.split(key)
        self.w = jr.normal(k1, (d, h), jnp.float32) / np.sqrt(d)
        self.head = eqx.nn.Linear(h, n_out, key=k2, dtype=jnp.float32)

    def features(self, x):
        return jax.nn.relu(x.reshape(x.shape[0], -1) @ self.w)

    def __call__(self, x):
        return self.features(x) @ self.head.weight.T + self.head.bias


def tiny_dataset(seed=0):
    """14 classes (8/3/3), 8 images each: a class prototype plus pixel noise, 1x8x8."""
    rng = np.random.default_rng(seed)
    protos = rng.integers(0, 256, (14, 1, 8, 8))
    per = [np.clip(p + rng.normal(0, 60, (8, 1, 8, 8)), 0, 255).astype(np.uint8) for p in protos]
    splits = ["train"] * 8 + ["val"] * 3 + ["test"] * 3
    return from_arrays(per, [f"c{i}" for i in range(14)], splits, name="tiny")
