"""Quadratic regression tasks (Bernacchia 2021, Sec. 5.4): shapes, label moments, validation."""

import jax.numpy as jnp
import numpy as np
import pytest

from metagrad.tasks import sample_quadratic_tasks


@pytest.mark.slow  # measured >= 8 s of the fast suite's wall time (2026-12-02)
def test_shapes_and_label_mean_match_the_generative_model(getkey):
    p, nu, sigma = 7, 0.8, 0.5
    t = sample_quadratic_tasks(
        getkey(), n_tasks=4000, n_support=3, n_query=2, p=p, nu=nu, sigma=sigma
    )
    assert t.x_support.shape == (4000, 3, p) and t.y_support.shape == (4000, 3, 1)
    assert t.x_query.shape == (4000, 2, p) and t.y_query.shape == (4000, 2, 1)
    # E y = E (w^T x + b)^2 = nu^2 E|x|^2 / p + 1 = nu^2 + 1; one label per task is independent
    y = np.asarray(t.y_query[:, 0, 0])
    assert abs(y.mean() - (nu**2 + 1)) <= 5 * y.std(ddof=1) / np.sqrt(y.size)
    # within a task, labels share (w, b): the residual y - z is a perfect square, >= 0 w/o noise
    t0 = sample_quadratic_tasks(getkey(), n_tasks=5, n_support=4, n_query=1, p=p, nu=nu, sigma=0.0)
    assert bool(jnp.all(t0.y_support >= 0))


def test_bad_size_rejected(getkey):
    with pytest.raises(ValueError, match="n_support"):
        sample_quadratic_tasks(getkey(), n_tasks=1, n_support=0, n_query=1, p=2, nu=1.0, sigma=1.0)
