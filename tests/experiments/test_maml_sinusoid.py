"""maml.sinusoid: the second- vs first-order meta-gradient diagnostic behind its claims."""

import jax
import numpy as np
import pytest

from metagrad.algorithms import fo_maml, mse
from metagrad.experiments import merge_seeds
from metagrad.experiments.maml import (
    Example,
    Finetuned,
    MetaGradient,
    SinusoidResult,
    claims,
    meta_gradients,
    study,
)
from metagrad.models import MLP
from metagrad.tasks import sample_sinusoid_batch


def _model_and_tasks(getkey, n=12):
    model = MLP(1, 1, 16, 2, key=getkey())
    tasks = sample_sinusoid_batch(key=getkey(), tasks=n, n_support=10, n_query=10)
    return model, tasks


def test_maml_meta_gradient_is_the_hessian_corrected_one(getkey):
    model, tasks = _model_and_tasks(getkey)
    g = meta_gradients(model, tasks, lr=0.05)
    assert g.rel_diff.shape == g.hessian_coef.shape == (12,)
    assert np.all(g.rel_diff > 1e-6)
    np.testing.assert_allclose(g.hessian_coef, 1.0, atol=1e-8)


@pytest.mark.slow
def test_first_order_inner_step_is_seen(getkey):
    """The claim's diagnostic separates a first-order 'second-order' algorithm (coefficient 0)."""
    model, tasks = _model_and_tasks(getkey)
    g = meta_gradients(model, tasks, lr=0.05, second_order=fo_maml(loss=mse, lr=0.05))
    np.testing.assert_allclose(g.rel_diff, 0.0, atol=1e-12)
    np.testing.assert_allclose(g.hessian_coef, 0.0, atol=1e-12)


def _fake_result(getkey, coef):
    n, s = 40, 4
    z = lambda: np.abs(np.asarray(jax.random.normal(getkey(), (n, s)))) + 1.0
    curve = np.cumsum(-np.ones((n, s)), axis=1) * 0.1 + 3.0
    ft = Finetuned(curve, np.zeros(5), np.zeros(5))
    worse = Finetuned(curve + z(), np.zeros(5), np.zeros(5))
    ex = Example(np.zeros(5), np.zeros(3), np.zeros(3))
    rel = np.asarray(jax.random.uniform(getkey(), (n,))) * 0.1 + 0.05
    grad = MetaGradient(rel if coef else 0 * rel, np.full(n, coef, float))
    return SinusoidResult(maml=ft, erm=worse, example=ex, meta_grad=grad)


def test_second_order_claims_fail_for_a_first_order_meta_gradient(getkey):
    cfg = study.config("quick", {"eval_steps": 3})
    ok = {c.name: c.passed for c in claims(cfg, merge_seeds([_fake_result(getkey, 1.0)]))}
    bad = {c.name: c.passed for c in claims(cfg, merge_seeds([_fake_result(getkey, 0.0)]))}
    assert all(ok.values())
    second = [k for k in bad if "FO-MAML" in k or "H_s" in k]
    assert len(second) == 2 and not any(bad[k] for k in second)
