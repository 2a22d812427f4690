"""metagrad.train: the loop's bookkeeping (early stopping, plateau, log, checkpoints, errors)."""

import json

import jax.random as jr
import numpy as np
import pytest
from _train_tiny import TinyNet, tiny_dataset

from metagrad.algorithms import DivergenceError
from metagrad.train import CheckpointError, TrainConfig, train

DS = tiny_dataset()
BASE = dict(n_way=3, n_shot=1, n_query=2, meta_batch=2, steps_per_epoch=3, val_tasks=6,
            val_query=2, inner_steps=1)


def _run(getkey, tmp_path=None, key=None, **kw):
    cfg = TrainConfig(**{**BASE, **kw})
    key = getkey() if key is None else key
    model = TinyNet(cfg.n_way, key=jr.fold_in(key, 1))
    return train(cfg, DS, key=key, model=model, run_dir=tmp_path, progress=False)


@pytest.mark.parametrize(
    "kw, name",
    [({"method": "reptile"}, "method"), ({"lr": 0.0}, "lr"), ({"n_way": 1}, "n_way"),
     ({"meta_batch": 0}, "meta_batch"), ({"inner_lr": float("nan")}, "inner_lr"),
     ({"backbone": "vgg"}, "backbone"), ({"plateau_factor": 2.0}, "plateau_factor")],
)
def test_bad_config_names_the_parameter(kw, name):
    with pytest.raises(ValueError, match=name):
        TrainConfig(**kw)


def test_episode_shape_too_large_is_refused_before_compute(getkey):
    with pytest.raises(ValueError, match="n_way"):
        _run(getkey, n_way=5, method="protonet")  # the val split has 3 classes
    with pytest.raises(ValueError, match="n_shot"):
        _run(getkey, n_shot=7, method="protonet")  # classes have 8 images, 7 + 2 > 8


def test_early_stopping_plateau_log_and_costs(getkey, tmp_path):
    """With a vanishing lr the validation accuracy never improves after epoch 0: early stopping
    after `patience` more epochs, the lr cut by `plateau_factor` after `plateau_patience`."""
    res = _run(getkey, tmp_path, method="protonet", lr=1e-30, max_epochs=9, patience=3,
               plateau_patience=1, plateau_factor=0.5)
    assert res.epochs == 4 and res.stopped_early and res.best_epoch == 0
    assert np.all(res.history["val_acc"] == res.history["val_acc"][0])
    lr = res.history["lr"]
    assert lr[0] == lr[1] == pytest.approx(1e-30) and lr[-1] < lr[1]
    rows = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [0, 1, 2, 3]
    assert res.meta_steps == 12 and res.images == 12 * 2 * 3 * 3
    assert res.steps_per_second > 0 and res.images_per_second > 0 and res.wall_seconds > 0


def test_same_key_same_bits(getkey):
    key = getkey()
    a = _run(getkey, key=key, method="protonet", lr=3e-2, max_epochs=2)
    b = _run(getkey, key=key, method="protonet", lr=3e-2, max_epochs=2)
    np.testing.assert_array_equal(np.asarray(a.params.w), np.asarray(b.params.w))
    np.testing.assert_array_equal(a.history["loss"], b.history["loss"])
    np.testing.assert_array_equal(a.history["val_acc"], b.history["val_acc"])


@pytest.mark.slow
def test_training_learns(getkey):
    """ProtoNet on class prototypes + noise: above chance after training (30 val tasks)."""
    a = _run(getkey, method="protonet", lr=3e-2, max_epochs=3, val_tasks=30)
    acc, ci = a.best_val_acc, a.history["val_ci95"][a.best_epoch]
    assert acc > 1 / 3 + 2 * ci / 1.96  # 2 standard errors above chance


def test_divergence_reports_the_step(getkey):
    with pytest.raises(DivergenceError, match="meta-step"):
        _run(getkey, method="mtl", normalize=False, lr=3e38, max_epochs=2)


def test_checkpoint_of_another_config_is_refused(getkey, tmp_path):
    key = getkey()
    _run(getkey, tmp_path, key=key, method="protonet", max_epochs=1)
    with pytest.raises(CheckpointError, match="lr"):
        _run(getkey, tmp_path, key=key, method="protonet", max_epochs=1, lr=2e-3)
    with pytest.raises(CheckpointError, match="key"):
        _run(getkey, tmp_path, key=jr.fold_in(key, 7), method="protonet", max_epochs=1)


@pytest.mark.slow
def test_resume_equals_uninterrupted(getkey, tmp_path):
    """A run stopped after 2 epochs and resumed to 4 ends with the same parameters (in-process)."""
    key = getkey()
    full = _run(getkey, key=key, method="mtl", max_epochs=4, patience=10)
    part = _run(getkey, tmp_path, key=key, method="mtl", max_epochs=4, patience=10)
    assert part.resumed_from == 0
    again = _run(getkey, tmp_path, key=key, method="mtl", max_epochs=4, patience=10)
    assert again.resumed_from == 4 and again.epochs == 4
    np.testing.assert_array_equal(np.asarray(full.params.heads), np.asarray(again.params.heads))
