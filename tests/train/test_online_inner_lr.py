"""metagrad.train: ANIL on normalised features with the online App. H.3 inner learning rate."""

import hashlib
import json

import equinox as eqx
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from _train_tiny import TinyNet, tiny_dataset

from metagrad.theory import adaptation_lr as alr
from metagrad.train import TrainConfig, train
from metagrad.train._methods import alpha_star_online

DS = tiny_dataset()
BASE = dict(method="anil", n_way=3, n_shot=1, n_query=2, meta_batch=2, steps_per_epoch=3,
            val_tasks=6, val_query=2, inner_steps=1, head_normalize=True, inner_lr_rule="online",
            patience=10, plateau_patience=100)


def _run(key, run_dir=None, callback=None, **kw):
    cfg = TrainConfig(**{**BASE, **kw})
    model = TinyNet(cfg.n_way, key=jr.fold_in(key, 1))
    return train(cfg, DS, key=key, model=model, run_dir=run_dir, progress=False,
                 callback=callback)


@pytest.mark.parametrize(
    "kw, name",
    [({"inner_lr_rule": "adaptive"}, "inner_lr_rule"),
     ({"method": "maml"}, "inner_lr_rule"),            # online needs head-only adaptation
     ({"head_normalize": False}, "inner_lr_rule"),     # online needs normalised features
     ({"inner_lr": 0.0}, "inner_lr"),                  # the buffer's start must be > 0
     ({"online_decay": 1.5}, "online_decay"),
     ({"method": "protonet", "inner_lr_rule": "fixed"}, "head_normalize"),
     ({"test_tasks": -1}, "test_tasks"),
     ({"method": "mtl", "inner_lr_rule": "fixed", "head_normalize": False, "test_tasks": 3},
      "test_tasks")],
)
def test_bad_option_names_the_parameter(kw, name):
    with pytest.raises(ValueError, match=f"TrainConfig: {name}="):
        TrainConfig(**{**BASE, **kw})


def test_new_fields_at_defaults_leave_the_fingerprint_unchanged():
    cfg = TrainConfig(method="anil")
    old = {k: v for k, v in cfg.to_dict().items()
           if k not in ("head_normalize", "inner_lr_rule", "online_decay", "test_tasks")}
    want = hashlib.sha256(json.dumps(old, sort_keys=True).encode()).hexdigest()
    assert cfg.fingerprint() == want
    assert TrainConfig(**BASE).fingerprint() != want


def test_jax_estimate_matches_the_theory_function(getkey):
    """The traced α* of the meta-step equals the float64 theory function on the same features."""
    F = jr.normal(getkey(), (4, 20, 16)) + 0.5  # uncentred, like ReLU features
    got = float(alpha_star_online(F, 20, 1))
    want = alr.alpha_star_anil_features(F=np.asarray(F, np.float64), n_way=20, n_shot=1)
    assert got == pytest.approx(want, rel=1e-5)


@pytest.mark.slow  # compiles ANIL training, validation and test metrics (~20-50 s at load 9)
def test_online_buffer_follows_the_estimate_and_is_recorded(getkey, tmp_path):
    """decay 0: the buffer is the last step's α*; one step per epoch: recorded α* = buffer."""
    res = _run(getkey(), tmp_path, online_decay=0.0, steps_per_epoch=1, max_epochs=2,
               test_tasks=4)
    h = res.history
    np.testing.assert_allclose(h["inner_lr"], h["alpha_star"], rtol=1e-6)
    assert np.all(h["inner_lr"] > 0) and not np.allclose(h["inner_lr"], BASE.get("inner_lr", 0.1))
    assert np.all((h["test_acc"] >= 0) & (h["test_acc"] <= 1)) and np.all(h["test_loss"] > 0)
    rows = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["inner_lr"] for r in rows] == list(h["inner_lr"])
    assert float(res.algorithm.lr) == pytest.approx(h["inner_lr"][res.best_epoch], rel=1e-6)


@pytest.mark.slow  # compiles an ANIL training (~12 s at load 9)
def test_fixed_rule_records_the_constant_inner_lr(getkey):
    res = _run(getkey(), inner_lr_rule="fixed", max_epochs=1, inner_lr=0.25)
    assert list(res.history["inner_lr"]) == [0.25] and "alpha_star" not in res.history


class _Stop(Exception):
    pass


@pytest.mark.slow
def test_interrupted_online_run_resumes_to_the_same_bits(getkey, tmp_path):
    """Stopped mid-epoch 2 (after 2 checkpoints) and resumed: same parameters and buffer as an
    uninterrupted run, so the buffer is in the checkpoint (a restart from inner_lr would differ)."""
    key = getkey()
    full = _run(key, max_epochs=4)

    def stop(epoch, step):
        if epoch == 2 and step == 1:
            raise _Stop

    with pytest.raises(_Stop):
        _run(key, tmp_path, callback=stop, max_epochs=4)
    again = _run(key, tmp_path, max_epochs=4)
    assert again.resumed_from == 2 and again.epochs == 4
    np.testing.assert_array_equal(full.history["inner_lr"], again.history["inner_lr"])
    np.testing.assert_array_equal(np.asarray(full.params.head.weight),
                                  np.asarray(again.params.head.weight))
    np.testing.assert_array_equal(np.asarray(full.params.backbone.w),
                                  np.asarray(again.params.backbone.w))
    assert float(jnp.asarray(full.algorithm.lr)) == float(jnp.asarray(again.algorithm.lr))


@pytest.mark.slow  # compiles two second-order meta-gradients (~20 s CPU)
def test_normalized_anil_is_anil_with_the_backbone_run_once(getkey):
    """Same meta-loss and meta-gradient as `algorithms.anil` on the normalised-head model."""
    from metagrad.algorithms import anil, cross_entropy
    from metagrad.data import EpisodeSampler
    from metagrad.train._methods import build

    cfg = TrainConfig(**{**BASE, "inner_steps": 2, "inner_lr": 0.7})
    algo, model = build(cfg, TinyNet(3, key=getkey()), 8, key=getkey())
    ref = anil(loss=cross_entropy, lr=0.7, steps=2)
    tasks = EpisodeSampler(DS.split("train"), 3, 1, 2).sample(getkey(), 2)
    (g1, m1) = eqx.filter_jit(algo.meta_grad)(model, tasks)
    (g2, m2) = eqx.filter_jit(ref.meta_grad)(model, tasks)
    assert float(m1["loss"]) == pytest.approx(float(m2["loss"]), rel=1e-5)
    for a, b in zip(jax_leaves(g1), jax_leaves(g2)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-6)
    assert any(float(np.abs(np.asarray(a)).max()) > 0 for a in jax_leaves(g1))


def jax_leaves(tree):
    import equinox as eqx
    import jax

    return jax.tree.leaves(eqx.filter(tree, eqx.is_inexact_array))
