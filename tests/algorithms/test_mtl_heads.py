"""MTL global head = explicit per-task heads; R2D2 / ProtoNet heads vs NumPy; Reptile."""

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax
import pytest
from jax.flatten_util import ravel_pytree

from metagrad.algorithms import (
    MTL,
    R2D2,
    ProtoNet,
    Reptile,
    cross_entropy,
    init_meta_state,
    init_mtl,
    meta_step,
    mse,
    prototype_logits,
    ridge_head,
)
from metagrad.models import MLP
from metagrad.tasks import Task


def _balanced_labels(key, t, n, n_way):
    """Labels of `t` tasks, each class appearing in every task (as in N-way K-shot episodes)."""
    base = jnp.arange(n) % n_way
    return jax.vmap(lambda k: jr.permutation(k, base))(jr.split(key, t))


def _cls_tasks(key, classes, n=8, d=3):
    t, n_way = classes.shape
    k1, k2, k3, k4 = jr.split(key, 4)
    return Task(
        jr.normal(k1, (t, n, d)),
        _balanced_labels(k2, t, n, n_way),
        jr.normal(k3, (t, n, d)),
        jr.randint(k4, (t, n), 0, n_way),
        jnp.asarray(classes, jnp.int32),
    )


def _explicit_loss(model, heads, tasks):
    """MTL with one explicit head per task (Wang, Zhao, Li 2021, Eq. 2), a Python loop."""
    total = 0.0
    for i in range(tasks.classes.shape[0]):
        x = jnp.concatenate([tasks.x_support[i], tasks.x_query[i]])
        y = jnp.concatenate([tasks.y_support[i], tasks.y_query[i]])
        total = total + cross_entropy(model.features(x) @ heads[i].T, y)
    return total / tasks.classes.shape[0]


def test_global_head_gradient_equals_explicit_heads_scattered(getkey):
    classes = np.array([[0, 3, 5], [5, 1, 0], [2, 4, 3]])  # overlapping classes
    params = init_mtl(
        MLP(3, 3, width=5, depth=1, dtype=jnp.float64, key=getkey()), 6, 3, key=getkey()
    )
    tasks = _cls_tasks(getkey(), classes)
    g = jax.grad(lambda p: MTL().meta_loss(p, tasks)[0])(params)
    explicit = jnp.stack([params.heads[c] for c in classes])
    gm, gh = jax.grad(_explicit_loss, argnums=(0, 1))(params.model, explicit, tasks)
    expected = np.zeros_like(np.asarray(params.heads))
    for i, row in enumerate(classes):
        for j, c in enumerate(row):
            expected[c] += np.asarray(gh[i, j])
    np.testing.assert_allclose(g.heads, expected, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(
        ravel_pytree(eqx.filter(g.model, eqx.is_array))[0],
        ravel_pytree(eqx.filter(gm, eqx.is_array))[0],
        rtol=1e-12,
    )


@pytest.mark.slow  # follows from the gradient test (same gradients, same optimiser)
def test_global_head_training_equals_explicit_heads_disjoint(getkey):
    classes = np.array([[0, 3], [5, 1], [2, 4]])  # disjoint: one row per (task, way)
    params = init_mtl(
        MLP(3, 2, width=5, depth=1, dtype=jnp.float64, key=getkey()), 6, 2, key=getkey()
    )
    tasks = _cls_tasks(getkey(), classes)
    opt = optax.sgd(0.3)
    state = init_meta_state(params, opt)
    model, heads = params.model, jnp.stack([params.heads[c] for c in classes])
    for _ in range(5):
        state, _ = meta_step(MTL(), opt, state, tasks)
        gm, gh = jax.grad(_explicit_loss, argnums=(0, 1))(model, heads, tasks)
        model = jax.tree.map(lambda p, g: p - 0.3 * g, model, gm)
        heads = heads - 0.3 * gh
    for i, c in enumerate(classes):
        np.testing.assert_allclose(state.params.heads[c], heads[i], rtol=1e-12)
    np.testing.assert_allclose(
        ravel_pytree(state.params.model)[0], ravel_pytree(model)[0], rtol=1e-12
    )


def test_ridge_head_equals_primal_solution(getkey):
    phi = np.asarray(jr.normal(getkey(), (5, 8)))
    y = np.asarray(jr.normal(getkey(), (5, 3)))
    primal = np.linalg.solve(phi.T @ phi + 0.7 * np.eye(8), phi.T @ y)
    np.testing.assert_allclose(
        ridge_head(jnp.asarray(phi), jnp.asarray(y), lam=0.7), primal, rtol=1e-10
    )


def test_prototype_logits_equal_explicit_distances(getkey):
    s = np.asarray(jr.normal(getkey(), (6, 4)))
    q = np.asarray(jr.normal(getkey(), (5, 4)))
    labels = np.array([0, 1, 2, 0, 1, 2])
    protos = np.stack([s[labels == k].mean(0) for k in range(3)])
    expected = -((q[:, None, :] - protos[None]) ** 2).sum(-1)
    got = prototype_logits(jnp.asarray(s), jnp.asarray(labels), jnp.asarray(q), n_way=3)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


def test_prototype_of_a_class_absent_from_the_support_is_finite(getkey):
    s = jr.normal(getkey(), (4, 3))
    got = prototype_logits(s, jnp.array([0, 0, 1, 1]), jr.normal(getkey(), (2, 3)), n_way=3)
    assert np.all(np.isfinite(np.asarray(got)))


@pytest.mark.slow  # measured >= 8 s of the fast suite's wall time (2026-12-02)
def test_r2d2_and_protonet_train_on_fewshot_features(getkey):
    """Both heads are differentiable end to end: a few meta-steps lower the query loss."""
    classes = np.tile(np.arange(3), (4, 1))
    model = MLP(3, 3, width=16, depth=1, dtype=jnp.float64, key=getkey())
    tasks = _cls_tasks(getkey(), classes, n=12)
    for alg in (R2D2(n_way=3, lam=0.5, scale=2.0), ProtoNet(n_way=3)):
        opt = optax.adam(1e-2)
        state = init_meta_state(model, opt)
        first = alg.meta_loss(model, tasks)[0]
        for _ in range(30):
            state, metrics = meta_step(alg, opt, state, tasks)
        assert metrics["loss"] < first and np.isfinite(float(metrics["loss"]))


def test_reptile_one_step_direction_is_lr_times_gradient(getkey):
    model = MLP(2, 1, width=4, depth=1, dtype=jnp.float64, key=getkey())
    k = jr.split(getkey(), 4)
    tasks = Task(*(jr.normal(kk, (3, 5, d)) for kk, d in zip(k, (2, 1, 2, 1))))
    grads, _ = Reptile(loss=mse, lr=0.1, steps=1).meta_grad(model, tasks)

    def pooled(m):
        x = jnp.concatenate([tasks.x_support, tasks.x_query], 1)
        y = jnp.concatenate([tasks.y_support, tasks.y_query], 1)
        return jnp.mean(jax.vmap(lambda a, b: mse(m(a), b))(x, y))

    expected = jax.tree.map(lambda g: 0.1 * g, jax.grad(pooled)(model))
    # float64 sums in a different order: a few ulps relative, plus an absolute floor for tiny entries
    np.testing.assert_allclose(
        ravel_pytree(grads)[0], ravel_pytree(expected)[0], rtol=1e-11, atol=1e-15
    )
