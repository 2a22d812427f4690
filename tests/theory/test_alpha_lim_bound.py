"""α*_lim ≥ 1/(2d) for d features with values in [0, 1] (why Fig. 4a's 0.35/σ² cannot hold
beyond σ² = 7 with 10 RBF features; docs/zou2022.md#fig4)."""

import jax.random as jr
import numpy as np

from metagrad.tasks import features as feat
from metagrad.theory import adaptation_lr as alr


def test_alpha_lim_of_bounded_features_is_at_least_one_over_2d(getkey):
    rng = np.random.default_rng(int(jr.randint(getkey(), (), 0, 2**31 - 1)))
    K, d = 15, 10
    for _ in range(20):
        sd = rng.uniform(0.5, 10.0)
        mu = np.sort(rng.uniform(-8, 8, d))
        phi = feat.rbf_features(rng.normal(0, sd, 20_000), mu=mu, width=rng.uniform(0.1, 20.0))
        T2, T3 = alr.trace_moments_rows(K=K, **alr.row_moments(phi=phi))
        a = alr.alpha_star_limit(T2=T2, T3=T3, K=K)
        assert a >= 1 / (2 * d), (a, sd)
    # the bound is attained in the limit of features that are all 1 (width → ∞): α*_lim → 1/(2d)
    phi = feat.rbf_features(rng.normal(0, 1.0, 20_000), mu=np.zeros(d), width=1e6)
    T2, T3 = alr.trace_moments_rows(K=K, **alr.row_moments(phi=phi))
    np.testing.assert_allclose(alr.alpha_star_limit(T2=T2, T3=T3, K=K), 1 / (2 * d), rtol=1e-6)
