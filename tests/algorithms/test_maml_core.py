"""MAML / ANIL meta-gradients: finite differences, the exact 1-step formula, FO, vmap = loop."""

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax
import pytest
from jax.flatten_util import ravel_pytree

from metagrad.algorithms import (
    MAML,
    adapt,
    anil,
    fo_anil,
    fo_maml,
    half_mse,
    head_only,
    init_meta_state,
    maml,
    meta_step,
    mse,
)
from metagrad.models import MLP
from metagrad.tasks import Task, sample_quadratic_tasks


def _tiny(key):
    return MLP(2, 2, width=4, depth=1, activation=jnp.tanh, dtype=jnp.float64, key=key)


def _tasks(key, n_tasks=3, n=6):
    k1, k2, k3, k4 = jr.split(key, 4)
    return Task(
        jr.normal(k1, (n_tasks, n, 2)),
        jr.normal(k2, (n_tasks, n, 2)),
        jr.normal(k3, (n_tasks, n, 2)),
        jr.normal(k4, (n_tasks, n, 2)),
    )


ALGOS = {
    "maml": lambda: maml(loss=mse, lr=0.3, steps=2),
    "anil": lambda: anil(loss=mse, lr=0.3, steps=2),
    "maml_negative_lr": lambda: maml(loss=half_mse, lr=-0.2, steps=1),
}


def _assert_grad_matches_central_fd(alg, model, tasks, getkey):
    """Directional derivatives of the meta-loss: autodiff vs central differences."""
    flat, unravel = ravel_pytree(model)
    f = jax.jit(lambda v: alg.meta_loss(unravel(v), tasks)[0])
    grad = jax.jit(jax.grad(f))(flat)
    for _ in range(3):
        d = jr.normal(getkey(), flat.shape)
        d = d / jnp.linalg.norm(d)
        eps = 1e-5
        fd = (f(flat + eps * d) - f(flat - eps * d)) / (2 * eps)
        # central differences: truncation O(eps^2 |f'''|) ~ 1e-10, round-off ~ 1e-16/eps ~ 1e-11
        np.testing.assert_allclose(float(grad @ d), float(fd), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name", sorted(ALGOS))
def test_meta_gradient_matches_central_finite_differences(name, getkey):
    _assert_grad_matches_central_fd(ALGOS[name](), _tiny(getkey()), _tasks(getkey()), getkey)


@pytest.mark.parametrize(
    "alpha_t", [pytest.param(-0.02, marks=pytest.mark.slow), pytest.param(0.03, marks=pytest.mark.slow)]
)
def test_relu_maml_gradient_on_quadratic_tasks_matches_finite_differences(alpha_t, getkey):
    # Bernacchia 2021, Fig. 5 in miniature: 2-hidden-layer ReLU net, y = (w'x + b)^2 + z,
    # 1/2 MSE, one second-order inner step at a negative or positive rate. The inner gradient
    # holds relu', a step: the meta-loss jumps where a pre-activation crosses 0. With zero
    # biases (Fig. 5's init) a point whose first-layer units are all off puts every
    # second-layer pre-activation exactly at 0, so the test uses the default init (nonzero
    # biases): a crossing within eps = 1e-5 then has probability ~1e-5 per unit and point.
    model = MLP(5, 1, width=6, depth=2, dtype=jnp.float64, key=getkey())
    tasks = sample_quadratic_tasks(
        getkey(), n_tasks=3, n_support=7, n_query=2, p=5, nu=0.5, sigma=1.0
    )
    _assert_grad_matches_central_fd(maml(loss=half_mse, lr=alpha_t), model, tasks, getkey)


def test_one_step_maml_gradient_equals_hessian_formula(getkey):
    """d/dθ L_q(θ - α∇L_s(θ)) = (I - α ∇²L_s(θ)) ∇L_q(θ')  (Finn et al. 2017, Sec. 2.2)."""
    alpha = 0.25
    model, tasks = _tiny(getkey()), _tasks(getkey(), n_tasks=1)
    task = jax.tree.map(lambda a: a[0], tasks)
    flat, unravel = ravel_pytree(model)
    ls = lambda v: mse(unravel(v)(task.x_support), task.y_support)
    lq = lambda v: mse(unravel(v)(task.x_query), task.y_query)
    adapted = flat - alpha * jax.jit(jax.grad(ls))(flat)
    hess = jax.jit(jax.hessian(ls))(flat)
    expected = (jnp.eye(flat.size) - alpha * hess) @ jax.jit(jax.grad(lq))(adapted)
    alg = maml(loss=mse, lr=alpha, steps=1)
    got = ravel_pytree(jax.jit(jax.grad(lambda m: alg.task_loss(m, task)[0]))(model))[0]
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("make", [fo_maml, fo_anil])
def test_first_order_equals_query_gradient_at_adapted_point(make, getkey):
    """FO: inner Jacobian = identity, so the meta-gradient is ∇L_q evaluated at θ'."""
    alg = make(loss=mse, lr=0.2, steps=3)
    model, tasks = _tiny(getkey()), _tasks(getkey(), n_tasks=1)
    task = jax.tree.map(lambda a: a[0], tasks)
    # independent inner loop: plain Python, gradients w.r.t. the adapted leaves only
    fast, rest = eqx.partition(model, alg.adapt_filter(model))
    for _ in range(3):
        g = jax.grad(lambda f: mse(eqx.combine(f, rest)(task.x_support), task.y_support))(fast)
        fast = jax.tree.map(lambda p, gi: p - 0.2 * gi, fast, g)
    adapted = eqx.combine(fast, rest)
    expected = jax.grad(lambda m: mse(m(task.x_query), task.y_query))(adapted)
    got = jax.grad(lambda m: alg.task_loss(m, task)[0])(model)
    np.testing.assert_allclose(
        ravel_pytree(got)[0], ravel_pytree(expected)[0], rtol=1e-12, atol=1e-14
    )


@pytest.mark.parametrize(
    "name", [n if n == "maml" else pytest.param(n, marks=pytest.mark.slow) for n in sorted(ALGOS)]
)  # one fast variant: the vmap-vs-loop code path is the same for all three
def test_vmapped_meta_loss_equals_python_loop(name, getkey):
    alg = ALGOS[name]()
    model, tasks = _tiny(getkey()), _tasks(getkey(), n_tasks=4)
    value, aux = jax.jit(alg.meta_loss)(model, tasks)
    task_loss = jax.jit(alg.task_loss)
    per_task = [task_loss(model, jax.tree.map(lambda a, i=i: a[i], tasks))[0] for i in range(4)]
    np.testing.assert_allclose(value, np.mean(per_task), rtol=1e-13)
    np.testing.assert_allclose(aux["task_losses"], per_task, rtol=1e-13)
    g_vmap = jax.jit(jax.grad(lambda m: alg.meta_loss(m, tasks)[0]))(model)

    def loop_loss(m):
        return sum(alg.task_loss(m, jax.tree.map(lambda a, i=i: a[i], tasks))[0] for i in range(4))

    g_loop = jax.jit(jax.grad(lambda m: loop_loss(m) / 4))(model)
    np.testing.assert_allclose(
        ravel_pytree(g_vmap)[0], ravel_pytree(g_loop)[0], rtol=1e-11, atol=1e-13
    )


def test_anil_adapt_leaves_backbone_bit_identical(getkey):
    model, tasks = _tiny(getkey()), _tasks(getkey(), n_tasks=1)
    task = jax.tree.map(lambda a: a[0], tasks)
    adapted = adapt(model, task.support, loss=mse, lr=0.5, steps=4, adapt_filter=head_only)
    for a, b in zip(jax.tree.leaves(model.hidden), jax.tree.leaves(adapted.hidden)):
        assert np.array_equal(np.asarray(a), np.asarray(b))
    assert not np.array_equal(np.asarray(model.head.weight), np.asarray(adapted.head.weight))


def test_frozen_backbone_meta_training_leaves_backbone_bit_identical(getkey):
    model, tasks = _tiny(getkey()), _tasks(getkey())
    alg = anil(loss=mse, lr=0.1, steps=2)
    labels = jax.tree.map(lambda _: "freeze", model)
    labels = eqx.tree_at(lambda m: m.head, labels, jax.tree.map(lambda _: "train", model.head))
    # labels is itself a (callable) module: pass it through a function, as optax expects
    opt = optax.multi_transform(
        {"train": optax.adam(1e-2), "freeze": optax.set_to_zero()}, lambda _: labels
    )
    state = init_meta_state(model, opt)
    for _ in range(3):
        state, _ = meta_step(alg, opt, state, tasks)
    for a, b in zip(jax.tree.leaves(model.hidden), jax.tree.leaves(state.params.hidden)):
        assert np.array_equal(np.asarray(a), np.asarray(b))
    assert not np.array_equal(np.asarray(model.head.bias), np.asarray(state.params.head.bias))


@pytest.mark.slow  # measured >= 8 s of the fast suite's wall time (2026-12-02)
def test_meta_sgd_per_parameter_lr_is_differentiable(getkey):
    """A per-leaf learning-rate pytree equal to a scalar gives the scalar result; it gets a grad."""
    model, tasks = _tiny(getkey()), _tasks(getkey())
    lrs = jax.tree.map(lambda p: jnp.full_like(p, 0.3), eqx.filter(model, eqx.is_inexact_array))
    a = MAML(loss=mse, lr=0.3, steps=2).meta_loss(model, tasks)[0]
    b = MAML(loss=mse, lr=lrs, steps=2).meta_loss(model, tasks)[0]
    np.testing.assert_allclose(a, b, rtol=1e-13)
    g = jax.grad(lambda lr: MAML(loss=mse, lr=lr, steps=2).meta_loss(model, tasks)[0])(lrs)
    assert all(np.all(np.isfinite(x)) and np.any(x != 0) for x in jax.tree.leaves(g))


def test_bad_steps_rejected():
    with pytest.raises(ValueError, match="steps"):
        maml(loss=mse, lr=0.1, steps=-1)
