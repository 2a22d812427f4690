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
