"""Test-time heads fitted on frozen features, one task at a time, batched over tasks with vmap.

Every head maps `(support [n, h], labels [n], query [m, h], n_way)` to query logits
`[m, n_way]`; `predict_batch` vmaps it over a leading task axis under one `jax.jit`.

- `LogisticHead`: L2-regularised multinomial logistic regression with an unpenalised intercept,
  the objective of scikit-learn's ``LogisticRegression(C=C)`` (lbfgs, multinomial), which Wang,
  Zhao & Li (2021, Sec. 5.2) fit on L2-normalised features at test time (see docs/data.md).
  Solved exactly by damped Newton in the span of the support features (at most n·N + N
  unknowns instead of h·N + N: the optimum's weights lie in the row space of the support).
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
    intercept unpenalised).

    The support features are reduced to their row space by a thin SVD, $X = USV^\top$,
    $W = VA$ (exact: the gradient of the loss lies in that span and the penalty is rotation
    invariant), and the $(r+1)N$-dimensional problem in $(A, b)$ is solved by Newton's method
    with a backtracking step, to `tol` on the gradient norm. The intercept is defined up to a
    common shift (the softmax is shift invariant); its null direction is removed from the
    Hessian, which changes no prediction.

    Attributes:
        C: inverse regularisation strength, > 0 (the paper's test-time choice is C = 3).
        normalize: L2-normalise support and query features first (the paper does).
        max_iter: Newton iterations, >= 1.
        tol: stop when the norm of the gradient of the per-sample mean objective
            (sklearn's scaling) is below it; default 1e-10 in float64, 1e-5 in float32.
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

    def fit(
        self, support: Float[Array, "n h"], labels: Int[Array, " n"], n_way: int
    ) -> tuple[Float[Array, "h n_way"], Float[Array, " n_way"]]:
        """Weights `[h, N]` and intercept `[N]` fitted to one task's support."""
        (x,) = _prep(self.normalize, support)
        _, s, vt = jnp.linalg.svd(x, full_matrices=False)
        z = x @ vt.T  # [n, r]: support coordinates in its row space
        y = jax.nn.one_hot(labels, n_way, dtype=x.dtype)
        tol = self.tol if self.tol is not None else (1e-10 if x.dtype == jnp.float64 else 1e-5)
        theta = _newton(z, y, self.C, self.max_iter, tol)
        return vt.T @ theta[:-1], theta[-1]

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


def _objective(theta, z1, y, C, pen):
    logits = z1 @ theta
    ce = jnp.sum(jax.nn.logsumexp(logits, axis=1) - jnp.sum(y * logits, axis=1))
    return C * ce + 0.5 * jnp.sum(pen[:, None] * theta**2)


def _newton(z, y, C, max_iter, tol):
    """Minimise `_objective` over theta `[(r+1), N]` (last row: intercept) by Newton-CG.

    Newton directions solve H d = g by conjugate gradients with Hessian-vector products (two
    `[n, r+1] x [r+1, N]` products; H is never formed), preconditioned by Böhning's bound
    H <= (C/2) Z1'Z1 (x) (I - 11'/N) + penalty, whose inverse is one `[r+1, r+1]` matrix per task.
    From theta = 0 every iterate has rows summing to zero over classes, which fixes the
    intercept's gauge (any shift of b leaves the softmax unchanged); the optimum's weights
    have zero row sums too (stationarity: A 1 = -C Z'(P - Y) 1 = 0).
    """
    n, r = z.shape
    c = y.shape[1]
    z1 = jnp.concatenate([z, jnp.ones((n, 1), z.dtype)], axis=1)
    pen = jnp.concatenate([jnp.ones(r, z.dtype), jnp.zeros(1, z.dtype)])[:, None]
    b_inv = jnp.linalg.inv(0.5 * C * z1.T @ z1 + jnp.diag(pen[:, 0]))
    steps = 0.5 ** jnp.arange(8, dtype=z.dtype)
    obj = partial(_objective, z1=z1, y=y, C=C, pen=pen[:, 0])
    tiny = jnp.finfo(z.dtype).tiny
    scale = C * n  # tolerances refer to the gradient of the per-sample mean loss, as sklearn's

    def grad(theta):
        return C * z1.T @ (jax.nn.softmax(z1 @ theta, axis=1) - y) + pen * theta

    def direction(theta, g):
        p = jax.nn.softmax(z1 @ theta, axis=1)

        def hv(v):
            pu = p * (z1 @ v)
            return C * z1.T @ (pu - p * jnp.sum(pu, axis=1, keepdims=True)) + pen * v

        gn = jnp.linalg.norm(g)
        gtol = jnp.minimum(0.1, jnp.sqrt(gn / scale)) * gn

        def cg_body(s):
            d, res, q, rz, k = s
            hq = hv(q)
            alpha = rz / jnp.maximum(jnp.sum(q * hq), tiny)
            d, res = d + alpha * q, res - alpha * hq
            zz = b_inv @ res
            rz_new = jnp.sum(res * zz)
            return d, res, zz + rz_new / jnp.maximum(rz, tiny) * q, rz_new, k + 1

        def cg_cond(s):
            return (s[4] < 2 * (r + 1)) & (jnp.linalg.norm(s[1]) > gtol)

        z0 = b_inv @ g
        init = (jnp.zeros_like(g), g, z0, jnp.sum(g * z0), 0)
        return jax.lax.while_loop(cg_cond, cg_body, init)[0]

    def body(state):
        theta, it, g = state
        d = direction(theta, g)
        cand = jax.vmap(lambda t: obj(theta - t * d))(steps)
        armijo = cand <= obj(theta) - 1e-4 * steps * jnp.sum(g * d)
        t = jnp.where(jnp.any(armijo), steps[jnp.argmax(armijo)], steps[jnp.argmin(cand)])
        new = theta - t * d
        return new, it + 1, grad(new)

    def cond(state):
        return (state[1] < max_iter) & (jnp.linalg.norm(state[2]) > tol * scale)

    theta0 = jnp.zeros((r + 1, c), z.dtype)
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
