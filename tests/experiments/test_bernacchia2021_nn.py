"""bernacchia2021.fig5 helpers: divergence flags and config validation (no training)."""

import numpy as np
import pytest

from metagrad.experiments._config import ConfigError
from metagrad.experiments.bernacchia2021_nn import Fig5Config, _divergence_at_ends


@pytest.mark.parametrize(
    "flags,ok",
    [
        ([0, 0, 0, 0], True),
        ([1, 1, 0, 0, 1], True),
        ([0, 1, 0, 0], False),
        ([1, 1, 1], False),
    ],
)
def test_divergence_only_at_grid_ends(flags, ok):
    assert _divergence_at_ends(np.array(flags, bool)) is ok


def test_config_rejects_bad_values_before_compute():
    with pytest.raises(ConfigError, match="test_chunk"):
        Fig5Config.build({"n_test_tasks": 150, "test_chunk": 100})
    with pytest.raises(ConfigError, match="alpha_t_range"):
        Fig5Config.build({"alpha_t_range": (0.1, -0.1)})
    with pytest.raises(ConfigError):
        Fig5Config.build({"loss": "l1"})


def _result(key, cfg, fo_equal_so_everywhere):
    import jax.random as jr

    from metagrad.experiments import merge_seeds
    from metagrad.experiments.bernacchia2021_nn import Fig5Result

    test = 1 + np.asarray(jr.uniform(key, (cfg.n_seeds, cfg.n_grid)))
    fo = test[:, cfg.fo_index].copy()
    if not fo_equal_so_everywhere:
        fo[:, np.asarray(cfg.fo_alpha_t) != 0] *= 1.01
    return merge_seeds([Fig5Result(test, test * 1e-3, fo)])


def test_first_order_claims_need_a_difference_away_from_zero(getkey):
    from metagrad.experiments.bernacchia2021_nn import first_order_claims, study

    cfg = study.config("quick")
    assert 0.0 in cfg.fo_alpha_t and any(a != 0 for a in cfg.fo_alpha_t)
    good = first_order_claims(cfg, _result(getkey(), cfg, False))
    assert len(good) == 2 and all(c.passed for c in good)
    # a silently first-order inner step makes both runs identical: the claim must fail
    same = first_order_claims(cfg, _result(getkey(), cfg, True))
    assert [c.passed for c in same] == [True, False]


def test_fo_alpha_t_must_be_grid_points():
    with pytest.raises(ConfigError, match="fo_alpha_t"):
        Fig5Config.build({"fo_alpha_t": (0.001,)})
    assert list(Fig5Config.build({"fo_alpha_t": ()}).fo_index) == []


def _paper_result(key, optimum, depth):
    """Paper-config result: loss = seed offset + depth·((α − optimum)/0.02)² + small noise."""
    import jax.random as jr

    from metagrad.experiments import merge_seeds
    from metagrad.experiments.bernacchia2021_nn import Fig5Result, study

    cfg = study.config("paper")
    k1, k2 = jr.split(key)
    offset = 1 + 0.3 * np.asarray(jr.uniform(k1, (cfg.n_seeds, 1)))  # seed-to-seed, paired
    noise = 1e-3 * np.asarray(jr.normal(k2, (cfg.n_seeds, cfg.n_grid)))
    test = offset + depth * ((cfg.alpha_t_grid - optimum) / 0.02) ** 2 + noise
    fo = test[:, cfg.fo_index] * np.where(np.asarray(cfg.fo_alpha_t) == 0, 1.0, 1.01)
    return cfg, merge_seeds([Fig5Result(test, test * 1e-3, fo)])


@pytest.mark.parametrize(
    "optimum,depth,negative_ok",
    [(-0.0075, 0.05, True), (0.005, 0.05, False), (-0.0075, 0.0, False)],
)
def test_paper_claim_optimal_alpha_t_negative(getkey, optimum, depth, negative_ok):
    """The paper-scale check passes for a well at −0.0075, fails for a positive or no optimum."""
    from metagrad.experiments.bernacchia2021_nn import claims

    cfg, res = _paper_result(getkey(), optimum, depth)
    assert cfg.paper_network
    by_name = {c.name: c for c in claims(cfg, res)}
    neg = by_name[
        "optimal alpha_t negative: best alpha_t < 0 beats every alpha_t >= 0 (by > 2 paired SE)"
    ]
    assert neg.passed is negative_ok
    if negative_ok:
        assert all(c.passed for c in by_name.values())


def test_quick_checks_state_the_paper_claim_they_cannot_test(getkey):
    from metagrad.experiments.bernacchia2021_nn import PAPER_CLAIM, claims, study

    cfg = study.config("quick")
    out = claims(cfg, _result(getkey(), cfg, False))
    assert not cfg.paper_network
    assert any(PAPER_CLAIM in (c.note or "") for c in out)
