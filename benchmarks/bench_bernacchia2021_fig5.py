"""Benchmark: the meta-training of `bernacchia2021.fig5` (second-order MAML, width-400 ReLU net).

Cost per α_t-step (one full-batch outer step of one α_t and one training seed) at the paper's
network (p = 60, width 400, depth 2, m = 3 tasks of 30 + 2 points, float64, optax.sgd), side by
side in one process (same inputs, compilation excluded, ``block_until_ready``, min of alternated
repeats), wall and CPU (process) time:
  * meta-gradient: ``"generic"`` (``maml``/``fo_maml`` + ``meta_step``, the reference) or
    ``"kernel"`` (``mlp_maml_one_step_loss``, the study's: the inner step written out, no adapted
    weight materialised);
  * α_t layout: ``vmap`` over the α_t values (every product a batched one) or ``lax.map`` (one α_t
    after the other, 2-D products; the study's);
  * second order (the paper's) and first order (the study's paired comparison);
  * the test evaluation of one trained network (1000 tasks, one step at α_r, ``adapted_test_loss``).
Every row's final meta-training losses are asserted equal to the reference's (1e-10 relative),
and the test losses too. The paper-scale estimate is printed from the study's rows.

Run: python benchmarks/bench_bernacchia2021_fig5.py [outer_steps] [n_alpha] [repeats]
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
from metagrad.experiments.bernacchia2021_nn import (
    Fig5Config,
    adapted_test_loss,
    meta_train_fixed,
)
from metagrad.models import MLP
from metagrad.tasks import sample_quadratic_tasks


def _timed(f):
    """(wall, CPU) seconds of one blocking call of `f`."""
    w, c = time.perf_counter(), time.process_time()
    jax.block_until_ready(f())
    return time.perf_counter() - w, time.process_time() - c


def main() -> None:
    steps, n_alpha, repeats = (
        int(a) for a in (sys.argv[1:] + ["10", "17", "3"][len(sys.argv) - 1 :])
    )
    cfg = dataclasses.replace(Fig5Config(), outer_steps=steps)
    alphas = jnp.linspace(-0.02, 0.02, n_alpha)
    k1, k2, k3 = jr.split(jr.key(0), 3)
    model = MLP(cfg.p, 1, cfg.width, cfg.depth, dtype=jnp.float64, init="normal", key=k1)
    sample = dict(p=cfg.p, nu=cfg.nu, sigma=cfg.sigma)
    tasks = sample_quadratic_tasks(k2, n_tasks=cfg.m, n_support=cfg.n_t, n_query=cfg.n_v, **sample)
    test = sample_quadratic_tasks(
        k3, n_tasks=cfg.n_test_tasks, n_support=cfg.n_r, n_query=cfg.n_s, **sample
    )

    def train(path, layout, first_order):
        def run(model, tasks, alphas):
            one = lambda a: meta_train_fixed(model, tasks, a, cfg, first_order, path)[1][-1]  # noqa: E731
            return jax.vmap(one)(alphas) if layout == "vmap" else jax.lax.map(one, alphas)

        return jax.jit(run)

    so_ref = "generic, vmap over alpha_t (study before)"
    fo_ref = "first order: generic, vmap (before)"
    rows = {  # name -> (compiled function of the alphas, the reference row it must equal)
        so_ref: (train("generic", "vmap", False), so_ref),
        "generic, lax.map over alpha_t": (train("generic", "map", False), so_ref),
        "kernel, vmap over alpha_t": (train("kernel", "vmap", False), so_ref),
        "kernel, lax.map over alpha_t (study now)": (train("kernel", "map", False), so_ref),
        fo_ref: (train("generic", "vmap", True), fo_ref),
        "first order: kernel, lax.map (now)": (train("kernel", "map", True), fo_ref),
    }
    outs = {n: np.asarray(f(model, tasks, alphas)) for n, (f, _) in rows.items()}
    for n, (_, ref) in rows.items():
        assert np.allclose(outs[n], outs[ref], rtol=1e-10, atol=0), (n, outs[n])
    trained = meta_train_fixed(model, tasks, alphas[0], cfg)[0]
    tests = {
        p: jax.jit(lambda m, t, p=p: adapted_test_loss(m, t, cfg, p)) for p in ("generic", "kernel")
    }
    t_ref, t_fast = (float(f(trained, test)) for f in tests.values())
    assert abs(t_fast - t_ref) <= 1e-10 * abs(t_ref), (t_fast, t_ref)

    best = {n: (np.inf, np.inf) for n in [*rows, *tests]}
    loads = []
    for _ in range(repeats):
        for n, (f, _) in rows.items():
            w, c = _timed(lambda f=f: f(model, tasks, alphas))
            best[n] = (
                min(best[n][0], w / (steps * n_alpha)),
                min(best[n][1], c / (steps * n_alpha)),
            )
        for n, f in tests.items():
            w, c = _timed(lambda f=f: f(trained, test))
            best[n] = (min(best[n][0], w), min(best[n][1], c))
        loads.append(os.getloadavg()[0])
    print(f"{n_alpha} alpha_t x {steps} outer steps, one seed, paper network, float64")
    print("| meta-training layout | wall ms per alpha_t-step | CPU ms | vs generic vmap (CPU) |")
    print("|---|---|---|---|")
    for n, (_, ref) in rows.items():
        base = best[ref][1]
        print(
            f"| {n} | {best[n][0] * 1e3:.2f} | {best[n][1] * 1e3:.2f} | {base / best[n][1]:.2f}x |"
        )
    for n in tests:
        w, c = best[n]
        print(f"| test evaluation, {n} (1000 tasks, per trained network) | {w:.2f} s | {c:.2f} s |")
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, jax {jax.__version__}, "
        f"load average {min(loads):.2f}-{max(loads):.2f} during the timings (CPU shared)"
    )
    paper = Fig5Config()
    so = best["kernel, lax.map over alpha_t (study now)"]
    fo = best["first order: kernel, lax.map (now)"]
    n_fo = len(paper.fo_alpha_t)
    per = lambda i: (  # noqa: E731
        paper.n_seeds * paper.outer_steps * (paper.n_grid * so[i] + n_fo * fo[i])
        + paper.n_seeds * (paper.n_grid + n_fo) * best["kernel"][i]
    )
    print(
        f"paper-scale estimate (study now: {paper.n_seeds} seeds x ({paper.n_grid} SO + {n_fo} FO)"
        f" alpha_t x {paper.outer_steps} steps + test evaluations, one process): "
        f"{per(0) / 60:.0f} min wall, {per(1) / 60:.0f} min CPU at this load"
    )


if __name__ == "__main__":
    main()
