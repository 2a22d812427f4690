"""Tests of the ReLU NNGP/NTK recursion and the empirical kernels (metagrad.theory.mtl_ntk)."""

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

from metagrad.models import MLP
from metagrad.tasks.features import backbone_features
from metagrad.theory import mtl_ntk as M


def _sphere(key, shape):
    """Inputs normalised to ‖x‖² = d (Sec. 4.3 'unit variance')."""
    x = np.asarray(jr.normal(key, shape))
    return x * np.sqrt(shape[-1]) / np.linalg.norm(x, axis=-1, keepdims=True)


def _jacobian(model, x):
    """Full Jacobian of output 0 (small networks only) and the mask of head parameters."""
    params, static = eqx.partition(model, eqx.is_inexact_array)
    flat, unravel = ravel_pytree(params)
    J = jax.jacfwd(lambda th: eqx.combine(unravel(th), static)(x)[:, 0])(flat)
    head = jax.tree_util.tree_map(lambda a: jnp.zeros_like(a), params)
    head = eqx.tree_at(
        lambda m: (m.weights[-1], m.biases[-1]),
        head,
        (jnp.ones_like(params.weights[-1]), jnp.ones_like(params.biases[-1])),
    )
    return np.asarray(J), np.asarray(ravel_pytree(head)[0]) > 0


def test_units_diagonal_and_depth_one(getkey):
    d = 7
    x = _sphere(getkey(), (6, d))
    for L in (1, 2, 5, 17):
        K, Th = M.relu_kernels(x, x, depth=L)
        assert np.allclose(np.diag(K), 2.0, rtol=1e-13) and np.allclose(
            np.diag(Th), 2.0 * L, rtol=1e-13
        )
    K1, Th1 = M.relu_kernels(x, x, depth=1)
    assert np.allclose(K1, 2 * x @ x.T / d, rtol=1e-13) and np.allclose(Th1, K1)
    # sigma_b2 > 0: diagonal recursion q_{l+1} = sigma_w2 q_l / 2 + sigma_b2
    K, Th = M.relu_kernels(x, x, depth=3, sigma_w2=1.5, sigma_b2=0.3)
    q = 1.5 + 0.3
    for _ in range(2):
        q = 1.5 * q / 2 + 0.3
    assert np.allclose(np.diag(K), q, rtol=1e-13)


def test_cosine_plus_minus_one_no_nan(getkey):
    x = _sphere(getkey(), (1, 5))
    X2 = np.concatenate([x, -x, 3 * x, np.zeros_like(x)])
    for L in (2, 30):
        K, Th = M.relu_kernels(x, X2, depth=L)
        assert np.all(np.isfinite(K)) and np.all(np.isfinite(Th))
        assert np.isclose(K[0, 0], 2.0) and np.isclose(K[0, 2], 6.0)  # homogeneity, cos = 1
    # cos = -1 at depth 2: sigma_w2 * q * (0 + 0) / (2 pi) = 0; Theta = Sigma^1 * sigma_w2 * 0 = 0
    K2, Th2 = M.relu_kernels(x, -x, depth=2)
    assert abs(float(K2[0, 0])) < 1e-12 and abs(float(Th2[0, 0])) < 1e-12


def test_batched_and_by_depth(getkey):
    X1, X2 = _sphere(getkey(), (3, 4, 5)), _sphere(getkey(), (3, 6, 5))
    Ks, Ths = M.relu_kernels_by_depth(X1, X2, depth=6)
    assert Ks.shape == (6, 3, 4, 6) and Ks.dtype == jnp.float64
    for b in range(3):
        K, Th = M.relu_kernels(X1[b], X2[b], depth=4)
        assert np.allclose(Ks[3, b], K, rtol=1e-13) and np.allclose(Ths[3, b], Th, rtol=1e-13)


def _numpy_recursion(x1, x2, L, sw, sb):
    """Independent scalar recursion (Sec. 2.2 of the arc-cosine kernel), one pair."""
    d = x1.size
    s, q1, q2 = sw * x1 @ x2 / d + sb, sw * x1 @ x1 / d + sb, sw * x2 @ x2 / d + sb
    th = s
    for _ in range(L - 1):
        c = min(1.0, max(-1.0, s / np.sqrt(q1 * q2)))
        t = np.arccos(c)
        s_new = sw * np.sqrt(q1 * q2) * (np.sin(t) + (np.pi - t) * np.cos(t)) / (2 * np.pi) + sb
        th = s_new + th * sw * (np.pi - t) / (2 * np.pi)
        s, q1, q2 = s_new, sw * q1 / 2 + sb, sw * q2 / 2 + sb
    return s, th


def test_matches_independent_scalar_recursion(getkey):
    x = np.asarray(jr.normal(getkey(), (4, 3)))
    K, Th = M.relu_kernels(x, x, depth=5, sigma_w2=1.7, sigma_b2=0.2)
    for i in range(4):
        for j in range(i + 1, 4):  # off-diagonal: the cosine is far from ±1
            k, t = _numpy_recursion(x[i], x[j], 5, 1.7, 0.2)
            assert np.isclose(K[i, j], k, rtol=1e-12) and np.isclose(Th[i, j], t, rtol=1e-12)
    # diagonal: cos = 1 exactly, q_{l+1} = σ_w² q_l / 2 + σ_b², Θ_{l+1} = q_{l+1} + Θ_l σ_w² / 2
    q = 1.7 * np.sum(x * x, 1) / 3 + 0.2
    th = q.copy()
    for _ in range(4):
        q = 1.7 * q / 2 + 0.2
        th = q + th * 1.7 / 2
    assert np.allclose(np.diag(K), q, rtol=1e-13) and np.allclose(np.diag(Th), th, rtol=1e-13)


def test_large_depth_structure_units():
    """Spec checks at large L: K → 2·11ᵀ (σ_max(K) → 2m), off-diagonal Θ/L → 2·¼, σ_min(Θ)/L → 2·¾."""
    rng = np.random.default_rng(3)  # deterministic inputs: a statement about the kernel, not a draw
    x = rng.normal(size=(40, 10))
    x *= np.sqrt(10) / np.linalg.norm(x, axis=1, keepdims=True)
    Ks, Ths = M.relu_kernels_by_depth(x, x, depth=512)
    off = ~np.eye(40, dtype=bool)
    dev = [np.max(np.abs(np.asarray(Ths[L - 1])[off] / L - 0.5)) for L in (32, 128, 512)]
    assert dev[2] < dev[1] < dev[0] < 0.2  # monotone approach to 1/4 (paper units)
    kmax = [np.linalg.eigvalsh(np.asarray(Ks[L - 1]))[-1] / (2 * 40) for L in (32, 512)]
    assert 0.95 < kmax[0] < kmax[1] <= 1.0 + 1e-12
    smin = [np.linalg.eigvalsh(np.asarray(Ths[L - 1]))[0] / L for L in (32, 128, 512)]
    assert smin[0] < smin[1] < smin[2] < 1.5 and smin[2] > 1.2


def test_empirical_equals_jacobian_gram(getkey):
    model = M.NTKMLP(3, 8, 3, sigma_w2=2.0, sigma_b2=0.4, key=getkey())
    x = np.asarray(jr.normal(getkey(), (4, 3)))
    J, head = _jacobian(model, x)
    K, Th = M.empirical_kernels(model, x, x)
    assert np.allclose(Th, J @ J.T, rtol=1e-11, atol=1e-11)
    assert np.allclose(K, J[:, head] @ J[:, head].T, rtol=1e-11, atol=1e-11)


def test_empirical_converges_to_analytic(getkey):
    """Mean over S networks: ‖mean − analytic‖_F within 4 standard errors plus the O(L/h) bias."""
    d, L, h, S = 6, 3, 512, 8
    x = _sphere(getkey(), (8, d))
    K0, Th0 = (np.asarray(a) for a in M.relu_kernels(x, x, depth=L))
    draws = [M.empirical_kernels(M.NTKMLP(d, h, L, key=getkey()), x, x) for _ in range(S)]
    for j, ref in ((0, K0), (1, Th0)):
        A = np.stack([np.asarray(dr[j]) for dr in draws])
        se = np.sqrt(np.sum(A.var(0, ddof=1)) / S)
        err = np.linalg.norm(A.mean(0) - ref)
        bias = np.linalg.norm(ref) * L / h  # finite-width correction O(L/h) of the mean
        assert err <= 4 * se + bias, (j, err, se, bias)
        # single-network fluctuations are O(1/√h): relative RMS between 0.1/√h and 10/√h
        rel = np.sqrt(np.mean((A - ref) ** 2)) / np.sqrt(np.mean(ref**2))
        assert 0.1 / np.sqrt(h) < rel < 10 / np.sqrt(h), (j, rel)


def test_empirical_error_shrinks_like_inverse_sqrt_width(getkey):
    d, L = 5, 3
    x = _sphere(getkey(), (6, d))
    _, Th0 = (np.asarray(a) for a in M.relu_kernels(x, x, depth=L))

    def rms(h, S=4):
        e = [
            np.asarray(M.empirical_kernels(M.NTKMLP(d, h, L, key=getkey()), x, x)[1]) - Th0
            for _ in range(S)
        ]
        return np.sqrt(np.mean(np.square(e)))

    ratio = rms(1024) / rms(64)  # expected 1/4 for O(1/√h)
    assert 0.12 < ratio < 0.5, ratio


def test_ntk_features_one_hidden_layer_relation(getkey):
    """`tasks.features.ntk_features` of `models.MLP(depth=1, init="normal")` (standard
    parameterisation, W ~ N(0, 1/fan_in), zero biases): Ψ Ψᵀ = A Aᵀ + R exactly, where
    A = relu(W x + b) are the backbone features, and A Aᵀ / h → K(depth=2, σ_w²=1, σ_b²=0)."""
    from metagrad.tasks.features import ntk_features

    d, h, S = 4, 512, 4
    x = _sphere(getkey(), (6, d))
    Kref = np.asarray(M.relu_kernels(x, x, depth=2, sigma_w2=1.0)[0])
    assert np.allclose(Kref, np.asarray(M.relu_kernels(x, x, depth=2)[0]) / 4, rtol=1e-13)
    grams = []
    for _ in range(S):
        model = MLP(d, 1, width=h, depth=1, init="normal", dtype=jnp.float64, key=getkey())
        Psi = np.asarray(eqx.filter_jit(ntk_features)(model, x))
        A = backbone_features(model, x, bias=False)
        v = np.asarray(model.head.weight[0])
        g = (A > 0) * v
        R = (g @ g.T) * (x @ x.T + 1) + 1  # hidden weights, hidden biases, head bias
        assert np.allclose(Psi @ Psi.T, A @ A.T + R, rtol=1e-10, atol=1e-10)
        grams.append(A @ A.T / h)
    G = np.stack(grams)
    se = np.sqrt(np.sum(G.var(0, ddof=1)) / S)
    assert np.linalg.norm(G.mean(0) - Kref) <= 4 * se


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(depth=0), "depth"),
        (dict(depth=2.5), "depth"),
        (dict(depth=2, sigma_w2=-1.0), "sigma_w2"),
        (dict(depth=2, sigma_b2=-0.1), "sigma_b2"),
    ],
)
def test_bad_arguments(getkey, kwargs, match):
    x = _sphere(getkey(), (3, 4))
    with pytest.raises(ValueError, match=match):
        M.relu_kernels(x, x, **kwargs)


def test_bad_shapes(getkey):
    x = _sphere(getkey(), (3, 4))
    with pytest.raises(ValueError, match="input dimension"):
        M.relu_kernels(x, x[:, :3], depth=2)
    with pytest.raises(ValueError, match=r"\(\.\.\., n, d\)"):
        M.relu_kernels(x[0], x, depth=2)
    with pytest.raises(ValueError, match="do not broadcast"):
        M.relu_kernels(np.ones((2, 3, 4)), np.ones((3, 3, 4)), depth=2)
    with pytest.raises(ValueError, match="finite"):
        M.relu_kernels(np.full((2, 4), np.nan), x, depth=2)
    model = M.NTKMLP(4, 8, 2, key=jr.PRNGKey(0))
    with pytest.raises(ValueError, match=r"\(n, 4\)"):
        M.empirical_kernels(model, x[:, :3], x[:, :3])
    with pytest.raises(ValueError, match="depth"):
        M.NTKMLP(4, 8, 0, key=jr.PRNGKey(0))
