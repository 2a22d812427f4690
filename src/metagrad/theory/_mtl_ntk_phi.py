# ruff: noqa: F722
r"""Composite kernels of MTL and ANIL (Wang, Zhao, Li 2021, Lemma 1 / Lemma 3, Eqs. 57–66).

Shapes: N training tasks of n points, 𝒳 = (X_i) ∈ R^{Nn×d} (task-major order); a test task has
n_q query points X and n_s support points X'. Test-side arrays may carry leading batch dimensions
(one per test task). All arrays float64.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "TaskKernels",
    "adaptation_operator",
    "inner_loop_decay",
    "phi_anil",
    "phi_anil_test",
    "phi_mtl",
    "phi_mtl_test",
    "spd_eigh",
    "task_kernels_from_gram",
]


class TaskKernels(NamedTuple):
    """Kernel blocks entering Lemma 1 for N training tasks and (a batch of) test tasks.

    Attributes:
        Theta: Θ(𝒳, 𝒳), (Nn, Nn).
        K: K(𝒳, 𝒳), (Nn, Nn).
        Theta_q: Θ(X, 𝒳), (..., n_q, Nn).
        K_q: K(X, 𝒳), (..., n_q, Nn).
        Theta_s: Θ(X', 𝒳), (..., n_s, Nn).
        K_s: K(X', 𝒳), (..., n_s, Nn).
        K_qs: K(X, X'), (..., n_q, n_s).
        K_ss: K(X', X'), (..., n_s, n_s).
        N: number of training tasks (n = Nn / N).
    """

    Theta: np.ndarray
    K: np.ndarray
    Theta_q: np.ndarray
    K_q: np.ndarray
    Theta_s: np.ndarray
    K_s: np.ndarray
    K_qs: np.ndarray
    K_ss: np.ndarray
    N: int


def task_kernels_from_gram(
    K_all: ArrayLike, Theta_all: ArrayLike, *, N: int, n: int, n_q: int, n_s: int
) -> TaskKernels:
    """Slice full Gram matrices over [𝒳; X_1; X'_1; X_2; X'_2; …] into :class:`TaskKernels`.

    Point order: the Nn training points (task-major), then for each of T test tasks its n_q
    query points followed by its n_s support points.

    Args:
        K_all: NNGP Gram, (P, P) with P = Nn + T (n_q + n_s).
        Theta_all: NTK Gram, same shape.
        N: training tasks, >= 1.
        n: points per training task, >= 1.
        n_q: query points per test task, >= 1.
        n_s: support points per test task, >= 1.

    Returns:
        :class:`TaskKernels` with test-side blocks of leading shape (T,).
    """
    K_all, Theta_all = np.asarray(K_all, np.float64), np.asarray(Theta_all, np.float64)
    m = N * n
    P = K_all.shape[0]
    if K_all.shape != (P, P) or Theta_all.shape != (P, P) or (P - m) % (n_q + n_s) or P <= m:
        raise ValueError(
            f"K_all {K_all.shape} and Theta_all {Theta_all.shape} must be square of size "
            f"N*n + T*(n_q+n_s) with T >= 1; got N={N}, n={n}, n_q={n_q}, n_s={n_s}."
        )
    T = (P - m) // (n_q + n_s)
    idx = m + np.arange(T)[:, None] * (n_q + n_s)
    iq, is_ = idx + np.arange(n_q), idx + n_q + np.arange(n_s)
    tr = np.arange(m)
    return TaskKernels(
        Theta=Theta_all[:m, :m],
        K=K_all[:m, :m],
        Theta_q=Theta_all[iq][..., tr],
        K_q=K_all[iq][..., tr],
        Theta_s=Theta_all[is_][..., tr],
        K_s=K_all[is_][..., tr],
        K_qs=K_all[iq[:, :, None], is_[:, None, :]],
        K_ss=K_all[is_[:, :, None], is_[:, None, :]],
        N=int(N),
    )


def spd_eigh(M: ArrayLike, *, name: str, max_cond: float = 1e12) -> tuple[np.ndarray, np.ndarray]:
    """Eigen-decomposition of a symmetric positive-definite matrix with a conditioning check.

    Args:
        M: symmetric matrix, (..., m, m) (symmetrised before the decomposition).
        name: the matrix's name in the paper, used in the error message.
        max_cond: largest accepted condition number σ_max/σ_min, > 1.

    Returns:
        ``(s, V)``: eigenvalues (..., m) ascending and eigenvectors (..., m, m).

    Raises:
        ValueError: naming `name` if M is not finite, not positive definite or too ill-conditioned.
    """
    M = np.asarray(M, np.float64)
    if not np.all(np.isfinite(M)):
        raise ValueError(f"{name} contains NaN or inf.")
    s, V = np.linalg.eigh((M + np.swapaxes(M, -1, -2)) / 2)
    lo, hi = s[..., 0], s[..., -1]
    if np.any(lo <= 0) or np.any(hi > max_cond * lo):
        cond = np.max(np.where(lo > 0, hi / np.where(lo > 0, lo, 1), np.inf))
        raise ValueError(
            f"{name} is singular or ill-conditioned: condition number {cond:.3g} > max_cond="
            f"{max_cond:.3g} (smallest eigenvalue {np.min(lo):.3g}); a Gram with repeated or "
            "collinear inputs is singular — use distinct inputs, or a smaller λτ for Φ_ANIL."
        )
    return s, V


def _spectral(s: np.ndarray, V: np.ndarray, fs: np.ndarray) -> np.ndarray:
    """V diag(fs) Vᵀ, batched."""
    return np.einsum("...ij,...j,...kj->...ik", V, fs, V)


def _phi1(x: np.ndarray) -> np.ndarray:
    """(1 − e^{−x})/x, = 1 at x = 0, stable for small x."""
    safe = np.where(x == 0, 1.0, x)
    return np.where(x == 0, 1.0, -np.expm1(-x) / safe)


def _check_rate(name: str, value: float) -> float:
    value = float(value)
    if not value >= 0:  # also rejects NaN; inf allowed (converged)
        raise ValueError(
            f"{name}={value!r} is out of range: expected a value >= 0 (inf: converged)."
        )
    return value


def adaptation_operator(
    *, K_ss: ArrayLike, lam_tau_hat: float, max_cond: float = 1e12
) -> np.ndarray:
    r"""T_K^{τ̂}(X') = K(X', X')⁻¹ (I − e^{−λ K(X', X') τ̂}) (Wang et al. 2021, Eq. 17).

    e^{·} is the matrix exponential; computed by eigh as V diag((1 − e^{−λτ̂ s})/s) Vᵀ, which is
    bounded by λτ̂ and needs no inverse for finite λτ̂. ``lam_tau_hat=inf`` gives the converged
    adaptation K(X', X')⁻¹ (then K(X', X') must pass the conditioning check).

    Args:
        K_ss: K(X', X'), (..., n_s, n_s), symmetric positive semi-definite.
        lam_tau_hat: λτ̂ >= 0, or inf.
        max_cond: conditioning threshold of K(X', X') when λτ̂ = inf.

    Returns:
        T, (..., n_s, n_s).
    """
    lt = _check_rate("lam_tau_hat", lam_tau_hat)
    if np.isinf(lt):
        s, V = spd_eigh(K_ss, name="K(X', X')", max_cond=max_cond)
        return _spectral(s, V, 1 / s)
    K_ss = np.asarray(K_ss, np.float64)
    s, V = np.linalg.eigh((K_ss + np.swapaxes(K_ss, -1, -2)) / 2)
    s = np.maximum(s, 0.0)
    return _spectral(s, V, lt * _phi1(lt * s))


def _diag_blocks(M: np.ndarray, N: int) -> np.ndarray:
    """The N diagonal (n, n) blocks of an (Nn, Nn) matrix, shape (N, n, n)."""
    n = M.shape[-1] // N
    return np.einsum("iaib->iab", M.reshape(N, n, N, n))


def _check_train(Theta, K, N) -> tuple[np.ndarray, np.ndarray]:
    Theta, K = np.asarray(Theta, np.float64), np.asarray(K, np.float64)
    m = Theta.shape[-1]
    if Theta.ndim != 2 or Theta.shape != (m, m) or K.shape != (m, m):
        raise ValueError(f"Theta {Theta.shape} and K {K.shape} must both be (Nn, Nn).")
    if int(N) != N or N < 1 or m % N:
        raise ValueError(f"N={N!r} must be an integer >= 1 dividing Nn={m}.")
    return Theta, K


def inner_loop_decay(*, K: ArrayLike, N: int, lam_tau: float) -> np.ndarray:
    r"""Blocks of E = blockdiag_i e^{−λτ K(X_i, X_i)} (Wang et al. 2021, Eqs. 58, 60).

    Args:
        K: K(𝒳, 𝒳), (Nn, Nn).
        N: training tasks, >= 1.
        lam_tau: training inner-loop λτ, >= 0 (finite).

    Returns:
        E_i for each task, shape (N, n, n).
    """
    lt = _check_rate("lam_tau", lam_tau)
    if np.isinf(lt):
        raise ValueError("lam_tau=inf is out of range: the training inner loop must be finite.")
    K = np.asarray(K, np.float64)
    _check_train(K, K, N)
    s, V = np.linalg.eigh(_diag_blocks((K + K.T) / 2, N))
    return _spectral(s, V, np.exp(-lt * np.maximum(s, 0.0)))


def _blockdiag_apply_right(M: np.ndarray, E: np.ndarray) -> np.ndarray:
    """M · blockdiag(E), M (..., r, Nn), E (N, n, n)."""
    N, n, _ = E.shape
    Mb = M.reshape(M.shape[:-1] + (N, n))
    return np.einsum("...ia,iab->...ib", Mb, E).reshape(M.shape)


def phi_mtl(*, Theta: ArrayLike, K: ArrayLike, N: int) -> np.ndarray:
    r"""MTL kernel Φ_MTL = Θ(𝒳, 𝒳) − K(𝒳, 𝒳) + blockdiag_i K(X_i, X_i) (Wang et al. 2021, Eq. 64).

    [Φ_MTL]_ij = Θ(X_i, X_j) − 1[i ≠ j] K(X_i, X_j): different heads have orthogonal gradients.
    (This is the infinite-width kernel when all heads start from the same w_0; see docs/wang2021.md.)

    Args:
        Theta: Θ(𝒳, 𝒳), (Nn, Nn).
        K: K(𝒳, 𝒳), (Nn, Nn).
        N: training tasks, >= 1, dividing Nn.

    Returns:
        Φ_MTL, (Nn, Nn).
    """
    Theta, K = _check_train(Theta, K, N)
    n = K.shape[0] // N
    mask = np.kron(np.eye(N), np.ones((n, n)))
    return Theta - K * (1 - mask)


def phi_anil(*, Theta: ArrayLike, K: ArrayLike, N: int, lam_tau: float) -> np.ndarray:
    r"""ANIL kernel Φ_ANIL = E Θ(𝒳, 𝒳) E, E = blockdiag_i e^{−λτ K(X_i, X_i)} (Eqs. 59–60).

    Args:
        Theta: Θ(𝒳, 𝒳), (Nn, Nn).
        K: K(𝒳, 𝒳), (Nn, Nn).
        N: training tasks, >= 1.
        lam_tau: training inner-loop λτ, >= 0.

    Returns:
        Φ_ANIL, (Nn, Nn).
    """
    Theta, K = _check_train(Theta, K, N)
    E = inner_loop_decay(K=K, N=N, lam_tau=lam_tau)
    left = _blockdiag_apply_right(Theta, E)  # Θ E
    return _blockdiag_apply_right(left.T, E).T  # (E Θ E) using Eᵀ = E


def _hidden(kernels: TaskKernels) -> tuple[np.ndarray, np.ndarray]:
    """Θ − K of the query and support rows (the hidden-layer tangent kernel, Eq. 62)."""
    return kernels.Theta_q - kernels.K_q, kernels.Theta_s - kernels.K_s


def phi_mtl_test(*, kernels: TaskKernels, lam_tau_hat: float, max_cond: float = 1e12) -> np.ndarray:
    r"""Φ'_MTL((X, X', τ̂), 𝒳), blocks [Θ(X, X_j) − K(X, X_j)] − K(X, X') T_K^{τ̂}(X') [Θ(X', X_j) − K(X', X_j)].

    Implements Wang et al. 2021, Eq. 57 first line (= Eq. 65 first line; the expanded last lines
    of Eqs. 57 and 65 drop terms and are not used; docs/wang2021.md).

    Args:
        kernels: :class:`TaskKernels`.
        lam_tau_hat: test-time λτ̂ >= 0, or inf (converged adaptation).
        max_cond: conditioning threshold of K(X', X') when λτ̂ = inf.

    Returns:
        Φ'_MTL, (..., n_q, Nn).
    """
    T = adaptation_operator(K_ss=kernels.K_ss, lam_tau_hat=lam_tau_hat, max_cond=max_cond)
    hq, hs = _hidden(kernels)
    return hq - kernels.K_qs @ T @ hs


def phi_anil_test(
    *,
    kernels: TaskKernels,
    lam_tau: float,
    lam_tau_hat: float,
    variant: str = "appendix",
    max_cond: float = 1e12,
) -> np.ndarray:
    r"""Φ'_ANIL((X, X', τ̂), 𝒳) = Φ'_MTL · E (Wang et al. 2021, Eqs. 61, 66).

    ``variant="appendix"`` (default) is Eq. 61/66. ``variant="main_text"`` is the form printed in
    Lemma 1, [Θ(X, X_j) − K(X, X') T_K^{τ̂}(X') Θ(X', X_j)] e^{−λK_jjτ}, without the −K terms
    (erratum; docs/wang2021.md).

    Args:
        kernels: :class:`TaskKernels`.
        lam_tau: training inner-loop λτ, >= 0.
        lam_tau_hat: test-time λτ̂ >= 0, or inf.
        variant: "appendix" or "main_text".
        max_cond: conditioning threshold of K(X', X') when λτ̂ = inf.

    Returns:
        Φ'_ANIL, (..., n_q, Nn).
    """
    base = _test_base(kernels, lam_tau_hat, variant, max_cond)
    E = inner_loop_decay(K=kernels.K, N=kernels.N, lam_tau=lam_tau)
    return _blockdiag_apply_right(base, E)


def _test_base(
    kernels: TaskKernels, lam_tau_hat: float, variant: str, max_cond: float
) -> np.ndarray:
    """Φ'_MTL (appendix) or the main-text bracket of Lemma 1 (without the −K terms)."""
    if variant == "appendix":
        return phi_mtl_test(kernels=kernels, lam_tau_hat=lam_tau_hat, max_cond=max_cond)
    if variant == "main_text":
        T = adaptation_operator(K_ss=kernels.K_ss, lam_tau_hat=lam_tau_hat, max_cond=max_cond)
        return kernels.Theta_q - kernels.K_qs @ T @ kernels.Theta_s
    raise ValueError(f"variant={variant!r} is not allowed: expected 'appendix' or 'main_text'.")
