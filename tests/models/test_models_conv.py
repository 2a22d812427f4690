"""Conv4, ResNet-12 and batch-statistics BatchNorm."""

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

from metagrad.algorithms import anil, cross_entropy, fo_maml, maml
from metagrad.models import BatchStatNorm, Conv4, ResNet12
from metagrad.models._norm import conv_batch
from metagrad.tasks import make_prototypes, sample_fewshot_batch


def test_batchnorm_normalises_each_batch(getkey):
    x = 3.0 + 2.0 * jr.normal(getkey(), (8, 4, 5, 5))
    y = BatchStatNorm(4, dtype=jnp.float64)(x)
    np.testing.assert_allclose(y.mean(axis=(0, 2, 3)), 0, atol=1e-12)
    np.testing.assert_allclose(y.var(axis=(0, 2, 3)), 1, rtol=1e-4)  # eps = 1e-5 / var 4


@pytest.mark.parametrize("filters", [32, pytest.param(64, marks=pytest.mark.slow)])
def test_conv4_shapes_dtype(filters, getkey):
    m = Conv4(5, filters, key=getkey())
    x = jr.normal(getkey(), (3, 1, 28, 28), jnp.float32)
    feats, out = jax.jit(lambda mm, xx: (mm.features(xx), mm(xx)))(m, x)
    assert feats.shape == (3, filters) and out.shape == (3, 5) and out.dtype == jnp.float32


@pytest.mark.slow
def test_resnet12_shapes_small_channels(getkey):
    m = ResNet12(5, (2, 3, 4, 10), in_channels=3, key=getkey())
    x = jr.normal(getkey(), (6, 3, 16, 16), jnp.float32)
    feats, out = jax.jit(lambda mm, xx: (mm.features(xx), mm(xx)))(m, x)
    assert feats.shape == (6, 10) and out.shape == (6, 5) and np.all(np.isfinite(out))


@pytest.mark.slow
def test_fewshot_tasks_and_maml_anil_on_conv4(getkey):
    protos = make_prototypes(key=getkey(), n_classes=12, size=16)
    tasks = sample_fewshot_batch(
        key=getkey(), tasks=2, prototypes=protos, n_way=5, k_shot=1, n_query=2
    )
    assert tasks.x_support.shape == (2, 5, 1, 16, 16) and tasks.y_query.shape == (2, 10)
    assert all(len(set(np.asarray(c).tolist())) == 5 for c in tasks.classes)
    np.testing.assert_array_equal(tasks.y_support[0], np.arange(5))
    m = Conv4(5, 4, image_size=16, key=getkey())
    for alg in (maml(loss=cross_entropy, lr=0.4, steps=1), anil(loss=cross_entropy, lr=0.4)):
        value, grads = jax.jit(jax.value_and_grad(lambda mm, a=alg: a.meta_loss(mm, tasks)[0]))(m)
        assert np.isfinite(float(value))
        assert all(np.all(np.isfinite(g)) for g in jax.tree.leaves(grads))
        assert float(jnp.abs(grads.convs[0].weight).sum()) > 0


@pytest.mark.parametrize(
    "kernel,padding,bias",
    [(3, 1, True), (1, 0, False), pytest.param(3, 0, True, marks=pytest.mark.slow)],
)
def test_conv_matmul_equals_xla_conv(kernel, padding, bias, getkey):
    conv = eqx.nn.Conv2d(
        3, 4, kernel, padding=padding, use_bias=bias, key=getkey(), dtype=jnp.float64
    )
    x = jr.normal(getkey(), (5, 3, 9, 9))
    np.testing.assert_allclose(
        conv_batch(conv, x), conv_batch(conv, x, impl="xla"), rtol=1e-12, atol=1e-12
    )


@pytest.mark.parametrize(
    "make",
    [pytest.param(maml, marks=pytest.mark.slow), pytest.param(fo_maml, marks=pytest.mark.slow),
     pytest.param(anil, marks=pytest.mark.slow)],
)
def test_conv4_matmul_meta_gradient_equals_xla_conv(make, getkey):
    """Second-order meta-gradients through the im2col convolution match XLA's convolution."""
    protos = make_prototypes(key=getkey(), n_classes=8, size=16, dtype=jnp.float64)
    tasks = sample_fewshot_batch(
        key=getkey(), tasks=2, prototypes=protos, n_way=3, k_shot=1, n_query=2
    )
    key, alg = getkey(), make(loss=cross_entropy, lr=0.4, steps=2)
    grads = {
        impl: jax.jit(jax.grad(lambda mm: alg.meta_loss(mm, tasks)[0]))(
            Conv4(3, 4, image_size=16, dtype=jnp.float64, conv_impl=impl, key=key)
        )
        for impl in ("matmul", "xla")
    }
    for a, b in zip(jax.tree.leaves(grads["matmul"]), jax.tree.leaves(grads["xla"])):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_bad_arguments_rejected(getkey):
    with pytest.raises(ValueError, match="image_size"):
        Conv4(5, image_size=8, key=getkey())
    with pytest.raises(ValueError, match="conv_impl"):
        Conv4(5, conv_impl="fft", key=getkey())
    with pytest.raises(ValueError, match="n_way"):
        sample_fewshot_batch(key=getkey(), tasks=1, prototypes=jnp.zeros((3, 1, 28, 28)), n_way=5)
