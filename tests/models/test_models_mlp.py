"""MLP: dtype, shapes, head/backbone split, input validation."""

import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

from metagrad.models import MLP


def test_float32_default_and_dtype_argument(getkey):
    m = MLP(3, 2, key=getkey())
    assert m.head.weight.dtype == jnp.float32 and m.hidden[0].weight.dtype == jnp.float32
    assert m(jnp.ones((5, 3), jnp.float32)).dtype == jnp.float32
    m64 = MLP(3, 2, dtype=jnp.float64, key=getkey())
    assert m64(jnp.ones((5, 3))).dtype == jnp.float64


def test_batch_call_equals_per_example(getkey):
    m = MLP(3, 2, width=7, depth=3, dtype=jnp.float64, key=getkey())
    x = jr.normal(getkey(), (6, 3))
    rows = np.stack([np.asarray(m(x[i : i + 1]))[0] for i in range(6)])
    np.testing.assert_allclose(m(x), rows, rtol=1e-13)
    assert m.features(x).shape == (6, 7) and len(m.hidden) == 3


@pytest.mark.parametrize("kw", [{"in_size": 0}, {"width": 0}, {"depth": -1}])
def test_bad_sizes_rejected(kw, getkey):
    args = {"in_size": 1, "out_size": 1, **kw}
    with pytest.raises(ValueError, match=next(iter(kw))):
        MLP(**args, key=getkey())


def test_normal_init_weights_have_variance_one_over_fan_in(getkey):
    m = MLP(50, 1, width=60, depth=2, dtype=jnp.float64, init="normal", key=getkey())
    for layer in (*m.hidden, m.head):
        w = np.asarray(layer.weight).ravel() * np.sqrt(layer.weight.shape[1])
        # variance of n standard normals: SE of the sample variance is sqrt(2/n)
        assert abs(w.var() - 1.0) <= 5 * np.sqrt(2 / w.size)
        assert not np.any(np.asarray(layer.bias))
    with pytest.raises(ValueError, match="init"):
        MLP(2, 1, init="xavier", key=getkey())
