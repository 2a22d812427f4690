"""The channels-last layers with hand-written backward rules (metagrad.models._fast).

Each custom rule is checked against JAX's automatic derivative of the plain layer, to first
and second order, and against finite differences (float64, tiny 8×8 images with 2 channels).
"""

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from jax.test_util import check_grads

from metagrad.algorithms import anil, cross_entropy, fo_maml, maml
from metagrad.models import Conv4
from metagrad.models._fast import (
    batch_norm_nhwc,
    conv_same_nhwc,
    conv_weight_grad_nhwc,
    max_pool_2x2_nhwc,
)
from metagrad.tasks import make_prototypes, sample_fewshot_batch


def _plain_conv(x, w):
    return jax.lax.conv_general_dilated(
        x, w, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC")
    )


def _plain_bn(x, w, b):
    m = x.mean((0, 1, 2))
    v = ((x - m) ** 2).mean((0, 1, 2))
    return (x - m) / jnp.sqrt(v + 1e-5) * w + b


def _plain_pool(x):
    return jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")


def _first_and_second(f, args):
    """Gradient of sum(sin f) and gradient of the squared norm of that gradient."""
    loss = lambda *a: jnp.sum(jnp.sin(f(*a)))
    argnums = tuple(range(len(args)))
    g1 = jax.grad(loss, argnums)(*args)
    g2 = jax.grad(lambda *a: sum(jnp.sum(g**2) for g in jax.grad(loss, argnums)(*a)), argnums)(
        *args
    )
    return g1 + g2


@pytest.mark.parametrize("k", [3, pytest.param(1, marks=pytest.mark.slow)])
def test_conv_rules_match_autodiff_and_finite_differences(k, getkey):
    x, w = jr.normal(getkey(), (3, 8, 8, 2)), jr.normal(getkey(), (k, k, 2, 3))
    np.testing.assert_allclose(conv_same_nhwc(x, w), _plain_conv(x, w), rtol=1e-12, atol=1e-12)
    for a, b in zip(
        _first_and_second(conv_same_nhwc, (x, w)), _first_and_second(_plain_conv, (x, w))
    ):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10)
    check_grads(conv_same_nhwc, (x, w), order=2, modes=["rev"])
    g = jr.normal(getkey(), (3, 8, 8, 3))
    check_grads(lambda x_, g_: conv_weight_grad_nhwc(x_, g_, k), (x, g), order=2, modes=["rev"])


@pytest.mark.slow
@pytest.mark.parametrize("n", [6, 7])
def test_weight_grad_chunks_equal_one_gemm(n, getkey, monkeypatch):
    """The chunked weight gradient (3-image chunks sliced in a loop, plus one GEMM for the
    n mod 3 left over) equals the one-GEMM one, with and without a remainder."""
    import metagrad.models._fast as fast

    x, g = jr.normal(getkey(), (n, 8, 8, 2)), jr.normal(getkey(), (n, 8, 8, 3))
    whole = fast._weight_grad(x, g, 3)
    monkeypatch.setattr(fast, "_CHUNK_BYTES", 3 * 8 * 8 * 9 * 2 * 8)  # 3 images per chunk
    np.testing.assert_allclose(fast._weight_grad(x, g, 3), whole, rtol=1e-12, atol=1e-12)
    w = jax.grad(lambda w_: jnp.sum(_plain_conv(x, w_) * g))(jnp.zeros((3, 3, 2, 3)))
    np.testing.assert_allclose(whole, w, rtol=1e-12, atol=1e-12)


def test_batch_norm_rule_matches_autodiff_and_finite_differences(getkey):
    x = 3.0 + 2.0 * jr.normal(getkey(), (3, 8, 8, 2))
    w, b = jr.normal(getkey(), (2,)), jr.normal(getkey(), (2,))
    bn = lambda x_, w_, b_: batch_norm_nhwc(x_, w_, b_, 1e-5)
    np.testing.assert_allclose(bn(x, w, b), _plain_bn(x, w, b), rtol=1e-12, atol=1e-12)
    for a, c in zip(_first_and_second(bn, (x, w, b)), _first_and_second(_plain_bn, (x, w, b))):
        np.testing.assert_allclose(a, c, rtol=1e-9, atol=1e-9)
    check_grads(bn, (x, w, b), order=2, modes=["rev"])


@pytest.mark.slow
def test_batch_norm_two_pass_is_safe_for_large_means(getkey):
    """float32, |mean| = 1e4 × std: one-pass E[x²] − m² would cancel; two-pass does not."""
    x = (1e4 + jr.normal(getkey(), (4, 8, 8, 2))).astype(jnp.float32)
    y = batch_norm_nhwc(x, jnp.ones(2, jnp.float32), jnp.zeros(2, jnp.float32), 1e-5)
    np.testing.assert_allclose(np.var(np.asarray(y), axis=(0, 1, 2)), 1.0, rtol=1e-2)


@pytest.mark.parametrize("side", [8, pytest.param(7, marks=pytest.mark.slow)])
def test_pool_rule_matches_autodiff_and_finite_differences(side, getkey):
    x = jr.normal(getkey(), (3, side, side, 2))
    np.testing.assert_array_equal(max_pool_2x2_nhwc(x), _plain_pool(x))
    for a, b in zip(
        _first_and_second(max_pool_2x2_nhwc, (x,)), _first_and_second(_plain_pool, (x,))
    ):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    check_grads(max_pool_2x2_nhwc, (x,), order=2, modes=["rev"])


def test_pool_ties_route_to_the_first_maximum(getkey):
    x = jnp.round(jr.normal(getkey(), (2, 8, 8, 2)))  # many ties
    g = jr.normal(getkey(), (2, 4, 4, 2))
    ours = jax.vjp(max_pool_2x2_nhwc, x)[1](g)[0]
    ref = jax.vjp(_plain_pool, x)[1](g)[0]
    np.testing.assert_array_equal(ours, ref)


def test_conv4_fast_gradient_under_jit_float32(getkey):
    """Regression: jitted float32 gradients of the fast Conv-4 equal the plain layers'.

    The pool's backward once recomputed its mask by comparing the input with the pooled output;
    under jit XLA evaluated the input in two fusions that rounded differently, and 7–27 % of the
    conv-weight gradient went to the wrong window entries (found by the PyTorch training
    benchmark, docs/benchmarks/train_torch.md). Float64 and tiny shapes do not show it, this
    shape (10 images 28×28, 16 filters) did.
    """
    x = jr.uniform(getkey(), (10, 1, 28, 28), dtype=jnp.float32)
    y = jr.randint(getkey(), (10,), 0, 5)
    key = getkey()

    def grad(impl):
        m = Conv4(5, 16, in_channels=1, image_size=28, conv_impl=impl, key=key)
        return jax.jit(jax.grad(lambda mm: cross_entropy(mm(x), y)))(m)

    fast, plain = grad("fast"), grad("xla")
    for a, b in zip(jax.tree.leaves(fast), jax.tree.leaves(plain)):
        # conv biases feed BatchNorm, so their true gradient is 0 and both are round-off (~1e-7)
        assert float(jnp.linalg.norm(a - b)) <= 1e-4 * float(jnp.linalg.norm(b)) + 1e-5


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(maml, marks=pytest.mark.slow),
        pytest.param(fo_maml, marks=pytest.mark.slow),
        pytest.param(anil, marks=pytest.mark.slow),
    ],
)
def test_conv4_fast_meta_gradient_equals_plain(make, getkey):
    """Second-order meta-gradients through the custom rules equal those of the plain layers."""
    protos = make_prototypes(key=getkey(), n_classes=8, size=16, dtype=jnp.float64)
    tasks = sample_fewshot_batch(
        key=getkey(), tasks=2, prototypes=protos, n_way=3, k_shot=1, n_query=2
    )
    key, alg = getkey(), make(loss=cross_entropy, lr=0.4, steps=1)
    grads = {
        impl: jax.jit(jax.grad(lambda mm: alg.meta_loss(mm, tasks)[0]))(
            Conv4(3, 2, in_channels=1, image_size=16, dtype=jnp.float64, conv_impl=impl, key=key)
        )
        for impl in ("fast", "xla")
    }
    for a, b in zip(jax.tree.leaves(grads["fast"]), jax.tree.leaves(grads["xla"])):
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-10)


@pytest.mark.slow  # measured >= 8 s of the fast suite's wall time (2026-12-02)
def test_maml_task_loop_map_equals_vmap(getkey):
    """`task_loop="map"` (lax.map over tasks) gives the vmap meta-loss and meta-gradient."""
    from metagrad.models import MLP
    from metagrad.tasks import sample_sinusoid_batch

    tasks = sample_sinusoid_batch(key=getkey(), tasks=3, n_support=4, n_query=4)
    m = MLP(1, 1, 8, 1, dtype=jnp.float64, key=getkey())
    from metagrad.algorithms import mse

    algs = {loop: maml(loss=mse, lr=0.1, task_loop=loop) for loop in ("vmap", "map")}
    out = {
        loop: jax.value_and_grad(lambda mm, a=alg: a.meta_loss(mm, tasks)[0])(m)
        for loop, alg in algs.items()
    }
    for a, b in zip(jax.tree.leaves(out["vmap"]), jax.tree.leaves(out["map"])):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    with pytest.raises(ValueError, match="task_loop"):
        maml(loss=mse, lr=0.1, task_loop="scan")


def _conv_kernel_sides(jaxpr):
    """Spatial sizes of the kernels of every convolution in a jaxpr, sub-jaxprs included."""
    sides = []
    for eqn in jaxpr.eqns:
        if eqn.primitive.name == "conv_general_dilated":
            rhs_spec = eqn.params["dimension_numbers"].rhs_spec
            shape = eqn.invars[1].aval.shape
            sides.append(tuple(shape[d] for d in rhs_spec[2:]))
        for p in eqn.params.values():
            for sub in p if isinstance(p, (tuple, list)) else (p,):
                inner = getattr(sub, "jaxpr", sub)
                if hasattr(inner, "eqns"):
                    sides += _conv_kernel_sides(inner)
    return sides


def test_second_order_stays_on_the_custom_rules(getkey):
    """An outer derivative of the forward rules meets the custom rules again: every convolution
    of a second-order gradient has a 3x3 kernel (JAX's own conv derivative would add weight-
    gradient convolutions whose kernel is the 8x8 image)."""
    x, w = jr.normal(getkey(), (3, 8, 8, 2)), jr.normal(getkey(), (3, 3, 2, 3))
    loss = lambda w_: jnp.sum(jnp.sin(conv_same_nhwc(x, w_)))
    outer = jax.grad(lambda w_: jnp.sum(jax.grad(loss)(w_) ** 2))
    sides = _conv_kernel_sides(jax.make_jaxpr(outer)(w).jaxpr)
    assert sides and all(s == (3, 3) for s in sides), sides
