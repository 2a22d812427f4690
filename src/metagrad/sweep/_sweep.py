"""Running sweeps: cached points skipped, the rest sent to an executor, progress shown."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from metagrad.experiments._base import AbstractExperiment, Check, Result
from metagrad.experiments._config import ExperimentConfig
from metagrad.sweep._executors import AbstractExecutor, InlineExecutor, compute_point
from metagrad.sweep._store import Point, ResultStore

__all__ = ["ExperimentRun", "experiment_points", "run_experiment", "run_points"]


def run_points(
    points: Sequence[Point],
    store: ResultStore,
    executor: AbstractExecutor | None = None,
    *,
    progress: bool = True,
    description: str = "points",
) -> list[dict[str, Any]]:
    """Compute every point not already in `store`; returns one status dict per point (in order).

    Status is 'cached', 'ok' or 'diverged'. Workers write to the store themselves, so an
    interrupted call loses no finished point, and calling again resumes.
    """
    executor = executor or InlineExecutor()
    statuses: list[dict[str, Any] | None] = [None] * len(points)
    todo = []
    for i, pt in enumerate(points):
        if store.load(pt) is not None:
            statuses[i] = {"key": pt.key(store.version), "status": "cached", "seconds": 0.0}
        else:
            todo.append(i)
    items = [(points[i], str(store.root), store.version) for i in todo]
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, disable=not progress, transient=False) as bar:
        task = bar.add_task(description, total=len(points), completed=len(points) - len(todo))
        for j, status in executor.map_unordered(compute_point, items):
            statuses[todo[j]] = status
            bar.advance(task)
    return statuses  # type: ignore[return-value]


def experiment_points(
    exp: AbstractExperiment, config: ExperimentConfig, seeds: Sequence[int]
) -> list[Point]:
    """The points of one experiment: one per seed."""
    return [Point(exp.id, config.to_dict(), int(s), type(exp).__module__) for s in seeds]


@dataclasses.dataclass
class ExperimentRun:
    """A finished experiment: merged result over seeds, its checks and the per-seed statuses."""

    exp: AbstractExperiment
    config: ExperimentConfig
    seeds: list[int]
    result: Result
    checks: list[Check]
    statuses: list[dict[str, Any]]

    @property
    def diverged_seeds(self) -> list[int]:
        """Seeds whose result held NaN/inf where it should not."""
        return [s for s, st in zip(self.seeds, self.statuses) if st["status"] == "diverged"]


def run_experiment(
    exp: AbstractExperiment,
    config: ExperimentConfig,
    *,
    seeds: Sequence[int] = (0,),
    store: ResultStore | None = None,
    executor: AbstractExecutor | None = None,
    progress: bool = True,
) -> ExperimentRun:
    """Run (or load) every seed of an experiment, merge them and evaluate the paper's checks."""
    store = store or ResultStore()
    points = experiment_points(exp, config, seeds)
    statuses = run_points(points, store, executor, progress=progress, description=exp.id)
    return finish_experiment(exp, config, list(seeds), points, statuses, store)


def finish_experiment(exp, config, seeds, points, statuses, store) -> ExperimentRun:
    """Load the stored points of an experiment, merge them and evaluate the checks."""
    results = [store.load(p) for p in points]
    missing = [p.seed for p, r in zip(points, results) if r is None]
    if missing:
        raise RuntimeError(f"{exp.id}: results for seeds {missing} are missing from the store.")
    for st, r in zip(statuses, results):
        if r.diverged:
            st["status"] = "diverged"
    merged = exp.merge(results)
    checks = exp.checks(merged)
    return ExperimentRun(exp, config, list(seeds), merged, checks, list(statuses))
