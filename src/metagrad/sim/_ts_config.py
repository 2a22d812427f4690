"""Configuration, initial conditions and result container of the teacher–student simulators."""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jax import Array

from metagrad.sim._ts_rng import RNGS

__all__ = ["SimConfig", "SimResult", "initial_weights"]


def _as_tuple(a):
    return tuple(_as_tuple(r) for r in a) if a.ndim > 1 else tuple(float(x) for x in a)


def _matrix(v, shape, name, square=True):
    a = np.asarray(v, float)
    if a.ndim == 0:
        a = a * np.eye(shape[0]) if square else np.full(shape, float(a))
    elif a.ndim == 1 and square and a.shape == (shape[0],):
        a = np.diag(a)
    if a.shape != shape:
        raise ValueError(f"{name} must have shape {shape} (or be a scalar); got {a.shape}.")
    return a


@dataclasses.dataclass(frozen=True)
class SimConfig:
    """Online FO-ANIL in the teacher–student scenario (Wang, Yip, Li 2024, Sec. III A, IV A).

    Attributes:
        N: input dimension (> 2(K+M)).  K, M: student / teacher widths (≥ 1).
        P, V: training / validation examples per task (≥ 1).
        eta_J, eta_w: outer (step η_J/N) and inner learning rates (> 0).
        alpha_max: horizon α = t/N (> 0).  d_record: α between records; also the window of the
            moving-average ε (the paper's Δα = 0.05); rounded to a whole number of tasks ≥ 1.
        activation: ``"erf"`` (g = erf(x/√2)) or ``"linear"``.
        noise: output-noise variance Σ_noise on training and validation labels (App. D, ≥ 0).
        lam: L2 coefficient λ (App. D, ≥ 0).
        gamma: teacher variability γ ∈ [0, 1] (App. C, Eq. 41): labels use
            B^t = γB + √(1−γ²)ΔB^t with fresh ΔB^t = chol(D) Z/√N, Z standard normal; 1 = off.
        D: covariance of ΔB^t, ``"T"`` (norm-preserving) or ``"I"``.
        T: None = Gaussian teacher B ~ N(0, I/N) (Sec. IV A); else a prescribed teacher overlap
            (M,) diagonal or (M, M), imposed as B = chol(T) O with orthonormal rows O.
        Q0, R0: None = Gaussian student J(0) ~ N(0, I/N) independent of B; else prescribed
            initial overlaps (Q0: scalar × I or (K, K); R0: scalar for every entry or (K, M)),
            both or neither.
        shared_init: True = one B and J(0) for all runs, different task streams (Fig. 2).
        n_eps: training sets averaged by the low-variance ε estimator at each record.
        rng: stream of the direct simulator's Gaussian inputs: ``"counter"`` (default; Threefry-2x32
            on (position, task) counters, one key per run, the fastest here) or ``jax.random``
            keys of implementation ``"threefry"``, ``"rbg"``, ``"unsafe_rbg"`` (one per run and
            task). Same key, same numbers, for each; the law is the same (standard normal).
    """

    N: int = 1000
    K: int = 3
    M: int = 3
    P: int = 100
    V: int = 100
    eta_J: float = 6.0
    eta_w: float = 4.0
    alpha_max: float = 10.0
    d_record: float = 0.05
    activation: str = "erf"
    noise: float = 0.0
    lam: float = 0.0
    gamma: float = 1.0
    D: str = "T"
    T: tuple | None = None
    Q0: float | tuple | None = None
    R0: float | tuple | None = None
    shared_init: bool = True
    n_eps: int = 4
    rng: str = "counter"

    def __post_init__(self) -> None:
        for name in ("T", "Q0", "R0"):  # hashable (the config is a static jit argument)
            v = getattr(self, name)
            if v is not None and np.ndim(v) > 0:
                object.__setattr__(self, name, _as_tuple(np.asarray(v, float)))
        for name, lo in (("K", 1), ("M", 1), ("P", 1), ("V", 1), ("n_eps", 1)):
            v = getattr(self, name)
            if int(v) != v or v < lo:
                raise ValueError(f"{name}={v} must be an integer >= {lo}.")
        if int(self.N) != self.N or self.N <= 2 * (self.K + self.M):
            raise ValueError(f"N={self.N} must be an integer > 2(K+M) = {2 * (self.K + self.M)}.")
        for name in ("eta_J", "eta_w", "alpha_max", "d_record"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name}={getattr(self, name)} must be > 0.")
        for name in ("noise", "lam"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name}={getattr(self, name)} must be >= 0.")
        if self.activation not in ("erf", "linear"):
            raise ValueError(f"activation={self.activation!r} must be 'erf' or 'linear'.")
        if not 0.0 <= self.gamma <= 1.0:
            raise ValueError(f"gamma={self.gamma} must be in [0, 1] (1 = no variability).")
        if self.rng not in RNGS:
            raise ValueError(f"rng={self.rng!r} must be one of {RNGS}.")
        if self.alpha_max * self.N >= 2**32:
            raise ValueError(f"alpha_max={self.alpha_max}: at most 2**32 tasks (α N).")
        if self.D not in ("T", "I"):
            raise ValueError(f"D={self.D!r} must be 'T' or 'I'.")
        if (self.Q0 is None) != (self.R0 is None):
            raise ValueError("Q0, R0: give both (prescribed J(0)) or neither (Gaussian J(0)).")
        if not self.lam * self.eta_J < self.N:
            raise ValueError(f"lam={self.lam}: the decay λη_J/N must be < 1.")
        if self.n_records < 1:
            raise ValueError(f"alpha_max={self.alpha_max} must be >= d_record={self.d_record}.")
        self.overlaps()  # validates T, Q0, R0

    @property
    def record_every(self) -> int:
        """Tasks between records (and in the ε moving-average window)."""
        return max(int(round(self.d_record * self.N)), 1)

    @property
    def n_records(self) -> int:
        """Number of records after α = 0."""
        return int(round(self.alpha_max * self.N)) // self.record_every

    def overlaps(self) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]:
        """(T, Q0, R0) as float64 arrays, or None where drawn at random; validated."""
        K, M = self.K, self.M
        T = None if self.T is None else _matrix(self.T, (M, M), "T")
        if self.Q0 is None:
            return T, None, None
        Q0, R0 = _matrix(self.Q0, (K, K), "Q0"), _matrix(self.R0, (K, M), "R0", square=False)
        Tc = np.eye(M) if T is None else T
        C = np.block([[Q0, R0], [R0.T, Tc]])
        if not np.allclose(C, C.T) or np.linalg.eigvalsh(C).min() <= 0:
            raise ValueError("[[Q0, R0], [R0ᵀ, T]] must be symmetric positive definite.")
        return T, Q0, R0


def _orthonormal_rows(key: Array, n: int, N: int) -> Array:
    q, r = jnp.linalg.qr(jr.normal(key, (N, n)))
    return (q * jnp.sign(jnp.diagonal(r))).T


def initial_weights(config: SimConfig, key: Array) -> tuple[Array, Array]:
    """One draw of (B (M, N), J(0) (K, N)) following Sec. IV A or the prescribed overlaps."""
    c = config
    T, Q0, R0 = c.overlaps()
    kb, kj = jr.split(key)
    if T is None:
        B = jr.normal(kb, (c.M, c.N)) / np.sqrt(c.N)
    else:
        B = jnp.linalg.cholesky(T) @ _orthonormal_rows(kb, c.M, c.N)
    if Q0 is None:
        return B, jr.normal(kj, (c.K, c.N)) / np.sqrt(c.N)
    Tr = B @ B.T
    A = jnp.linalg.solve(Tr, jnp.asarray(R0).T).T  # J = A B + S O_⊥
    rows = _orthonormal_rows(kj, c.K + c.M, c.N)
    O_perp = rows[c.M :] - (rows[c.M :] @ B.T) @ jnp.linalg.solve(Tr, B)
    O_perp = jnp.linalg.qr(O_perp.T)[0].T
    S = jnp.linalg.cholesky(jnp.asarray(Q0) - A @ Tr @ A.T)
    return B, A @ B + S @ O_perp


class SimResult(NamedTuple):
    """Records of :func:`simulate`, per run on the grid α = 0, d_record, 2 d_record, …

    Attributes:
        alpha: (n,) α = t/N of the records.
        Q: (n_runs, n, K, K).  R: (n_runs, n, K, M).  T: (n_runs, M, M) realised teacher overlaps.
        eps: (n_runs, n) low-variance ε estimate at each record (exact over the test point and the
            teacher head u, averaged over ``n_eps`` training sets; clean test labels).
        eps_ma: (n_runs, n) the Fig. 2 protocol: per-task pre-update validation loss (a fresh test
            set of V points for J^{t-1}), averaged over the window of ``d_record`` that ends at the
            record, minus Σ_noise/2 (clean-label ε); NaN at α = 0.
    """

    alpha: Array
    Q: Array
    R: Array
    T: Array
    eps: Array
    eps_ma: Array

    def mean(self) -> dict[str, Array]:
        """Mean across runs of Q, R, eps, eps_ma (dict of arrays without the run axis)."""
        return {k: jnp.mean(getattr(self, k), axis=0) for k in ("Q", "R", "eps", "eps_ma")}

    def std(self) -> dict[str, Array]:
        """Standard deviation across runs (ddof = 1) of Q, R, eps, eps_ma."""
        return {k: jnp.std(getattr(self, k), axis=0, ddof=1) for k in ("Q", "R", "eps", "eps_ma")}
