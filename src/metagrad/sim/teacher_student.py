"""Online FO-ANIL in the teacher–student scenario: simulators (Wang, Yip, Li 2024; docs/wang2024.md).

- :func:`simulate` — many runs on a grid of α = t/N, by the *direct* N-dimensional algorithm
  (Eqs. 9–13, 22; App. C, D) or the *reduced* simulator, exact at any finite N, that evolves only
  the overlaps (Q, R) (cost independent of N). Both record Q, R, the low-variance ε estimate and
  the moving-average ε of the paper's Fig. 2 caption.
- :func:`averaged_update` / :func:`mc_meta_error` — one-task updates and the test error drawn in
  *field space* — the fields (x, y) = (Jξ, Bξ) of every example are exactly N(0, C) with
  C = [[Q, R], [Rᵀ, T]] — so averaging many tasks at one state gives the N → ∞ drift N·⟨ΔR⟩,
  N·⟨ΔQ⟩ that the ODE right-hand side must equal, and a Monte Carlo of ε_meta.

Example:
    >>> import jax.random as jr
    >>> from metagrad.sim import teacher_student as sim
    >>> cfg = sim.SimConfig(N=200, P=20, V=20, alpha_max=0.5, d_record=0.25)
    >>> res = sim.simulate(cfg, method="reduced", n_runs=2, key=jr.PRNGKey(0))
    >>> res.Q.shape, res.alpha.shape
    ((2, 3, 3, 3), (3,))
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jax import Array

from metagrad.sim._ts_config import SimConfig, SimResult, initial_weights
from metagrad.sim._ts_direct import direct_runs
from metagrad.sim._ts_fields import factor, fast_key, g, gp, label_cov, task_from_fields
from metagrad.sim._ts_reduced import reduced_run
from metagrad.theory._ts_integrals import i2

__all__ = ["SimConfig", "SimResult", "averaged_update", "mc_meta_error", "simulate"]

_METHODS = ("direct", "reduced")


@functools.partial(jax.jit, static_argnums=(0, 1))
def _run(config: SimConfig, method: str, B: Array, J0: Array, key: Array):
    key = fast_key(key)
    if method == "direct":
        return direct_runs(config, B, J0, key)
    Q0, R0, T = (jnp.einsum("rkn,rln->rkl", a, b) for a, b in ((J0, J0), (J0, B), (B, B)))
    keys = jr.split(key, B.shape[0])
    return jax.vmap(lambda q, r, t, k: reduced_run(config, q, r, t, k))(Q0, R0, T, keys)


def simulate(config: SimConfig, *, method: str = "reduced", n_runs: int, key: Array) -> SimResult:
    """Simulate ``n_runs`` independent runs of online FO-ANIL (float64 overlaps).

    With ``config.shared_init`` all runs start from the same B and J(0) (drawn from ``key``) and
    differ only in their task streams, as in the paper's Fig. 2; otherwise each run draws its own.

    Args:
        config: a :class:`SimConfig`.
        method: ``"direct"`` (N-dimensional weights, inputs drawn on the fly) or ``"reduced"``
            (exact Markov chain of the overlaps; see ``_ts_reduced``).
        n_runs: number of runs (≥ 1), on one batch axis.
        key: PRNG key.

    Returns:
        :class:`SimResult` with ``config.n_records + 1`` records per run (the first at α = 0).
    """
    if method not in _METHODS:
        raise ValueError(f"method={method!r} must be one of {_METHODS}.")
    if int(n_runs) != n_runs or n_runs < 1:
        raise ValueError(f"n_runs={n_runs} must be an integer >= 1.")
    if not isinstance(config, SimConfig):
        raise ValueError(f"config must be a SimConfig; got {type(config).__name__}.")
    k_init, k_run = jr.split(key)
    if config.shared_init:
        B, J0 = initial_weights(config, k_init)
        B = jnp.broadcast_to(B, (n_runs,) + B.shape)
        J0 = jnp.broadcast_to(J0, (n_runs,) + J0.shape)
    else:
        B, J0 = jax.vmap(lambda k: initial_weights(config, k))(jr.split(k_init, n_runs))
    Q, R, eps, eps_ma = _run(config, method, B, J0, k_run)
    alpha = config.record_every * jnp.arange(config.n_records + 1) / config.N
    return SimResult(alpha, Q, R, jnp.einsum("rmn,rln->rml", B, B), eps, eps_ma)


def _label_fields(key, y, gamma, D):
    """ỹ = γy + √(1−γ²)d with d ~ N(0, D) drawn independently (the N → ∞ App. C law)."""
    if gamma is None:
        return y
    d = jr.normal(key, y.shape) @ factor(D).T
    return gamma * y + np.sqrt(1.0 - gamma**2) * d


def _mean_head(C, D, K, M, gamma, activation):
    """f_km = ⟨g(x_k) g(ỹ_m)⟩ of the P → ∞ head, from the covariance of (x, ỹ) built by
    :func:`label_cov` (the construction ỹ = γy + √(1−γ²)d, not the theory's closure code)."""
    Cl = C if gamma is None else label_cov(C, D, K, gamma)
    return i2(Cl, activation=activation)[:K, K : K + M]


def _one_task(key, C, S, f, K, M, eta_J, eta_w, V, P, activation, gamma, D, noise, second_order):
    ku, kw, kv, kl, kn = jr.split(key, 5)
    u = jr.normal(ku, (M,))
    if P is None:  # the P → ∞ head (29), from the closed-form mean
        w = eta_w / np.sqrt(K * M) * f @ u
        zt = None
    else:
        zt = jr.normal(kw, (P, K + M)) @ S.T
    zv = jr.normal(kv, (V, K + M)) @ S.T
    z = zv if zt is None else jnp.concatenate([zt, zv])
    lab = _label_fields(kl, z[:, K:], gamma, D)
    nz = np.sqrt(noise) * jr.normal(kn, (z.shape[0],))
    x = z[:, :K]
    if zt is not None:
        kw_ = dict(K=K, M=M, P=P, eta_w=eta_w, activation=activation)
        w, e, h = task_from_fields(x[:P], lab[:P], x[P:], lab[P:], u, nz[:P], nz[P:], **kw_)
    else:
        e = g(lab, activation) @ u / np.sqrt(M) + nz - g(x, activation) @ w / np.sqrt(K)
        h = e[:, None] * w[None, :] * gp(x, activation)
    xv, yv = zv[:, :K], zv[:, K:]
    c = eta_J / (V * np.sqrt(K))
    dR = c * h.T @ yv
    dQ = c * (h.T @ xv + xv.T @ h)
    if second_order:
        dQ = dQ + c**2 * h.T @ h  # ξ^ν·ξ^ν' = N δ_νν' as N → ∞
    return dQ, dR


def averaged_update(
    Q: Array,
    R: Array,
    T: Array,
    *,
    eta_J: float,
    eta_w: float,
    V: int,
    n_tasks: int,
    key: Array,
    P: int | None = None,
    activation: str = "erf",
    gamma: float | None = None,
    D: Array | None = None,
    noise: float = 0.0,
    second_order: bool = True,
) -> tuple[Array, Array, Array, Array]:
    """N·⟨ΔQ⟩ and N·⟨ΔR⟩ of one FO-ANIL task at the state (Q, R, T), as N → ∞, by Monte Carlo.

    Per task (Eqs. (11), (22)–(23)): draw u, the training fields (or the P → ∞ head) and V
    validation fields ~ N(0, C); then N·ΔR = c hᵀy and N·ΔQ = c(hᵀx + xᵀh) + c² V hᵀh with
    c = η_J/(V√K) (the off-diagonal ξ^ν·ξ^ν'/N terms vanish as N → ∞). With ``gamma`` the labels
    use ỹ = γy + √(1−γ²)d, d ~ N(0, D) drawn independently of (x, y) (App. C as N → ∞), R is
    still measured against y; with ``noise`` the labels get N(0, noise) (App. D).

    Args:
        Q: (K,K), R: (K,M), T: (M,M) order parameters.
        eta_J, eta_w: learning rates.  V: validation examples (≥ 1).  n_tasks: tasks averaged
            (≤ 1000 or a multiple of 1000).
        key: PRNG key.  P: training examples (None = the P → ∞ head).
        activation: ``"erf"`` or ``"linear"``.  gamma: teacher variability in [0, 1] or None.
        D: (M, M) covariance of ΔB (default T).  noise: label-noise variance Σ_noise (≥ 0).
        second_order: include the c² hᵀh term of ΔQ (False: only the O(η_J) drift).

    Returns:
        (mean N·ΔQ (K,K), mean N·ΔR (K,M), standard error of ΔQ, standard error of ΔR).
    """
    K, M = R.shape
    chunk = min(n_tasks, 1000)
    if n_tasks % chunk:
        raise ValueError(f"n_tasks={n_tasks} must be <= 1000 or a multiple of 1000.")
    if gamma is not None and not 0.0 <= gamma <= 1.0:
        raise ValueError(f"gamma={gamma} must be in [0, 1] or None.")
    C = jnp.block([[Q, R], [R.T, T]])
    S = factor(C)
    D = T if D is None else jnp.asarray(D)
    f = _mean_head(C, D, K, M, gamma, activation)
    args = (K, M, eta_J, eta_w, V, P, activation, gamma, D, noise, second_order)
    fn = jax.vmap(lambda k: _one_task(k, C, S, f, *args))
    keys = jr.split(key, n_tasks)
    dQ, dR = jax.lax.map(fn, keys.reshape((-1, chunk) + keys.shape[1:]))
    dQ, dR = dQ.reshape(n_tasks, K, K), dR.reshape(n_tasks, K, M)
    se = lambda a: a.std(0) / np.sqrt(n_tasks)  # noqa: E731
    return dQ.mean(0), dR.mean(0), se(dQ), se(dR)


def mc_meta_error(
    Q: Array,
    R: Array,
    T: Array,
    *,
    eta_w: float,
    n: int,
    key: Array,
    P: int | None = None,
    activation: str = "erf",
    gamma: float | None = None,
    D: Array | None = None,
    noise: float = 0.0,
) -> tuple[Array, Array]:
    """Monte Carlo of ε_meta = ⟨½(σ̃ − σ)²⟩ over tasks u, the head's training set and a test point.

    The test label is clean; training labels carry N(0, noise); with ``gamma`` the teacher fields
    are ỹ = γy + √(1−γ²)d, d ~ N(0, D) independent of (x, y) (App. C as N → ∞).

    Args:
        Q, R, T: order parameters (K,K), (K,M), (M,M).  eta_w: inner learning rate.
        n: number of (task, test point) samples.  key: PRNG key.
        P: training examples per task (None = the P → ∞ head of Eq. (29)).
        activation: ``"erf"`` or ``"linear"``.  gamma: teacher variability or None.
        D: (M, M) covariance of ΔB (default T).  noise: training-label noise variance.

    Returns:
        (mean, standard error), scalars.
    """
    K, M = R.shape
    C = jnp.block([[Q, R], [R.T, T]])
    S = factor(C)
    D = T if D is None else jnp.asarray(D)
    f = _mean_head(C, D, K, M, gamma, activation)

    def one(k):
        ku, kw, kz, kl, kn = jr.split(k, 5)
        u = jr.normal(ku, (M,))
        if P is None:
            z = jr.normal(kz, (1, K + M)) @ S.T
        else:
            z = jr.normal(kz, (P + 1, K + M)) @ S.T
        lab = _label_fields(kl, z[:, K:], gamma, D)
        if P is None:
            w = eta_w / np.sqrt(K * M) * f @ u
        else:
            s = g(lab[:P], activation) @ u / np.sqrt(M) + np.sqrt(noise) * jr.normal(kn, (P,))
            w = eta_w / (P * np.sqrt(K)) * g(z[:P, :K], activation).T @ s
        e = g(lab[-1], activation) @ u / np.sqrt(M) - g(z[-1, :K], activation) @ w / np.sqrt(K)
        return 0.5 * e**2

    loss = jax.vmap(one)(jr.split(key, n))
    return loss.mean(), loss.std() / np.sqrt(n)
