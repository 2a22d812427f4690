"""Exact identities behind zou2022.table2 (closed-form head) and zou2022.fig2 (explicit NTK)."""

import equinox as eqx
import jax.numpy as jnp
import jax.random as jr
import numpy as np

from metagrad.experiments.zou2022 import neural, ntk
from metagrad.models import MLP
from metagrad.tasks import features as feat
from metagrad.theory import adaptation_lr as alr


def _rng(getkey):
    return np.random.default_rng(np.asarray(jr.key_data(getkey())).ravel().tolist())


def _as_mlp(net: ntk._Net, key) -> MLP:
    m = MLP(1, 1, width=net.u.size, depth=1, dtype=jnp.float64, key=key)
    return eqx.tree_at(
        lambda t: (t.hidden[0].weight, t.hidden[0].bias, t.head.weight, t.head.bias),
        m,
        (jnp.array(net.u[:, None]), jnp.array(net.c), jnp.array(net.v[None]), jnp.array([net.d])),
    )


def test_ntk_kernel_stats_and_linear_model_match_autodiff(getkey):
    rng = _rng(getkey)
    net = ntk._init_net(rng, 9, "normal")
    x = rng.normal(size=6)
    Psi = np.asarray(feat.ntk_features(_as_mlp(net, getkey()), x[:, None]))
    np.testing.assert_allclose(ntk._kernel(net, x, x), Psi @ Psi.T, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ntk._psi_stats(net, x), (Psi.mean(), Psi.var()), rtol=1e-12)
    beta, xe = rng.normal(size=6), rng.normal(size=4)
    Pe = np.asarray(feat.ntk_features(_as_mlp(net, getkey()), xe[:, None]))
    f_ref = ntk._f0(net, xe) + Pe @ (Psi.T @ beta)
    np.testing.assert_allclose(ntk._f_lin(net, ntk._delta(net, x, beta), xe), f_ref, rtol=1e-12)


def test_min_norm_maml_equals_min_norm_erm_when_interpolating(getkey):
    """H.9 with invertible D = blockdiag(I − cK_i): β(c) = K⁻¹r for every c."""
    rng = _rng(getkey)
    N, K = 3, 4
    # The identity needs an invertible NTK Gram. In 1-D the NTK features are affine in x between two
    # consecutive ReLU kinks, so three inputs in one such interval make K exactly singular (about 8% of
    # fresh draws of this size, measured): redraw until K is well conditioned.
    while True:
        net = ntk._init_net(rng, 200, "uniform")
        x, r = rng.normal(size=N * K), rng.normal(size=N * K)
        Kall = ntk._kernel(net, x, x)
        if np.linalg.cond(Kall) < 1e6:
            break
    # Norm-wise relative errors (the measure a linear solve guarantees; an entry-wise rtol fails on
    # entries near zero). Over 600 fresh draws: residual <= 3e-11, beta(c) - beta(0) <= 9e-9.
    b0 = ntk._maml_beta(Kall, r, K, 0.0, 0.0)
    assert np.linalg.norm(Kall @ b0 - r) <= 1e-8 * np.linalg.norm(r)
    for c in rng.uniform(0.1, 0.5, 3) / np.diag(Kall).max():
        diff = ntk._maml_beta(Kall, r, K, c, 0.0) - b0
        assert np.linalg.norm(diff) <= 1e-6 * np.linalg.norm(b0)


def test_closed_form_head_equals_maml_init_on_linear_labels(getkey):
    rng = _rng(getkey)
    Phis, a = rng.normal(size=(50, 6, 4)), rng.normal(size=(50, 4))
    y = np.einsum("nki,ni->nk", Phis, a)
    alpha = rng.uniform(0, 0.05, 3)
    ref = alr.maml_init(moments=alr.moment_sums(Phis=Phis, a=a), alpha=alpha)
    np.testing.assert_allclose(neural._maml_head(Phis, y, alpha), ref, rtol=1e-10)
