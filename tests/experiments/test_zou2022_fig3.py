"""`zou2022.fig3` (ANIL, online α* vs fixed α): claims and plot on synthetic results, and a tiny run.

Each claim can fail: a slower α* run fails the speed checks; at the paper's budget, different final
accuracies fail the "both end similar" check.
"""

import dataclasses

import jax.random as jr
import numpy as np
import pytest

from metagrad.experiments import merge_seeds
from metagrad.experiments.zou2022_fewshot import Fig3Result, fig3, fig3_claims, run, study


def _result(rng, config, faster="online", final_gap=0.0):
    p = config.meta_steps // config.eval_every
    s = config.seeds
    t = np.arange(1, p + 1) / p
    fast, slow = 3.0 - 1.0 * t, 3.0 - 0.5 * t  # fast reaches slow's end half-way
    loss = np.empty((2, s, p))
    i = 0 if faster == "online" else 1
    loss[i], loss[1 - i] = fast, slow
    loss += rng.normal(0, 1e-3, loss.shape)
    acc = np.clip(1 - loss / 3, 0, 1)
    acc[0, :, -1] = 0.9 + final_gap + rng.normal(0, 1e-3, s)
    acc[1, :, -1] = 0.9 + rng.normal(0, 1e-3, s)
    lr = np.stack([np.full((s, p), 1.5), np.full((s, p), config.inner_lr)])
    return merge_seeds([Fig3Result(
        config.eval_every * np.arange(1, p + 1), loss, acc, lr, lr + 0.5,
        np.full((2, s), -1), np.full((2, s), 10.0), np.full((2, s), 3.0))])


@pytest.fixture
def rng(getkey):
    return np.random.default_rng(int(jr.randint(getkey(), (), 0, 2**31 - 1)))


def _passed(config, res):
    return {c.name.split(":")[0]: c.passed for c in fig3_claims(config, res)}


def test_claims_pass_when_online_is_faster_and_fail_when_slower(rng):
    config = study.config("quick")
    good = _passed(config, _result(rng, config))
    assert all(good.values()), good
    bad = _passed(config, _result(rng, config, faster="fixed"))
    assert sum(not v for v in bad.values()) == 2, bad


def test_end_similar_is_tested_at_the_paper_budget(rng):
    config = dataclasses.replace(study.config("quick"), meta_steps=40_000, eval_every=4000,
                                 plot_steps=15_000, seeds=3)
    assert all(_passed(config, _result(rng, config)).values())
    assert not all(_passed(config, _result(rng, config, final_gap=0.05)).values())


def test_plot_has_no_layout_problems(rng):
    from metagrad.plotting import layout_problems

    config = study.config("quick")
    figs = fig3(config, _result(rng, config))
    assert set(figs) == {"fig3"} and not layout_problems(figs["fig3"])


@pytest.mark.slow
def test_tiny_run_records_both_arms():
    """5-way on glyphs-quick, 4 meta-steps: both arms train, the online buffer moves."""
    config = dataclasses.replace(
        study.config("quick"), dataset="glyphs-quick", n_way=5, filters=4, meta_batch=2,
        meta_steps=4, plot_steps=4, eval_every=2, test_tasks=2, seeds=1, inner_steps=1,
        test_inner_steps=1)
    res = run(config, key=jr.PRNGKey(0))
    assert res.test_loss.shape == (2, 1, 2) and np.all(np.isfinite(res.test_loss))
    assert np.all(res.inner_lr[1] == config.inner_lr) and np.all(res.inner_lr[0] != config.inner_lr)
    assert np.all(np.isfinite(res.alpha_star)) and np.all(res.diverged_step == -1)
