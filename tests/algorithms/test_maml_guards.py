"""Divergence guards: the report names the meta-step, task, inner step and learning rate."""

import subprocess
import sys
import textwrap

import jax.numpy as jnp
import numpy as np
import optax
import pytest

from metagrad.algorithms import DivergenceError, check_finite, maml, meta_train, mse
from metagrad.models import MLP
from metagrad.tasks import sample_sinusoid_batch


def test_check_finite_locates_first_bad_task_and_step():
    inner = np.ones((4, 3))
    inner[2, 1] = np.nan
    inner[3, 0] = np.inf
    with pytest.raises(DivergenceError, match=r"task 2, inner step 1 \(inner lr -0.5\)") as e:
        check_finite({"inner_losses": inner, "task_losses": np.ones(4)}, meta_step=7, lr=-0.5)
    assert (e.value.meta_step, e.value.task, e.value.inner_step) == (7, 2, 1)


def test_check_finite_outer_loss_and_passes_finite():
    check_finite({"inner_losses": np.ones((2, 2)), "task_losses": np.ones(2)}, meta_step=0, lr=0.1)
    with pytest.raises(DivergenceError, match="outer loss") as e:
        check_finite({"task_losses": np.array([1.0, np.nan])}, meta_step=3, lr=0.1, meta_lr=1e-3)
    assert e.value.task == 1 and e.value.inner_step is None


def test_meta_train_stops_on_large_inner_lr(getkey):
    model = MLP(1, 1, key=getkey())
    sample = lambda k: sample_sinusoid_batch(key=k, tasks=4)
    with pytest.raises(DivergenceError, match="inner lr 50") as e:
        meta_train(
            maml(loss=mse, lr=50.0, steps=6),
            optax.adam(1e-3),
            model,
            sample,
            steps=20,
            key=getkey(),
            chunk=10,
        )
    assert e.value.meta_step == 0 and e.value.inner_step is not None


@pytest.mark.slow  # measured >= 8 s of the fast suite's wall time (2026-12-02)
def test_negative_inner_lr_is_allowed(getkey):
    model = MLP(1, 1, dtype=jnp.float64, key=getkey())
    sample = lambda k: sample_sinusoid_batch(key=k, tasks=4, dtype=jnp.float64)
    _, hist = meta_train(
        maml(loss=mse, lr=-0.01, steps=1),
        optax.adam(1e-3),
        model,
        sample,
        steps=20,
        key=getkey(),
        chunk=20,
    )
    assert hist["loss"].shape == (20,) and np.all(np.isfinite(hist["loss"]))


_MEMORY_SCRIPT = textwrap.dedent("""
    import resource, jax, jax.random as jr, optax
    import metagrad
    from metagrad.algorithms import maml, mse, init_meta_state, meta_step
    from metagrad.models import MLP
    from metagrad.tasks import sample_sinusoid_batch

    def rss_mb():
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS"):
                    return int(line.split()[1]) / 1024

    alg, opt = maml(loss=mse, lr=0.01, steps=5), optax.adam(1e-3)
    state = init_meta_state(MLP(1, 1, key=jr.PRNGKey(0)), opt)
    sample = jax.jit(lambda k: sample_sinusoid_batch(key=k, tasks=25))
    keys = jr.split(jr.PRNGKey(1), 1200)
    for t in range(1200):
        state, m = meta_step(alg, opt, state, sample(keys[t]))
        m["loss"].block_until_ready()
        if t == 199:
            before = rss_mb()
    print(before, rss_mb())
""")


@pytest.mark.slow
def test_memory_flat_over_1000_second_order_meta_steps():
    """RSS after 1000 more second-order steps (5 inner steps, 25 tasks) grows < 30 MB.

    A retained graph per step would hold at least the inner-loop activations
    (25 tasks x 20 points x 40 units x 2 layers x 5 steps x 4 bytes = 0.8 MB): 800 MB.
    """
    out = subprocess.run(
        [sys.executable, "-c", _MEMORY_SCRIPT], capture_output=True, text=True, check=True
    )
    before, after = map(float, out.stdout.split())
    assert after - before < 30.0, (before, after)
