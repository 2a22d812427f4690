"""evaluate: accuracies, the two 95% intervals, determinism, early bad-input errors."""

import jax.random as jr
import numpy as np
import pytest

from metagrad.data import accuracy_ci, digits, evaluate
from metagrad.models import Conv4


@pytest.fixture(scope="module")
def ds():
    return digits()


def test_ci_formulas(getkey):
    acc = np.asarray(jr.uniform(getkey(), (3, 50)))
    r = accuracy_ci(acc)
    means = acc.mean(1)
    assert r.accuracy == pytest.approx(means.mean(), abs=1e-12)
    assert r.std_task == pytest.approx(acc.std(1, ddof=1).mean(), abs=1e-12)
    assert r.ci95_task == pytest.approx(1.96 * r.std_task / np.sqrt(50), abs=1e-12)
    assert r.ci95_runs == pytest.approx(1.96 * means.std(ddof=1) / np.sqrt(3), abs=1e-12)
    assert np.isnan(accuracy_ci(acc[:1]).ci95_runs)


def test_raw_pixel_prototypes_beat_chance_and_are_deterministic(ds, getkey):
    key = getkey()
    r = evaluate(None, ds, n_way=3, n_shot=5, n_query=5, n_tasks=200, head="prototype", key=key)
    assert r.per_task.shape == (1, 200)
    assert r.accuracy - 1 / 3 > 5 * r.std_task / np.sqrt(200)
    again = evaluate(None, ds, n_way=3, n_shot=5, n_query=5, n_tasks=200, head="prototype", key=key)
    np.testing.assert_array_equal(r.per_task, again.per_task)


def test_runs_give_the_across_seed_interval(ds, getkey):
    r = evaluate(
        [None, None, None],
        ds,
        n_way=2,
        n_shot=1,
        n_query=3,
        n_tasks=40,
        head="ridge",
        key=getkey(),
        chunk=16,
    )
    assert r.per_task.shape == (3, 40) and np.isfinite(r.ci95_runs)
    assert not np.array_equal(r.per_task[0], r.per_task[1])  # each run has its own tasks


@pytest.mark.slow
def test_conv4_backbone_with_logistic_head(glyph_small, getkey):
    model = Conv4(5, 8, key=getkey())
    r = evaluate(model.features, glyph_small, n_way=5, n_shot=1, n_query=2, n_tasks=6, key=getkey())
    assert r.per_task.shape == (1, 6) and 0 <= r.accuracy <= 1


def test_bad_input_before_compute(ds, getkey):
    with pytest.raises(ValueError, match=r"n_way=5 must be in \[2, 3\]"):
        evaluate(None, ds, n_way=5, n_shot=1, n_query=1, n_tasks=5, key=getkey())
    with pytest.raises(ValueError, match="class 'digit"):
        evaluate(None, ds, n_way=2, n_shot=150, n_query=50, n_tasks=5, key=getkey())
    with pytest.raises(ValueError, match="n_tasks=0"):
        evaluate(None, ds, n_way=2, n_shot=1, n_query=1, n_tasks=0, key=getkey())
    with pytest.raises(ValueError, match="head="):
        evaluate(None, ds, n_way=2, n_shot=1, n_query=1, n_tasks=1, head="svm", key=getkey())
