"""The kernel-form one-step MAML meta-loss (`mlp_maml_one_step_loss`) against the generic path.

`bernacchia2021.fig5` meta-trains with the kernel form; `maml`/`fo_maml` + `meta_step` is the
reference. Both are exact, so they agree to float64 round-off (~1e-15 relative here); the
tolerances below are round-off bounds, not statistical ones.
"""

import dataclasses
import functools
import itertools

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

from metagrad.algorithms import LOSSES, fo_maml, maml
from metagrad.algorithms._maml_mlp import mlp_maml_one_step_loss
from metagrad.experiments.bernacchia2021_nn import (
    Fig5Config,
    adapted_test_loss,
    meta_train_fixed,
)
from metagrad.models import MLP
from metagrad.tasks import Task

P, WIDTH, N_T, N_V, M = 5, 8, 6, 2, 3  # small shapes, shared by every test (one compile each)
RTOL = 1e-10


def _setup(key, activation=jax.nn.relu):
    """A random MLP and m random quadratic tasks (NumPy draws from `key`: no compile)."""
    rng = np.random.default_rng(np.asarray(jr.key_data(key)))
    shapes = eqx.filter_eval_shape(
        lambda: MLP(P, 1, WIDTH, 2, activation=activation, dtype=jnp.float64, key=jr.key(0))
    )
    model = jax.tree.map(
        lambda a: jnp.asarray(rng.normal(size=a.shape) / a.shape[-1] ** 0.5), shapes
    )

    def split(n):  # y = (w.x + b)^2 + z, Bernacchia 2021 Sec. 5.4
        x = rng.normal(size=(M, n, P))
        y = (np.einsum("tnp,tp->tn", x, w) + b) ** 2 + rng.normal(size=(M, n))
        return jnp.asarray(x), jnp.asarray(y[..., None])

    w, b = 0.5 / P**0.5 * rng.normal(size=(M, P)), rng.normal(size=(M, 1))
    return model, Task(*split(N_T), *split(N_V))


def _rate(key):
    """A random inner rate, ±U(0.05, 0.5)."""
    rng = np.random.default_rng(np.asarray(jr.key_data(key)))
    return rng.choice([-1.0, 1.0]) * rng.uniform(0.05, 0.5)


def _flat(tree):
    return jnp.concatenate([a.ravel() for a in jax.tree.leaves(eqx.filter(tree, eqx.is_array))])


@functools.cache
def _value_and_grad(path, first_order, loss):
    """Compiled `(model, tasks, alpha) -> (meta-loss, meta-gradient)` of one path."""
    if path == "generic":
        make = fo_maml if first_order else maml

        def fn(model, tasks, alpha):
            return make(loss=loss, lr=alpha, steps=1).meta_loss(model, tasks)[0]

    else:

        def fn(model, tasks, alpha):
            return mlp_maml_one_step_loss(model, tasks, alpha, loss=loss, first_order=first_order)

    return eqx.filter_jit(eqx.filter_value_and_grad(fn))


def _both_ways(model, tasks, alpha, loss):
    """{(path, first_order): (meta-loss, flat meta-gradient)}."""
    out = {}
    for key in itertools.product(("generic", "kernel"), (False, True)):
        value, grads = _value_and_grad(*key, loss)(model, tasks, alpha)
        out[key] = (value, _flat(grads))
    return out


def _rel(a, b):
    return float(np.linalg.norm(np.asarray(a) - np.asarray(b)) / np.linalg.norm(np.asarray(b)))


@pytest.mark.parametrize(
    "loss_name,activation",
    [("half_mse", jax.nn.relu), pytest.param("mse", jnp.tanh, marks=pytest.mark.slow)],
)
def test_kernel_meta_gradient_equals_generic_maml(getkey, loss_name, activation):
    """Loss and meta-gradient equal `maml`'s (second order) and `fo_maml`'s (first order)."""
    model, tasks = _setup(getkey(), activation)
    alpha = jnp.asarray(_rate(getkey()))
    out = _both_ways(model, tasks, alpha, LOSSES[loss_name])
    for first_order in (False, True):
        (v_got, g_got), (v_ref, g_ref) = out["kernel", first_order], out["generic", first_order]
        assert abs(float(v_got - v_ref)) <= RTOL * abs(float(v_ref))
        assert _rel(g_got, g_ref) <= RTOL
    # the second-order part is present: at alpha != 0 the meta-gradients differ (by O(alpha))
    assert _rel(out["kernel", False][1], out["kernel", True][1]) > 1e-6


def test_kernel_first_order_equals_second_order_at_zero_rate(getkey):
    """At α = 0 the inner Jacobian is I: second- and first-order meta-gradients coincide."""
    model, tasks = _setup(getkey())
    out = _both_ways(model, tasks, jnp.zeros(()), LOSSES["half_mse"])
    (v_so, g_so), (v_fo, g_fo) = out["kernel", False], out["kernel", True]
    assert float(v_so) == float(v_fo)
    assert _rel(g_so, g_fo) <= 1e-14


def _cfg(**kw):
    base = dict(
        p=P,
        width=WIDTH,
        n_t=N_T,
        n_v=N_V,
        m=M,
        outer_steps=20,
        outer_lr=0.05,
        alpha_t_range=(-0.3, 0.3),
        n_grid=3,
        fo_alpha_t=(),
        n_test_tasks=M,
        test_chunk=1,
        n_r=N_T,
        n_s=N_V,
    )
    return dataclasses.replace(Fig5Config(), **{**base, **kw})


@eqx.filter_jit
def _train_both(model, tasks, test, alpha, cfg, first_order):
    out = []
    for g in ("kernel", "generic"):
        params, losses = meta_train_fixed(model, tasks, alpha, cfg, first_order, meta_gradient=g)
        out.append((params, losses, adapted_test_loss(params, test, cfg, g)))
    return out


@pytest.mark.parametrize("first_order", [False, pytest.param(True, marks=pytest.mark.slow)])
def test_short_training_equals_generic(getkey, first_order):
    """20 outer steps of the study's meta-training and the test loss: kernel = generic (1e-9)."""
    model, tasks = _setup(getkey())
    cfg = _cfg()
    _, test = _setup(getkey())  # test tasks: the shapes of the training tasks
    alpha = -jnp.abs(jnp.asarray(_rate(getkey())))
    (p_fast, l_fast, t_fast), (p_ref, l_ref, t_ref) = _train_both(
        model, tasks, test, alpha, cfg, first_order
    )
    assert l_ref[-1] < l_ref[0]  # it trains
    np.testing.assert_allclose(np.asarray(l_fast), np.asarray(l_ref), rtol=1e-9, atol=0)
    assert _rel(_flat(p_fast), _flat(p_ref)) <= 1e-9
    assert abs(float(t_fast) - float(t_ref)) <= 1e-9 * abs(float(t_ref))


def test_unknown_meta_gradient_and_bad_input_raise(getkey):
    model, tasks = _setup(getkey())
    with pytest.raises(ValueError, match="meta_gradient"):
        meta_train_fixed(model, tasks, jnp.asarray(0.1), _cfg(), meta_gradient="fast")
    flat = tasks._replace(x_support=tasks.x_support[0])
    with pytest.raises(ValueError, match="x_support"):
        mlp_maml_one_step_loss(model, flat, 0.1, loss=LOSSES["half_mse"])
