"""Test-time heads: logistic = scikit-learn's LogisticRegression; closed forms; vmap = loop."""

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from metagrad.data import (
    EpisodeSampler,
    FinetuneHead,
    LogisticHead,
    PrototypeHead,
    RidgeHead,
    l2_normalize,
    make_head,
    predict_batch,
)


def _tasks(key, tasks, n_way, shot, h, m=12):
    k1, k2, k3 = jr.split(key, 3)
    mu = 0.5 * jr.normal(k1, (tasks, n_way, h))
    ys = jnp.tile(jnp.repeat(jnp.arange(n_way), shot), (tasks, 1))
    yq = jnp.tile(jnp.repeat(jnp.arange(n_way), m // n_way), (tasks, 1))
    xs = jnp.take_along_axis(mu, ys[..., None], 1) + jr.normal(k2, (tasks, n_way * shot, h))
    xq = jnp.take_along_axis(mu, yq[..., None], 1) + jr.normal(k3, (tasks, yq.shape[1], h))
    return xs, ys, xq


def _sklearn_proba(xs, ys, xq, C, tol=1e-10):
    clf = LogisticRegression(C=C, max_iter=10000, tol=tol)
    clf.fit(np.asarray(l2_normalize(xs)), np.asarray(ys))
    return clf.predict_proba(np.asarray(l2_normalize(xq)))


@pytest.mark.parametrize(
    "C,shot,h",
    [
        pytest.param(3.0, 5, 40, marks=pytest.mark.slow),  # (0.1, 5, 12) covers the dual path
        (0.1, 5, 12),
        pytest.param(3.0, 1, 40, marks=pytest.mark.slow),
        pytest.param(300.0, 5, 40, marks=pytest.mark.slow),
    ],
)
def test_logistic_matches_sklearn_on_random_features(getkey, C, shot, h):
    xs, ys, xq = _tasks(getkey(), 6, 5, shot, h)
    logits = predict_batch(LogisticHead(C=C), xs, ys, xq, n_way=5)
    for i in range(6):
        ref = _sklearn_proba(xs[i], ys[i], xq[i], C)
        # both solve the same strictly convex problem to ~1e-10 gradient norm
        np.testing.assert_allclose(jax.nn.softmax(logits[i]), ref, atol=1e-6)


@pytest.mark.slow  # same solver paths as the random-feature and rank-deficient tests
def test_logistic_matches_sklearn_on_glyph_pixels(glyph_small, getkey):
    task = EpisodeSampler(glyph_small.split("train"), 5, 5, 3, dtype=jnp.float64).sample(
        getkey(), 8
    )
    flat = lambda x: x.reshape(*x.shape[:2], -1)  # raw pixels, 784-d
    xs, xq = flat(task.x_support), flat(task.x_query)
    logits = predict_batch(LogisticHead(C=3.0), xs, task.y_support, xq, n_way=5)
    for i in range(8):
        ref = _sklearn_proba(xs[i], task.y_support[i], xq[i], 3.0)
        np.testing.assert_allclose(jax.nn.softmax(logits[i]), ref, atol=1e-6)
        np.testing.assert_array_equal(np.argmax(logits[i], 1), ref.argmax(1))


def test_logistic_rank_deficient_support_matches_sklearn(getkey):
    # repeated support points: the kernel X X' is singular (rank 19 of 25); the null directions
    # are dropped and the optimum is still scikit-learn's (shapes and C as the first test: no
    # new compilation)
    xs, ys, xq = _tasks(getkey(), 6, 5, 5, 40)
    xs = xs.at[:, 1::5].set(xs[:, 0::5])  # each class's second shot repeats its first
    xs = xs.at[:, 24].set(xs[:, 0] + xs[:, 7])  # and one point is a sum of two others
    logits = predict_batch(LogisticHead(C=3.0), xs, ys, xq, n_way=5)
    for i in range(6):
        assert np.linalg.matrix_rank(np.asarray(l2_normalize(xs[i]))) == 19
        ref = _sklearn_proba(xs[i], ys[i], xq[i], 3.0)
        np.testing.assert_allclose(jax.nn.softmax(logits[i]), ref, atol=1e-6)


@pytest.mark.slow  # ~14 s CPU (float32 compile of the solver)
def test_logistic_float32_predictions(getkey):
    xs, ys, xq = _tasks(getkey(), 4, 5, 5, 30)
    l64 = predict_batch(LogisticHead(), xs, ys, xq, n_way=5)
    l32 = predict_batch(LogisticHead(), xs.astype(jnp.float32), ys, xq.astype(jnp.float32), n_way=5)
    assert l32.dtype == jnp.float32
    np.testing.assert_allclose(jax.nn.softmax(l32), jax.nn.softmax(l64), atol=1e-4)


def test_ridge_and_prototype_match_numpy(getkey):
    xs, ys, xq = _tasks(getkey(), 3, 4, 3, 7)
    r = predict_batch(RidgeHead(lam=0.7), xs, ys, xq, n_way=4)
    p = predict_batch(PrototypeHead(), xs, ys, xq, n_way=4)
    for i in range(3):
        x, q, y = map(np.asarray, (xs[i], xq[i], ys[i]))
        Y = np.eye(4)[y]
        w = np.linalg.solve(x.T @ x + 0.7 * np.eye(7), x.T @ Y)  # primal ridge
        np.testing.assert_allclose(r[i], q @ w, atol=1e-10)
        cent = np.stack([x[y == k].mean(0) for k in range(4)])
        d2 = ((q[:, None] - cent[None]) ** 2).sum(-1)
        np.testing.assert_allclose(p[i], -d2, atol=1e-10)


@pytest.mark.slow
def test_finetune_converges_to_the_logistic_head(getkey):
    # mean CE + wd/2 |W|^2 with wd = 1/(C n) has the minimiser of C*sum CE + |W|^2/2
    xs, ys, xq = _tasks(getkey(), 2, 3, 2, 5)
    C, n = 3.0, 6
    ft = FinetuneHead(steps=3000, lr=2.0, weight_decay=1 / (C * n))
    a = jax.nn.softmax(predict_batch(ft, xs, ys, xq, n_way=3))
    b = jax.nn.softmax(predict_batch(LogisticHead(C=C), xs, ys, xq, n_way=3))
    np.testing.assert_allclose(a, b, atol=1e-6)


@pytest.mark.slow  # ~18 s CPU (one compile per head and per task in the loop)
def test_vmap_equals_loop(getkey):
    xs, ys, xq = _tasks(getkey(), 3, 3, 2, 6)
    for name in ("logistic", "ridge", "prototype", "finetune"):
        head = make_head(name)
        batch = predict_batch(head, xs, ys, xq, n_way=3)
        for i in range(3):
            np.testing.assert_allclose(batch[i], head(xs[i], ys[i], xq[i], 3), atol=1e-9)


def test_bad_head_options():
    with pytest.raises(ValueError, match="C=0"):
        LogisticHead(C=0)
    with pytest.raises(ValueError, match="tol=0"):
        LogisticHead(tol=0)
    with pytest.raises(ValueError, match="lam=-1"):
        RidgeHead(lam=-1)
    with pytest.raises(ValueError, match="steps=0"):
        FinetuneHead(steps=0)
    with pytest.raises(ValueError, match="head='svm'"):
        make_head("svm")
