"""MetaOptNet's SVM head: solution against scikit-learn, implicit gradient against finite differences."""

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

from metagrad.algorithms._metaoptnet import project_simplex, svm_dual, svm_logits


def test_projection_onto_the_simplex_is_the_closest_point(getkey):
    v = jr.normal(getkey(), (200, 5)) * 2
    p = np.asarray(project_simplex(v))
    assert np.all(p >= 0) and np.allclose(p.sum(1), 1, atol=1e-12)
    # KKT of the projection: v - p = theta on the support of p, <= theta off it
    r = np.asarray(v) - p
    for ri, pi in zip(r, p):
        theta = ri[pi > 0]
        assert np.ptp(theta) < 1e-12 and np.all(ri[pi == 0] <= theta[0] + 1e-12)


@pytest.mark.parametrize("C", [0.5])
def test_dual_solution_matches_sklearn_crammer_singer(getkey, C):
    from sklearn.svm import LinearSVC

    n, h, k = 15, 20, 5
    x = np.asarray(jr.normal(getkey(), (n, h)))
    y = np.repeat(np.arange(k), n // k)
    alpha = np.asarray(svm_dual(jnp.asarray(x), jnp.asarray(y), n_way=k, C=C, ridge=0.0,
                                iters=5000))
    ref = LinearSVC(multi_class="crammer_singer", C=C, fit_intercept=False, tol=1e-12,
                    max_iter=1_000_000).fit(x, y)
    w = (x.T @ alpha).T
    np.testing.assert_allclose(w, ref.coef_, atol=1e-6 * np.abs(ref.coef_).max())
    assert np.allclose(alpha.sum(1), 0, atol=1e-12)


@pytest.mark.slow  # measured >= 8 s of the fast suite's wall time (2026-12-02)
def test_implicit_gradient_matches_finite_differences(getkey):
    """float64: the directional derivative of a linear function of the query logits."""
    n, h, k, m = 10, 6, 5, 7
    x = jr.normal(getkey(), (n, h), jnp.float64)
    y = jnp.repeat(jnp.arange(k), n // k)
    q = jr.normal(getkey(), (m, h), jnp.float64)
    v = jr.normal(getkey(), (m, k), jnp.float64)

    def f(s, qq):
        return jnp.sum(v * svm_logits(s, y, qq, k, C=0.5, ridge=1.0, iters=500))

    gs, gq = jax.grad(f, argnums=(0, 1))(x, q)
    for _ in range(3):
        ds, dq = jr.normal(getkey(), x.shape, jnp.float64), jr.normal(getkey(), q.shape, jnp.float64)
        eps = 1e-6
        fd = (f(x + eps * ds, q + eps * dq) - f(x - eps * ds, q - eps * dq)) / (2 * eps)
        an = jnp.sum(gs * ds) + jnp.sum(gq * dq)
        # central differences: O(eps^2) truncation plus ~1e-16/eps round-off
        assert abs(float(an - fd)) <= 1e-6 * (1 + abs(float(fd)))


def test_bad_arguments_are_refused():
    x, y = jnp.ones((4, 3)), jnp.arange(4) % 2
    with pytest.raises(ValueError, match="C="):
        svm_dual(x, y, n_way=2, C=0.0)
    with pytest.raises(ValueError, match="n_way"):
        svm_dual(x, y, n_way=1)
