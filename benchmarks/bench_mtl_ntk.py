"""Benchmark: ReLU NNGP/NTK recursion and a Fig. 1 depth sweep (Wang, Zhao, Li 2021, Sec. 5.1).

metagrad (`relu_kernels_by_depth`: all pairs at once, one jitted layer step, all depths in one pass;
predictors by batched eigh) against the obvious alternative: a NumPy loop over pairs of points and
over depths (the scalar recursion for each pair and each depth), then the same predictors. Same
inputs, side by side in one process; JAX after warm-up; min of repeats. Usage:
    python benchmarks/bench_mtl_ntk.py [n_depths]   (default: the 9 depths of Fig. 1 up to 30)
"""

import platform
import sys
import timeit

import jax
import numpy as np

import metagrad  # noqa: F401  (x64)
from metagrad.experiments.wang2021 import _draw
from metagrad.theory import mtl_ntk as M

DEPTHS = (2, 3, 4, 6, 8, 10, 15, 20, 30)


class _C:  # Sec. 5.1 sizes: 200 training points, 20 test tasks of 5 + 10 points
    N, n, d, n_test, n_support, n_query = 20, 10, 10, 20, 5, 10


def kernels_jax(P, depth):
    K, Th = M.relu_kernels_by_depth(P, P, depth=depth)
    return jax.block_until_ready(Th)


def _pair(x1, x2, depth, sw=2.0, sb=0.0):
    """Scalar recursion for one pair: (K, Θ) at the given depth."""
    d = x1.size
    s, q1, q2 = sw * x1 @ x2 / d + sb, sw * x1 @ x1 / d + sb, sw * x2 @ x2 / d + sb
    th = s
    for _ in range(depth - 1):
        c = min(1.0, max(-1.0, s / np.sqrt(q1 * q2)))
        t = np.arccos(c)
        s_new = sw * np.sqrt(q1 * q2) * (np.sin(t) + (np.pi - t) * c) / (2 * np.pi) + sb
        th = s_new + th * sw * (np.pi - t) / (2 * np.pi)
        s, q1, q2 = s_new, sw * q1 / 2 + sb, sw * q2 / 2 + sb
    return s, th


def kernels_numpy(P, depths):
    """The obvious loop: every depth, every pair (symmetric: upper triangle)."""
    m = len(P)
    out = []
    for L in depths:
        K, Th = np.empty((m, m)), np.empty((m, m))
        for i in range(m):
            for j in range(i, m):
                K[i, j], Th[i, j] = _pair(P[i], P[j], L)
                K[j, i], Th[j, i] = K[i, j], Th[i, j]
        out.append((K, Th))
    return out


def sweep(kerns, data):
    gaps = []
    for kern in kerns:
        kw = dict(kernels=kern, Y=data["Y"], Y_support=data["Ys"], lam_tau_hat=1.0)
        fm = M.predict_mtl(**kw)
        fa = M.predict_anil(**kw, lam_tau=0.0)
        gaps.append(np.mean(np.linalg.norm(fa - fm, axis=-1)))
    return np.asarray(gaps)


def fig1_jax(data, depths):
    kw = dict(X_train=data["Xt"], X_query=data["Xq"], X_support=data["Xs"])
    kerns = M.relu_task_kernels(**kw, depth=max(depths))
    return sweep([kerns[L - 1] for L in depths], data)


def fig1_numpy(data, depths):
    P, sizes = M.stack_points(X_train=data["Xt"], X_query=data["Xq"], X_support=data["Xs"])
    kerns = [M.task_kernels_from_gram(K, Th, **sizes) for K, Th in kernels_numpy(P, depths)]
    return sweep(kerns, data)


def main():
    depths = DEPTHS[: int(sys.argv[1])] if len(sys.argv) > 1 else DEPTHS
    data = _draw(jax.random.PRNGKey(0), _C)
    P, _ = M.stack_points(X_train=data["Xt"], X_query=data["Xq"], X_support=data["Xs"])
    print(f"machine: {platform.machine()}, jax {jax.__version__}, numpy {np.__version__}")
    print(f"points: {len(P)} (Sec. 5.1: 200 training + 20 x 15 test), depths {depths}")
    # correctness first: the two kernel paths agree off the diagonal; on the diagonal the NumPy loop
    # takes arccos of a rounded cosine 1 - eps (error ~1e-7), metagrad snaps it (exact 2L)
    ref = kernels_numpy(P[:30], depths[-1:])[0][1]
    mine = np.asarray(M.relu_kernels(P[:30], P[:30], depth=depths[-1])[1])
    off = ~np.eye(30, dtype=bool)
    assert np.allclose(mine[off], ref[off], rtol=1e-9) and np.allclose(
        np.diag(mine), 2 * depths[-1]
    )
    print(f"NumPy loop diagonal error: {np.max(np.abs(np.diag(ref) / (2 * depths[-1]) - 1)):.1e}")
    kernels_jax(P, max(depths))  # warm-up (compilation)
    fig1_jax(data, depths)
    t_kj = min(timeit.repeat(lambda: kernels_jax(P, max(depths)), number=1, repeat=5))
    t_kn = min(timeit.repeat(lambda: kernels_numpy(P, depths), number=1, repeat=1))
    t_fj = min(timeit.repeat(lambda: fig1_jax(data, depths), number=1, repeat=3))
    t_fn = min(timeit.repeat(lambda: fig1_numpy(data, depths), number=1, repeat=1))
    assert np.allclose(fig1_jax(data, depths), fig1_numpy(data, depths), rtol=1e-6)
    print("| what | metagrad (s) | NumPy loop over pairs and depths (s) | ratio |")
    print("|---|---|---|---|")
    print(f"| kernels, all {len(depths)} depths | {t_kj:.4f} | {t_kn:.3f} | {t_kn / t_kj:.0f}x |")
    print(f"| Fig. 1 depth sweep, one seed | {t_fj:.4f} | {t_fn:.3f} | {t_fn / t_fj:.0f}x |")


if __name__ == "__main__":
    main()
