r"""Macroscopic theory of online FO-ANIL in the teacher–student scenario (Wang, Yip, Li 2024).

Order parameters Q = J Jᵀ (K×K), R = J Bᵀ (K×M), T = B Bᵀ (M×M) evolve, in the limit N → ∞ with
α = t/N, by the corrected ODEs (36)/(D5) and (38)/(D6) of Wang, Yip & Li (2024); the
meta-generalization error is Eq. (39) / (E5). The integrator is fixed-step RK4 in float64 inside
``jax.lax.scan``, jit-compiled and ``vmap``-ped over batches of learning rates / γ.

Example:
    >>> from metagrad.theory import teacher_student as ts
    >>> cfg = ts.TSConfig(K=3, M=3, eta_J=3.0, eta_w=9.0, alpha_max=10.0, d_alpha=0.05)
    >>> traj = ts.integrate(cfg)
    >>> traj.eps.shape == traj.alpha.shape
    True
"""

from __future__ import annotations

import dataclasses
import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array
from jax.typing import ArrayLike

from metagrad.theory._ts_finite_p import head_second_moment
from metagrad.theory._ts_integrals import (
    check_covariance,
    i2,
    i3,
    i4,
    i4_entries,
    integrals,
    j2,
)

__all__ = [
    "TSConfig",
    "Trajectory",
    "first_crossing",
    "i2",
    "i3",
    "i4",
    "integrate",
    "integrate_batch",
    "j2",
    "meta_generalization_error",
    "order_parameter_rhs",
]


@dataclasses.dataclass(frozen=True)
class TSConfig:
    """Parameters of one ODE solve (defaults: the common setting of Figs 3–7).

    Attributes:
        K, M: student and teacher widths (≥ 1).
        V: validation examples per task (> 0; ``inf`` drops the η_J² terms).
        eta_J, eta_w: outer and inner learning rates (> 0).
        T: teacher overlap, an (M,) diagonal or an (M, M) matrix (default diag(1..M)).
        Q0: initial Q, a scalar (times I_K) or a (K, K) matrix.
        R0: initial R, a scalar (every entry) or a (K, M) matrix.
        alpha_max, d_alpha, record_every: horizon, RK4 step, steps between records.
        activation: ``"erf"`` or ``"linear"``.
        noise: output-noise variance Σ_noise (App. D, ≥ 0).
        lam: L2 coefficient λ (App. D, ≥ 0).
        gamma: teacher variability γ ∈ [0, 1] (App. C, exact Gaussian closure); None = off.
        D: covariance of ΔB^t, ``"T"`` (norm-preserving) or ``"I"``.
        ic_perturbation: δ, R0 ← R0 (1 + δ U) with U ~ Unif(−1, 1) drawn from ``ic_seed``.
        ic_seed: seed of U (NumPy, fixed so that runs are reproducible).
        closure: with ``gamma``: ``"exact"`` Gaussian closure (docs/wang2024.md#teacher-variability) or the paper's first-order
            ``"taylor"`` closure (App. C, Eq. C2).
        paper_literal: use the equations as printed, typos included (diagnosis only; see
            :func:`order_parameter_rhs`).
        P: training examples per task for the O(1/P) correction (the variance of the adapted
            head, beyond the paper's closure (32)); None = P → ∞, the paper's theory.
    """

    K: int = 3
    M: int = 3
    V: float = 100.0
    eta_J: float = 3.0
    eta_w: float = 3.0
    T: tuple | None = None
    Q0: float | tuple = 0.5
    R0: float | tuple = 1e-12
    alpha_max: float = 500.0
    d_alpha: float = 0.01
    record_every: int = 10
    activation: str = "erf"
    noise: float = 0.0
    lam: float = 0.0
    gamma: float | None = None
    D: str = "T"
    ic_perturbation: float = 0.0
    ic_seed: int = 0
    paper_literal: bool = False
    closure: str = "exact"
    P: float | None = None

    def __post_init__(self) -> None:
        for name, lo in (("K", 1), ("M", 1), ("record_every", 1)):
            if int(getattr(self, name)) < lo:
                raise ValueError(f"{name}={getattr(self, name)} must be >= {lo}.")
        for name in ("V", "eta_J", "eta_w", "d_alpha", "alpha_max"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name}={getattr(self, name)} must be > 0.")
        for name in ("noise", "lam", "ic_perturbation"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name}={getattr(self, name)} must be >= 0.")
        if self.activation not in ("erf", "linear"):
            raise ValueError(f"activation={self.activation!r} must be 'erf' or 'linear'.")
        if self.gamma is not None and not 0.0 <= self.gamma <= 1.0:
            raise ValueError(f"gamma={self.gamma} must be in [0, 1] (or None).")
        if self.closure not in ("exact", "taylor"):
            raise ValueError(f"closure={self.closure!r} must be 'exact' or 'taylor'.")
        if self.D not in ("T", "I"):
            raise ValueError(f"D={self.D!r} must be 'T' or 'I'.")
        if self.P is not None and not self.P >= 1:
            raise ValueError(f"P={self.P} must be >= 1 (or None for P → ∞).")
        if self.P is not None and (self.paper_literal or self.closure == "taylor"):
            raise ValueError(
                "P: the finite-P correction needs closure='exact', paper_literal=False."
            )

    def matrices(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(T, D, Q0, R0) as float64 arrays, with the initial-condition perturbation applied."""
        K, M = self.K, self.M
        T = np.diag(np.arange(1.0, M + 1)) if self.T is None else np.asarray(self.T, float)
        T = np.diag(T) if T.ndim == 1 else T
        Q0 = np.asarray(self.Q0, float) * (np.eye(K) if np.ndim(self.Q0) == 0 else 1.0)
        R0 = np.broadcast_to(np.asarray(self.R0, float), (K, M)).copy()
        if T.shape != (M, M) or Q0.shape != (K, K):
            raise ValueError(f"T must be (M,M)=({M},{M}) and Q0 (K,K); got {T.shape}, {Q0.shape}.")
        U = np.random.default_rng(self.ic_seed).uniform(-1.0, 1.0, (K, M))
        R0 = R0 * (1.0 + self.ic_perturbation * U)
        check_covariance(np.block([[Q0, R0], [R0.T, T]]), name="[[Q0, R0], [R0ᵀ, T]]")
        D = T if self.D == "T" else np.eye(M)
        return T, D, Q0, R0


class Trajectory(NamedTuple):
    """Recorded solution; batched solves add a leading batch axis to every field.

    Attributes:
        alpha: (n,) times α = t/N.  Q: (n, K, K).  R: (n, K, M).  eps: (n,) ε_meta (clean,
        without the Σ_noise/2 of noisy test labels).  rho: (n, K, M) cosines R/√(Q_kk T_nn).
    """

    alpha: Array
    Q: Array
    R: Array
    eps: Array
    rho: Array


def _cov(Q: Array, R: Array, T: Array, gamma: Array | None, D: Array | None, taylor=False):
    """Joint covariance of (x, y[, ỹ]) and the slices of the label (t) and target (r) fields.

    With ``taylor`` the label field is γy (the argument of g in the paper's Eq. C2), not ỹ."""
    K, M = R.shape
    C = jnp.block([[Q, R], [R.T, T]])
    if gamma is None:
        return C, slice(K, K + M), slice(K, K + M)
    top = jnp.concatenate([gamma * R, gamma * T], axis=0)
    corner = gamma**2 * T if taylor else gamma**2 * T + (1.0 - gamma**2) * D
    C = jnp.block([[C, top], [top.T, corner]])
    return C, slice(K + M, K + 2 * M), slice(K, K + M)


def _eps(Q, R, T, eta_w, gamma, D, activation, taylor=False, inv_P=None, noise=0.0):
    K, M = R.shape
    C, t, _ = _cov(Q, R, T, gamma, D, taylor)
    I2 = i2(C, activation=activation)
    f = I2[:K, t]
    G = f @ f.T
    if inv_P is not None:  # O(1/P): ⟨w wᵀ⟩ with the head's variance (_ts_finite_p)
        G = head_second_moment(C, K, t, inv_P=inv_P, noise=noise, activation=activation)
    labels = jnp.trace(I2[t, t])
    if taylor:  # Eq. C2: + (1−γ²) Σ_m D_mm ⟨g'(γy_m)²⟩ from the ΔB term
        labels = labels + (1 - gamma**2) * jnp.sum(
            jnp.diag(D) * jnp.diag(j2(C, activation=activation)[t, t])
        )
    return (
        labels / (2 * M)
        - eta_w / (K * M) * jnp.sum(f**2)
        + eta_w**2 / (2 * K**2 * M) * jnp.sum(G * I2[:K, :K])
    )


def meta_generalization_error(
    Q: ArrayLike,
    R: ArrayLike,
    T: ArrayLike,
    *,
    eta_w: ArrayLike,
    activation: str = "erf",
    gamma: float | None = None,
    D: ArrayLike | None = None,
    closure: str = "exact",
    P: ArrayLike | None = None,
    noise: ArrayLike = 0.0,
) -> Array:
    r"""Meta-generalization error ε_meta of FO-ANIL with one inner step (P → ∞ closure).

    ε = (1/2M) Σ_n I2(y_n,y_n) − (η_w/KM) Σ_kn f_kn² + (η_w²/2K²M) Σ_kl G_kl I2(x_k,x_l),
    with f_kn = I2(x_k, y_n) and G = f fᵀ (linear g: ε = tr T/2M − η_w‖R‖²/KM + η_w² tr(GQ)/2K²M).

    Implements Wang, Yip, Li 2024, Eq. (39) and Eq. (E5); with ``gamma`` the label field is the
    task teacher ỹ of the exact closure of App. C (docs/wang2024.md#teacher-variability).

    Args:
        Q: (..., K, K) student overlaps.  R: (..., K, M).  T: (..., M, M) teacher overlaps.
        eta_w: inner learning rate (> 0), broadcasting over the leading axes.
        activation: ``"erf"`` or ``"linear"``.
        gamma: teacher variability in [0, 1], or None (γ = 1 without augmentation).
        D: (M, M) covariance of ΔB^t (default T); used only with ``gamma``.
        closure: ``"exact"`` (docs/wang2024.md#teacher-variability) or ``"taylor"`` (the paper's Eq. C2), with ``gamma``.
        P: training examples per task: with P, G = f fᵀ becomes the exact finite-P second moment
            of the head, G + (H − G)/P (beyond the paper; see ``_ts_finite_p``). None = P → ∞.
        noise: output-noise variance of the training labels (enters only with ``P``).

    Returns:
        Array of the broadcast leading shape.
    """
    if P is not None and not np.all(np.asarray(P) >= 1):
        raise ValueError(f"P={P} must be >= 1 (or None for P → ∞).")
    Q, R, T = (jnp.asarray(a, jnp.float64) for a in (Q, R, T))
    D = T if D is None else jnp.asarray(D, jnp.float64)

    inv_P = None if P is None else 1.0 / jnp.asarray(P, jnp.float64)

    def one(q, r, tt, e, dd):
        g = None if gamma is None else gamma
        tay = g is not None and closure == "taylor"
        return _eps(q, r, tt, e, g, dd, activation, tay, inv_P, noise)

    sig = "(k,k),(k,m),(m,m),(),(m,m)->()"
    return jnp.vectorize(one, signature=sig)(Q, R, T, jnp.asarray(eta_w, jnp.float64), D)


def order_parameter_rhs(
    Q: Array,
    R: Array,
    T: Array,
    p: dict,
    *,
    activation: str = "erf",
    D: Array | None = None,
    paper_literal: bool = False,
    closure: str = "exact",
    fused: bool = True,
) -> tuple[Array, Array]:
    r"""Right-hand side (dQ/dα, dR/dα) of the corrected ODEs (36)/(D5) and (38)/(D6).

    Implements Wang, Yip, Li 2024, Eqs. (36), (38) with the errata listed in docs/wang2024.md#implemented-equations-and-errata, App. D
    (noise Σ with prefactor 1/(VK²M), L2 λ) and, if ``p["gamma"]`` is given, the exact App. C
    closure (docs/wang2024.md#teacher-variability).

    Args:
        Q: (K, K), R: (K, M), T: (M, M) order parameters (jointly positive semi-definite).
        p: dict with ``eta_J``, ``eta_w``, ``inv_V`` (1/V), ``noise``, ``lam`` and optionally
            ``gamma`` (None = no teacher variability) and ``inv_P`` (1/P: the O(1/P)
            correction, G → G + (H − G)/P in the O(1) drift; absent = P → ∞); scalars, may be
            traced.
        activation: ``"erf"`` or ``"linear"``.
        D: (M, M) covariance of ΔB^t (needed with ``gamma``).
        closure: with ``gamma``, ``"exact"`` (docs/wang2024.md#teacher-variability) or ``"taylor"``: the paper's first-order
            Eq. (C2), g(γy_m) + √(1−γ²) g'(γy_m) ΔB_m·ξ, which keeps the (1−γ²) g'² terms of the
            η_J² Wick pairings and drops g''; it differs from the exact closure at O(1−γ²).
        paper_literal: for diagnosis only, use the equations as printed, with the index typos
            of docs/wang2024.md#implemented-equations-and-errata: erf — (36) f_in for f_im; (38) f_kn for f_ln in its second line and
            Σ_nm f_km f_lm I4(k,l,n,m) for G_kl Σ_n I4(k,l,n,n); (D6) noise prefactor 1/(VK²M²);
            linear — (E4) R_kn R_km for R_kn R_lm in the middle Wick term of each η_J² line.

        fused: evaluate the η_J² terms as one weighted sum over the I4 entries they use
            (default; :func:`_second_order_fused`) instead of contracting the full I4 tensor
            (``False``: the reference, equal up to float64 round-off; slower). Ignored with
            ``paper_literal``, which always uses the full tensor.

    Returns:
        (dQ (K, K), dR (K, M)).
    """
    K, M = R.shape
    fused = fused and not paper_literal
    eJ, ew = p["eta_J"], p["eta_w"]
    taylor = closure == "taylor" and p.get("gamma") is not None
    C, t, r = _cov(Q, R, T, p.get("gamma"), D, taylor)
    I2, I3, I4 = (*_i2_i3(C, K, activation), None) if fused else integrals(C, K, activation)
    f = I2[:K, t]
    G = f @ f.T
    # O(1/P) option (beyond the paper): the O(1) drift is quadratic in w, so ⟨w_i w_k⟩ ∝ G̃ there
    Gt = (
        G
        if "inv_P" not in p
        else head_second_moment(C, K, t, inv_P=p["inv_P"], noise=p["noise"], activation=activation)
    )
    a1, a2 = eJ * ew / (K * M), eJ * ew**2 / (K**2 * M)
    lit36 = paper_literal and activation == "erf"
    dR = a1 * jnp.einsum("km,knm->kn", f, I3[:, r, t])
    if lit36:  # literal (36): Σ_im f_in f_km I3(k,n,i) in place of Σ_i G_ik I3(k,n,i)
        dR = dR - a2 * jnp.einsum("in,k,kni->kn", f, f.sum(1), I3[:, r, :K])
    else:
        dR = dR - a2 * jnp.einsum("ik,kni->kn", Gt, I3[:, r, :K])
    dQ = a1 * jnp.einsum("kn,kln->kl", f, I3[:, :K, t]) - a2 * jnp.einsum(
        "ik,kli->kl", Gt, I3[:, :K, :K]
    )
    # literal (38), second line: f_kn I3(l,k,n) and f_in f_kn I3(l,k,i), i.e. the k-row again
    dQ_lk = _literal_38_second_line(f, G, I3, t, K, a1, a2) if lit36 else dQ.T
    if fused:
        second = _second_order_fused(C, f, G, t, K, M, eJ, ew, activation)
    else:
        second = _second_order(
            f, G, I4, t, K, M, eJ, ew, literal=paper_literal, activation=activation
        )
    if taylor:
        second = second + _taylor_wick(C, f, G, t, K, M, eJ, ew, p["gamma"], D, activation)
    dQ = dQ + dQ_lk + p["inv_V"] * second
    m_noise = M**2 if lit36 else M  # literal (D6): (η_Jη_w)²/(V(KM)²)
    dQ = (
        dQ
        + eJ**2
        * ew**2
        * p["noise"]
        * p["inv_V"]
        / (K**2 * m_noise)
        * G
        * j2(C, activation=activation)[:K, :K]
    )
    return dQ - 2 * p["lam"] * eJ * Q, dR - p["lam"] * eJ * R


def _taylor_wick(C, f, G, t, K, M, eJ, ew, gamma, D, activation):
    """Taylor closure (C2): the ⟨Δ_nΔ_m⟩ = δ_nm D_nn part of the η_J² term (times V),
    b1 (1−γ²) Σ_n D_nn ⟨g'(x_k) g'(x_l) g'(γy_n)²⟩ (G_kl + 2 f_kn f_ln)."""
    gp4 = _gp4(C, K, t) if activation == "erf" else jnp.ones((K, K, len(np.arange(C.shape[0])[t])))
    w = G[:, :, None] + 2 * f[:, None, :] * f[None, :, :]
    b1 = eJ**2 * ew**2 / (K**2 * M**2)
    return b1 * (1 - gamma**2) * jnp.einsum("n,kln,kln->kl", jnp.diag(D), gp4, w)


def _gp4(C: Array, K: int, t: slice) -> Array:
    """⟨g'(u_k) g'(u_l) g'(u_n)²⟩ = (2/π)² / √det(I + C₄) for k, l < K and n in slice t (erf;
    C₄ = covariance of (u_k, u_l, u_n, u_n)), shape (K, K, len(t))."""
    idx = np.arange(C.shape[0])
    x, z = idx[:K], idx[t]
    sel = np.stack(np.broadcast_arrays(x[:, None, None], x[None, :, None], z, z), -1)
    C4 = C[sel[..., :, None], sel[..., None, :]]
    return (2 / np.pi) ** 2 / jnp.sqrt(jnp.linalg.det(jnp.eye(4) + C4))


def _literal_38_second_line(f, G, I3, t, K, a1, a2):
    """(38) as printed, second line: Σ_n f_kn I3(l,k,n) − Σ_i G_ik I3(l,k,i) (typo: f_kn, G_ik)."""
    return a1 * jnp.einsum("kn,lkn->kl", f, I3[:, :K, t]) - a2 * jnp.einsum(
        "ik,lki->kl", G, I3[:, :K, :K]
    )


def _i2_i3(C: Array, K: int, activation: str) -> tuple[Array, Array]:
    """I2 (L, L) and I3 (K, L, L) of one covariance (I4 is formed block by block where used)."""
    return i2(C, activation=activation), i3(C, k=K, activation=activation)


def _fused_tuples(K: int, M: int, tix: np.ndarray):
    """Static index tuples of the η_J² terms: pairs (k ≤ l), (c, d) with multiplicities, blocks.

    Returns (a, b, pair_of (K, K), c, d, mult, n_tt, n_tx) with c, d indices into C (teacher
    index n ↦ ``tix[n]``); the (t, t) and (x, x) blocks keep c ≤ d (weight ×2 off the diagonal).
    """
    a, b = np.triu_indices(K)
    pair_of = np.zeros((K, K), int)
    pair_of[a, b] = pair_of[b, a] = np.arange(a.size)
    tn, tm = np.triu_indices(M)
    xn, xj = np.repeat(np.arange(M), K), np.tile(np.arange(K), M)
    xi, xk = np.triu_indices(K)
    c = np.concatenate([tix[tn], tix[xn], xi])
    d = np.concatenate([tix[tm], xj, xk])
    mult = np.concatenate(
        [np.where(tn < tm, 2.0, 1.0), np.ones(xn.size), np.where(xi < xk, 2.0, 1.0)]
    )
    return a, b, pair_of, c, d, mult, tn.size, xn.size


def _second_order_fused(C, f, G, t, K, M, eJ, ew, activation):
    """:func:`_second_order` (not literal) as one weighted sum over the I4 entries it uses.

    second[k, l] = Σ_cd W[k, l, c, d] I4[k, l, c, d], the weights W collecting the three Wick
    terms of each line of (38)/(D6): (t, t) b1 (G_kl δ_nm + f_kn f_lm + f_km f_ln); (t, x)
    −b2 (G_kl f_jn + f_kn G_jl + f_ln G_jk); (x, x) b3 (G_kl G_ij + G_ik G_jl + G_il G_jk).
    W and I4 are symmetric in (k, l), and W in (c, d) within the (t, t) and (x, x) blocks, so
    only k ≤ l and c ≤ d there are evaluated (3510 of the 11664 entries of I4 at K = 9, M = 3);
    the (x, t) block is not used. Equal to :func:`_second_order` up to float64 round-off
    (summation order); faster (docs/benchmarks/teacher_student.md).
    """
    tix = np.arange(C.shape[0])[t]  # positions of the teacher fields in C
    a, b, pair_of, c, d, mult, n_tt, n_tx = _fused_tuples(K, M, tix)
    A, B = a[:, None], b[:, None]
    cc, dd = c[None, :], d[None, :]
    b1 = eJ**2 * ew**2 / (K**2 * M**2)
    b2 = 2 * eJ**2 * ew**3 / (K**3 * M**2)
    b3 = eJ**2 * ew**4 / (K**4 * M**2)
    Gab = G[a, b][:, None]
    # (t, t): teacher fields n, m
    pos = np.zeros(C.shape[0], int)
    pos[tix] = np.arange(M)  # C index of a teacher field -> its column in f
    n, m = pos[cc[:, :n_tt]], pos[dd[:, :n_tt]]
    w_tt = b1 * (Gab * (n == m) + f[A, n] * f[B, m] + f[A, m] * f[B, n])
    # (t, x): teacher field n, student field j
    n, j = pos[cc[:, n_tt : n_tt + n_tx]], dd[:, n_tt : n_tt + n_tx]
    w_tx = -b2 * (Gab * f[j, n] + f[A, n] * G[j, B] + f[B, n] * G[j, A])
    # (x, x): i = c, j = d
    i, j = cc[:, n_tt + n_tx :], dd[:, n_tt + n_tx :]
    w_xx = b3 * (Gab * G[i, j] + G[i, A] * G[j, B] + G[i, B] * G[j, A])
    w = jnp.concatenate([w_tt, w_tx, w_xx], axis=1) * mult[None, :]
    if activation == "linear":
        I4 = jnp.broadcast_to(C[c, d][None, :], w.shape)
    else:
        dg = 1.0 + jnp.diagonal(C)
        I4 = i4_entries(
            dg[A],
            dg[B],
            dg[cc],
            dg[dd],
            C[A, B],
            C[A, cc],
            C[A, dd],
            C[B, cc],
            C[B, dd],
            C[c, d][None, :],
        )
    return jnp.sum(w * I4, axis=1)[pair_of]


def _second_order(f, G, I4, t, K, M, eJ, ew, *, literal=False, activation="erf"):
    """The η_J² (1/V) terms of (38)/(D6), times V (``literal``: as printed in (38) or (E4))."""
    Itt, Itx, Ixx = I4[:, :, t, t], I4[:, :, t, :K], I4[:, :, :K, :K]
    b1 = eJ**2 * ew**2 / (K**2 * M**2)
    b2 = 2 * eJ**2 * ew**3 / (K**3 * M**2)
    b3 = eJ**2 * ew**4 / (K**4 * M**2)
    lit38, litE4 = literal and activation == "erf", literal and activation == "linear"
    # literal (38): Σ_nm f_km f_lm I4(k,l,n,m) in place of G_kl Σ_n I4(k,l,n,n)
    w1 = jnp.einsum("km,lm,klnm->kl", f, f, Itt) if lit38 else G * jnp.einsum("klnn->kl", Itt)
    # literal (E4): the middle Wick term of each line has R_km (f_k·) where R_lm (f_l·) belongs
    mid = ("kn,km,klnm->kl", "kn,jk,klnj->kl", "ik,jk,klij->kl") if litE4 else None
    s1 = w1 + jnp.einsum(mid[0] if mid else "kn,lm,klnm->kl", f, f, Itt)
    s1 = s1 + jnp.einsum("km,ln,klnm->kl", f, f, Itt)
    s2 = G * jnp.einsum("jn,klnj->kl", f, Itx)
    s2 = s2 + jnp.einsum(mid[1] if mid else "kn,jl,klnj->kl", f, G, Itx)
    s2 = s2 + jnp.einsum("ln,jk,klnj->kl", f, G, Itx)
    s3 = G * jnp.einsum("ij,klij->kl", G, Ixx)
    s3 = s3 + jnp.einsum(mid[2] if mid else "ik,jl,klij->kl", G, G, Ixx)
    s3 = s3 + jnp.einsum("il,jk,klij->kl", G, G, Ixx)
    return b1 * s1 - b2 * s2 + b3 * s3


@functools.partial(
    jax.jit,
    static_argnames=(
        "n_rec",
        "every",
        "activation",
        "use_gamma",
        "paper_literal",
        "closure",
        "fused",
        "stop_level",
    ),
)
def _solve(
    p,
    T,
    D,
    Q0,
    R0,
    *,
    n_rec,
    every,
    activation,
    use_gamma,
    paper_literal=False,
    closure="exact",
    fused=True,
    stop_level=None,
):
    p = dict(p) if use_gamma else {k: v for k, v in p.items() if k != "gamma"}
    h = p["d_alpha"]
    g = p.get("gamma")
    tay = g is not None and closure == "taylor"
    iP = p.get("inv_P")

    def F(y):
        return order_parameter_rhs(
            y[0],
            y[1],
            T,
            p,
            activation=activation,
            D=D,
            paper_literal=paper_literal,
            closure=closure,
            fused=fused,
        )

    def eps_of(q, r):
        return _eps(q, r, T, p["eta_w"], g, D, activation, tay, iP, p["noise"])

    def step(y, _):
        k1 = F(y)
        k2 = F(jax.tree.map(lambda a, b: a + h / 2 * b, y, k1))
        k3 = F(jax.tree.map(lambda a, b: a + h / 2 * b, y, k2))
        k4 = F(jax.tree.map(lambda a, b: a + h * b, y, k3))
        inc = jax.tree.map(lambda a, b, c, d: (a + 2 * b + 2 * c + d) * h / 6, k1, k2, k3, k4)
        return jax.tree.map(jnp.add, y, inc), None

    def segment(y):
        return jax.lax.scan(step, y, None, length=every)[0]

    if stop_level is None:

        def record(y, _):
            y = segment(y)
            return y, y

        _, (Qs, Rs) = jax.lax.scan(record, (Q0, R0), None, length=n_rec)
        Qs = jnp.concatenate([Q0[None], Qs])
        Rs = jnp.concatenate([R0[None], Rs])
    else:  # records after the stop stay NaN (see integrate_batch)

        def finished(e):
            return (e <= stop_level) | ~jnp.isfinite(e)

        def cond(c):
            return (c[0] < n_rec) & ~c[4]

        def body(c):
            i, y, Qb, Rb, _ = c
            y = segment(y)
            return i + 1, y, Qb.at[i + 1].set(y[0]), Rb.at[i + 1].set(y[1]), finished(eps_of(*y))

        Qb = jnp.full((n_rec + 1, *Q0.shape), jnp.nan, Q0.dtype).at[0].set(Q0)
        Rb = jnp.full((n_rec + 1, *R0.shape), jnp.nan, R0.dtype).at[0].set(R0)
        init = (0, (Q0, R0), Qb, Rb, finished(eps_of(Q0, R0)))
        _, _, Qs, Rs, _ = jax.lax.while_loop(cond, body, init)
    eps = jax.vmap(eps_of)(Qs, Rs)
    rho = Rs / jnp.sqrt(jnp.diagonal(Qs, axis1=1, axis2=2)[:, :, None] * jnp.diag(T)[None, None])
    return Qs, Rs, eps, rho


def _params(cfg: TSConfig, **over) -> dict:
    p = dict(
        eta_J=cfg.eta_J,
        eta_w=cfg.eta_w,
        inv_V=0.0 if np.isinf(cfg.V) else 1.0 / cfg.V,
        noise=cfg.noise,
        lam=cfg.lam,
        gamma=1.0 if cfg.gamma is None else cfg.gamma,
        d_alpha=cfg.d_alpha,
    )
    if cfg.P is not None:
        p["inv_P"] = 1.0 / cfg.P
    p.update({k: v for k, v in over.items() if v is not None})
    return {k: jnp.asarray(v, jnp.float64) for k, v in p.items()}


def _grid(cfg: TSConfig):
    n_steps = int(round(cfg.alpha_max / cfg.d_alpha))
    n_rec = max(n_steps // cfg.record_every, 1)
    alpha = cfg.d_alpha * cfg.record_every * np.arange(n_rec + 1)
    return n_rec, alpha


def integrate(config: TSConfig) -> Trajectory:
    """Integrate the order-parameter ODEs with fixed-step RK4 (float64, jit, ``lax.scan``).

    Implements Wang, Yip, Li 2024, Eqs. (36), (38), (39) (corrected; docs/wang2024.md#implemented-equations-and-errata).

    Args:
        config: a :class:`TSConfig`.

    Returns:
        :class:`Trajectory` with n = alpha_max / (d_alpha · record_every) + 1 records.
    """
    return integrate_batch(config)


def integrate_batch(
    config: TSConfig,
    *,
    eta_w: ArrayLike | None = None,
    eta_J: ArrayLike | None = None,
    gamma: ArrayLike | None = None,
    stop_level: float | None = None,
) -> Trajectory:
    """Integrate a batch of configs that differ in η_w, η_J and/or γ, in one vmapped call.

    Args:
        config: the shared :class:`TSConfig`.
        eta_w, eta_J, gamma: arrays broadcast to one common shape (B,) overriding the config;
            all None gives an unbatched solve. ``gamma`` requires ``config.gamma`` to be set.
        stop_level: None (default) integrates every member to ``alpha_max``. A level ε* > 0
            stops each member at its first record with ε ≤ ε* or a non-finite ε (checked every
            ``record_every`` steps), and the batch once every member has stopped or reached
            ``alpha_max``: the records after a member's stop are NaN. The records up to the stop
            are those of the full solve, so :func:`first_crossing` at ε* is unchanged; whatever
            happens after the crossing (e.g. a later divergence) is not computed.

    Returns:
        :class:`Trajectory` whose fields have a leading axis B (none if unbatched).
    """
    if stop_level is not None and not stop_level > 0:
        raise ValueError(f"stop_level={stop_level} must be > 0 (or None).")
    if gamma is not None and config.gamma is None:
        raise ValueError("gamma: set config.gamma (e.g. 1.0) to enable the App. C closure.")
    T, D, Q0, R0 = config.matrices()
    n_rec, alpha = _grid(config)
    kw = dict(n_rec=n_rec, every=config.record_every, activation=config.activation)
    kw["use_gamma"] = config.gamma is not None
    kw["paper_literal"] = config.paper_literal
    kw["closure"] = config.closure
    kw["stop_level"] = None if stop_level is None else float(stop_level)
    over = {"eta_w": eta_w, "eta_J": eta_J, "gamma": gamma}
    given = {k: np.asarray(v, float) for k, v in over.items() if v is not None}
    if not given:
        out = _solve(_params(config), T, D, Q0, R0, **kw)
        return Trajectory(jnp.asarray(alpha), *out)
    shape = np.broadcast_shapes(*(v.shape for v in given.values()))
    if len(shape) != 1:
        raise ValueError(f"eta_w/eta_J/gamma must broadcast to a 1-D batch; got shape {shape}.")
    p = _params(config, **{k: np.broadcast_to(v, shape) for k, v in given.items()})
    p = {k: (jnp.broadcast_to(v, shape) if k in given else v) for k, v in p.items()}
    axes = {k: (0 if k in given else None) for k in p}
    fn = jax.vmap(lambda q: _solve(q, T, D, Q0, R0, **kw), in_axes=(axes,))
    out = fn(p)
    return Trajectory(jnp.broadcast_to(jnp.asarray(alpha), shape + alpha.shape), *out)


def first_crossing(traj: Trajectory, level: float) -> np.ndarray:
    """α̃: the first recorded α with ε ≤ ``level`` (Fig. 5); NaN where it never happens.

    Args:
        traj: a (possibly batched) :class:`Trajectory`.
        level: the error level (e.g. 0.01).

    Returns:
        NumPy array of the batch shape (a 0-d array for an unbatched trajectory).
    """
    eps = np.asarray(traj.eps)
    alpha = np.asarray(traj.alpha)
    hit = eps <= level
    idx = np.argmax(hit, axis=-1)
    a = np.take_along_axis(alpha, idx[..., None], axis=-1)[..., 0]
    return np.where(hit.any(axis=-1), a, np.nan)
