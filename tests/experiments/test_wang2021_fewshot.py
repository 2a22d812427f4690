"""The claims of `wang2021.fewshot` on synthetic results (no training): each can fail.

The study itself runs at quick scale in the slow contract test (`pytest -m slow`).
"""

import numpy as np
import pytest

from metagrad.experiments import merge_seeds
from metagrad.experiments.wang2021_fewshot import (
    FewshotResult,
    fig2_claims,
    study,
    table3_claims,
    table4_claims,
    table5_claims,
)


def _result(rng, config, **override):
    m, s, p = len(config.methods), len(config.shots), len(config.penalties)
    n = config.test_tasks
    cost = rng.uniform(5.0, 10.0, (m, s))
    cost[config.methods.index("mtl")] = rng.uniform(1.0, 2.0, s)
    fields = dict(
        acc=rng.uniform(0.4, 0.6, (m, s)), ci95=rng.uniform(0.01, 0.03, (m, s)),
        diverged_step=np.full((m, s), -1), train_seconds=cost + 20.0,
        steady_steps_per_second=rng.uniform(1.0, 5.0, (m, s)), cost_seconds=cost,
        meta_steps=np.full((m, s), 150), epochs=np.full((m, s), 5),
        budget_acc=rng.uniform(0.35, 0.45, len(config.mtl_budgets)),
        budget_seconds=rng.uniform(0.2, 0.5, len(config.mtl_budgets)),
        l2_acc=rng.uniform(0.4, 0.6, p), l2_per_task=rng.uniform(0.0, 1.0, (p, n)),
    )
    fields.update(override)
    return merge_seeds([FewshotResult(**fields)])


@pytest.fixture
def quick(getkey):
    import jax.random as jr

    seed = int(jr.randint(getkey(), (), 0, 2**31 - 1))
    return study.config("quick"), np.random.default_rng(seed)


def test_quick_claims_pass_on_a_plausible_result(quick):
    config, rng = quick
    res = _result(rng, config)
    for fn in (table3_claims, table4_claims, fig2_claims, table5_claims):
        checks = fn(config, res)
        assert checks and all(c.passed for c in checks), [c.name for c in checks if not c.passed]


def test_quick_claims_fail_when_they_should(quick):
    config, rng = quick
    m, s = len(config.methods), len(config.shots)
    at_chance = np.full((m, s), 1.0 / config.n_way)
    assert not all(c.passed for c in table3_claims(config, _result(rng, config, acc=at_chance)))
    unmeasured = np.full((m, s), 1.0)
    unmeasured[config.methods.index("metaoptnet")] = np.nan  # trained (finite accuracy), no cost
    assert not all(c.passed for c in table4_claims(config, _result(rng, config, cost_seconds=unmeasured)))
    costly = np.full(len(config.mtl_budgets), 100.0)
    assert not all(c.passed for c in fig2_claims(config, _result(rng, config, budget_seconds=costly)))
    flat = np.full(len(config.penalties), 0.1)
    assert not all(c.passed for c in table5_claims(config, _result(rng, config, l2_acc=flat)))
