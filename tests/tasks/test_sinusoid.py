"""Sinusoid tasks: ranges, the function, shapes, determinism."""

import math

import jax.numpy as jnp
import numpy as np
import pytest

from metagrad.tasks import sample_sinusoid, sample_sinusoid_batch


def test_batch_shapes_and_ranges(getkey):
    t = sample_sinusoid_batch(key=getkey(), tasks=2000, n_support=5, n_query=7)
    assert t.x_support.shape == (2000, 5, 1) and t.y_query.shape == (2000, 7, 1)
    assert t.x_support.dtype == jnp.float32
    x = np.concatenate([np.asarray(t.x_support), np.asarray(t.x_query)], axis=1)
    y = np.concatenate([np.asarray(t.y_support), np.asarray(t.y_query)], axis=1)
    assert x.min() >= -5 and x.max() <= 5
    # recover a, b per task from two points: y = a sin(x+b) = a cos b sin x + a sin b cos x
    basis = np.stack([np.sin(x[..., 0]), np.cos(x[..., 0])], axis=-1)
    bt = np.swapaxes(basis, 1, 2)
    coef = np.linalg.solve(bt @ basis, bt @ y)[..., 0]  # batched least squares
    np.testing.assert_allclose(basis @ coef[..., None], y, atol=1e-4)
    a = np.hypot(coef[:, 0], coef[:, 1])
    b = np.arctan2(coef[:, 1], coef[:, 0])
    assert a.min() >= 0.1 - 1e-4 and a.max() <= 5 + 1e-4
    assert b.min() >= -1e-4 and b.max() <= math.pi + 1e-4
    # a ~ U[0.1, 5]: mean 2.55, std 4.9/sqrt(12)
    assert abs(a.mean() - 2.55) <= 5 * (4.9 / math.sqrt(12)) / math.sqrt(2000)


def test_deterministic_and_key_dependent(getkey):
    k = getkey()
    a, b = sample_sinusoid(key=k), sample_sinusoid(key=k)
    assert np.array_equal(a.y_query, b.y_query)
    assert not np.array_equal(a.y_query, sample_sinusoid(key=getkey()).y_query)


@pytest.mark.parametrize("kw", [{"n_support": 0}, {"n_query": -1}, {"tasks": 0}])
def test_bad_sizes_rejected(kw, getkey):
    with pytest.raises(ValueError, match=next(iter(kw))):
        sample_sinusoid_batch(key=getkey(), **{"tasks": 2, **kw})
