r"""One-step MAML meta-loss of an `MLP`, written out so that no adapted weight is materialised.

For a dense layer $z = a W^\top + b$ applied to a support batch (activations $A$, $n \times$ in,
back-propagated errors $D = \partial L_{\text{support}} / \partial z$, $n \times$ out), one inner
step at rate $\alpha$ (Bernacchia 2021, Eq. 1; Finn et al. 2017, Eq. 1) is the low-rank update

$$ W' = W - \alpha D^\top A, \qquad b' = b - \alpha \mathbf{1}^\top D, $$

so the adapted layer applied to query activations $A_q$ is (the "kernel trick")

$$ A_q W'^\top + b' = A_q W^\top + b - \alpha\,(A_q A^\top + \mathbf{1}\mathbf{1}^\top)\, D , $$

an $n_q \times n$ kernel times the support errors: $W'$ is never formed. The query loss of the
adapted network (Eq. 2 with the adapted parameters of Eq. 1, averaged over tasks as in Eq. 3) is
written explicitly with a hand-written support backward pass (the errors $D$ of every layer);
`jax.grad` of this function is the exact second-order MAML meta-gradient (Eq. 3 differentiated
through the inner step, inner Jacobian $I - \alpha \nabla^2 L$), at fewer matrix products than
differentiating the generic `maml` path (per hidden width×width layer and task batch: six
support-sized products instead of nine, and no per-task width×width adapted matrix).

With `first_order=True` the support quantities ($A$, $D$) are `stop_gradient`-ed: the inner step's
gradient is a constant, which is first-order MAML (`fo_maml`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from metagrad.algorithms._adapt import Loss
from metagrad.models._mlp import MLP
from metagrad.tasks._task import Task

__all__ = ["mlp_maml_one_step_loss"]


def _task_loss(model: MLP, task: Task, alpha: Array, loss: Loss, first_order: bool) -> Array:
    """Query loss of one task after one inner step (the kernel form of the module docstring)."""
    sg = jax.lax.stop_gradient if first_order else (lambda a: a)
    layers = (*model.hidden, model.head)
    # support forward: activations entering each layer, pre-activations of the hidden layers
    acts, pres, a = [], [], task.x_support
    for layer in model.hidden:
        acts.append(a)
        z = a @ layer.weight.T + layer.bias
        pres.append(z)
        a = model.activation(z)
    acts.append(a)
    pred = a @ model.head.weight.T + model.head.bias
    # support backward by hand: errors D_l = dL_support / dz_l of every layer (top first)
    d = jax.grad(loss)(pred, task.y_support)
    errors = [d]
    for layer, z in zip(reversed(layers[1:]), reversed(pres)):
        _, act_vjp = jax.vjp(model.activation, z)
        d = act_vjp(d @ layer.weight)[0]
        errors.append(d)
    errors = errors[::-1]
    # query forward through the adapted layers, in kernel form
    q = task.x_query
    for i, layer in enumerate(layers):
        kernel = q @ sg(acts[i]).T + 1.0
        z = q @ layer.weight.T + layer.bias - alpha * (kernel @ sg(errors[i]))
        q = model.activation(z) if i < len(layers) - 1 else z
    return loss(q, task.y_query)


def mlp_maml_one_step_loss(
    model: MLP,
    tasks: Task,
    alpha: Float[Array, ""] | float,  # noqa: F722
    *,
    loss: Loss,
    first_order: bool = False,
) -> Array:
    r"""MAML meta-loss of an `MLP` after one inner step on every parameter, averaged over tasks.

    $\frac1m \sum_k L(\theta - \alpha \nabla_\theta L(\theta; \text{support}_k);
    \text{query}_k)$ (Bernacchia 2021, Eqs. 1-3; Finn et al. 2017), computed without forming the
    adapted weights (module docstring). Equal, up to float round-off, to
    ``maml(loss=loss, lr=alpha, steps=1).meta_loss(model, tasks)[0]`` (``fo_maml`` with
    `first_order`), and so is its gradient with respect to `model`: the second-order
    meta-gradient, at fewer matrix products.

    Args:
        model: an `MLP` whose hidden layers and head have biases; any elementwise activation.
        tasks: a `Task` batch: `x_support` `[m, n, in]`, `y_support` `[m, n, out]`, `x_query`
            `[m, n_q, in]`, `y_query` `[m, n_q, out]`.
        alpha: inner learning rate (any real scalar, may be traced).
        loss: `loss(pred, target) -> scalar` of both loops (e.g. `half_mse`), differentiable in
            `pred`.
        first_order: first-order MAML (no gradient through the inner step's gradient).

    Returns:
        The scalar meta-loss (mean over the m tasks of the query loss).
    """
    if any(lin.bias is None for lin in (*model.hidden, model.head)):
        raise ValueError("mlp_maml_one_step_loss: every layer of model must have a bias")
    if tasks.x_support.ndim != 3 or tasks.x_query.ndim != 3:
        raise ValueError(
            "mlp_maml_one_step_loss: tasks.x_support and tasks.x_query must be [m, n, in]; got "
            f"{tasks.x_support.shape}, {tasks.x_query.shape}"
        )
    per_task = lambda task: _task_loss(model, task, jnp.asarray(alpha), loss, first_order)  # noqa: E731
    return jnp.mean(jax.vmap(per_task)(tasks))
