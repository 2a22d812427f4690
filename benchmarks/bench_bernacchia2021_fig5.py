"""Benchmark: the meta-training of `bernacchia2021.fig5` (second-order MAML, width-400 ReLU net).

Cost per α_t-step (one full-batch outer step of one α_t and one training seed) at the paper's
network (p = 60, width 400, depth 2, m = 3 tasks of 30 + 2 points, float64), three layouts of the
same computation side by side in one process (same inputs, compilation excluded, min of repeats,
``block_until_ready``):
  * per seed, vmap over α_t: the study's ``run`` before and after (one compiled scan per seed);
  * one α_t at a time: a loop over seeds and α_t of one compiled single-α_t scan;
  * seeds × α_t in one vmapped scan (the idea of the performance issue).
The final meta-training losses of the three layouts are asserted equal (1e-10 relative).

Run: python benchmarks/bench_bernacchia2021_fig5.py [outer_steps] [n_alpha] [n_seeds]
"""

import dataclasses
import os
import platform
import sys
import time

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

import metagrad  # noqa: F401  (float64)
from metagrad.experiments.bernacchia2021_nn import Fig5Config, meta_train_fixed
from metagrad.models import MLP
from metagrad.tasks import sample_quadratic_tasks


def main() -> None:
    steps, n_alpha, n_seeds = (
        int(a) for a in (sys.argv[1:] + ["5", "4", "2"][len(sys.argv) - 1 :])
    )
    cfg = dataclasses.replace(Fig5Config(), outer_steps=steps)
    alphas = jnp.linspace(-0.015, 0.0075, n_alpha)

    def setup(key):
        k1, k2 = jr.split(key)
        model = MLP(cfg.p, 1, cfg.width, cfg.depth, dtype=jnp.float64, init="normal", key=k1)
        tasks = sample_quadratic_tasks(
            k2,
            n_tasks=cfg.m,
            n_support=cfg.n_t,
            n_query=cfg.n_v,
            p=cfg.p,
            nu=cfg.nu,
            sigma=cfg.sigma,
        )
        return model, tasks

    def train(key, a):
        return meta_train_fixed(*setup(key), a, cfg)[1][-1]

    keys = jr.split(jr.key(0), n_seeds)
    per_seed = jax.jit(jax.vmap(train, in_axes=(None, 0)))
    single = jax.jit(train)
    both = jax.jit(jax.vmap(jax.vmap(train, in_axes=(None, 0)), in_axes=(0, None)))
    layouts = {
        "per seed, vmap over alpha_t": lambda: np.stack([per_seed(k, alphas) for k in keys]),
        "one alpha_t at a time": lambda: np.array([[single(k, a) for a in alphas] for k in keys]),
        "seeds x alpha_t vmapped": lambda: np.asarray(both(keys, alphas)),
    }
    ref = None
    for f in layouts.values():  # compile, and the same numbers from every layout
        out = np.asarray(jax.block_until_ready(f()))
        ref = out if ref is None else ref
        assert np.allclose(out, ref, rtol=1e-10, atol=0), (out, ref)
    best = dict.fromkeys(layouts, np.inf)
    for _ in range(3):
        for name, f in layouts.items():
            t0 = time.perf_counter()
            jax.block_until_ready(f())
            best[name] = min(best[name], (time.perf_counter() - t0) / (steps * n_alpha * n_seeds))
    load = os.getloadavg()[0]
    print(f"{n_seeds} seeds x {n_alpha} alpha_t x {steps} outer steps, paper network, float64")
    print("| layout | ms per alpha_t-step | vs per-seed vmap |")
    print("|---|---|---|")
    base = best["per seed, vmap over alpha_t"]
    for name, t in best.items():
        print(f"| {name} | {t * 1e3:.1f} | {base / t:.2f}x |")
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, jax {jax.__version__}, "
        f"load average {load:.2f} (CPU shared)"
    )


if __name__ == "__main__":
    main()
