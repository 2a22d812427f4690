"""Benchmark: batched JAX test-time heads and the episode sampler vs the loops they replace.

1. Logistic-regression heads for 2000 5-way test tasks: `LogisticHead` (Newton-CG, vmapped, one
   compiled call) against the scikit-learn loop of Wang, Zhao & Li (2021):
   ``LogisticRegression(C=3, solver='lbfgs', max_iter=1000)`` per task on L2-normalised
   features. Same features (raw 28x28 glyph pixels, 784-d, float32), same process; the
   agreement of the query predictions is recorded.
2. Episode sampling: `EpisodeSampler` (one vmapped JAX call for all episodes' indices, one
   NumPy gather) against a per-episode NumPy sampler (`rng.choice` per episode and class).

Run: python benchmarks/bench_fewshot_heads.py [--tasks 2000] [--sk-tasks 2000]
"""

from __future__ import annotations

import argparse
import os
import platform
import time
import timeit

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from sklearn.linear_model import LogisticRegression

from metagrad.data import EpisodeSampler, LogisticHead, glyphs, l2_normalize, predict_batch


def sklearn_loop(xs, ys, xq, C=3.0):
    """Per-task scikit-learn fits (the paper's test-time protocol)."""
    preds = []
    for s, y, q in zip(xs, ys, xq):
        clf = LogisticRegression(C=C, solver="lbfgs", max_iter=1000, random_state=0)
        clf.fit(s, y)
        preds.append(clf.predict(q))
    return np.stack(preds)


def numpy_episodes(ds, n_episodes, n_way, per_class, rng):
    """Reference sampler: one episode at a time with NumPy's Generator.choice."""
    off, cnt = ds.offsets, ds.counts
    out = []
    for _ in range(n_episodes):
        cls = rng.choice(len(cnt), n_way, replace=False)
        rows = [off[c] + rng.choice(cnt[c], per_class, replace=False) for c in cls]
        out.append(ds.images[np.concatenate(rows)])
    return out


def bench_heads(ds, tasks, sk_tasks, shot, rows):
    sampler = EpisodeSampler(ds.split("test"), 5, shot, 15)
    t = sampler.sample(jr.PRNGKey(shot), tasks)
    flat = lambda x: x.reshape(*x.shape[:2], -1)
    xs, xq, ys = flat(t.x_support), flat(t.x_query), t.y_support
    head = LogisticHead(C=3.0)
    run = lambda: predict_batch(head, xs, ys, xq, n_way=5).block_until_ready()
    logits = run()  # warm-up (compilation)
    t_jax = min(timeit.repeat(run, number=1, repeat=3))
    ns, nq = np.asarray(l2_normalize(xs[:sk_tasks])), np.asarray(l2_normalize(xq[:sk_tasks]))
    t0 = time.perf_counter()
    sk = sklearn_loop(ns, np.asarray(ys[:sk_tasks]), nq)
    t_sk = (time.perf_counter() - t0) * tasks / sk_tasks
    pj = np.asarray(jnp.argmax(logits, -1))
    agree = float(np.mean(pj[:sk_tasks] == sk))
    yq = np.asarray(t.y_query)
    acc_j, acc_s = (
        float(np.mean(pj[:sk_tasks] == yq[:sk_tasks])),
        float(np.mean(sk == yq[:sk_tasks])),
    )
    rows.append((f"5-way {shot}-shot", t_sk, t_jax, agree, acc_s, acc_j))


def _sampler_row(train, n, n_way, shot, q):
    s = EpisodeSampler(train, n_way, shot, q)
    s.sample(jr.PRNGKey(0), n)  # warm-up
    t_idx = min(
        timeit.repeat(
            lambda: s.indices(jr.PRNGKey(1), n)[0].block_until_ready(), number=1, repeat=3
        )
    )
    t_all = min(
        timeit.repeat(
            lambda: s.sample(jr.PRNGKey(2), n).x_query.block_until_ready(), number=1, repeat=3
        )
    )
    rng = np.random.default_rng(0)
    t_np = min(
        timeit.repeat(lambda: numpy_episodes(train, n, n_way, shot + q, rng), number=1, repeat=3)
    )
    return (f"{n_way}-way {shot}-shot {q}-query", n / t_np, n / t_idx, n / t_all)


def bench_sampler(ds, n, rows):
    for n_way, shot, q in ((5, 1, 15), (5, 5, 15)):
        rows.append(_sampler_row(ds.split("train"), n, n_way, shot, q))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tasks", type=int, default=2000)
    ap.add_argument("--sk-tasks", type=int, default=2000, help="tasks timed with sklearn")
    ap.add_argument("--data", default=None)
    args = ap.parse_args()
    ds = glyphs(size=28, data=args.data)
    heads, samp = [], []
    for shot in (1, 5):
        bench_heads(ds, args.tasks, min(args.sk_tasks, args.tasks), shot, heads)
    bench_sampler(ds, args.tasks, samp)
    lines = [
        f"Logistic-regression test heads, {args.tasks} tasks, 15 queries/class, glyphs 28x28 raw "
        f"pixels (784-d float32, L2-normalised), C = 3 (sklearn timed on {min(args.sk_tasks, args.tasks)} tasks, scaled to {args.tasks})",
        "",
        "| setting | sklearn loop (s) | JAX batched (s) | speed-up | prediction agreement | acc. sklearn | acc. JAX |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {s} | {a:.2f} | {b:.3f} | {a / b:.0f}x | {g:.4f} | {u:.4f} | {v:.4f} |"
        for s, a, b, g, u, v in heads
    ]
    lines += [
        "",
        f"Episode sampler, {args.tasks} episodes from glyphs train (246 classes x 20)",
        "",
        "| episode | NumPy per-episode (episodes/s) | JAX indices only (episodes/s) | JAX indices + image gather (episodes/s) | ratio (gather) |",
        "|---|---|---|---|---|",
    ]
    lines += [f"| {s} | {a:,.0f} | {b:,.0f} | {c:,.0f} | {c / a:.1f}x |" for s, a, b, c in samp]
    lines += [
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"jax {jax.__version__}; load average {os.getloadavg()[0]:.0f} (shared with other jobs).",
    ]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
