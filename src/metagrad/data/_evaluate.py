"""Few-shot evaluation: accuracy over test episodes with the two 95% confidence intervals.

Wang, Zhao & Li (2021, Sec. 5.2) report the mean accuracy over 2000 test tasks per run and
mean ± 95% CI over 3 runs; the conventional per-task interval is reported too (docs/data.md).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jaxtyping import PRNGKeyArray

from metagrad.data._episodes import EpisodeSampler, check_episode_shape
from metagrad.data._heads import HEADS, make_head
from metagrad.data._store import ClassDataset

__all__ = ["EvalResult", "evaluate", "accuracy_ci"]

Z95 = 1.96


@dataclasses.dataclass(frozen=True)
class EvalResult:
    """Few-shot accuracy with its confidence intervals.

    Attributes:
        accuracy: mean over runs of each run's mean accuracy over tasks, in [0, 1].
        std_task: standard deviation (ddof=1) of the per-task accuracies, averaged over runs.
        ci95_task: `1.96 * std_task / sqrt(n_tasks)` (the conventional per-task interval).
        ci95_runs: `1.96 * std(run_means, ddof=1) / sqrt(runs)` (the paper's interval across
            seeds); NaN with one run.
        run_means: `[runs]` mean accuracy of each run.
        per_task: `[runs, n_tasks]` accuracy of every task.
    """

    accuracy: float
    std_task: float
    ci95_task: float
    ci95_runs: float
    run_means: np.ndarray
    per_task: np.ndarray

    def __str__(self) -> str:
        runs = f", ± {100 * self.ci95_runs:.2f} (runs)" if np.isfinite(self.ci95_runs) else ""
        return f"{100 * self.accuracy:.2f}% ± {100 * self.ci95_task:.2f} (tasks){runs}"


def accuracy_ci(per_task: np.ndarray) -> EvalResult:
    """The summary of per-task accuracies `[runs, n_tasks]` (see `EvalResult`)."""
    per_task = np.atleast_2d(np.asarray(per_task, np.float64))
    runs, n = per_task.shape
    means = per_task.mean(axis=1)
    std = float(per_task.std(axis=1, ddof=1).mean()) if n > 1 else float("nan")
    ci_runs = Z95 * means.std(ddof=1) / np.sqrt(runs) if runs > 1 else float("nan")
    return EvalResult(
        float(means.mean()), std, Z95 * std / np.sqrt(n), float(ci_runs), means, per_task
    )


@eqx.filter_jit
def _task_accuracy(backbone, head, task, n_way):
    def one(xs, ys, xq, yq):
        n = xs.shape[0]
        feats = backbone(jnp.concatenate([xs, xq]))
        feats = feats.reshape(feats.shape[0], -1)
        logits = head(feats[:n], ys, feats[n:], n_way)
        return jnp.mean(jnp.argmax(logits, axis=-1) == yq)

    return jax.vmap(one)(task.x_support, task.y_support, task.x_query, task.y_query)


def _flatten(x):
    return x.reshape(x.shape[0], -1)


def evaluate(
    backbone: Callable | None | Sequence[Callable | None],
    dataset: ClassDataset,
    *,
    n_way: int,
    n_shot: int,
    n_query: int,
    n_tasks: int,
    head: str | object = "logistic",
    key: PRNGKeyArray,
    split: str = "test",
    chunk: int = 250,
    **head_options,
) -> EvalResult:
    """Accuracy of a frozen backbone plus a test-time head over `n_tasks` episodes per run.

    Features of an episode are computed in one call on its support and query together (the
    models' BatchNorm uses batch statistics); the head is fitted on the support features and
    scored on the query, every task independently, `chunk` tasks per compiled call.

    Args:
        backbone: `images [n, c, h, w] -> features [n, h]` (e.g. `model.features`), None for
            raw pixels, or a sequence of backbones (one per training seed: one run each).
        dataset: a `ClassDataset`; if it holds several splits, `split` is used.
        n_way, n_shot, n_query: episode shape (checked against the classes and their images
            before any compute).
        n_tasks: episodes per run, >= 1 (the paper uses 2000).
        head: ``logistic`` (default, C=3 on L2-normalised features as the paper), ``ridge``,
            ``prototype``, ``finetune`` or a head object; `head_options` go to its constructor.
        key: `jax.random` key; run r uses `jr.split(key, runs)[r]`.
        split: the split to evaluate on. chunk: tasks per compiled call, >= 1.

    Returns:
        An `EvalResult`.
    """
    if isinstance(head, str):
        head = make_head(head, **head_options)
    elif head_options:
        raise ValueError("head_options are only accepted with a head name")
    elif not callable(head):
        raise ValueError(f"head={head!r} must be one of {sorted(HEADS)} or a head object")
    if n_tasks < 1 or chunk < 1:
        raise ValueError(f"n_tasks={n_tasks} and chunk={chunk} must be >= 1")
    if len(set(dataset.splits)) > 1:
        dataset = dataset.split(split)
    check_episode_shape(dataset, n_way=n_way, n_shot=n_shot, n_query=n_query)
    backbones = list(backbone) if isinstance(backbone, (list, tuple)) else [backbone]
    sampler = EpisodeSampler(dataset, n_way, n_shot, n_query)
    per_task = []
    for bb, k in zip(backbones, jr.split(key, len(backbones))):
        bb = _flatten if bb is None else bb
        accs = []
        for i, start in enumerate(range(0, n_tasks, chunk)):
            task = sampler.sample(jr.fold_in(k, i), min(chunk, n_tasks - start))
            accs.append(np.asarray(_task_accuracy(bb, head, task, n_way)))
        per_task.append(np.concatenate(accs))
    return accuracy_ci(np.stack(per_task))
