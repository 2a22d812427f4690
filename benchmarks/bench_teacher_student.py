"""Benchmark: a Fig. 5-style (η_w, η_J) grid of teacher–student ODE solves (seeds/000).

Three alternatives, side by side in one process, on the same grid:
  * vmapped: one ``ts.integrate_batch`` call (jit + vmap + lax.scan);
  * serial: a loop of single jitted ``ts.integrate`` solves (same compiled function);
  * numpy: a plain NumPy RK4 of the same right-hand side, vectorised over the grid (leading
    batch axis), written independently below and checked against the JAX RHS to 1e-10.
Then the paper-scale Fig. 5 cost is estimated from the measured per-step cost of a batched solve
on the paper's 20×20 grid for every K (a short horizon, extrapolated linearly in the step count).

Run: python benchmarks/bench_teacher_student.py [K ...]   (default K = 3 6 9)
     python benchmarks/bench_teacher_student.py --paper-estimate
     python benchmarks/bench_teacher_student.py --fused [K ...]   (fused vs full-I4 η_J² terms)
     python benchmarks/bench_teacher_student.py --threads [N]   (Fig. 5 grid: 1 vs N threads)
"""

import functools
import os
import platform
import sys
import time
import timeit

import jax
import jax.numpy as jnp
import numpy as np

import metagrad  # noqa: F401  (float64)
from metagrad.theory import teacher_student as ts

GRID, ALPHA, DA = 4, 10.0, 0.02


def _np_integrals(C, K):
    """I2 (B,L,L), I3 (B,K,L,L), I4 (B,K,K,L,L) of Eqs. (30)-(37), erf activation, NumPy."""
    d = 1.0 + np.diagonal(C, axis1=-2, axis2=-1)
    I2 = 2 / np.pi * np.arcsin(C / np.sqrt(d[:, :, None] * d[:, None, :]))
    da = d[:, :K, None, None]
    cab, cac = C[:, :K, :, None], C[:, :K, None, :]
    I3 = 2 / np.pi * (C[:, None] * da - cab * cac) / (da * np.sqrt(da * d[:, None, None] - cac**2))
    e = (slice(None),)
    da, db = d[:, :K, None, None, None], d[:, None, :K, None, None]
    dc, dd = d[:, None, None, :, None], d[:, None, None, None, :]
    Cab = C[:, :K, :K][..., None, None]
    Cac, Cad = C[:, :K, None, :, None], C[:, :K, None, None, :]
    Cbc, Cbd = C[:, None, :K, :, None], C[:, None, :K, None, :]
    Ccd = C[e + (None, None)]
    l4 = da * db - Cab**2
    l0 = l4 * Ccd - Cbc * Cbd * da - Cac * Cad * db + Cab * Cac * Cbd + Cab * Cad * Cbc
    l1 = l4 * dc - Cbc**2 * da - Cac**2 * db + 2 * Cab * Cac * Cbc
    l2 = l4 * dd - Cbd**2 * da - Cad**2 * db + 2 * Cab * Cad * Cbd
    I4 = 4 / np.pi**2 / np.sqrt(l4) * np.arcsin(np.clip(l0 / np.sqrt(l1 * l2), -1, 1))
    return I2, I3, I4


def np_rhs(Q, R, T, eJ, ew, inv_V):
    """(dQ, dR) of the corrected Eqs. (36)/(38) (no noise, no L2, γ = 1); batch axis first."""
    B, K, M = R.shape
    C = np.block([[Q, R], [np.swapaxes(R, 1, 2), np.broadcast_to(T, (B, M, M))]])
    I2, I3, I4 = _np_integrals(C, K)
    t, x = slice(K, K + M), slice(0, K)
    f = I2[:, x, t]
    G = f @ np.swapaxes(f, 1, 2)
    eJ, ew, inv_V = (np.asarray(v, float)[:, None, None] for v in (eJ, ew, inv_V))
    a1, a2 = eJ * ew / (K * M), eJ * ew**2 / (K**2 * M)
    dR = a1 * np.einsum("bkm,bknm->bkn", f, I3[:, :, t, t])
    dR = dR - a2 * np.einsum("bik,bkni->bkn", G, I3[:, :, t, x])
    dQ = a1 * np.einsum("bkn,bkln->bkl", f, I3[:, :, x, t])
    dQ = dQ - a2 * np.einsum("bik,bkli->bkl", G, I3[:, :, x, x])
    Itt, Itx, Ixx = I4[:, :, :, t, t], I4[:, :, :, t, x], I4[:, :, :, x, x]
    s1 = G * np.einsum("bklnn->bkl", Itt) + np.einsum("bkn,blm,bklnm->bkl", f, f, Itt)
    s1 = s1 + np.einsum("bkm,bln,bklnm->bkl", f, f, Itt)
    s2 = G * np.einsum("bjn,bklnj->bkl", f, Itx) + np.einsum("bkn,bjl,bklnj->bkl", f, G, Itx)
    s2 = s2 + np.einsum("bln,bjk,bklnj->bkl", f, G, Itx)
    s3 = G * np.einsum("bij,bklij->bkl", G, Ixx) + np.einsum("bik,bjl,bklij->bkl", G, G, Ixx)
    s3 = s3 + np.einsum("bil,bjk,bklij->bkl", G, G, Ixx)
    sec = (eJ**2 * ew**2 / (K**2 * M**2)) * s1 - (2 * eJ**2 * ew**3 / (K**3 * M**2)) * s2
    sec = sec + (eJ**2 * ew**4 / (K**4 * M**2)) * s3
    return dQ + np.swapaxes(dQ, 1, 2) + inv_V * sec, dR


def np_integrate(cfg, eta_w, eta_J):
    """Final (Q, R) of a plain NumPy fixed-step RK4 over a batch of (η_w, η_J)."""
    T, _, Q0, R0 = cfg.matrices()
    B, h = len(eta_w), cfg.d_alpha
    y = (np.tile(Q0, (B, 1, 1)), np.tile(R0, (B, 1, 1)))

    def F(y):
        return np_rhs(*y, T, eta_J, eta_w, np.full(B, 1.0 / cfg.V))

    for _ in range(int(round(cfg.alpha_max / h))):
        k1 = F(y)
        k2 = F(tuple(a + h / 2 * b for a, b in zip(y, k1)))
        k3 = F(tuple(a + h / 2 * b for a, b in zip(y, k2)))
        k4 = F(tuple(a + h * b for a, b in zip(y, k3)))
        y = tuple(a + h / 6 * (b + 2 * c + 2 * d + e) for a, b, c, d, e in zip(y, k1, k2, k3, k4))
    return y


def _check_rhs(K, rng):
    """The NumPy RHS equals ts.order_parameter_rhs at a random state (independent code paths)."""
    A = rng.standard_normal((K + 3, 20))
    C = A @ A.T / 20  # a random joint covariance of (x, y)
    Q, R, T = C[:K, :K], C[:K, K:], C[K:, K:]
    p = {k: jnp.asarray(v) for k, v in dict(eta_J=3.0, eta_w=9.0, inv_V=0.01, noise=0.0).items()}
    p["lam"] = jnp.asarray(0.0)
    dq, dr = ts.order_parameter_rhs(jnp.asarray(Q), jnp.asarray(R), jnp.asarray(T), p)
    nq, nr = np_rhs(Q[None], R[None], T, [3.0], [9.0], [0.01])
    err = max(np.abs(nq[0] - dq).max() / np.abs(dq).max(), np.abs(nr[0] - dr).max())
    assert err < 1e-10, f"NumPy RHS differs from the JAX RHS by {err:.3g} at K={K}"


def compare(Ks) -> None:
    """Solves/s of vmapped vs serial vs NumPy on a GRID×GRID grid, α = ALPHA at dα = DA."""
    w, j = (a.ravel() for a in np.meshgrid(np.linspace(2, 12, GRID), np.linspace(1, 8, GRID)))
    rows = []
    for K in Ks:
        _check_rhs(K, np.random.default_rng())
        cfg = ts.TSConfig(K=K, alpha_max=ALPHA, d_alpha=DA, record_every=50, ic_perturbation=1e-10)

        def batched(cfg=cfg):
            jax.block_until_ready(ts.integrate_batch(cfg, eta_w=w, eta_J=j).eps)

        def serial(cfg=cfg):
            for a, b in zip(w, j):
                c = ts.TSConfig(**{**cfg.__dict__, "eta_w": float(a), "eta_J": float(b)})
                jax.block_until_ready(ts.integrate(c).eps)

        def numpy(cfg=cfg):
            np_integrate(cfg, w, j)

        batched(), serial()  # warm-up (compilation)
        t = [min(timeit.repeat(f, number=1, repeat=3)) for f in (batched, serial, numpy)]
        rows.append((K, *(len(w) / x for x in t)))
    print(f"{len(w)} solves, {int(ALPHA / DA)} RK4 steps each (α = {ALPHA}, dα = {DA})")
    print(
        "| K | vmapped solves/s | serial solves/s | NumPy solves/s | vmapped/serial | vmapped/NumPy |"
    )
    print("|---|---|---|---|---|---|")
    for K, b, s, n in rows:
        print(f"| {K} | {b:.2f} | {s:.2f} | {n:.2f} | {b / s:.2f}x | {b / n:.2f}x |")


def paper_estimate(n_steps: int = 25) -> None:
    """Paper-scale Fig. 5 (20×20 grid, α = 450) from the per-step cost of one batched solve."""
    w, j = (a.ravel() for a in np.meshgrid(np.arange(1.0, 21), 0.5 * np.arange(1, 21)))
    total = 0.0
    print("| K | s per RK4 step (400 configs) | panel at dα=0.2 (preset) | at dα=0.02 |")
    print("|---|---|---|---|")
    for K in range(3, 10):
        cfg = ts.TSConfig(K=K, alpha_max=n_steps * 0.02, d_alpha=0.02, record_every=n_steps)
        jax.block_until_ready(ts.integrate_batch(cfg, eta_w=w, eta_J=j).eps)  # compile
        t0 = time.perf_counter()
        jax.block_until_ready(ts.integrate_batch(cfg, eta_w=w, eta_J=j).eps)
        per = (time.perf_counter() - t0) / n_steps
        total += per * 2_250
        print(f"| {K} | {per:.3f} | {per * 2_250 / 60:.1f} min | {per * 22_500 / 60:.1f} min |")
    print(f"total (α = 450) at dα=0.2: {total / 60:.0f} min; at dα=0.02: {10 * total / 3600:.1f} h")


def _solve_args(args, kw, fused, p):
    return ts._solve(p, *args, fused=fused, **kw)


def fused_vs_full(Ks, n_steps: int = 10, repeat: int = 3) -> None:
    """Per-RK4-step cost of the paper's 20×20 batch, fused vs full-I4 η_J² terms, side by side.

    Same compiled solver (``ts._solve``) with ``fused=True`` (default) and ``fused=False``; the
    final states are asserted equal to 1e-10 relative before timing; compilation excluded, min of
    ``repeat`` alternated runs.
    """
    w, j = (a.ravel() for a in np.meshgrid(np.arange(1.0, 21), 0.5 * np.arange(1, 21)))
    print("| K | full I4, s per step | fused, s per step | full/fused |")
    print("|---|---|---|---|")
    for K in Ks:
        cfg = ts.TSConfig(K=K, alpha_max=n_steps * 0.2, d_alpha=0.2, record_every=n_steps)
        T, D, Q0, R0 = cfg.matrices()
        p = ts._params(cfg, eta_w=w, eta_J=j)
        p = {k: (jnp.asarray(v) if k in ("eta_w", "eta_J") else v) for k, v in p.items()}
        axes = {k: (0 if k in ("eta_w", "eta_J") else None) for k in p}
        kw = dict(n_rec=1, every=n_steps, activation="erf", use_gamma=False)
        fns = {
            f: jax.jit(jax.vmap(functools.partial(_solve_args, (T, D, Q0, R0), kw, f), (axes,)))
            for f in (False, True)
        }
        out = {f: jax.block_until_ready(fn(p)) for f, fn in fns.items()}  # compile
        a, b = np.asarray(out[False][0][:, -1]), np.asarray(out[True][0][:, -1])
        assert np.max(np.abs(a - b)) <= 1e-10 * np.max(np.abs(a)), "fused differs from full I4"
        best = {False: np.inf, True: np.inf}
        for _ in range(repeat):
            for f, fn in fns.items():
                t0 = time.perf_counter()
                jax.block_until_ready(fn(p))
                best[f] = min(best[f], (time.perf_counter() - t0) / n_steps)
        print(f"| {K} | {best[False]:.3f} | {best[True]:.3f} | {best[False] / best[True]:.2f}x |")


def threads(n_threads: int, alpha_max: float = 6.0, repeat: int = 2) -> None:
    """The paper's Fig. 5 grid (K = 3..9, 20×20) at a short horizon: one thread vs `n_threads`.

    ``wang2024.fig5_grid`` as the study runs it (dα = 0.2), side by side, alternated, min of
    `repeat` after a compiling call; results asserted equal. Wall and process CPU time.
    """
    from metagrad.experiments import get_study
    from metagrad.experiments.wang2024 import fig5_grid

    cfg = get_study("wang2024.phase_diagrams").config("paper", {"alpha_max": alpha_max})
    steps = alpha_max / cfg.d_alpha
    res, best = {}, {}
    for n in (1, n_threads):
        res[n] = fig5_grid(cfg, n_threads=n)  # compile
    np.testing.assert_array_equal(res[1].alpha_tilde, res[n_threads].alpha_tilde)
    for _ in range(repeat):
        for n in (1, n_threads):
            t0, c0 = time.perf_counter(), time.process_time()
            fig5_grid(cfg, n_threads=n)
            t = (time.perf_counter() - t0, time.process_time() - c0)
            best[n] = min(best.get(n, t), t)
    full = 450 / cfg.d_alpha / steps
    print(
        f"Fig. 5 grid, K = {cfg.Ks[0]}..{cfg.Ks[-1]}, 20x20, {steps:.0f} RK4 steps (alpha = {alpha_max})"
    )
    print("| threads | wall s | CPU s | paper horizon (alpha = 450), wall est. |")
    print("|---|---|---|---|")
    for n, (w, c) in best.items():
        print(f"| {n} | {w:.2f} | {c:.2f} | {w * full / 60:.1f} min |")
    print(f"speed-up (wall): {best[1][0] / best[n_threads][0]:.2f}x")


def main() -> None:
    args = sys.argv[1:]
    if args == ["--paper-estimate"]:
        paper_estimate()
    elif args[:1] == ["--threads"]:
        threads(int(args[1]) if len(args) > 1 else os.cpu_count() or 1)
    elif args[:1] == ["--fused"]:
        fused_vs_full([int(a) for a in args[1:]] or (3, 6, 9))
    else:
        compare([int(a) for a in args] or (3, 6, 9))
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"jax {jax.__version__}, load average {os.getloadavg()[0]:.2f} (CPU shared)"
    )


if __name__ == "__main__":
    main()
