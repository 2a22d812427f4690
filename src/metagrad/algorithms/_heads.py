"""Closed-form last-layer heads: R2D2 (ridge regression) and ProtoNet (prototypes)."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array

from metagrad.algorithms._base import AbstractMetaAlgorithm
from metagrad.algorithms._losses import cross_entropy
from metagrad.tasks._task import Task

__all__ = ["ProtoNet", "R2D2", "prototype_logits", "ridge_head"]


def ridge_head(features: Array, targets: Array, *, lam: float) -> Array:
    r"""Ridge solution $W = \Phi^\top(\Phi\Phi^\top + \lambda I)^{-1}Y$ (Woodbury form).

    Bertinetto et al. (2019), Eq. 4: an `[n, n]` system, cheap when n_support < h.

    Args:
        features: support features `[n, h]`.
        targets: one-hot (or real) targets `[n, c]`.
        lam: ridge penalty, > 0.

    Returns:
        Head `[h, c]`.
    """
    gram = features @ features.T + lam * jnp.eye(features.shape[0], dtype=features.dtype)
    return features.T @ jnp.linalg.solve(gram, targets)


def prototype_logits(support: Array, labels: Array, query: Array, *, n_way: int) -> Array:
    r"""ProtoNet logits $-\|\phi(x) - c_k\|^2$, $c_k$ = mean support feature of class k.

    Snell et al. (2017), Eqs. 1–2 with the squared Euclidean distance.

    Args:
        support: support features `[n, h]`; labels: int labels `[n]` in 0..n_way-1.
        query: query features `[m, h]`.
        n_way: number of classes N. A class with no support example gets the zero prototype.

    Returns:
        Logits `[m, n_way]`.
    """
    onehot = jax.nn.one_hot(labels, n_way, dtype=support.dtype)
    # A class absent from the support gets a zero prototype instead of 0/0 = NaN.
    counts = jnp.maximum(jnp.sum(onehot, axis=0), 1.0)
    protos = (onehot.T @ support) / counts[:, None]
    d2 = jnp.sum(query**2, 1)[:, None] - 2 * query @ protos.T + jnp.sum(protos**2, 1)[None, :]
    return -d2


class R2D2(AbstractMetaAlgorithm):
    """R2D2 (Bertinetto et al. 2019): a differentiable ridge head on the backbone features.

    Attributes:
        n_way: classes per task N.
        lam: ridge penalty λ > 0 (fixed here; the paper learns it).
        scale: logit scale α (fixed here; the paper learns it with an offset).
    """

    n_way: int = eqx.field(static=True)
    lam: float = 1.0
    scale: float = 1.0

    def task_loss(self, params: eqx.Module, task: Task) -> tuple[Array, dict[str, Array]]:
        """Cross-entropy on the query of the ridge head fitted to the support."""
        phi_s = params.features(task.x_support)
        y = jax.nn.one_hot(task.y_support, self.n_way, dtype=phi_s.dtype)
        w = ridge_head(phi_s, y, lam=self.lam)
        logits = self.scale * params.features(task.x_query) @ w
        return cross_entropy(logits, task.y_query), {"accuracy": _acc(logits, task.y_query)}


class ProtoNet(AbstractMetaAlgorithm):
    """Prototypical networks (Snell et al. 2017) on the backbone features."""

    n_way: int = eqx.field(static=True)

    def task_loss(self, params: eqx.Module, task: Task) -> tuple[Array, dict[str, Array]]:
        """Cross-entropy of the query under the prototype logits."""
        logits = prototype_logits(
            params.features(task.x_support),
            task.y_support,
            params.features(task.x_query),
            n_way=self.n_way,
        )
        return cross_entropy(logits, task.y_query), {"accuracy": _acc(logits, task.y_query)}


def _acc(logits: Array, labels: Array) -> Array:
    """Fraction of correct argmax predictions."""
    return jnp.mean(jnp.argmax(logits, axis=-1) == labels)
