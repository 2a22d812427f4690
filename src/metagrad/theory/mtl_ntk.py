# ruff: noqa: F722
r"""MTL vs ANIL in the infinite-width limit: NTK/NNGP kernels and closed-form test predictors.

Theory of Wang, Zhao, Li, "Bridging multi-task learning and meta-learning" (ICML 2021), Sec. 4.3 and
App. A–B: the arc-cosine NNGP/NTK recursion of deep ReLU networks (NTK parameterisation, Eq. 22),
the composite kernels Φ_MTL, Φ_ANIL and their test-side counterparts (Lemma 1/3, Eqs. 57–66), the
predictors F_MTL, F_ANIL converged (Eqs. 15–16) and at finite training time (Lemma 2), and the
discrepancy quantities of Eq. 67, Lemma 4 (Eqs. 69–71), Lemma 5 (Eq. 73) and Theorem 1 (Eq. 18).
Finite-width empirical kernels of an NTK-parameterised equinox MLP (:class:`NTKMLP`) are computed
by per-layer contractions.

Conventions: depth L counts the linear layers (L − 1 ReLU hidden layers and the head); with
σ_w² = 2, σ_b² = 0 and ‖x‖² = d, K(x, x) = 2 and Θ(x, x) = 2L (twice the paper's Lemma 4 units).
Initial network outputs are taken as 0 (B.3.1). Every solve goes through a symmetric
eigen-decomposition with a conditioning check naming the matrix. Deviations: docs/wang2021.md.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from metagrad.theory._mtl_ntk_kernels import (
    NTKMLP,
    empirical_kernels,
    relu_kernels,
    relu_kernels_by_depth,
)
from metagrad.theory._mtl_ntk_phi import (
    TaskKernels,
    adaptation_operator,
    inner_loop_decay,
    phi_anil,
    phi_anil_test,
    phi_mtl,
    phi_mtl_test,
    spd_eigh,
    task_kernels_from_gram,
)
from metagrad.theory._mtl_ntk_predict import (
    Lemma4Structure,
    Theorem1Terms,
    kernel_inverse_gap,
    lemma4_structure,
    predict_anil,
    predict_mtl,
    theorem1_terms,
    train_adapted_output,
)

__all__ = [
    "NTKMLP",
    "Lemma4Structure",
    "TaskKernels",
    "Theorem1Terms",
    "adaptation_operator",
    "empirical_kernels",
    "empirical_task_kernels",
    "inner_loop_decay",
    "kernel_inverse_gap",
    "lemma4_structure",
    "phi_anil",
    "phi_anil_test",
    "phi_mtl",
    "phi_mtl_test",
    "predict_anil",
    "predict_mtl",
    "relu_kernels",
    "relu_kernels_by_depth",
    "relu_task_kernels",
    "spd_eigh",
    "stack_points",
    "task_kernels_from_gram",
    "theorem1_terms",
    "train_adapted_output",
]


def stack_points(
    *, X_train: ArrayLike, X_query: ArrayLike, X_support: ArrayLike
) -> tuple[np.ndarray, dict[str, int]]:
    """All inputs in the order of :func:`task_kernels_from_gram`: [𝒳; X_1; X'_1; …; X_T; X'_T].

    Args:
        X_train: training inputs, (N, n, d).
        X_query: query inputs of T test tasks, (T, n_q, d).
        X_support: support inputs of T test tasks, (T, n_s, d).

    Returns:
        ``(points, sizes)``: points (Nn + T(n_q + n_s), d) and the keyword sizes N, n, n_q, n_s.
    """
    Xt, Xq, Xs = (np.asarray(a, np.float64) for a in (X_train, X_query, X_support))
    if Xt.ndim != 3 or Xq.ndim != 3 or Xs.ndim != 3:
        raise ValueError(
            f"X_train (N, n, d), X_query (T, n_q, d), X_support (T, n_s, d) must be 3-D; got "
            f"{Xt.shape}, {Xq.shape}, {Xs.shape}."
        )
    if not (Xt.shape[2] == Xq.shape[2] == Xs.shape[2]) or Xq.shape[0] != Xs.shape[0]:
        raise ValueError(
            f"mismatched shapes: X_train {Xt.shape}, X_query {Xq.shape}, X_support {Xs.shape} "
            "(need the same d, and as many query as support sets)."
        )
    test = np.concatenate([Xq, Xs], axis=1).reshape(-1, Xt.shape[2])
    sizes = dict(N=Xt.shape[0], n=Xt.shape[1], n_q=Xq.shape[1], n_s=Xs.shape[1])
    return np.concatenate([Xt.reshape(-1, Xt.shape[2]), test]), sizes


def relu_task_kernels(
    *,
    X_train: ArrayLike,
    X_query: ArrayLike,
    X_support: ArrayLike,
    depth: int,
    sigma_w2: float = 2.0,
    sigma_b2: float = 0.0,
) -> list[TaskKernels]:
    """Analytic :class:`TaskKernels` of ReLU networks of every depth 1..`depth` (one recursion).

    Args:
        X_train: training inputs 𝒳, (N, n, d).
        X_query: query inputs X of T test tasks, (T, n_q, d).
        X_support: support inputs X' of T test tasks, (T, n_s, d).
        depth: largest depth L, >= 1.
        sigma_w2: σ_w² > 0.
        sigma_b2: σ_b² >= 0.

    Returns:
        A list of `depth` :class:`TaskKernels`; entry l − 1 is depth l (test side of shape (T, …)).
    """
    P, sizes = stack_points(X_train=X_train, X_query=X_query, X_support=X_support)
    Ks, Ths = relu_kernels_by_depth(P, P, depth=depth, sigma_w2=sigma_w2, sigma_b2=sigma_b2)
    Ks, Ths = np.asarray(Ks), np.asarray(Ths)
    return [task_kernels_from_gram(k, t, **sizes) for k, t in zip(Ks, Ths)]


def empirical_task_kernels(
    model: NTKMLP, *, X_train: ArrayLike, X_query: ArrayLike, X_support: ArrayLike
) -> TaskKernels:
    """:class:`TaskKernels` from the finite-width empirical kernels of `model` (see
    :func:`empirical_kernels`; App. C.1 of Wang et al. 2021 composes empirical kernels this way).

    Args:
        model: an :class:`NTKMLP`.
        X_train: (N, n, d).
        X_query: (T, n_q, d).
        X_support: (T, n_s, d).

    Returns:
        :class:`TaskKernels` (float64).
    """
    P, sizes = stack_points(X_train=X_train, X_query=X_query, X_support=X_support)
    K, Th = empirical_kernels(model, P, P)
    return task_kernels_from_gram(np.asarray(K, np.float64), np.asarray(Th, np.float64), **sizes)
