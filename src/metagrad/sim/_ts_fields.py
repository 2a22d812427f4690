"""Field-space pieces shared by the simulators: activations, one task from its fields, ε.

Every example enters FO-ANIL only through its local fields x = Jξ, y = Bξ (and the task-teacher
fields ỹ = B^t ξ), except in the validation-input direction of the J update (Eq. 22).
"""

from __future__ import annotations

import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jax import Array
from jax.scipy.special import erf

from metagrad.theory._ts_integrals import i2

__all__ = [
    "g",
    "gp",
    "chol",
    "factor",
    "task_from_fields",
    "label_cov",
    "eps_estimate",
    "fast_key",
    "gamma_mt",
    "wishart",
]


def g(x: Array, activation: str) -> Array:
    """g(x) = erf(x/√2) or x."""
    return erf(x * float(1 / np.sqrt(2.0))) if activation == "erf" else x


def gp(x: Array, activation: str) -> Array:
    """g'(x) = √(2/π) exp(−x²/2) or 1."""
    if activation == "erf":
        return float(np.sqrt(2.0 / np.pi)) * jnp.exp(-(x**2) / 2)
    return jnp.ones_like(x)


def factor(C: Array) -> Array:
    """A square root S of the PSD matrix C (C = S Sᵀ), via eigh (robust to singular C)."""
    lam, U = jnp.linalg.eigh(C)
    return U * jnp.sqrt(jnp.clip(lam, 0.0))


def task_from_fields(xt, lt, xv, lv, u, nt, nv, *, K, M, P, eta_w, activation):
    """One FO-ANIL task from its fields: head (11), validation error and h (23).

    Args: training fields xt (P, K), label fields lt (P, M); validation xv (V, K), lv (V, M);
    teacher head u (M,); label noises nt (P,), nv (V,).

    Returns: (w (K,), e (V,), h (V, K)), in the dtype of the fields.
    """
    rm, rk = float(1 / np.sqrt(M)), float(1 / np.sqrt(K))  # Python floats keep the input dtype
    s = g(lt, activation) @ u * rm + nt
    w = float(eta_w / P) * rk * g(xt, activation).T @ s
    e = g(lv, activation) @ u * rm + nv - g(xv, activation) @ w * rk
    return w, e, e[:, None] * w[None, :] * gp(xv, activation)


def label_cov(C: Array, D: Array, K: int, gamma: float) -> Array:
    """Covariance of (x, ỹ) with ỹ = γy + √(1−γ²)d, d ~ N(0, D) independent of (x, y) ~ N(0, C).

    Built as the linear image A diag(C, D) Aᵀ of the covariance of (x, y, d) (the N → ∞ law of
    the task teacher's fields, App. C); γ = 1 returns C."""
    if gamma == 1.0:
        return C
    M = D.shape[0]
    Z = jnp.zeros((K + M, M))
    big = jnp.concatenate([jnp.concatenate([C, Z], 1), jnp.concatenate([Z.T, D], 1)], 0)
    A = np.zeros((K + M, K + 2 * M))
    A[:K, :K] = np.eye(K)
    A[K:, K : K + M] = gamma * np.eye(M)
    A[K:, K + M :] = np.sqrt(1.0 - gamma**2) * np.eye(M)
    return A @ big @ A.T


SMALL_CHOL = 8  # up to this size chol() is unrolled into elementwise operations


def _chol_unrolled(C: Array) -> Array:
    """Cholesky–Banachiewicz on a small (n, n) matrix, entry by entry (n ≤ SMALL_CHOL): a handful
    of fused scalar operations instead of a LAPACK call per matrix inside the task loop. A
    non-positive pivot gives a zero column (PSD limit) instead of NaN."""
    n = C.shape[-1]
    L = [[None] * n for _ in range(n)]
    for j in range(n):
        d = C[j, j] - sum((L[j][k] ** 2 for k in range(j)), 0.0)
        ljj = jnp.sqrt(jnp.maximum(d, 0.0))
        inv = jnp.where(ljj > 0, 1.0 / jnp.where(ljj > 0, ljj, 1.0), 0.0)
        L[j][j] = ljj
        for i in range(j + 1, n):
            L[i][j] = (C[i, j] - sum((L[i][k] * L[j][k] for k in range(j)), 0.0)) * inv
    zero = jnp.zeros_like(C[0, 0])
    return jnp.stack([jnp.stack([L[i][j] if j <= i else zero for j in range(n)]) for i in range(n)])


def chol(C: Array) -> Array:
    """Cholesky factor of a PSD matrix with a relative jitter of 1e-13 (safe at rank deficiency)."""
    n = C.shape[-1]
    C = C + (1e-13 * jnp.trace(C) / n + 1e-300) * jnp.eye(n)
    return _chol_unrolled(C) if n <= SMALL_CHOL else jnp.linalg.cholesky(C)


def eps_estimate(key, C, D, *, K, M, P, eta_w, gamma, noise, n_eps, activation):
    """Low-variance ε: exact over the test point and u, averaged over ``n_eps`` training sets.

    For a training set, w = A u + w_Δ with A_km = η_w/(P√(KM)) Σ_μ g(x_k)g(ỹ_m); with
    L = [−A/√K; I/√M] and F the I2 matrix of (x, ỹ), ε̂ = ½ tr(Lᵀ F L) + ½ ⟨w_Δᵀ F_xx w_Δ⟩/K,
    ⟨w_Δ w_Δᵀ⟩ = η_w² Σ_noise/(P²K) GᵀG (G_μk = g(x_k^μ)).
    """
    Cl = label_cov(C, D, K, gamma)
    F = i2(Cl, activation=activation)
    S = chol(Cl)
    z = jr.normal(key, (n_eps, P, K + M)) @ S.T
    gx, gl = g(z[..., :K], activation), g(z[..., K:], activation)
    A = eta_w / (P * np.sqrt(K * M)) * jnp.einsum("spk,spm->skm", gx, gl)
    L = jnp.concatenate([-A / np.sqrt(K), jnp.broadcast_to(jnp.eye(M) / np.sqrt(M), A.shape)], 1)
    eps = 0.5 * jnp.einsum("sai,ab,sbi->s", L, F, L)
    gram = jnp.einsum("spk,spl->skl", gx, gx)
    eps = eps + 0.5 * eta_w**2 * noise / (P**2 * K**2) * jnp.einsum("skl,kl->s", gram, F[:K, :K])
    return eps.mean()


def fast_key(key: Array) -> Array:
    """An ``rbg`` key derived from ``key``: XLA's RngBitGenerator compiles in a fraction of the
    time of the unrolled threefry hash, which otherwise dominates the simulators' compile time."""
    return jr.wrap_key_data(jr.bits(key, (4,), jnp.uint32), impl="rbg")


TRIES = 8  # Marsaglia–Tsang candidates per gamma variate


def gamma_mt(x: Array, u: Array, a: Array) -> Array:
    """Gamma(a) variates for a ≥ 1 (Marsaglia–Tsang 2000) from ``TRIES`` pre-drawn candidates.

    x: (TRIES, *a.shape) standard normals; u: same shape, uniforms on (0, 1). The first accepted
    candidate is returned; each is accepted with probability > 0.95 for a ≥ 1, so the fallback
    (the last candidate) has probability < 1e-10. Loop-free, unlike ``jax.random.gamma``.
    """
    d = a - 1.0 / 3.0
    c = 1.0 / jnp.sqrt(9.0 * d)
    v = (1.0 + c * x) ** 3
    ok = (v > 0) & (jnp.log(u) < 0.5 * x**2 + d - d * v + d * jnp.log(jnp.where(v > 0, v, 1.0)))
    first = jnp.argmax(jnp.concatenate([ok[:-1], jnp.ones_like(ok[-1:])]), axis=0)
    return d * jnp.take_along_axis(v, first[None], axis=0)[0]


def wishart_size(k: int) -> int:
    """Normals and uniforms consumed by :func:`wishart`: (k² + TRIES k, TRIES k)."""
    return k * k + TRIES * k, TRIES * k


def wishart(z: Array, u: Array, n: int, H: Array) -> Array:
    """W ~ Wishart_k(n, H) by the Bartlett decomposition, through a Cholesky root of H.

    z: (k² + TRIES k,) standard normals; u: (TRIES k,) uniforms (see :func:`wishart_size`)."""
    k = H.shape[0]
    x = z[k * k :].reshape(TRIES, k)
    chi = 2.0 * gamma_mt(x, u.reshape(TRIES, k), (n - jnp.arange(k)) / 2.0)
    A = jnp.tril(z[: k * k].reshape(k, k), -1) + jnp.diag(jnp.sqrt(chi))
    SA = chol(H) @ A
    return SA @ SA.T
