"""The inner loop: a few gradient steps on the support set, inside `lax.scan`.

Semantics (answering learn2learn #169 / higher #30): `adapt` is a pure function. It never
copies or mutates the model: it returns a *new* model whose adapted leaves are functions of the
input model's leaves. Differentiating a loss of the adapted model with respect to the input
model gives the MAML meta-gradient (second order by default). Nothing is kept alive between
calls: there is no graph object, only JAX's trace of the current `grad` call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, PyTree

__all__ = ["adapt", "adapt_with_losses", "all_params", "head_only", "no_params"]

Loss = Callable[[Array, Array], Array]


def all_params(model: eqx.Module) -> PyTree[bool]:
    """Adapt every floating-point array of the model (MAML, FO-MAML)."""
    return jax.tree.map(eqx.is_inexact_array, model)


def head_only(model: eqx.Module) -> PyTree[bool]:
    """Adapt only `model.head` (ANIL, FO-ANIL); the backbone is fixed in the inner loop."""
    spec = jax.tree.map(lambda _: False, model)
    head = jax.tree.map(eqx.is_inexact_array, model.head)
    return eqx.tree_at(lambda m: m.head, spec, head)


def no_params(model: eqx.Module) -> PyTree[bool]:
    """Adapt nothing (ERM pretraining evaluated without adaptation)."""
    return jax.tree.map(lambda _: False, model)


def _lr_tree(lr: Any, fast: PyTree) -> PyTree:
    """Broadcast a scalar learning rate to the adapted leaves, or check a per-leaf tree."""
    if isinstance(lr, (int, float)) or (hasattr(lr, "ndim") and lr.ndim == 0):
        return jax.tree.map(lambda _: lr, fast)
    if jax.tree.structure(lr) != jax.tree.structure(fast):
        raise ValueError(
            "adapt: lr must be a scalar or a pytree with the structure of the adapted part "
            "(eqx.partition(model, adapt_filter(model))[0]); got a different structure"
        )
    return lr


def adapt_with_losses(
    model: eqx.Module,
    support: tuple[Array, Array],
    *,
    loss: Loss,
    lr: Any,
    steps: int,
    first_order: bool = False,
    adapt_filter: Callable[[eqx.Module], PyTree[bool]] = all_params,
) -> tuple[eqx.Module, Array]:
    """Like `adapt`, also returning the support loss before each step, shape `[steps]`."""
    if not isinstance(steps, int) or steps < 0:
        raise ValueError(f"adapt: steps={steps!r} must be an int >= 0")
    x, y = support
    fast, rest = eqx.partition(model, adapt_filter(model))
    lrs = _lr_tree(lr, fast)

    def support_loss(fast_: PyTree) -> Array:
        return loss(eqx.combine(fast_, rest)(x), y)

    def step(fast_: PyTree, _: None) -> tuple[PyTree, Array]:
        value, grads = jax.value_and_grad(support_loss)(fast_)
        if first_order:  # FO: the inner Jacobian d(theta')/d(theta) is the identity
            grads = jax.lax.stop_gradient(grads)
        fast_ = jax.tree.map(lambda p, a, g: p - a * g, fast_, lrs, grads)
        return fast_, value

    fast, losses = jax.lax.scan(step, fast, None, length=steps)
    return eqx.combine(fast, rest), jnp.asarray(losses)


def adapt(
    model: eqx.Module,
    support: tuple[Array, Array],
    *,
    loss: Loss,
    lr: Any,
    steps: int,
    first_order: bool = False,
    adapt_filter: Callable[[eqx.Module], PyTree[bool]] = all_params,
) -> eqx.Module:
    r"""Adapt `model` to a support set with `steps` steps of gradient descent.

    $\theta_{k+1} = \theta_k - \alpha \odot \nabla_\theta L(\theta_k; \text{support})$ on the
    leaves selected by `adapt_filter`; the other leaves are used as they are. Finn et al.
    (2017), Eq. 1; ANIL (Raghu et al. 2020) is `adapt_filter=head_only`.

    Args:
        model: an equinox model mapping a batch `[n, ...]` to predictions `[n, ...]`.
        support: `(x, y)` with leading sample axis `n`.
        loss: `loss(pred, target) -> scalar`, e.g. `mse`, `half_mse`, `cross_entropy`.
        lr: inner learning rate: any real scalar (negative and large values are allowed, see
            Bernacchia 2021), or a pytree of per-parameter rates with the structure of the
            adapted part (Meta-SGD, Li et al. 2017); may be a traced, learned value.
        steps: number of inner steps, >= 0 (static: changing it recompiles).
        first_order: if True, gradients do not flow through the inner gradients (FO-MAML,
            FO-ANIL): the meta-gradient uses the identity for the inner Jacobian.
        adapt_filter: function `model -> pytree of bools` selecting adapted leaves;
            `all_params` (default, MAML), `head_only` (ANIL), `no_params`.

    Returns:
        The adapted model (a new pytree; the input is not modified).
    """
    adapted, _ = adapt_with_losses(
        model,
        support,
        loss=loss,
        lr=lr,
        steps=steps,
        first_order=first_order,
        adapt_filter=adapt_filter,
    )
    return adapted
