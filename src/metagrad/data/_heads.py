"""Test-time heads fitted on frozen features, one task at a time, batched over tasks with vmap.

Every head maps `(support [n, h], labels [n], query [m, h], n_way)` to query logits
`[m, n_way]`; `predict_batch` vmaps it over a leading task axis under one `jax.jit`.

- `LogisticHead`: L2-regularised multinomial logistic regression with an unpenalised intercept,
  the objective of scikit-learn's ``LogisticRegression(C=C)`` (lbfgs, multinomial), which Wang,
  Zhao & Li (2021, Sec. 5.2) fit on L2-normalised features at test time (see docs/data.md).
  Solved exactly by Newton's method in the span of the support features (representer
  theorem: at most n·N + N unknowns instead of h·N + N), each step a direct Cholesky/Woodbury
  solve.
- `RidgeHead`: ridge regression on one-hot targets (`metagrad.algorithms.ridge_head`).
- `PrototypeHead`: nearest centroid (`metagrad.algorithms.prototype_logits`).
- `FinetuneHead`: k steps of gradient descent on the cross-entropy of a zero-initialised head.
"""

from __future__ import annotations

import dataclasses
from functools import partial

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int

from metagrad.algorithms._heads import prototype_logits, ridge_head

__all__ = [
    "LogisticHead",
    "RidgeHead",
    "PrototypeHead",
    "FinetuneHead",
    "HEADS",
    "make_head",
    "predict_batch",
    "l2_normalize",
]


def l2_normalize(x: Float[Array, "n h"]) -> Float[Array, "n h"]:
    """Rows divided by their Euclidean norm (a zero row stays zero), like `F.normalize`."""
    return x / jnp.maximum(jnp.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def _prep(normalize: bool, *xs: Array) -> tuple[Array, ...]:
    return tuple(l2_normalize(x) if normalize else x for x in xs)


@dataclasses.dataclass(frozen=True)
class LogisticHead:
    r"""Multinomial logistic regression, $\min_{W,b}\ C\sum_i \mathrm{CE}(W^\top x_i + b, y_i)
    + \tfrac12\|W\|_F^2$, as scikit-learn's ``LogisticRegression(C=C)`` (lbfgs, multinomial,
    intercept unpenalised; scikit-learn minimises the same objective divided by C·n).

    Solved exactly by Newton's method in at most $r = \min(n, h)$ coordinates per class:

    - $n < h$ (few-shot: n = N·K support points, h-dimensional features): by the representer
      theorem the optimal $W$ lies in the row space of the support $X$ `[n, h]`. The kernel
      $K = XX^\top = U\Lambda U^\top$ (`[n, n]`) gives the orthonormal basis
      $V = X^\top U\Lambda^{-1/2}$ of that space and the support's coordinates
      $Z = XV = U\Lambda^{1/2}$; with $W = VA$ the penalty stays $\tfrac12\|A\|^2$.
      Directions with eigenvalue below $n\,\epsilon\,\lambda_{\max}$ (numerically null) are
      dropped. No `[h, h]` matrix and no SVD of $X$ is formed.
    - $n \ge h$: the primal coordinates $Z = X$, $W = A$.

    Each Newton step solves $H d = g$ for the $(r+1)N$ unknowns $(A, b)$ directly:
    $H = \mathrm{blockdiag}_c(C Z_1^\top \mathrm{diag}(p_c) Z_1 + \mathrm{pen})
    - C\sum_i (z_{1i} \otimes p_i)(z_{1i} \otimes p_i)^\top$ is N Cholesky-factored
    `[r+1, r+1]` blocks minus a rank-n term, inverted with the Woodbury identity (one
    `[n+1, n+1]` solve; the extra dimension pins the intercept's common shift, which the softmax
    ignores). A backtracking (Armijo) line search keeps every step a descent step.

    Attributes:
        C: inverse regularisation strength, > 0 (the paper's test-time choice is C = 3).
        normalize: L2-normalise support and query features first (the paper does).
        max_iter: Newton iterations, >= 1.
        tol: stop when the norm of the gradient of the per-sample mean objective
            (scikit-learn's scaling) is below it; default 1e-10 in float64, 1e-5 in float32.
    """

    C: float = 3.0
    normalize: bool = True
    max_iter: int = 30
    tol: float | None = None

    def __post_init__(self) -> None:
        if not self.C > 0:
            raise ValueError(f"LogisticHead: C={self.C} must be > 0")
        if self.max_iter < 1:
            raise ValueError(f"LogisticHead: max_iter={self.max_iter} must be >= 1")
        if self.tol is not None and not self.tol > 0:
            raise ValueError(f"LogisticHead: tol={self.tol} must be > 0 (or None)")

    def fit(
        self, support: Float[Array, "n h"], labels: Int[Array, " n"], n_way: int
    ) -> tuple[Float[Array, "h n_way"], Float[Array, " n_way"]]:
        """Weights `[h, N]` and intercept `[N]` fitted to one task's support."""
        (x,) = _prep(self.normalize, support)
        n, h = x.shape
        y = jax.nn.one_hot(labels, n_way, dtype=x.dtype)
        tol = self.tol if self.tol is not None else (1e-10 if x.dtype == jnp.float64 else 1e-5)
        if n >= h:  # primal coordinates
            theta = _newton(x, y, self.C, self.max_iter, tol)
            return theta[:-1], theta[-1]
        lam, u = jnp.linalg.eigh(x @ x.T)  # ascending eigenvalues of the kernel
        keep = lam > n * jnp.finfo(x.dtype).eps * lam[-1]
        root = jnp.sqrt(jnp.where(keep, lam, 1.0))
        z = u * jnp.where(keep, root, 0.0)  # [n, n] = X V: support coordinates
        theta = _newton(z, y, self.C, self.max_iter, tol)
        a = u @ (jnp.where(keep, 1.0 / root, 0.0)[:, None] * theta[:-1])  # W = X' a
        return x.T @ a, theta[-1]

    def __call__(
        self,
        support: Float[Array, "n h"],
        labels: Int[Array, " n"],
        query: Float[Array, "m h"],
        n_way: int,
    ) -> Float[Array, "m n_way"]:
        """Query logits `[m, N]`."""
        w, b = self.fit(support, labels, n_way)
        (q,) = _prep(self.normalize, query)
        return q @ w + b


def _newton(z, y, C, max_iter, tol):
    """Minimise C·Σ CE(Z₁θ) + ½‖θ[:-1]‖² over θ `[r+1, N]` (last row: intercept) by Newton.

    Newton directions are exact (Woodbury on the class-block-diagonal part of the Hessian, see
    `LogisticHead`); the step length is the first of 1, 1/2, ..., 1/128 meeting Armijo's
    condition (up to the objective's rounding error; if none does, the best of them). From θ = 0 every direction has zero intercept sum over classes (the gradient's
    intercept row sums to zero and the gauge direction is pinned), so the iterates stay in
    that gauge.
    """
    n, r = z.shape
    c = y.shape[1]
    dt = z.dtype
    z1 = jnp.concatenate([z, jnp.ones((n, 1), dt)], axis=1)  # [n, m]
    m = r + 1
    pen = jnp.concatenate([jnp.ones(r, dt), jnp.zeros(1, dt)])
    sign = jnp.concatenate([-jnp.ones(n, dt), jnp.ones(1, dt)])
    gauge = jnp.zeros((c, m, 1), dt).at[:, r, 0].set(1.0)  # common shift of the intercept
    steps = 0.5 ** jnp.arange(8, dtype=dt)
    scale = C * n  # tolerances refer to the gradient of the per-sample mean loss, as sklearn's
    sqrt_c = jnp.sqrt(jnp.asarray(C, dt))

    def obj(theta):
        logits = z1 @ theta
        ce = jnp.sum(jax.nn.logsumexp(logits, axis=1) - jnp.sum(y * logits, axis=1))
        return C * ce + 0.5 * jnp.sum(pen[:, None] * theta**2)

    def grad(theta):
        return C * z1.T @ (jax.nn.softmax(z1 @ theta, axis=1) - y) + pen[:, None] * theta

    def direction(theta, g):
        p = jax.nn.softmax(z1 @ theta, axis=1)  # [n, N]
        blocks = C * jnp.einsum("ia,ic,ib->cab", z1, p, z1) + jnp.diag(pen)  # [N, m, m]
        chol = jnp.linalg.cholesky(blocks)
        v = jnp.concatenate([sqrt_c * jnp.einsum("ia,ic->cai", z1, p), gauge], axis=2)
        rhs = jnp.concatenate([v, g.T[:, :, None]], axis=2)  # [N, m, n+2]
        sol = jax.lax.linalg.triangular_solve(chol, rhs, left_side=True, lower=True)
        sol = jax.lax.linalg.triangular_solve(
            chol, sol, left_side=True, lower=True, transpose_a=True
        )
        bv, bg = sol[:, :, :-1], sol[:, :, -1]  # B^-1 V, B^-1 g
        cap = jnp.diag(sign) + jnp.einsum("cak,cal->kl", v, bv)
        t = jnp.linalg.solve(cap, jnp.einsum("cak,ca->k", v, bg))
        return (bg - jnp.einsum("cak,k->ca", bv, t)).T  # [m, N]

    def body(state):
        theta, it, g = state
        d = direction(theta, g)
        cand = jax.vmap(lambda t: obj(theta - t * d))(steps)
        f0 = obj(theta)
        # Armijo's sufficient decrease, up to the rounding error of the objective itself (near
        # the optimum the decrease of a full Newton step is below it, and the step is taken)
        slack = 16 * jnp.finfo(dt).eps * jnp.abs(f0)
        armijo = cand <= f0 - 1e-4 * steps * jnp.sum(g * d) + slack
        t = jnp.where(jnp.any(armijo), steps[jnp.argmax(armijo)], steps[jnp.argmin(cand)])
        new = theta - t * d
        return new, it + 1, grad(new)

    def cond(state):
        return (state[1] < max_iter) & (jnp.linalg.norm(state[2]) > tol * scale)

    theta0 = jnp.zeros((m, c), dt)
    return jax.lax.while_loop(cond, body, (theta0, 0, grad(theta0)))[0]


@dataclasses.dataclass(frozen=True)
class RidgeHead:
    r"""Ridge regression on one-hot targets, $W = X^\top(XX^\top + \lambda I)^{-1}Y$, no bias.

    The R2D2 head (Bertinetto et al. 2019, Eq. 4) with a fixed penalty.

    Attributes:
        lam: ridge penalty λ > 0. normalize: L2-normalise the features first.
    """

    lam: float = 1.0
    normalize: bool = False

    def __post_init__(self) -> None:
        if not self.lam > 0:
            raise ValueError(f"RidgeHead: lam={self.lam} must be > 0")

    def __call__(self, support: Array, labels: Array, query: Array, n_way: int) -> Array:
        """Query logits `[m, N]` (the ridge outputs)."""
        x, q = _prep(self.normalize, support, query)
        return q @ ridge_head(x, jax.nn.one_hot(labels, n_way, dtype=x.dtype), lam=self.lam)


@dataclasses.dataclass(frozen=True)
class PrototypeHead:
    r"""Nearest centroid: logits $-\|q - c_k\|^2$ with $c_k$ the mean support feature of class k.

    Snell et al. (2017), Eqs. 1–2; on raw pixels this is the nearest-centroid baseline.

    Attributes:
        normalize: L2-normalise the features first.
    """

    normalize: bool = False

    def __call__(self, support: Array, labels: Array, query: Array, n_way: int) -> Array:
        """Query logits `[m, N]`."""
        x, q = _prep(self.normalize, support, query)
        return prototype_logits(x, labels, q, n_way=n_way)


@dataclasses.dataclass(frozen=True)
class FinetuneHead:
    r"""`steps` gradient-descent steps on the mean cross-entropy of a new linear head.

    The head $(W, b)$ starts at zero (a deterministic stand-in for the paper's random
    initialisation of the new head, Sec. 3.4, Eqs. 6–8) and takes
    $\theta \leftarrow \theta - \mathrm{lr}\,\nabla(\mathrm{CE} + \tfrac{wd}{2}\|W\|^2)$.

    Attributes:
        steps: gradient steps τ̂ >= 1. lr: step size λ > 0. weight_decay: >= 0.
        normalize: L2-normalise the features first.
    """

    steps: int = 100
    lr: float = 1.0
    weight_decay: float = 0.0
    normalize: bool = True

    def __post_init__(self) -> None:
        if self.steps < 1 or not self.lr > 0 or self.weight_decay < 0:
            raise ValueError(
                f"FinetuneHead: steps={self.steps} must be >= 1, lr={self.lr} > 0, "
                f"weight_decay={self.weight_decay} >= 0"
            )

    def __call__(self, support: Array, labels: Array, query: Array, n_way: int) -> Array:
        """Query logits `[m, N]` of the fine-tuned head."""
        x, q = _prep(self.normalize, support, query)
        y = jax.nn.one_hot(labels, n_way, dtype=x.dtype)

        def loss(p):
            lg = x @ p[0] + p[1]
            ce = jnp.mean(jax.nn.logsumexp(lg, axis=1) - jnp.sum(y * lg, axis=1))
            return ce + 0.5 * self.weight_decay * jnp.sum(p[0] ** 2)

        def step(p, _):
            g = jax.grad(loss)(p)
            return (p[0] - self.lr * g[0], p[1] - self.lr * g[1]), None

        p0 = (jnp.zeros((x.shape[1], n_way), x.dtype), jnp.zeros(n_way, x.dtype))
        (w, b), _ = jax.lax.scan(step, p0, None, length=self.steps)
        return q @ w + b


HEADS = {
    "logistic": LogisticHead,
    "ridge": RidgeHead,
    "prototype": PrototypeHead,
    "finetune": FinetuneHead,
}


def make_head(name: str, **kwargs) -> LogisticHead | RidgeHead | PrototypeHead | FinetuneHead:
    """A head by name (``logistic``, ``ridge``, ``prototype``, ``finetune``) and its options."""
    if name not in HEADS:
        raise ValueError(f"head={name!r} must be one of {sorted(HEADS)}")
    return HEADS[name](**kwargs)


@partial(jax.jit, static_argnames=("head", "n_way"))
def predict_batch(
    head,
    support: Float[Array, "tasks n h"],
    labels: Int[Array, "tasks n"],
    query: Float[Array, "tasks m h"],
    *,
    n_way: int,
) -> Float[Array, "tasks m n_way"]:
    """Query logits of `head` fitted independently to every task (vmap over the task axis)."""
    return jax.vmap(lambda s, y, q: head(s, y, q, n_way))(support, labels, query)
