"""Benchmark: teacher–student simulators on the Fig. 2 setting (seeds/000, Sec. IV A).

Side by side in one process, 10 runs of N = 1000, K = M = 3, P = V = 100, η_J = 6, η_w = 4:
  * numpy: a plain NumPy direct simulator (the obvious implementation, written below: a loop over
    runs and tasks, float64 inputs from ``np.random.Generator.standard_normal``);
  * jax direct: the direct simulator with its default input stream (``rng="counter"``:
    Threefry-2x32 counters + Box–Muller, runs in cache-sized chunks), and variants: ``jax.random``
    threefry keys, all 10 runs in one chunk;
  * reduced: the reduced simulator at N = 1000 and N = 100 000, and variants at N = 1000:
    ``jax.random`` rbg draws (float64), LAPACK Cholesky in the task loop.
Every JAX variant is compiled first (compile time listed); then ``repeats`` rounds time every
simulator once each, interleaved, and the min per simulator is kept, in wall and in process CPU
time (all threads). Rates are (runs × tasks) per second. Then the Gaussian generators alone
(normals per CPU second; one task's inputs for 10 runs).

Run: python benchmarks/bench_ts_sim.py [--repeats 3]
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
    """Normals per wall / CPU second: NumPy's ziggurat; jax.random.normal (float32) with threefry,
    rbg, unsafe_rbg keys; the counter stream (hash alone, + erf⁻¹ as jax.random, + Box–Muller)."""
    from metagrad.sim import _ts_rng as rng

    shape = (RUNS, P + V, N)
    n = np.prod(shape)
    gen = np.random.default_rng(0)
    out = {
        "numpy ziggurat float64": n / np.array(_time(lambda i: gen.standard_normal(shape), repeats))
    }
    draw = jax.jit(lambda k: jr.normal(k, shape, jnp.float32))
    for impl in ("threefry2x32", "rbg", "unsafe_rbg"):
        k = jr.key(0, impl=impl)
        jax.block_until_ready(draw(k))
        out[f"jax.random {impl} float32"] = n / np.array(
            _time(lambda i: jax.block_until_ready(draw(k)), repeats)  # noqa: B023
        )
    kw = jnp.array([1, 2], jnp.uint32)
    half = n // 2

    def words(k):
        it = jax.lax.iota(jnp.uint32, half)
        return jnp.stack(rng.threefry2x32(k[0], k[1], it, jnp.full_like(it, 3)))

    def erfinv(k):
        b = jax.lax.optimization_barrier(words(k))
        f = jax.lax.bitcast_convert_type((b >> 9) | jnp.uint32(0x3F800000), jnp.float32) - 1
        lo = np.nextafter(np.float32(-1), np.float32(0))
        return np.float32(np.sqrt(2)) * jax.lax.erf_inv(jnp.maximum(lo, f * (1 - lo) + lo))

    variants = {
        "counter hash alone (words)": words,
        "counter + erf^-1": erfinv,
        "counter + Box-Muller (used)": lambda k: rng.counter_normals(k, 3, shape),
    }
    for name, f in variants.items():
        f = jax.jit(f)
        jax.block_until_ready(f(kw))
        out[name] = n / np.array(_time(lambda i: jax.block_until_ready(f(kw)), repeats))  # noqa: B023
    return out


def _compiled(method, n, alpha, **cfg):
    """(run_tasks, compiled simulator, its args, compile s) for 10 runs; compiled under the current
    module switches, so that the variants live side by side."""
    from metagrad.sim._ts_config import initial_weights

    c = sim.SimConfig(N=n, alpha_max=alpha, d_record=alpha / 2, **cfg)
    B, J0 = initial_weights(c, jr.PRNGKey(0))
    B, J0 = (jnp.broadcast_to(a, (RUNS, *a.shape)) for a in (B, J0))
    t0 = time.perf_counter()
    exe = sim._run.lower(c, method, B, J0, jr.PRNGKey(1)).compile()
    jax.block_until_ready(exe(B, J0, jr.PRNGKey(2)))
    return RUNS * c.n_records * c.record_every, exe, (B, J0), time.perf_counter() - t0


def main() -> None:
    from metagrad.sim import _ts_direct, _ts_fields

    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--numpy-tasks", type=int, default=20)
    ap.add_argument("--direct-alpha", type=float, default=0.2, help="JAX direct horizon")
    ap.add_argument("--reduced-alpha", type=float, default=2.0, help="reduced horizon, N=1000")
    a = ap.parse_args()
    print(f"{platform.machine()}, {os.cpu_count()} cores, jax {jax.__version__}, "
          f"load {os.getloadavg()}")  # fmt: skip
    sims = {}
    sims["jax direct (counter, chunks), N=1000"] = _compiled("direct", N, a.direct_alpha)
    sims["jax direct, jax.random threefry"] = _compiled("direct", N, a.direct_alpha, rng="threefry")
    chunk, _ts_direct.CHUNK_BYTES = _ts_direct.CHUNK_BYTES, 2**40
    jax.clear_caches()  # retrace under the switch
    sims["jax direct, 10 runs in one chunk"] = _compiled("direct", N, a.direct_alpha)
    _ts_direct.CHUNK_BYTES = chunk
    jax.clear_caches()
    sims["reduced (counter), N=1000"] = _compiled("reduced", N, a.reduced_alpha)
    sims["reduced (counter), N=100000"] = _compiled("reduced", 100_000, a.reduced_alpha / 100)
    sims["reduced, jax.random rbg float64"] = _compiled("reduced", N, a.reduced_alpha, rng="rbg")
    small, _ts_fields.SMALL_CHOL = _ts_fields.SMALL_CHOL, 0
    jax.clear_caches()
    sims["reduced, LAPACK Cholesky"] = _compiled("reduced", N, a.reduced_alpha)
    _ts_fields.SMALL_CHOL = small
    print(f"compiled; load {os.getloadavg()}")
    numpy_direct(2, 1)
    best = {name: np.array([np.inf, np.inf]) for name in ["numpy direct, N=1000", *sims]}
    for r in range(a.repeats):  # interleaved rounds
        t = np.array(_time(lambda i: numpy_direct(a.numpy_tasks, RUNS, r), 1))  # noqa: B023
        best["numpy direct, N=1000"] = np.minimum(
            best["numpy direct, N=1000"], t / (RUNS * a.numpy_tasks)
        )
        for name, (tasks, exe, (B, J0), _) in sims.items():
            run = lambda i: jax.block_until_ready(exe(B, J0, jr.PRNGKey(10 + r)))  # noqa: B023, E731
            best[name] = np.minimum(best[name], np.array(_time(run, 1)) / tasks)
        print(f"round {r} done; load {os.getloadavg()}")
    ref = 1 / best["numpy direct, N=1000"]
    print("| simulator | run×tasks per wall s | vs NumPy | per CPU s | vs NumPy | compile s |")
    print("|---|---|---|---|---|---|")
    for name, per in best.items():
        rate = 1 / per
        comp = sims[name][3] if name in sims else 0.0
        print(f"| {name} | {rate[0]:,.0f} | {rate[0] / ref[0]:.1f}x | {rate[1]:,.0f} | "
              f"{rate[1] / ref[1]:.1f}x | {comp:.0f} |")  # fmt: skip
    print(f"load {os.getloadavg()}")
    for name, (wall, cpu) in _normal_rates(a.repeats + 2).items():
        print(f"normals, {name}: {wall / 1e6:.1f} M per wall s, {cpu / 1e6:.1f} M per CPU s")
    tasks = 50 * N * RUNS
    rd = 1 / best["reduced (counter), N=1000"]
    print(f"Fig. 2 paper scale (α = 50, {RUNS} runs = {tasks:,} run×tasks), CPU time: numpy "
          f"{tasks * best['numpy direct, N=1000'][1] / 60:.1f} min, jax direct "
          f"{tasks * best['jax direct (counter, chunks), N=1000'][1] / 60:.1f} min, reduced "
          f"{tasks / rd[1]:.1f} s (+ compile); load {os.getloadavg()}")  # fmt: skip


if __name__ == "__main__":
    main()
