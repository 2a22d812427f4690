"""Synthetic N-way K-shot image tasks (no dataset download needed).

A "dataset" is a set of class prototypes: smooth random images (a Gaussian 7×7 field upsampled
bilinearly to the image size, normalised to unit variance). A sample of class c is its prototype
plus i.i.d. Gaussian pixel noise of standard deviation `noise`. Tasks draw N distinct classes,
K support and Q query samples per class; labels are 0..N-1 in the order of `Task.classes`
(the global class ids, used by MTL's global head). This is a stand-in for Omniglot /
mini-ImageNet with the same tensor shapes, for tests and benchmarks; it is NOT a benchmark of
few-shot accuracy.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, PRNGKeyArray

from metagrad.tasks._task import Task

__all__ = ["make_prototypes", "sample_fewshot", "sample_fewshot_batch"]


def make_prototypes(
    *, key: PRNGKeyArray, n_classes: int, size: int = 28, channels: int = 1, dtype=jnp.float32
) -> Array:
    """Class prototypes `[n_classes, channels, size, size]`, smooth, unit pixel variance."""
    if n_classes < 2 or size < 7 or channels < 1:
        raise ValueError(
            f"make_prototypes: n_classes={n_classes} must be >= 2, size={size} >= 7, "
            f"channels={channels} >= 1"
        )
    coarse = jr.normal(key, (n_classes, channels, 7, 7), dtype)
    fine = jax.image.resize(coarse, (n_classes, channels, size, size), "bilinear")
    return fine / jnp.std(fine, axis=(1, 2, 3), keepdims=True)


def _check(prototypes: Array, n_way: int, k_shot: int, n_query: int) -> None:
    if not 2 <= n_way <= prototypes.shape[0]:
        raise ValueError(f"fewshot: n_way={n_way} must be in [2, {prototypes.shape[0]}]")
    if k_shot < 1 or n_query < 1:
        raise ValueError(f"fewshot: k_shot={k_shot} and n_query={n_query} must be >= 1")


def sample_fewshot(
    *,
    key: PRNGKeyArray,
    prototypes: Array,
    n_way: int = 5,
    k_shot: int = 1,
    n_query: int = 15,
    noise: float = 1.0,
) -> Task:
    """One N-way K-shot task; `x_*` are `[N·K, c, s, s]` / `[N·Q, c, s, s]`, labels int32."""
    _check(prototypes, n_way, k_shot, n_query)
    kc, ks, kq = jr.split(key, 3)
    classes = jr.choice(kc, prototypes.shape[0], (n_way,), replace=False)
    protos = prototypes[classes]

    def draw(k, per_class):
        eps = jr.normal(k, (n_way, per_class, *protos.shape[1:]), protos.dtype)
        x = (protos[:, None] + noise * eps).reshape(n_way * per_class, *protos.shape[1:])
        return x, jnp.repeat(jnp.arange(n_way, dtype=jnp.int32), per_class)

    xs, ys = draw(ks, k_shot)
    xq, yq = draw(kq, n_query)
    return Task(xs, ys, xq, yq, classes.astype(jnp.int32))


def sample_fewshot_batch(*, key: PRNGKeyArray, tasks: int, prototypes: Array, **kw) -> Task:
    """A meta-batch of `tasks` independent tasks (leading task axis on every field)."""
    if tasks < 1:
        raise ValueError(f"fewshot: tasks={tasks} must be >= 1")
    _check(prototypes, kw.get("n_way", 5), kw.get("k_shot", 1), kw.get("n_query", 15))
    return jax.vmap(lambda k: sample_fewshot(key=k, prototypes=prototypes, **kw))(
        jr.split(key, tasks)
    )
