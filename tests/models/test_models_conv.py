"""Conv4, ResNet-12 and batch-statistics BatchNorm."""

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

from metagrad.algorithms import anil, cross_entropy, maml
from metagrad.models import BatchStatNorm, Conv4, ResNet12
from metagrad.tasks import make_prototypes, sample_fewshot_batch


def test_batchnorm_normalises_each_batch(getkey):
    x = 3.0 + 2.0 * jr.normal(getkey(), (8, 4, 5, 5))
    y = BatchStatNorm(4, dtype=jnp.float64)(x)
    np.testing.assert_allclose(y.mean(axis=(0, 2, 3)), 0, atol=1e-12)
    np.testing.assert_allclose(y.var(axis=(0, 2, 3)), 1, rtol=1e-4)  # eps = 1e-5 / var 4


@pytest.mark.parametrize("filters", [32, 64])
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


def test_bad_arguments_rejected(getkey):
    with pytest.raises(ValueError, match="image_size"):
        Conv4(5, image_size=8, key=getkey())
    with pytest.raises(ValueError, match="n_way"):
        sample_fewshot_batch(key=getkey(), tasks=1, prototypes=jnp.zeros((3, 1, 28, 28)), n_way=5)
