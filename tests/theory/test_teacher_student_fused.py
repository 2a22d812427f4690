"""The fused η_J² terms and the early stop of the teacher–student integrator (Wang, Yip, Li 2024).

The fused right-hand side (default) must equal the reference contraction of the full I4 tensor up to
float64 round-off, and an early-stopped batch must give the same α̃ (first record with ε ≤ level)
as the full-horizon batch, with identical records up to each member's stop.
"""

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

from metagrad.theory import teacher_student as ts


def _random_state(key, K, M):
    A = jr.normal(key, (K + M, K + M + 4), dtype=jnp.float64)
    C = A @ A.T / (K + M + 4)
    return C[:K, :K], C[:K, K:], C[K:, K:]


@pytest.mark.parametrize(
    "K,M,activation,gamma",
    [
        (4, 3, "erf", None),
        pytest.param(2, 3, "erf", 0.8, marks=pytest.mark.slow),  # teacher fields after K + M
        pytest.param(3, 2, "linear", None, marks=pytest.mark.slow),
    ],
)
def test_fused_rhs_equals_full_i4_contraction(getkey, K, M, activation, gamma):
    Q, R, T = _random_state(getkey(), K, M)
    u = jr.uniform(getkey(), (2,), dtype=jnp.float64)
    p = dict(eta_J=1.0 + 5 * u[0], eta_w=1.0 + 9 * u[1], inv_V=0.01, noise=0.1, lam=0.0)
    kw = dict(activation=activation)
    if gamma is not None:
        p["gamma"], kw["D"] = gamma, T
    p = {k: jnp.asarray(v, jnp.float64) for k, v in p.items()}
    rhs = jax.jit(ts.order_parameter_rhs, static_argnames=("activation", "fused"))
    fq, fr = rhs(Q, R, T, p, **kw)
    rq, rr = rhs(Q, R, T, p, fused=False, **kw)
    scale = float(jnp.max(jnp.abs(rq)))
    assert float(jnp.max(jnp.abs(fq - rq))) <= 1e-13 * scale  # round-off of ~K^2 L^2 terms
    assert np.array_equal(np.asarray(fr), np.asarray(rr))  # dR has no η_J² term: same ops
    # the η_J² term is not negligible here, so the comparison above tests it
    q0 = rhs(Q, R, T, dict(p, inv_V=jnp.asarray(0.0)), **kw)[0]
    assert float(jnp.max(jnp.abs(q0 - fq))) > 1e-6 * scale


@pytest.mark.slow
def test_early_stop_keeps_alpha_tilde_and_records(getkey):
    """Quick Fig 5 grid (K = 3, α = 200): α̃ of the stopped batch = α̃ of the full batch."""
    u = jr.uniform(getkey(), (2,), dtype=jnp.float64)
    w = np.array([4.0, 8.0, 12.0, 20.0]) + float(u[0])  # fresh rates around the quick grid
    j = np.array([1.0, 3.0, 6.0, 10.0]) + 0.5 * float(u[1])
    W, J = (a.ravel() for a in np.meshgrid(w, j, indexing="ij"))
    cfg = ts.TSConfig(K=3, alpha_max=200.0, d_alpha=0.2, record_every=5, ic_perturbation=1e-10)
    full = ts.integrate_batch(cfg, eta_w=W, eta_J=J)
    stop = ts.integrate_batch(cfg, eta_w=W, eta_J=J, stop_level=0.01)
    a_full, a_stop = ts.first_crossing(full, 0.01), ts.first_crossing(stop, 0.01)
    np.testing.assert_array_equal(a_stop, a_full)
    assert np.isfinite(a_full).sum() >= 4 and np.isnan(a_full).sum() >= 1  # both kinds present
    # records up to each member's stop are those of the full solve; after it, NaN
    n_kept = np.isfinite(np.asarray(stop.eps)).sum(axis=1)
    idx = np.argmax(np.asarray(full.eps) <= 0.01, axis=1)
    want = np.where(np.isnan(a_full), full.eps.shape[1], idx + 1)
    np.testing.assert_array_equal(n_kept, want)
    for b, n in enumerate(n_kept):
        np.testing.assert_array_equal(np.asarray(stop.Q[b, :n]), np.asarray(full.Q[b, :n]))


def test_stop_level_must_be_positive():
    with pytest.raises(ValueError, match="stop_level"):
        ts.integrate_batch(ts.TSConfig(alpha_max=1.0), eta_w=[1.0], stop_level=0.0)
