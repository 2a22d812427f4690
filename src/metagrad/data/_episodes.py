"""N-way K-shot episode sampling from a `ClassDataset`.

The random part is a pure JAX function of a key (`episode_indices`): it draws N distinct classes
and, inside each class, K + Q distinct images, and returns their row numbers in the image array.
It is deterministic given the key and `jax.vmap`s over keys, so a batch of thousands of episodes
costs one compiled call. Images are then gathered from the (memory-mapped) uint8 array with one
NumPy fancy index, or, with ``device=True``, inside JAX from a device copy of a small dataset.
"""

from __future__ import annotations

import dataclasses
from functools import partial

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jaxtyping import Array, Int, PRNGKeyArray

from metagrad.data._store import ClassDataset
from metagrad.tasks._task import Task

__all__ = ["EpisodeSampler", "episode_indices", "check_episode_shape"]


@partial(jax.jit, static_argnames=("n_way", "n_per_class", "max_count"))
def _indices(key, counts, offsets, *, n_way, n_per_class, max_count):
    kc, ki = jr.split(key)
    classes = jr.choice(kc, counts.shape[0], (n_way,), replace=False)
    # K+Q distinct images of class c: the top-(K+Q) of i.i.d. uniforms over its counts[c] slots
    # (slots past the class's end get -1 and are never chosen, since counts >= K+Q is checked).
    u = jr.uniform(ki, (n_way, max_count))
    valid = jnp.arange(max_count)[None, :] < counts[classes][:, None]
    _, within = jax.lax.top_k(jnp.where(valid, u, -1.0), n_per_class)
    return offsets[classes][:, None] + within, classes


def episode_indices(
    *,
    key: PRNGKeyArray,
    counts: Int[Array, " n_classes"],
    offsets: Int[Array, " n_classes"],
    n_way: int,
    n_per_class: int,
    max_count: int,
) -> tuple[Int[Array, "n_way n_per_class"], Int[Array, " n_way"]]:
    """Row numbers of one episode: N distinct classes, `n_per_class` distinct images in each.

    Pure, jitted and vmappable over `key`. The caller guarantees `2 <= n_way <= n_classes` and
    `n_per_class <= min(counts)` (`EpisodeSampler` checks this with a clear error).

    Args:
        key: `jax.random` key.
        counts: images per class `[n_classes]`; offsets: first row of each class `[n_classes]`.
        n_way: classes per episode N.
        n_per_class: K + Q (support plus query images per class).
        max_count: `max(counts)` (static).

    Returns:
        `(rows [n_way, n_per_class], classes [n_way])`: global rows, and the class index of
        each way (way i gets label i).
    """
    return _indices(key, counts, offsets, n_way=n_way, n_per_class=n_per_class, max_count=max_count)


def check_episode_shape(ds: ClassDataset, *, n_way: int, n_shot: int, n_query: int) -> None:
    """Raise a `ValueError` naming the parameter or the class when `ds` cannot give such episodes."""
    for name, v in (("n_shot", n_shot), ("n_query", n_query)):
        if not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{name}={v!r} must be an integer >= 1")
    if not isinstance(n_way, (int, np.integer)) or not 2 <= n_way <= ds.n_classes:
        raise ValueError(
            f"n_way={n_way!r} must be in [2, {ds.n_classes}]: {ds.name} has {ds.n_classes} classes"
        )
    short = np.flatnonzero(ds.counts < n_shot + n_query)
    if short.size:
        j = int(short[0])
        raise ValueError(
            f"{ds.name}: class {ds.class_names[j]!r} has {int(ds.counts[j])} images, fewer than "
            f"n_shot + n_query = {n_shot} + {n_query}; {short.size} classes are this small "
            f"(smallest class has {int(ds.counts.min())}): lower n_shot/n_query"
        )


@dataclasses.dataclass(frozen=True)
class EpisodeSampler:
    """Draws batches of N-way K-shot episodes from one split.

    Labels are remapped to 0..N-1 in the order of `Task.classes` (the split's class indices,
    which MTL's global head uses). Images come out as `dtype` `[.., c, h, w]`: floats in [0, 1]
    (default float32), or, with ``dtype=jnp.uint8``, the stored bytes unchanged (for a consumer
    that converts inside its own jitted step). Support rows are class-major
    (`y_support = repeat(arange(N), K)`), likewise the query.

    One `sample` call is one compiled JAX call for the row numbers of all episodes
    (`episode_indices` vmapped over keys), one NumPy fancy index into the (memory-mapped) uint8
    array, one uint8 host-to-device copy, and one compiled call that converts and splits
    support from query on the device.

    Args:
        dataset: a `ClassDataset` (usually `ds.split("train")`).
        n_way: N, in [2, n_classes]. n_shot: K >= 1. n_query: Q >= 1 per class.
        device: keep a device copy of the images and gather inside JAX (small datasets only).
        dtype: a float dtype (images scaled to [0, 1]) or ``jnp.uint8`` (raw bytes).
    """

    dataset: ClassDataset
    n_way: int
    n_shot: int
    n_query: int
    device: bool = False
    dtype: object = jnp.float32

    def __post_init__(self) -> None:
        check_episode_shape(
            self.dataset, n_way=self.n_way, n_shot=self.n_shot, n_query=self.n_query
        )
        dt = np.dtype(self.dtype)
        if dt != np.uint8 and not np.issubdtype(dt, np.floating):
            raise ValueError(f"dtype={self.dtype!r} must be a float dtype or uint8")
        ds = self.dataset
        object.__setattr__(self, "_counts", jnp.asarray(ds.counts, jnp.int32))
        object.__setattr__(self, "_offsets", jnp.asarray(ds.offsets, jnp.int32))
        object.__setattr__(self, "_dev", jnp.asarray(ds.images) if self.device else None)

    def indices(
        self, key: PRNGKeyArray, n_tasks: int
    ) -> tuple[Int[Array, "tasks n_way kq"], Int[Array, "tasks n_way"]]:
        """Rows `[n_tasks, N, K+Q]` and classes `[n_tasks, N]` of `n_tasks` episodes.

        Episode i is `episode_indices(key=jr.split(key, n_tasks)[i], ...)`.
        """
        if not isinstance(n_tasks, (int, np.integer)) or n_tasks < 1:
            raise ValueError(f"n_tasks={n_tasks!r} must be an integer >= 1")
        return _batch_indices(
            key,
            self._counts,
            self._offsets,
            n_tasks=int(n_tasks),
            n_way=self.n_way,
            n_per_class=self.n_shot + self.n_query,
            max_count=int(self.dataset.counts.max()),
        )

    def sample(self, key: PRNGKeyArray, n_tasks: int) -> Task:
        """A batch of `n_tasks` episodes (leading task axis on every field of the `Task`)."""
        rows, classes = self.indices(key, n_tasks)
        dt = np.dtype(self.dtype)
        if self.device:
            return _device_task(self._dev, rows, classes, self.n_shot, dt)
        imgs = self.dataset.images[np.asarray(rows).reshape(-1)]  # one gather, uint8
        imgs = imgs.reshape(*rows.shape, *self.dataset.image_shape)
        return _host_task(imgs, classes, self.n_shot, dt)


@partial(jax.jit, static_argnames=("n_tasks", "n_way", "n_per_class", "max_count"))
def _batch_indices(key, counts, offsets, *, n_tasks, n_way, n_per_class, max_count):
    f = partial(_indices, n_way=n_way, n_per_class=n_per_class, max_count=max_count)
    return jax.vmap(lambda k: f(k, counts, offsets))(jr.split(key, n_tasks))


def _convert(imgs, dtype):
    return imgs if dtype == np.uint8 else imgs.astype(dtype) / jnp.asarray(255, dtype)


@partial(jax.jit, static_argnums=(3, 4))
def _device_task(images, rows, classes, n_shot, dtype):
    return split_support_query(_convert(images[rows], dtype), classes, n_shot)


@partial(jax.jit, static_argnums=(2, 3))
def _host_task(imgs, classes, n_shot, dtype):
    return split_support_query(_convert(imgs, dtype), classes, n_shot)


def split_support_query(imgs: Array, classes: Array, n_shot: int) -> Task:
    """`[tasks, N, K+Q, ...]` images -> a `Task` batch with class-major rows and 0..N-1 labels."""
    t, n, kq = imgs.shape[:3]
    rest = imgs.shape[3:]
    lab = jnp.broadcast_to(jnp.arange(n, dtype=jnp.int32)[None, :, None], (t, n, kq))
    return Task(
        imgs[:, :, :n_shot].reshape(t, n * n_shot, *rest),
        lab[:, :, :n_shot].reshape(t, -1),
        imgs[:, :, n_shot:].reshape(t, n * (kq - n_shot), *rest),
        lab[:, :, n_shot:].reshape(t, -1),
        classes.astype(jnp.int32),
    )
