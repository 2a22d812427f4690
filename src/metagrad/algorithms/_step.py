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


def _step_impl(algorithm, optimizer, state: MetaState, tasks: Task):
    """Un-jitted body of `meta_step`."""
    grads, metrics = algorithm.meta_grad(state.params, tasks)
    updates, opt_state = optimizer.update(
        grads, state.opt_state, eqx.filter(state.params, eqx.is_inexact_array)
    )
    params = eqx.apply_updates(state.params, updates)
    metrics = {**metrics, "grad_norm": optax.tree.norm(grads)}
    return MetaState(params, opt_state, state.step + 1), metrics


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
    return _step_impl(algorithm, optimizer, state, tasks)


@eqx.filter_jit
def _run_chunk(algorithm, optimizer, sample_tasks, state: MetaState, keys: Array):
    """`len(keys)` meta-steps inside one `lax.scan`; metrics stacked on a leading axis."""
    params, static = eqx.partition(state, eqx.is_array)

    def body(carry, key):
        new_state, metrics = _step_impl(
            algorithm, optimizer, eqx.combine(carry, static), sample_tasks(key)
        )
        return eqx.filter(new_state, eqx.is_array), metrics

    params, metrics = jax.lax.scan(body, params, keys)
    return eqx.combine(params, static), metrics


def meta_train(
    algorithm: AbstractMetaAlgorithm,
    optimizer: optax.GradientTransformation,
    params: PyTree,
    sample_tasks: Callable[[PRNGKeyArray], Task],
    *,
    steps: int,
    key: PRNGKeyArray,
    chunk: int = 100,
    guard: bool = True,
    meta_lr: float | None = None,
) -> tuple[PyTree, dict[str, Array]]:
    """Run `steps` meta-steps on fresh meta-batches `sample_tasks(key_t)`.

    The steps run in compiled chunks of `chunk` meta-steps (`lax.scan`, no Python per step).
    With `guard=True` the metrics of each chunk are checked on the host and a NaN/inf raises
    `DivergenceError` naming the first diverged meta-step, its task, the inner step and the
    learning rates.

    Args:
        algorithm: e.g. `maml(...)`, `anil(...)`, `MTL(...)`.
        optimizer: optax optimiser for the meta-parameters.
        params: initial meta-parameters.
        sample_tasks: `key -> Task` with a leading task axis (one meta-batch); traced.
        steps: number of meta-steps, >= 0.
        key: `jax.random` key; meta-step t uses `jax.random.split(key, steps)[t]`.
        chunk: meta-steps per compiled call, >= 1.
        guard: check for NaN/inf after each chunk.
        meta_lr: only used in the divergence report.

    Returns:
        `(params, history)` with `history["loss"]` of shape `[steps]`.
    """
    if steps < 0 or chunk < 1:
        raise ValueError(f"meta_train: steps={steps} must be >= 0 and chunk={chunk} >= 1")
    state = init_meta_state(params, optimizer)
    keys = jax.random.split(key, steps) if steps else jnp.zeros((0, 2), jnp.uint32)
    losses = []
    for start in range(0, steps, chunk):
        state, metrics = _run_chunk(
            algorithm, optimizer, sample_tasks, state, keys[start : start + chunk]
        )
        if guard:
            _check_chunk(metrics, start, algorithm, meta_lr)
        losses.append(metrics["loss"])
    return state.params, {"loss": jnp.concatenate(losses) if losses else jnp.zeros((0,))}


def _check_chunk(metrics: dict[str, Array], start: int, algorithm, meta_lr) -> None:
    """Check stacked chunk metrics; report the first diverged meta-step of the chunk."""
    import numpy as np

    ok = np.isfinite(np.asarray(metrics["loss"])) & np.isfinite(np.asarray(metrics["grad_norm"]))
    if "inner_losses" in metrics:
        inner = np.asarray(metrics["inner_losses"])
        ok &= np.isfinite(inner.reshape(inner.shape[0], -1)).all(axis=1)
    if ok.all():
        return
    t = int(np.argmin(ok))
    check_finite(
        jax.tree.map(lambda a: a[t], metrics),
        meta_step=start + t,
        lr=getattr(algorithm, "lr", None),
        meta_lr=meta_lr,
    )
