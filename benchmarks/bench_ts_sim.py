"""Benchmark: teacher–student simulators on the Fig. 2 setting (seeds/000, Sec. IV A).

Side by side in one process, 10 runs of N = 1000, K = M = 3, P = V = 100, η_J = 6, η_w = 4:
  * numpy: a plain NumPy direct simulator (the obvious implementation, written below: a loop over
    runs and tasks, float64 inputs from ``np.random.Generator.standard_normal``);
  * jax direct: ``simulate(method="direct")`` (runs on a batch axis, lax.scan, float32 inputs
    from threefry keys);
  * reduced: ``simulate(method="reduced")`` at N = 1000 and N = 100 000.
Rates are (runs × tasks) per second, compilation excluded (a warm-up call with the same config),
min of ``repeats`` timed calls. Then the paper-scale Fig. 2 cost (α = 50, 10 runs) is extrapolated.
Both direct simulators are bound by drawing the (P+V)·N Gaussian inputs of every task, so the
Gaussian generators are timed too (normals per second, one task's worth of inputs for 10 runs).

Run: python benchmarks/bench_ts_sim.py [--repeats 2]
"""

import argparse
import os
import platform
import time

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from scipy.special import erf

import metagrad  # noqa: F401  (float64)
from metagrad.sim import teacher_student as sim

N, K, M, P, V, ETA_J, ETA_W, RUNS = 1000, 3, 3, 100, 100, 6.0, 4.0, 10


def numpy_direct(n_tasks: int, n_runs: int, seed: int = 0) -> np.ndarray:
    """The obvious NumPy FO-ANIL (Eqs. 11, 22–23); returns the final R per run."""
    rng = np.random.default_rng(seed)
    g = lambda x: erf(x / np.sqrt(2.0))  # noqa: E731
    gp = lambda x: np.sqrt(2 / np.pi) * np.exp(-(x**2) / 2)  # noqa: E731
    B = rng.standard_normal((M, N)) / np.sqrt(N)
    J0 = rng.standard_normal((K, N)) / np.sqrt(N)
    out = []
    for _ in range(n_runs):
        J = J0.copy()
        for _ in range(n_tasks):
            u = rng.standard_normal(M)
            Xt, Xv = rng.standard_normal((P, N)), rng.standard_normal((V, N))
            s = g(Xt @ B.T) @ u / np.sqrt(M)
            w = ETA_W / (P * np.sqrt(K)) * g(Xt @ J.T).T @ s
            xv = Xv @ J.T
            e = g(Xv @ B.T) @ u / np.sqrt(M) - g(xv) @ w / np.sqrt(K)
            H = e[:, None] * w[None, :] * gp(xv)
            J = J + ETA_J / (N * V * np.sqrt(K)) * H.T @ Xv
        out.append(J @ B.T)
    return np.array(out)


def _time(fn, repeats):
    """Min over ``repeats`` calls of the wall time and, separately, of the process CPU time (all
    threads): on a CPU shared with other jobs the CPU time is the steadier measure of the work."""
    best, best_cpu = np.inf, np.inf
    for i in range(repeats):
        t, c = time.perf_counter(), time.process_time()
        fn(i)
        best = min(best, time.perf_counter() - t)
        best_cpu = min(best_cpu, time.process_time() - c)
    return best, best_cpu


def _normal_rates(repeats):
    """Normals/s: NumPy's ziggurat (float64), JAX's jr.normal (float32) with threefry and rbg keys."""
    shape = (RUNS, P + V, N)
    rng = np.random.default_rng(0)
    t = _time(lambda i: [rng.standard_normal(shape[1:]) for _ in range(RUNS)], repeats + 2)
    out = {"numpy float64": np.prod(shape) / np.array(t)}
    draw = jax.jit(lambda k: jr.normal(k, shape, jnp.float32))
    for impl in ("threefry2x32", "rbg"):
        k = jr.key(0, impl=impl)
        jax.block_until_ready(draw(k))
        t = _time(lambda i: jax.block_until_ready(draw(k)), repeats + 2)  # noqa: B023
        out[f"jax float32 {impl}"] = np.prod(shape) / np.array(t)
    return out


def _sim_rate(method, n, alpha, repeats):
    cfg = sim.SimConfig(N=n, alpha_max=alpha, d_record=alpha / 2)
    run = lambda i: jax.block_until_ready(  # noqa: E731
        sim.simulate(cfg, method=method, n_runs=RUNS, key=jr.PRNGKey(i)).Q
    )
    t0 = time.perf_counter()
    run(99)  # warm-up: compilation
    compile_s = time.perf_counter() - t0
    tasks = RUNS * cfg.n_records * cfg.record_every
    return tasks / np.array(_time(run, repeats)), compile_s


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--numpy-tasks", type=int, default=100)
    ap.add_argument("--direct-alpha", type=float, default=0.4, help="JAX direct horizon")
    ap.add_argument("--reduced-alpha", type=float, default=10.0, help="reduced horizon, N=1000")
    a = ap.parse_args()
    print(f"{platform.machine()}, {os.cpu_count()} cores, jax {jax.__version__}, "
          f"load {os.getloadavg()[0]:.1f}")  # fmt: skip
    numpy_direct(2, 1)
    t = _time(lambda i: numpy_direct(a.numpy_tasks, RUNS, i), a.repeats)
    np_rate = RUNS * a.numpy_tasks / np.array(t)
    rows = [("numpy direct, N=1000", np_rate, 0.0)]
    rows.append(("jax direct, N=1000", *_sim_rate("direct", N, a.direct_alpha, a.repeats)))
    rows.append(("reduced, N=1000", *_sim_rate("reduced", N, a.reduced_alpha, a.repeats)))
    rows.append(("reduced, N=100000", *_sim_rate("reduced", 100_000, 0.1, a.repeats)))
    for name, (wall, cpu) in _normal_rates(a.repeats).items():
        print(f"normals/s, {name}: {wall / 1e6:.1f} M per wall s, {cpu / 1e6:.1f} M per CPU s")
    print(f"load {os.getloadavg()[0]:.1f}")
    print("| simulator | runs×tasks per wall s | vs NumPy | per CPU s | vs NumPy | compile s |")
    print("|---|---|---|---|---|---|")
    for name, (wall, cpu), comp in rows:
        print(f"| {name} | {wall:,.0f} | {wall / np_rate[0]:.1f}x | {cpu:,.0f} | "
              f"{cpu / np_rate[1]:.1f}x | {comp:.1f} |")  # fmt: skip
    tasks = 50 * N * RUNS
    print(f"Fig. 2 paper scale (α = 50, {RUNS} runs = {tasks:,} run-tasks), wall at this load: "
          f"numpy {tasks / np_rate[0] / 60:.1f} min, jax direct {tasks / rows[1][1][0] / 60:.1f} "
          f"min, reduced {tasks / rows[2][1][0]:.1f} s (+ compile)")  # fmt: skip


if __name__ == "__main__":
    main()
