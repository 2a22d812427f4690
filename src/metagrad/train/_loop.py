"""One training loop for MTL and every episodic meta-learner, resumable from atomic checkpoints.

Per epoch: `steps_per_epoch` optimiser steps (RAdam, its update scaled by the reduce-on-plateau
factor), each on a fresh meta-batch drawn with the key `fold_in(fold_in(k_train, epoch), step)`,
so the data of any step depend only on the run's key and the step's position: a resumed run
draws exactly what an uninterrupted run draws. Then validation on the same `val_tasks`
validation-class episodes every epoch; the best epoch's parameters are kept; reduce-on-plateau
and early stopping are fed the validation accuracy. The state is checkpointed after every epoch.

With ``inner_lr_rule='online'`` (ANIL on normalised features, Zou, Liu, Li 2022, App. H.3) the
inner learning rate is a buffer in the state (checkpointed with it): before every meta-step the
estimate α* of that meta-batch's support features updates it, α_buf ← d·α_buf + (1 − d)·α*, and
the step adapts with the new α_buf (a traced scalar: no recompilation as it changes).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax
from jaxtyping import PRNGKeyArray

from metagrad.algorithms import DivergenceError, cross_entropy
from metagrad.data import ClassDataset, EpisodeSampler, EvalResult, check_episode_shape, evaluate
from metagrad.train._checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from metagrad.train._config import ADAPT_METHODS, TrainConfig
from metagrad.train._methods import alpha_star_online, build, make_model, split_key, test_head

__all__ = ["TrainResult", "evaluate_trained", "train"]

CHECKPOINT = "checkpoint.npz"
METRICS = "metrics.jsonl"


@dataclasses.dataclass(frozen=True)
class TrainResult:
    """A finished training run.

    Attributes:
        params: parameters of the best validation epoch (MTL: `MTLParams`, else the model).
        algorithm: the method's algorithm object (needed by its test-time head).
        config: the `TrainConfig`.
        history: per-epoch arrays `[epochs]`: ``loss`` (mean training loss), ``val_acc``,
            ``val_ci95`` (per-task 95% interval), ``lr`` (learning rate used in the epoch),
            ``train_seconds``, ``val_seconds``, ``inner_lr`` (MAML family: the inner learning
            rate at the end of the epoch, used by its validation; the online buffer α_buf
            with ``inner_lr_rule='online'``); with the online rule also ``alpha_star`` (mean of
            the epoch's per-step α* estimates); with `test_tasks` > 0 also ``test_loss`` and
            ``test_acc`` (mean query cross-entropy and accuracy after adaptation).
        best_epoch: index of the best validation epoch; best_val_acc: its accuracy.
        epochs: epochs run; stopped_early: whether early stopping ended the run.
        meta_steps: optimiser steps; images: images through the backbone in training.
        train_seconds: wall-clock of the training steps (including the first compilation);
            val_seconds: of validation; wall_seconds: whole run (over resumptions: the sum).
        steps_per_second, images_per_second: `meta_steps / train_seconds`, `images / ...`.
        resumed_from: epochs already done in the checkpoint the run resumed from (0: fresh).

    With ``inner_lr_rule='online'``, `algorithm.lr` is the buffer α_buf of the best epoch.
    """

    params: Any
    algorithm: Any
    config: TrainConfig
    history: dict[str, np.ndarray]
    best_epoch: int
    best_val_acc: float
    epochs: int
    stopped_early: bool
    meta_steps: int
    images: int
    train_seconds: float
    val_seconds: float
    wall_seconds: float
    steps_per_second: float
    images_per_second: float
    resumed_from: int

    @property
    def steady_steps_per_second(self) -> float:
        """Meta-steps per second after the first epoch (without the first compilation); NaN
        after a single epoch. The training cost of the few-shot studies is measured with it."""
        t = self.history["train_seconds"][1:]
        return float(t.size * self.config.steps_per_epoch / t.sum()) if t.size else float("nan")


class _State(eqx.Module):
    params: Any
    opt_state: Any
    plateau: Any
    best_params: Any
    alpha_buf: Any = None  # online inner-lr buffer (a float32 scalar), None for a fixed lr


@eqx.filter_jit
def _step(algorithm, optimizer, params, opt_state, scale, tasks):
    grads, metrics = algorithm.meta_grad(params, tasks)
    arrays = eqx.filter(params, eqx.is_inexact_array)
    updates, opt_state = optimizer.update(grads, opt_state, arrays)
    updates = jax.tree.map(lambda u: jnp.asarray(scale, u.dtype) * u, updates)
    return eqx.apply_updates(params, updates), opt_state, metrics["loss"], optax.tree.norm(grads)


@eqx.filter_jit
def _step_online(algorithm, optimizer, params, opt_state, scale, tasks, alpha_buf, decay, shape):
    """`_step` with the App. H.3 buffer: α* from this meta-batch's support, update, adapt."""
    n_way, n_shot = shape
    feats = jax.vmap(params.features)(tasks.x_support)
    a_star = alpha_star_online(jax.lax.stop_gradient(feats), n_way, n_shot).astype(alpha_buf.dtype)
    alpha_buf = jnp.where(decay >= 1, alpha_buf, decay * alpha_buf + (1 - decay) * a_star)
    params, opt_state, loss, gnorm = _step(
        _with_lr(algorithm, alpha_buf), optimizer, params, opt_state, scale, tasks)
    return params, opt_state, loss, gnorm, alpha_buf, a_star


def _with_lr(algorithm, alpha_buf):
    """The algorithm adapting with the online buffer (unchanged for a fixed inner lr)."""
    if alpha_buf is None:
        return algorithm
    return eqx.tree_at(lambda a: a.lr, algorithm, jnp.asarray(alpha_buf, jnp.float32))


@eqx.filter_jit
def _adapted_metrics(algorithm, model, tasks):
    def one(task):
        logits = algorithm.adapt(model, task.support)(task.x_query)
        return cross_entropy(logits, task.y_query), jnp.mean(jnp.argmax(logits, -1) == task.y_query)

    return jax.lax.map(one, tasks)


def _test_metrics(config, algorithm, params, dataset, key) -> tuple[float, float]:
    """Mean query loss and accuracy after adaptation on `config.test_tasks` test episodes."""
    steps = config.test_inner_steps or config.inner_steps
    algo = dataclasses.replace(algorithm, steps=steps)
    sampler = EpisodeSampler(dataset.split("test"), config.n_way, config.n_shot, config.val_query)
    losses, accs = [], []
    for i, start in enumerate(range(0, config.test_tasks, 100)):
        tasks = sampler.sample(jr.fold_in(key, i), min(100, config.test_tasks - start))
        loss, acc = _adapted_metrics(algo, params, tasks)
        losses.append(np.asarray(loss, np.float64))
        accs.append(np.asarray(acc, np.float64))
    return float(np.concatenate(losses).mean()), float(np.concatenate(accs).mean())


def _validate(config, algorithm, params, dataset, key, *, n_tasks, n_query, split, head=None):
    backbone, head_obj = test_head(config, algorithm, params, dataset.image_shape, head)
    return evaluate(
        backbone, dataset, n_way=config.n_way, n_shot=config.n_shot, n_query=n_query,
        n_tasks=n_tasks, head=head_obj, key=key, split=split, chunk=min(n_tasks, 100),
    )


def evaluate_trained(
    result: TrainResult,
    dataset: ClassDataset,
    *,
    n_tasks: int,
    n_query: int,
    key: PRNGKeyArray,
    split: str = "test",
    head: str | None = None,
    n_shot: int | None = None,
) -> EvalResult:
    """Few-shot accuracy of a trained run on `split` with its test-time head (`metagrad.data`).

    Args:
        result: a `TrainResult`.
        dataset: the dataset with all splits.
        n_tasks: episodes, >= 1; n_query: queries per class, >= 1.
        key: `jax.random` key of the episodes.
        split: ``test`` (default) or ``val``.
        head: ``own`` or a `metagrad.data` head name; default `config.eval_head`.
        n_shot: support images per class; default the training `n_shot`.
    """
    cfg = result.config if n_shot is None else dataclasses.replace(result.config, n_shot=n_shot)
    return _validate(cfg, result.algorithm, result.params, dataset, key,
                     n_tasks=n_tasks, n_query=n_query, split=split, head=head)


@functools.lru_cache(maxsize=32)
def _optimizer_for(lr: float, factor: float, patience: int):
    plateau = optax.contrib.reduce_on_plateau(
        factor=factor, patience=patience
    )
    return optax.radam(lr), plateau


def _optimizer(config: TrainConfig):
    """RAdam and reduce-on-plateau; the same objects for the same values (no recompilation)."""
    return _optimizer_for(config.lr, config.plateau_factor, config.plateau_patience)


@eqx.filter_jit
def _plateau_update(plateau, state, value):
    return plateau.update({}, state, value=value)[1]


def _progress(enabled: bool | None):
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    console = Console(stderr=True)
    enabled = console.is_terminal if enabled is None else enabled
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("{task.fields[info]}"), TimeElapsedColumn(), TextColumn("ETA"),
        TimeRemainingColumn(), console=console, disable=not enabled, transient=False,
    )


def _header(config, key, dataset, book) -> dict:
    return {
        "config": config.to_dict(),
        "fingerprint": config.fingerprint(),
        "key": np.asarray(jr.key_data(key) if jnp.issubdtype(key.dtype, jax.dtypes.prng_key)
                          else key).tolist(),
        "dataset": [dataset.name, int(dataset.n_classes), list(dataset.image_shape)],
        **book,
    }


def _check_header(path: Path, header: dict, expected: dict) -> None:
    if header["fingerprint"] != expected["fingerprint"]:
        diff = sorted(k for k, v in expected["config"].items() if header["config"].get(k) != v)
        raise CheckpointError(
            f"checkpoint {path} was written by another config (differs in {diff}); refusing to "
            "resume from it: use another run directory or delete the checkpoint"
        )
    for field in ("key", "dataset"):
        if header[field] != expected[field]:
            raise CheckpointError(
                f"checkpoint {path} was written with another {field} ({header[field]} vs "
                f"{expected[field]}); refusing to resume from it"
            )


def _rewrite_log(path: Path, epochs: int) -> None:
    """Keep the metrics lines of the first `epochs` epochs (those in the checkpoint)."""
    if not path.exists():
        return
    keep = [ln for ln in path.read_text().splitlines() if ln and json.loads(ln)["epoch"] < epochs]
    path.write_text("".join(ln + "\n" for ln in keep))


def train(
    config: TrainConfig,
    dataset: ClassDataset,
    *,
    key: PRNGKeyArray,
    model: eqx.Module | None = None,
    run_dir: str | Path | None = None,
    progress: bool | None = None,
    callback: Callable[[int, int], None] | None = None,
) -> TrainResult:
    """Train `config.method` on the train classes of `dataset`, validating on its val classes.

    Args:
        config: the `TrainConfig`.
        dataset: a `ClassDataset` with train and val splits (e.g. `open_dataset("glyphs")`).
        key: `jax.random` key; same config, dataset and key give the same numbers (CPU).
        model: the network (with `features` and a `head` of `n_way` outputs); default
            `make_model(config, ...)` initialised from `key`.
        run_dir: directory of the checkpoint and the JSON-lines metrics log; if it holds a
            checkpoint of the same config, key and dataset, training resumes from it (a
            checkpoint of another config is refused with `CheckpointError`).
        progress: show a rich progress bar (default: when stderr is a terminal).
        callback: called as `callback(epoch, step)` after every step (for tests).

    Returns:
        A `TrainResult` holding the best epoch's parameters and the measured costs.

    Raises:
        ValueError: an episode shape the dataset cannot give (before any compute).
        DivergenceError: a non-finite loss or gradient, naming the meta-step.
    """
    train_ds, val_ds = dataset.split("train"), dataset.split("val")
    check_episode_shape(train_ds, n_way=config.n_way, n_shot=config.n_shot, n_query=config.n_query)
    check_episode_shape(val_ds, n_way=config.n_way, n_shot=config.n_shot, n_query=config.val_query)
    if config.test_tasks:
        check_episode_shape(dataset.split("test"), n_way=config.n_way, n_shot=config.n_shot,
                            n_query=config.val_query)
    t_wall = time.perf_counter()
    k_model, k_head, k_train, k_val = split_key(key)
    if model is None:
        model = make_model(config, dataset.image_shape, key=k_model)
    algorithm, params = build(config, model, train_ds.n_classes, key=k_head)
    optimizer, plateau = _optimizer(config)
    arrays = eqx.filter(params, eqx.is_inexact_array)
    online = config.inner_lr_rule == "online"
    buf = jnp.asarray(config.inner_lr, jnp.float32) if online else None
    state = _State(params, optimizer.init(arrays), plateau.init(arrays), params, buf)
    book = {"epoch": 0, "best_epoch": -1, "best_val_acc": -1.0, "bad_epochs": 0, "history": [],
            "train_seconds": 0.0, "val_seconds": 0.0, "wall_seconds": 0.0,
            "best_inner_lr": config.inner_lr}
    run_dir = None if run_dir is None else Path(run_dir)
    if run_dir is not None:
        run_dir.mkdir(parents=True, exist_ok=True)
    expected = _header(config, key, dataset, {})
    resumed_from = 0
    if run_dir is not None and (run_dir / CHECKPOINT).exists():
        state, header = load_checkpoint(run_dir / CHECKPOINT, state)
        _check_header(run_dir / CHECKPOINT, header, expected)
        book = {k: header.get(k, v) for k, v in book.items()}
        resumed_from = book["epoch"]
        _rewrite_log(run_dir / METRICS, resumed_from)
    sampler = EpisodeSampler(train_ds, config.n_way, config.n_shot, config.n_query)
    wall0 = book["wall_seconds"]
    with _progress(progress) as bar:
        task = bar.add_task(config.method, total=config.max_epochs * config.steps_per_epoch,
                            completed=book["epoch"] * config.steps_per_epoch, info="")
        while book["epoch"] < config.max_epochs and book["bad_epochs"] < config.patience:
            state, row = _epoch(config, algorithm, optimizer, plateau, state, sampler, dataset,
                                k_train, k_val, book, bar, task, callback)
            book["wall_seconds"] = wall0 + time.perf_counter() - t_wall
            if run_dir is not None:
                with open(run_dir / METRICS, "a") as f:
                    f.write(json.dumps(row) + "\n")
                save_checkpoint(run_dir / CHECKPOINT, state, _header(config, key, dataset, book))
    return _result(config, algorithm, state, book, resumed_from)


def _epoch(config, algorithm, optimizer, plateau, state, sampler, dataset, k_train, k_val,
           book, bar, task, callback):
    epoch = book["epoch"]
    ke = jr.fold_in(k_train, epoch)
    scale = state.plateau.scale
    params, opt_state, losses, norms = state.params, state.opt_state, [], []
    buf, a_stars = state.alpha_buf, []
    decay = jnp.asarray(config.online_decay, jnp.float32)  # traced: any decay, one compilation
    t0 = time.perf_counter()
    for s in range(config.steps_per_epoch):
        tasks = sampler.sample(jr.fold_in(ke, s), config.meta_batch)
        if buf is None:
            params, opt_state, loss, gnorm = _step(
                algorithm, optimizer, params, opt_state, scale, tasks)
        else:
            params, opt_state, loss, gnorm, buf, a_star = _step_online(
                algorithm, optimizer, params, opt_state, scale, tasks, buf, decay,
                (config.n_way, config.n_shot))
            a_stars.append(a_star)
        losses.append(loss)
        norms.append(gnorm)
        bar.advance(task)
        if callback is not None:
            callback(epoch, s)
    losses = np.array(jax.device_get(losses), np.float64)
    ok = np.isfinite(losses) & np.isfinite(np.array(jax.device_get(norms), np.float64))
    t_train = time.perf_counter() - t0
    if not ok.all():
        step = epoch * config.steps_per_epoch + int(np.argmin(ok))
        raise DivergenceError(
            f"{config.method}: training loss or gradient non-finite at meta-step {step} "
            f"(lr {config.lr:g}, inner lr {config.inner_lr:g}); try a smaller learning rate",
            meta_step=step, task=None, inner_step=None, lr=config.lr,
        )
    t0 = time.perf_counter()
    algo_now = _with_lr(algorithm, buf)
    val = _validate(config, algo_now, params, dataset, k_val, n_tasks=config.val_tasks,
                    n_query=config.val_query, split="val")
    if config.test_tasks:
        test_loss, test_acc = _test_metrics(config, algo_now, params, dataset,
                                            jr.fold_in(k_val, 7919))
    t_val = time.perf_counter() - t0
    plateau_state = _plateau_update(plateau, state.plateau, jnp.asarray(1.0 - val.accuracy, jnp.float32))
    best = state.best_params
    if val.accuracy > book["best_val_acc"]:
        best, book["best_val_acc"], book["best_epoch"], book["bad_epochs"] = (
            params, val.accuracy, epoch, 0)
        if buf is not None:
            book["best_inner_lr"] = float(buf)
    else:
        book["bad_epochs"] += 1
    row = {"epoch": epoch, "loss": float(losses.mean()), "val_acc": val.accuracy,
           "val_ci95": val.ci95_task, "lr": config.lr * float(scale),
           "train_seconds": t_train, "val_seconds": t_val,
           "steps_per_second": config.steps_per_epoch / t_train,
           "images_per_second": config.steps_per_epoch * config.images_per_step / t_train}
    if config.method in ADAPT_METHODS:
        row["inner_lr"] = config.inner_lr if buf is None else float(buf)
    if buf is not None:
        row["alpha_star"] = float(np.mean(jax.device_get(a_stars)))
    if config.test_tasks:
        row["test_loss"], row["test_acc"] = test_loss, test_acc
    book["history"].append(row)
    book["epoch"] = epoch + 1
    book["train_seconds"] += t_train
    book["val_seconds"] += t_val
    bar.update(task, info=f"loss {row['loss']:.3f}  val {100 * val.accuracy:.1f}%  "
                          f"lr {row['lr']:.1e}")
    return _State(params, opt_state, plateau_state, best, buf), row


def _result(config, algorithm, state, book, resumed_from) -> TrainResult:
    hist = book["history"]
    keys = ("loss", "val_acc", "val_ci95", "lr", "train_seconds", "val_seconds", "inner_lr",
            "alpha_star", "test_loss", "test_acc")
    history = {k: np.array([r[k] for r in hist], np.float64) for k in keys
               if not hist or k in hist[0]}
    if config.inner_lr_rule == "online":
        algorithm = _with_lr(algorithm, book["best_inner_lr"])
    steps = book["epoch"] * config.steps_per_epoch
    t = max(book["train_seconds"], 1e-12)
    return TrainResult(
        params=state.best_params, algorithm=algorithm, config=config, history=history,
        best_epoch=book["best_epoch"], best_val_acc=book["best_val_acc"], epochs=book["epoch"],
        stopped_early=book["epoch"] < config.max_epochs, meta_steps=steps,
        images=steps * config.images_per_step, train_seconds=book["train_seconds"],
        val_seconds=book["val_seconds"], wall_seconds=book["wall_seconds"],
        steps_per_second=steps / t, images_per_second=steps * config.images_per_step / t,
        resumed_from=resumed_from,
    )

