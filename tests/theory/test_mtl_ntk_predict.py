"""Tests of Φ_MTL, Φ_ANIL, the predictors F_MTL, F_ANIL and the Lemma 4/5 quantities."""

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree
from scipy.linalg import block_diag, expm

from metagrad.theory import mtl_ntk as M


def _sphere(key, shape):
    x = np.asarray(jr.normal(key, shape))
    return x * np.sqrt(shape[-1]) / np.linalg.norm(x, axis=-1, keepdims=True)


def _analytic(getkey, *, N=4, n=3, T=2, n_q=4, n_s=3, d=5, depth=4):
    Xt, Xq, Xs = (
        _sphere(getkey(), (N, n, d)),
        _sphere(getkey(), (T, n_q, d)),
        _sphere(getkey(), (T, n_s, d)),
    )
    return M.relu_task_kernels(X_train=Xt, X_query=Xq, X_support=Xs, depth=depth)[-1]


def _T_scipy(K, lt):
    return np.linalg.solve(K, np.eye(len(K)) - expm(-lt * K))


def test_phi_identities_against_scipy(getkey):
    kern = _analytic(getkey)
    N, n = kern.N, kern.K.shape[0] // kern.N
    lt, lth = 0.3, 0.7
    E = block_diag(
        *[expm(-lt * kern.K[i * n : (i + 1) * n, i * n : (i + 1) * n]) for i in range(N)]
    )
    assert np.allclose(
        M.inner_loop_decay(K=kern.K, N=N, lam_tau=lt)[1], E[n : 2 * n, n : 2 * n], atol=1e-13
    )
    # Eq. 60: Φ_ANIL = E Θ E
    assert np.allclose(
        M.phi_anil(Theta=kern.Theta, K=kern.K, N=N, lam_tau=lt), E @ kern.Theta @ E, atol=1e-12
    )
    # Eq. 64 by blocks
    P = M.phi_mtl(Theta=kern.Theta, K=kern.K, N=N)
    for i in range(N):
        for j in range(N):
            b = np.s_[i * n : (i + 1) * n, j * n : (j + 1) * n]
            assert np.allclose(P[b], kern.Theta[b] - (i != j) * kern.K[b], atol=1e-13)
    # Eq. 65 first line, Eq. 66: Φ'_ANIL = Φ'_MTL E; main-text variant without the −K terms
    t = 1
    Tk = _T_scipy(kern.K_ss[t], lth)
    ref = (kern.Theta_q[t] - kern.K_q[t]) - kern.K_qs[t] @ Tk @ (kern.Theta_s[t] - kern.K_s[t])
    pm = M.phi_mtl_test(kernels=kern, lam_tau_hat=lth)
    pa = M.phi_anil_test(kernels=kern, lam_tau=lt, lam_tau_hat=lth)
    assert np.allclose(pm[t], ref, atol=1e-10) and np.allclose(pa[t], ref @ E, atol=1e-10)
    main = M.phi_anil_test(kernels=kern, lam_tau=lt, lam_tau_hat=lth, variant="main_text")
    assert np.allclose(
        main[t], (kern.Theta_q[t] - kern.K_qs[t] @ Tk @ kern.Theta_s[t]) @ E, atol=1e-10
    )
    # Eq. 17 and the converged limit
    assert np.allclose(M.adaptation_operator(K_ss=kern.K_ss[t], lam_tau_hat=lth), Tk, atol=1e-10)
    inv = M.adaptation_operator(K_ss=kern.K_ss, lam_tau_hat=np.inf)
    assert np.allclose(inv @ kern.K_ss, np.eye(kern.K_ss.shape[-1]), atol=1e-9)
    # G_τ on training tasks = (I − E) 𝒴
    Y = np.asarray(jr.normal(getkey(), (N * n,)))
    assert np.allclose(
        M.train_adapted_output(K=kern.K, N=N, Y=Y, lam_tau=lt), Y - E @ Y, atol=1e-12
    )


def test_anil_converged_does_not_depend_on_lam_tau(getkey):
    """At t = ∞, F_ANIL (stated formula, direct solve) = G + Φ'_MTL Θ⁻¹ 𝒴 for every λτ."""
    kern = _analytic(getkey)
    Y = np.asarray(jr.normal(getkey(), (kern.K.shape[0],)))
    Ys = np.asarray(jr.normal(getkey(), kern.K_ss.shape[:-1]))
    ref = M.predict_anil(
        kernels=kern, Y=Y, Y_support=Ys, lam_tau=0.0, lam_tau_hat=1.0, solver="reduced"
    )
    for lt in (0.0, 0.01, 0.05, 0.2):
        out = M.predict_anil(kernels=kern, Y=Y, Y_support=Ys, lam_tau=lt, lam_tau_hat=1.0)
        Phi = M.phi_anil(Theta=kern.Theta, K=kern.K, N=kern.N, lam_tau=lt)
        tol = 50 * np.linalg.cond(Phi) * np.finfo(float).eps * np.abs(ref).max()  # backward error
        assert np.max(np.abs(out - ref)) <= tol, (lt, np.max(np.abs(out - ref)), tol)
    # at λτ = 0, ANIL is single-head training with kernel Θ: F = G + Φ'_MTL Θ⁻¹ 𝒴 exactly
    G = np.einsum(
        "tqs,ts->tq", kern.K_qs @ M.adaptation_operator(K_ss=kern.K_ss, lam_tau_hat=1.0), Ys
    )
    direct = G + M.phi_mtl_test(kernels=kern, lam_tau_hat=1.0) @ np.linalg.solve(kern.Theta, Y)
    assert np.allclose(ref, direct, atol=1e-9)
    # the 𝒴-instead-of-𝒴−G variant does depend on λτ
    lab = [
        M.predict_anil(
            kernels=kern, Y=Y, Y_support=Ys, lam_tau=lt, lam_tau_hat=1.0, residual="labels"
        )
        for lt in (0.0, 0.1)
    ]
    assert np.max(np.abs(lab[1] - lab[0])) > 1e-3 * np.abs(lab[0]).max()


def test_gap_equals_eq67_leading_term(getkey):
    kern = _analytic(getkey, depth=6)
    Y = np.asarray(jr.normal(getkey(), (kern.K.shape[0],)))
    Ys = np.asarray(jr.normal(getkey(), kern.K_ss.shape[:-1]))
    fa = M.predict_anil(kernels=kern, Y=Y, Y_support=Ys, lam_tau=0.0, lam_tau_hat=1.0)
    fm = M.predict_mtl(kernels=kern, Y=Y, Y_support=Ys, lam_tau_hat=1.0)
    terms = M.theorem1_terms(kernels=kern, Y=Y, lam_tau=0.1, lam_tau_hat=1.0)
    assert np.allclose(np.linalg.norm(fa - fm, axis=-1), terms.gap, rtol=1e-8)
    assert np.all(terms.gap <= terms.bound * (1 + 1e-12))
    gap = M.kernel_inverse_gap(Theta=kern.Theta, K=kern.K, N=kern.N)
    assert np.isclose(gap, terms.inverse_gap, rtol=1e-10)
    # multi-output: columns are independent
    Y2 = np.stack([Y, 2 * Y], 1)
    f2 = M.predict_mtl(kernels=kern, Y=Y2, Y_support=np.stack([Ys, 2 * Ys], -1), lam_tau_hat=1.0)
    assert np.allclose(f2[..., 1], 2 * fm, atol=1e-10) and np.allclose(f2[..., 0], fm, atol=1e-12)


def test_lemma5_slope(getkey):
    """L² ‖Θ⁻¹ − Φ_MTL⁻¹‖_op about constant: log-log slope of the gap in L within [−2.3, −1.6]."""
    X = _sphere(getkey(), (10 * 5, 8))
    Ls = np.array([8, 16, 32, 64, 128])
    Ks, Ths = M.relu_kernels_by_depth(X, X, depth=128)
    gaps = [
        M.kernel_inverse_gap(Theta=np.asarray(Ths[L - 1]), K=np.asarray(Ks[L - 1]), N=10)
        for L in Ls
    ]
    slope = np.polyfit(np.log(Ls), np.log(gaps), 1)[0]
    assert -2.3 < slope < -1.6, slope
    s = M.lemma4_structure(Theta=np.asarray(Ths[127]), K=np.asarray(Ks[127]), L=128)
    m = X.shape[0]
    assert abs(s.theta_eigs[-1] / 128 - (m + 3) / 4) < 0.15 * (m + 3) / 4  # Eq. 71, O(1)/L slack
    assert abs(s.k_eigs[-1] - m) < 0.01 * m and s.k_eigs[-2] < 0.05


# --- closed forms against gradient descent on the linearised finite-width model -------------


def _linearised_problem(getkey, width=16, depth=3, N=3, n=2, T=2, n_q=3, n_s=2, d=3):
    model = M.NTKMLP(d, width, depth, key=getkey())
    Xt, Xq, Xs = (np.asarray(jr.normal(getkey(), s)) for s in ((N, n, d), (T, n_q, d), (T, n_s, d)))
    P, sizes = M.stack_points(X_train=Xt, X_query=Xq, X_support=Xs)
    params, static = eqx.partition(model, eqx.is_inexact_array)
    flat, unravel = ravel_pytree(params)
    J = np.asarray(
        jax.jacfwd(lambda th: eqx.combine(unravel(th), static)(jnp.asarray(P))[:, 0])(flat)
    )
    mark = jax.tree_util.tree_map(jnp.zeros_like, params)
    mark = eqx.tree_at(
        lambda m: (m.weights[-1], m.biases[-1]),
        mark,
        (jnp.ones_like(params.weights[-1]), jnp.ones_like(params.biases[-1])),
    )
    head = np.asarray(ravel_pytree(mark)[0]) > 0
    kern = M.task_kernels_from_gram(J[:, head] @ J[:, head].T, J @ J.T, **sizes)
    Y = np.asarray(jr.normal(getkey(), (N * n,)))
    Ys = np.asarray(jr.normal(getkey(), (T, n_s)))
    return J, head, kern, Y, Ys, sizes


def _test_prediction(J, head, kern, sizes, delta_b, Ys, lth):
    """Centred net with trained backbone and a test head at its initial value, adapted on X'."""
    N, n, n_q, n_s = sizes["N"], sizes["n"], sizes["n_q"], sizes["n_s"]
    Jb = J[N * n :, ~head].reshape(-1, n_q + n_s, (~head).sum())
    out = []
    for t in range(Jb.shape[0]):
        fq, fs = Jb[t, :n_q] @ delta_b, Jb[t, n_q:] @ delta_b
        out.append(fq + kern.K_qs[t] @ _T_scipy(kern.K_ss[t], lth) @ (Ys[t] - fs))
    return np.stack(out)


def _gd(A, r, eta, steps):
    x = np.zeros(A.shape[1])
    for _ in range(steps):
        x -= eta * A.T @ (A @ x - r)
    return x


@pytest.mark.slow  # measured >= 8 s of the fast suite's wall time (2026-12-02)
def test_predictors_match_linearised_training(getkey):
    J, head, kern, Y, Ys, sizes = _linearised_problem(getkey)
    N, n = sizes["N"], sizes["n"]
    Jt, lth, lt = J[: N * n], 0.8, 0.25
    # MTL: backbone shared, N heads all starting from the same w_0 (Eq. 63)
    A = np.concatenate(
        [Jt[:, ~head]] + [Jt[:, head] * (np.arange(N * n) // n == i)[:, None] for i in range(N)], 1
    )
    assert np.allclose(A @ A.T, M.phi_mtl(Theta=kern.Theta, K=kern.K, N=N), atol=1e-10)  # Eq. 64
    db = np.linalg.lstsq(A, Y, rcond=None)[0][: (~head).sum()]  # GD from 0 converges to min-norm
    ref = _test_prediction(J, head, kern, sizes, db, Ys, lth)
    out = M.predict_mtl(kernels=kern, Y=Y, Y_support=Ys, lam_tau_hat=lth)
    assert np.allclose(out, ref, rtol=1e-7, atol=1e-7 * np.abs(ref).max())
    # ANIL: meta-output E_i J_i Δ + (I − E_i) Y_i (Eqs. 36, 58); loss on it
    E = block_diag(
        *[expm(-lt * kern.K[i * n : (i + 1) * n, i * n : (i + 1) * n]) for i in range(N)]
    )
    B = E @ Jt
    assert np.allclose(B @ B.T, M.phi_anil(Theta=kern.Theta, K=kern.K, N=N, lam_tau=lt), atol=1e-10)
    db = np.linalg.lstsq(B, E @ Y, rcond=None)[0][~head]
    ref = _test_prediction(J, head, kern, sizes, db, Ys, lth)
    out = M.predict_anil(kernels=kern, Y=Y, Y_support=Ys, lam_tau=lt, lam_tau_hat=lth)
    assert np.allclose(out, ref, rtol=1e-7, atol=1e-7 * np.abs(ref).max())


def test_finite_time_is_gradient_flow(getkey):
    """Lemma 2: GD with step η for t steps → T_Φ^{η,t} as η → 0 at fixed ηt; error halves with η."""
    J, head, kern, Y, Ys, sizes = _linearised_problem(getkey)
    N, n = sizes["N"], sizes["n"]
    Jt, lth, lt = J[: N * n], 0.8, 0.25
    E = block_diag(
        *[expm(-lt * kern.K[i * n : (i + 1) * n, i * n : (i + 1) * n]) for i in range(N)]
    )
    B = E @ Jt
    eta_t = 0.5 / np.linalg.eigvalsh(B @ B.T)[-1] * 200
    flow = M.predict_anil(kernels=kern, Y=Y, Y_support=Ys, lam_tau=lt, lam_tau_hat=lth, eta_t=eta_t)
    errs = []
    for steps in (200, 400):
        db = _gd(B, E @ Y, eta_t / steps, steps)[~head]
        errs.append(np.abs(_test_prediction(J, head, kern, sizes, db, Ys, lth) - flow).max())
    assert 1.6 < errs[0] / errs[1] < 2.4, errs  # first order in η
    conv = M.predict_anil(kernels=kern, Y=Y, Y_support=Ys, lam_tau=lt, lam_tau_hat=lth)
    assert np.abs(flow - conv).max() > 10 * errs[0]  # finite t is really different from t = ∞


def test_bad_inputs(getkey):
    kern = _analytic(getkey)
    Y = np.asarray(jr.normal(getkey(), (kern.K.shape[0],)))
    Ys = np.asarray(jr.normal(getkey(), kern.K_ss.shape[:-1]))
    kw = dict(kernels=kern, Y=Y, Y_support=Ys, lam_tau_hat=1.0)
    with pytest.raises(ValueError, match="lam_tau_hat"):
        M.predict_mtl(**{**kw, "lam_tau_hat": -1.0})
    with pytest.raises(ValueError, match="eta_t"):
        M.predict_mtl(**kw, eta_t=0.0)
    with pytest.raises(ValueError, match="Y must have shape"):
        M.predict_mtl(**{**kw, "Y": Y[:-1]})
    with pytest.raises(ValueError, match="Y_support"):
        M.predict_mtl(**{**kw, "Y_support": Ys[:, :-1]})
    with pytest.raises(ValueError, match="variant"):
        M.predict_anil(**kw, lam_tau=0.1, variant="other")
    with pytest.raises(ValueError, match="solver"):
        M.predict_anil(**kw, lam_tau=0.1, solver="other")
    with pytest.raises(ValueError, match="reduced"):
        M.predict_anil(**kw, lam_tau=0.1, solver="reduced", eta_t=1.0)
    with pytest.raises(ValueError, match="lam_tau"):
        M.predict_anil(**kw, lam_tau=np.inf)
    with pytest.raises(ValueError, match="N="):
        M.phi_mtl(Theta=kern.Theta, K=kern.K, N=5)
    # a singular Gram: a repeated training point
    X = _sphere(getkey(), (2, 3, 4))
    X[0, 1] = X[0, 0]  # two equal points in one task: Θ and Φ_MTL are singular
    k = M.relu_task_kernels(X_train=X, X_query=X[:1], X_support=X[:1], depth=3)[-1]
    with pytest.raises(ValueError, match="Φ_MTL is singular or ill-conditioned"):
        M.predict_mtl(kernels=k, Y=np.arange(6.0), Y_support=np.ones((1, 3)), lam_tau_hat=1.0)
    with pytest.raises(ValueError, match="Φ_ANIL"):  # large λτ: EΘE is numerically singular
        M.predict_anil(**kw, lam_tau=5.0)
    with pytest.raises(ValueError, match="mismatched"):
        M.stack_points(X_train=X, X_query=X[:1, :, :3], X_support=X[:1])
