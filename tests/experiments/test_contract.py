"""One contract for every registered experiment at its quick scale.

Each runs once per test session (cached by the fixture): results are finite outside `nan_ok`,
every paper claim checked by `checks()` passes, `plot()` returns figures, the paper preset
builds, and the same key gives identical numbers.
"""

import jax.random as jr
import matplotlib
import numpy as np
import pytest

from metagrad.experiments import Check, Result, list_experiments

matplotlib.use("Agg")
EXPERIMENTS = {e.id: e for e in list_experiments()}
_CACHE: dict[str, Result] = {}


def _quick(exp_id):
    if exp_id not in _CACHE:
        exp = EXPERIMENTS[exp_id]
        _CACHE[exp_id] = exp.run(exp.config("quick"), jr.PRNGKey(0))
    return _CACHE[exp_id]


@pytest.mark.parametrize("exp_id", sorted(EXPERIMENTS))
def test_quick_runs_finite_and_checks_pass(exp_id):
    exp = EXPERIMENTS[exp_id]
    result = _quick(exp_id)
    assert isinstance(result, Result)
    assert not result.diverged, f"non-finite values in {result.nonfinite()}"
    checks = exp.checks(result)
    assert checks and all(isinstance(c, Check) for c in checks)
    failed = [(c.name, c.measured, c.target, c.tolerance) for c in checks if not c.passed]
    assert not failed, failed


@pytest.mark.parametrize("exp_id", sorted(EXPERIMENTS))
def test_plot_returns_figures(exp_id):
    import matplotlib.pyplot as plt

    figs = EXPERIMENTS[exp_id].plot(_quick(exp_id))
    assert figs and all(hasattr(f, "savefig") for f in figs.values())
    for f in figs.values():
        plt.close(f)


@pytest.mark.parametrize("exp_id", sorted(EXPERIMENTS))
def test_same_key_same_numbers(exp_id):
    exp = EXPERIMENTS[exp_id]
    again = exp.run(exp.config("quick"), jr.PRNGKey(0))
    first = _quick(exp_id)
    assert set(again.arrays) == set(first.arrays)
    for k, v in first.arrays.items():
        np.testing.assert_array_equal(again.arrays[k], v, err_msg=k)
    assert again.scalars.keys() == first.scalars.keys()
    for k, v in first.scalars.items():
        assert v == again.scalars[k] or (np.isnan(v) and np.isnan(again.scalars[k])), k


@pytest.mark.parametrize("exp_id", sorted(EXPERIMENTS))
def test_metadata_and_presets(exp_id):
    exp = EXPERIMENTS[exp_id]
    assert exp.id.count(".") == 1 and exp.title and exp.paper
    assert exp.config("paper") is not None and exp.config("quick") is not None
    assert set(exp.cost) >= {"quick", "paper"}
