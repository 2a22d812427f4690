"""One jit-compiled meta-step for any algorithm, with an optax optimiser, and a guarded loop."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import optax
from jaxtyping import Array, PRNGKeyArray, PyTree

from metagrad.algorithms._base import AbstractMetaAlgorithm
from metagrad.algorithms._guards import check_finite
from metagrad.tasks._task import Task

__all__ = ["MetaState", "init_meta_state", "meta_loss", "meta_step", "meta_train"]


class MetaState(NamedTuple):
    """State of meta-training.

    Attributes:
        params: the meta-parameters (a model, or a model plus heads / learning rates).
        opt_state: the optax optimiser state.
        step: number of meta-steps taken (int array).
    """

    params: PyTree
    opt_state: optax.OptState
    step: Array


def init_meta_state(params: PyTree, optimizer: optax.GradientTransformation) -> MetaState:
    """Initial state: the optimiser state of the array leaves of `params`."""
    opt_state = optimizer.init(eqx.filter(params, eqx.is_inexact_array))
    return MetaState(params, opt_state, jnp.zeros((), jnp.int32))


def meta_loss(
    algorithm: AbstractMetaAlgorithm, params: PyTree, tasks: Task
) -> tuple[Array, dict[str, Array]]:
    """Mean outer loss over a meta-batch (`jax.vmap` over the leading task axis) and metrics."""
    return algorithm.meta_loss(params, tasks)


@eqx.filter_jit
def meta_step(
    algorithm: AbstractMetaAlgorithm,
    optimizer: optax.GradientTransformation,
    state: MetaState,
    tasks: Task,
) -> tuple[MetaState, dict[str, Array]]:
    """One meta-update: meta-gradient over the meta-batch, then the optax update.

    Compiled once per (algorithm, optimizer, shapes). Create the algorithm and optimiser once
    and reuse them: a new `optax.adam(...)` object is a new static argument and recompiles.

    Returns:
        `(new_state, metrics)`; metrics hold `loss` (scalar), `task_losses` `[tasks]`,
        `inner_losses` `[tasks, steps]` when the algorithm has an inner loop, `grad_norm`.
    """
    grads, metrics = algorithm.meta_grad(state.params, tasks)
    updates, opt_state = optimizer.update(
        grads, state.opt_state, eqx.filter(state.params, eqx.is_inexact_array)
    )
    params = eqx.apply_updates(state.params, updates)
    metrics = {**metrics, "grad_norm": optax.global_norm(grads)}
    return MetaState(params, opt_state, state.step + 1), metrics


def meta_train(
    algorithm: AbstractMetaAlgorithm,
    optimizer: optax.GradientTransformation,
    params: PyTree,
    sample_tasks: Callable[[PRNGKeyArray], Task],
    *,
    steps: int,
    key: PRNGKeyArray,
    guard: bool = True,
    meta_lr: float | None = None,
) -> tuple[PyTree, dict[str, Array]]:
    """Run `steps` meta-steps on fresh meta-batches `sample_tasks(key_t)`.

    With `guard=True` every step's metrics are checked on the host and a NaN/inf raises
    `DivergenceError` naming the meta-step, the task, the inner step and the learning rates.

    Returns:
        `(params, history)` with `history["loss"]` of shape `[steps]`.
    """
    state = init_meta_state(params, optimizer)
    sample = jax.jit(sample_tasks)
    losses = []
    for t, k in enumerate(jax.random.split(key, steps)):
        state, metrics = meta_step(algorithm, optimizer, state, sample(k))
        if guard:
            check_finite(metrics, meta_step=t, lr=getattr(algorithm, "lr", None), meta_lr=meta_lr)
        losses.append(metrics["loss"])
    return state.params, {"loss": jnp.stack(losses) if losses else jnp.zeros((0,))}
