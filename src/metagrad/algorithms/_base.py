"""The meta-algorithm interface: a per-task loss, vmapped over a meta-batch of tasks."""

from __future__ import annotations

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, PyTree

from metagrad.tasks._task import Task

__all__ = ["AbstractMetaAlgorithm"]


class AbstractMetaAlgorithm(eqx.Module):
    """A meta-learning algorithm: hyperparameters as fields, pure methods.

    Subclasses implement `task_loss(params, task) -> (loss, aux)` for ONE task. The meta-loss
    is its mean over a meta-batch, computed with `jax.vmap` (one compiled program for all
    tasks, no Python loop). `meta_grad` is `grad(meta_loss)` unless the algorithm's update is
    not a gradient (Reptile overrides it).
    """

    def task_loss(self, params: PyTree, task: Task) -> tuple[Array, dict[str, Array]]:
        """Outer loss of one task and auxiliary per-task metrics."""
        raise NotImplementedError

    def meta_loss(self, params: PyTree, tasks: Task) -> tuple[Array, dict[str, Array]]:
        """Mean outer loss over a meta-batch (every field of `tasks` has a leading task axis)."""
        losses, aux = jax.vmap(self.task_loss, in_axes=(None, 0))(params, tasks)
        return jnp.mean(losses), {**aux, "task_losses": losses}

    def meta_grad(self, params: PyTree, tasks: Task) -> tuple[PyTree, dict[str, Any]]:
        """Meta-gradient (same pytree as `params`) and metrics including the meta-loss."""
        (value, aux), grads = eqx.filter_value_and_grad(self.meta_loss, has_aux=True)(params, tasks)
        return grads, {**aux, "loss": value}
