"""Benchmark: `EpisodeSampler` against a per-episode NumPy sampler, like for like.

Both sides produce the same thing from the same memory-mapped uint8 store (glyphs train split,
246 classes x 20 images, 28x28): a batch of episodes as support and query image arrays
`[tasks, N*K, 1, 28, 28]` and `[tasks, N*Q, 1, 28, 28]` with labels, either

- **uint8** (the stored bytes; the consumer converts inside its jitted step), or
- **float32** in [0, 1] (as `EpisodeSampler.sample` returns by default).

NumPy reference, one episode at a time: `rng.choice` of N classes, `rng.choice` of K+Q images
in each class, one fancy index from the memory map, split into support and query (and, for
float32, `astype(float32) / 255`), then the batch is stacked. `EpisodeSampler.sample`: the
indices of all episodes in one jitted, vmapped call, one fancy index from the memory map, one
uint8 host-to-device copy, conversion and split in one jitted call. Compilation is excluded
(warm-up), `block_until_ready`, min of repeats, both sides in one process.

Run: python benchmarks/bench_episodes.py [--tasks 2000] [--batch 32]
"""

from __future__ import annotations

import argparse
import os
import platform
import timeit

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

from metagrad.data import EpisodeSampler, glyphs


def numpy_episodes(ds, n_episodes, n_way, shot, query, rng, dtype):
    """Reference sampler: one episode at a time with NumPy's Generator.choice, then stacked."""
    off, cnt = ds.offsets, ds.counts
    xs, xq, cls_all = [], [], []
    for _ in range(n_episodes):
        cls = rng.choice(len(cnt), n_way, replace=False)
        rows = np.stack([off[c] + rng.choice(cnt[c], shot + query, replace=False) for c in cls])
        imgs = ds.images[rows.reshape(-1)].reshape(n_way, shot + query, *ds.image_shape)
        if dtype != np.uint8:
            imgs = imgs.astype(dtype) / dtype(255)
        xs.append(imgs[:, :shot].reshape(n_way * shot, *ds.image_shape))
        xq.append(imgs[:, shot:].reshape(n_way * query, *ds.image_shape))
        cls_all.append(cls)
    ys = np.tile(np.repeat(np.arange(n_way), shot), (n_episodes, 1))
    yq = np.tile(np.repeat(np.arange(n_way), query), (n_episodes, 1))
    return np.stack(xs), ys, np.stack(xq), yq, np.stack(cls_all)


def _time(fn, repeat):
    fn()  # warm-up (compilation for JAX)
    return min(timeit.repeat(fn, number=1, repeat=repeat))


def row(train, n, shot, dtype, repeat=3, n_way=5, query=15):
    """(label, NumPy episodes/s, JAX episodes/s) for batches of `n` episodes."""
    s = EpisodeSampler(train, n_way, shot, query, dtype=dtype)
    keys = iter(jr.split(jr.PRNGKey(shot), 1000))
    t_jax = _time(lambda: jax.block_until_ready(s.sample(next(keys), n)), repeat)
    rng = np.random.default_rng(0)
    npdt = np.dtype(dtype).type
    t_np = _time(lambda: numpy_episodes(train, n, n_way, shot, query, rng, npdt), repeat)
    return n / t_np, n / t_jax


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tasks", type=int, default=2000, help="episodes per call (large batch)")
    ap.add_argument("--batch", type=int, default=32, help="episodes per call (meta-batch)")
    ap.add_argument("--data", default=None)
    args = ap.parse_args()
    train = glyphs(size=28, data=args.data).split("train")
    lines = [
        f"Episode sampler, glyphs train ({train.n_classes} classes x {int(train.counts[0])}, "
        "28x28 uint8 memory map), 5-way, 15 queries/class; episodes/s (higher is better)",
        "",
        "| episode | output | episodes per call | NumPy per-episode | EpisodeSampler.sample | ratio |",
        "|---|---|---|---|---|---|",
    ]
    for shot in (1, 5):
        for dtype in (jnp.uint8, jnp.float32):
            for n, rep in ((args.tasks, 3), (args.batch, 20)):
                a, b = row(train, n, shot, dtype, repeat=rep)
                lines.append(
                    f"| 5-way {shot}-shot | {np.dtype(dtype).name} | {n} | {a:,.0f} | {b:,.0f} "
                    f"| {b / a:.1f}x |"
                )
    lines += [
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, jax {jax.__version__}; load average "
        f"{os.getloadavg()[0]:.1f} at the end (shared with other jobs).",
    ]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
