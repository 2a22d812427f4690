"""MTL with a global head (Wang, Zhao, Li 2021), ERM pretraining, and Reptile."""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, PRNGKeyArray, PyTree

from metagrad.algorithms._adapt import Loss, adapt_with_losses
from metagrad.algorithms._base import AbstractMetaAlgorithm
from metagrad.algorithms._losses import cross_entropy
from metagrad.tasks._task import Task

__all__ = ["ERM", "MTL", "MTLParams", "Reptile", "init_mtl"]


def _pooled(task: Task) -> tuple[Array, Array]:
    """Support and query of one task concatenated along the sample axis."""
    x = jnp.concatenate([task.x_support, task.x_query], axis=0)
    return x, jnp.concatenate([task.y_support, task.y_query], axis=0)


class MTLParams(NamedTuple):
    """MTL meta-parameters: a backbone (its `features` are used) and the global head.

    Attributes:
        model: network with a `features(x) -> [n, h]` method; its own `head` is unused.
        heads: global head matrix `[C_train, h]`, one row (a linear head, no bias) per
            training class.
    """

    model: eqx.Module
    heads: Array


def init_mtl(model: eqx.Module, n_classes: int, n_way: int, *, key: PRNGKeyArray) -> MTLParams:
    """Global head `[n_classes, h]`: kaiming-uniform(a=√5) rows scaled by √(n_classes/n_way).

    The scaling follows the paper's code (AI-secure/multi-task-learning), see docs/algorithms.md.
    """
    if n_classes < n_way or n_way < 1:
        raise ValueError(f"init_mtl: need 1 <= n_way={n_way} <= n_classes={n_classes}")
    h = model.head.weight.shape[1]
    bound = 1.0 / math.sqrt(h)  # kaiming_uniform with a=√5 gives U(±1/√fan_in)
    heads = jr.uniform(key, (n_classes, h), model.head.weight.dtype, -bound, bound)
    return MTLParams(model, heads * math.sqrt(n_classes / n_way))


class MTL(AbstractMetaAlgorithm):
    r"""Multi-task learning with a global head (Wang, Zhao, Li 2021, Eq. 2 and Sec. 5.2).

    Task i's head is `heads[task.classes]` (its N rows in the task's class order); its loss is
    $\ell(\phi(X_i) W_{c_i}^\top, Y_i)$ on support ∪ query, with labels 0..N-1 in that order.
    No inner loop: backbone and all heads are trained jointly by first-order optimisation.
    Params are `MTLParams`; tasks must carry `classes` (`[N]` global class indices).
    """

    loss: Loss = eqx.field(static=True, default=cross_entropy)

    def task_loss(self, params: MTLParams, task: Task) -> tuple[Array, dict[str, Array]]:
        """Loss of one task with its rows of the global head."""
        if task.classes is None:
            raise ValueError("MTL: tasks need `classes` (global class index of each way)")
        x, y = _pooled(task)
        logits = params.model.features(x) @ params.heads[task.classes].T
        return self.loss(logits, y), {}


class ERM(AbstractMetaAlgorithm):
    """ERM pretraining: the model fitted to support ∪ query of every task, no adaptation.

    The classic MAML baseline ("pretrained", Finn et al. 2017, Sec. 5.1): at test time it is
    fine-tuned with the same `adapt` as MAML.
    """

    loss: Loss = eqx.field(static=True)

    def task_loss(self, params: eqx.Module, task: Task) -> tuple[Array, dict[str, Array]]:
        """Loss of the unadapted model on the pooled data of one task."""
        x, y = _pooled(task)
        return self.loss(params(x), y), {}


class Reptile(AbstractMetaAlgorithm):
    r"""Reptile (Nichol et al. 2018): the update direction is $\theta - \tilde\theta_i$.

    $\tilde\theta_i$ = `steps` SGD steps with rate `lr` on support ∪ query of task i;
    `meta_grad` returns the mean of $\theta - \tilde\theta_i$, so `optax.sgd(epsilon)`
    gives the paper's $\theta \leftarrow \theta + \epsilon(\tilde\theta - \theta)$ (batched).
    It is not the gradient of a loss: `meta_loss` reports the mean pooled loss before
    adaptation for monitoring only.
    """

    loss: Loss = eqx.field(static=True)
    lr: Any
    steps: int = eqx.field(static=True, default=5)

    def task_loss(self, params: eqx.Module, task: Task) -> tuple[Array, dict[str, Array]]:
        """Pooled loss of the unadapted model (monitoring only)."""
        x, y = _pooled(task)
        return self.loss(params(x), y), {}

    def _direction(self, params: eqx.Module, task: Task) -> tuple[PyTree, Array]:
        adapted, inner = adapt_with_losses(
            params, _pooled(task), loss=self.loss, lr=self.lr, steps=self.steps
        )
        diff = jax.tree.map(
            lambda a, b: a - b,
            eqx.filter(params, eqx.is_inexact_array),
            eqx.filter(adapted, eqx.is_inexact_array),
        )
        return diff, inner

    def meta_grad(self, params: eqx.Module, tasks: Task) -> tuple[PyTree, dict[str, Any]]:
        """Mean over tasks of θ - θ̃_i; metrics hold inner losses and the pooled loss."""
        diffs, inner = jax.vmap(self._direction, in_axes=(None, 0))(params, tasks)
        value, aux = self.meta_loss(params, tasks)
        grads = jax.tree.map(lambda d: jnp.mean(d, axis=0), diffs)
        return grads, {**aux, "loss": value, "inner_losses": inner}
