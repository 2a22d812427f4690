"""The empirical NTK of zou2022.fig2 / fig4b against the library's infinite-width ReLU kernel.

`ntk._kernel` differentiates a 1-hidden-layer ReLU net f(x) = Σ_j v_j relu(u_j x + c_j) + d in the
standard parameterisation. With u, c ~ N(0, 1/3) (the normal init) and v_j of variance s_v², its
expectation over the network is exactly

    E K̂(x, x') = 9 h s_v² (Θ − Σ) + h (3Σ − 1) + 1,

(Σ, Θ) = `mtl_ntk.relu_kernels(depth=2, sigma_w2=1/3, sigma_b2=1/3)` at inputs x (d = 1): the head
weights' gradients give h E[relu relu'] = h (Σ − σ_b²)/σ_w², the first layer's h s_v² E[g g'] (xx' + 1)
= 9 h s_v² Σ¹ Σ̇² = 9 h s_v² (Θ − Σ), the head bias 1. The init has s_v² = 1/(3h) (first-layer
term 3(Θ − Σ), see `ntk._kernel`); a second draw with v scaled up makes the first-layer term
dominant so that both parts are checked with their own standard error.
"""

import jax.random as jr
import numpy as np
import pytest

from metagrad.experiments.zou2022 import ntk
from metagrad.theory.mtl_ntk import relu_kernels


def _rng(getkey):
    return np.random.default_rng(np.asarray(jr.key_data(getkey())).ravel().tolist())


@pytest.mark.parametrize("v_scale", [1.0, 30.0])
def test_empirical_kernel_mean_equals_relu_kernels(getkey, v_scale):
    rng = _rng(getkey)
    h, n_nets = 16, 3000
    x = rng.normal(size=5)
    Ks = []
    for _ in range(n_nets):
        net = ntk._init_net(rng, h, "normal")
        Ks.append(ntk._kernel(net._replace(v=v_scale * net.v), x, x))
    Ks = np.array(Ks)
    Sig, Th = (
        np.asarray(k)
        for k in relu_kernels(x[:, None], x[:, None], depth=2, sigma_w2=1 / 3, sigma_b2=1 / 3)
    )
    s_v2 = v_scale**2 / (3 * h)
    target = 9 * h * s_v2 * (Th - Sig) + h * (3 * Sig - 1) + 1
    se = Ks.std(0) / np.sqrt(n_nets)
    # 5 standard errors of the mean over independent networks, entry-wise (15 distinct entries)
    assert np.all(np.abs(Ks.mean(0) - target) <= 5 * se), (Ks.mean(0) - target) / se
