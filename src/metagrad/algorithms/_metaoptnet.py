"""MetaOptNet (Lee et al. 2019): a Crammer–Singer multi-class SVM head solved per task.

The head is the dual of the Crammer–Singer SVM (the quadratic programme of MetaOptNet's
``MetaOptNetHead_SVM_CS``): with support features Φ `[n, h]`, one-hot labels Y `[n, K]`,
Gram matrix G = ΦΦᵀ and a dual ridge r,

    min_α ½ Σ_k α_kᵀ (G + r I) α_k − Σ_{n,k} α_{nk} Y_{nk}
    s.t. Σ_k α_{nk} = 0,  α_{nk} ≤ C Y_{nk},

whose weights are W = Φᵀ α `[h, K]`. Writing α = C (Y − P) turns every row of P into a point of
the probability simplex, so the feasible set is a product of simplices and the problem is solved
by a fixed number of accelerated projected-gradient (FISTA) steps with the exact projection.

**Differentiation: implicit.** The solution P* is the fixed point of the projected-gradient map
T(P) = Π(P − η ∇f(P)); `jax.lax.custom_root` differentiates P* by the implicit function theorem
through `F(P) = P − T(P) = 0`, solving the `[nK, nK]` linearised system densely (small: nK = 125
for 5-way 5-shot). The forward iterations are not differentiated (no unrolling), so memory does
not grow with the iterations. With r > 0 the dual is strongly convex and the system is regular.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int

from metagrad.algorithms._base import AbstractMetaAlgorithm
from metagrad.algorithms._losses import cross_entropy
from metagrad.tasks._task import Task

__all__ = ["MetaOptNet", "project_simplex", "svm_dual", "svm_logits"]


def project_simplex(v: Float[Array, "... k"], z: float = 1.0) -> Float[Array, "... k"]:
    """Euclidean projection of each row of `v` onto {p >= 0, Σp = z} (Duchi et al. 2008, Fig. 1).

    Args:
        v: points `[..., k]`, projected along the last axis.
        z: the simplex's sum, > 0.

    Returns:
        The projections, shape of `v`.
    """
    k = v.shape[-1]
    u = jnp.flip(jnp.sort(v, axis=-1), axis=-1)
    css = jnp.cumsum(u, axis=-1) - z
    ind = jnp.arange(1, k + 1, dtype=v.dtype)
    rho = jnp.sum(u - css / ind > 0, axis=-1, keepdims=True)
    theta = jnp.take_along_axis(css, rho - 1, axis=-1) / rho.astype(v.dtype)
    return jnp.maximum(v - theta, 0.0)


def _grad_p(p: Array, gram: Array, y: Array, C: float, ridge: float) -> Array:
    """∇_P of the dual objective at P, with α = C (Y − P)."""
    alpha = C * (y - p)
    return -C * (gram @ alpha + ridge * alpha - y)


def _fista(gram: Array, y: Array, C: float, ridge: float, eta: Array, iters: int) -> Array:
    """`iters` FISTA steps from α = 0 (P = Y) on the product of simplices."""

    def body(carry, _):
        p, z, t = carry
        p_new = project_simplex(z - eta * _grad_p(z, gram, y, C, ridge))
        t_new = 0.5 * (1.0 + jnp.sqrt(1.0 + 4.0 * t * t))
        z_new = p_new + ((t - 1.0) / t_new) * (p_new - p)
        return (p_new, z_new, t_new), None

    one = jnp.ones((), y.dtype)
    (p, _, _), _ = jax.lax.scan(body, (y, y, one), None, length=iters)
    return p


def svm_dual(
    features: Float[Array, "n h"],
    labels: Int[Array, " n"],
    *,
    n_way: int,
    C: float = 0.1,
    ridge: float = 1.0,
    iters: int = 100,
) -> Float[Array, "n n_way"]:
    r"""Dual variables α `[n, K]` of the Crammer–Singer SVM on the support, differentiable.

    Lee et al. (2019), Eqs. 9–10 (the dual QP of Crammer & Singer 2001) with MetaOptNet's dual
    ridge r (`ridge`; its code adds 1.0 to the block kernel). The head's weights are
    $W = \Phi^\top\alpha$; gradients flow to `features` by implicit differentiation (module doc).

    Args:
        features: support features `[n, h]`.
        labels: int labels `[n]` in 0..n_way-1.
        n_way: classes K >= 2.
        C: slack penalty, > 0 (MetaOptNet: 0.1).
        ridge: dual ridge r >= 0 (MetaOptNet: 1.0); r = 0 is the plain Crammer–Singer SVM
            (regular only when the Gram matrix is).
        iters: FISTA iterations of the forward solve, >= 1.

    Returns:
        α `[n, n_way]`, each row summing to 0, with α_{n,y_n} in [0, C] and the others <= 0.
    """
    if not C > 0 or ridge < 0 or iters < 1 or n_way < 2:
        raise ValueError(
            f"svm_dual: need C={C} > 0, ridge={ridge} >= 0, iters={iters} >= 1, n_way={n_way} >= 2"
        )
    y = jax.nn.one_hot(labels, n_way, dtype=features.dtype)
    gram = features @ features.T
    lip = jax.lax.stop_gradient(C * C * (jnp.linalg.eigvalsh(gram)[-1] + ridge))
    eta = 1.0 / jnp.maximum(lip, jnp.finfo(features.dtype).tiny)

    def fixed_point_residual(p):
        return p - project_simplex(p - eta * _grad_p(p, gram, y, C, ridge))

    def solve(_f, p0):
        return _fista(jax.lax.stop_gradient(gram), y, C, ridge, eta, iters)

    def tangent_solve(g, rhs):
        m = rhs.size
        jac = jax.jacfwd(g)(rhs).reshape(m, m)
        return jnp.linalg.solve(jac, rhs.reshape(m)).reshape(rhs.shape)

    p = jax.lax.custom_root(fixed_point_residual, y, solve, tangent_solve)
    return C * (y - p)


def svm_logits(
    support: Float[Array, "n h"],
    labels: Int[Array, " n"],
    query: Float[Array, "m h"],
    n_way: int,
    *,
    C: float = 0.1,
    ridge: float = 1.0,
    iters: int = 100,
) -> Float[Array, "m n_way"]:
    """Query logits `query @ Φᵀ α` of the SVM head fitted to the support (see `svm_dual`)."""
    alpha = svm_dual(support, labels, n_way=n_way, C=C, ridge=ridge, iters=iters)
    return (query @ support.T) @ alpha


class MetaOptNet(AbstractMetaAlgorithm):
    """MetaOptNet-SVM (Lee et al. 2019): cross-entropy of the query under the SVM head's logits.

    The head is re-solved for every task and differentiated implicitly (`svm_dual`).

    Attributes:
        n_way: classes per task N.
        C: SVM slack penalty (MetaOptNet: 0.1).
        ridge: dual ridge (MetaOptNet: 1.0).
        scale: logit scale (fixed here; MetaOptNet learns it).
        iters: FISTA iterations per task.
    """

    n_way: int = eqx.field(static=True)
    C: float = eqx.field(static=True, default=0.1)
    ridge: float = eqx.field(static=True, default=1.0)
    scale: float = 1.0
    iters: int = eqx.field(static=True, default=50)

    def task_loss(self, params: eqx.Module, task: Task) -> tuple[Array, dict[str, Array]]:
        """Cross-entropy on the query of the SVM head fitted to the support."""
        logits = self.scale * svm_logits(
            params.features(task.x_support),
            task.y_support,
            params.features(task.x_query),
            self.n_way,
            C=self.C,
            ridge=self.ridge,
            iters=self.iters,
        )
        acc = jnp.mean(jnp.argmax(logits, axis=-1) == task.y_query)
        return cross_entropy(logits, task.y_query), {"accuracy": acc}
