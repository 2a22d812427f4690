"""Running studies: cached points skipped, the rest sent to an executor, seeds merged, claims checked."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from metagrad.experiments import (
    Check,
    ExperimentConfig,
    FigureSpec,
    Seeds,
    Study,
    code_fingerprint,
    merge_seeds,
)
from metagrad.sweep._executors import AbstractExecutor, InlineExecutor, compute_point
from metagrad.sweep._store import Point, ResultStore

__all__ = ["StudyRun", "finish_study", "run_points", "run_study", "study_points"]


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
    store.ensure_writable()
    store.clean_stale_temporaries()
    statuses: list[dict[str, Any] | None] = [None] * len(points)
    todo = []
    for i, pt in enumerate(points):
        rec = store.load(pt)
        if rec is not None:
            statuses[i] = {"key": pt.key(store.version), "status": "cached", "seconds": 0.0,
                           "cause": rec.cause}
        else:
            todo.append(i)
    items = [(points[i], str(store.root), store.version) for i in todo]
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, disable=not progress, transient=False) as bar:
        task = bar.add_task(description, total=len(points), completed=len(points) - len(todo))
        for j, status in executor.map_unordered(compute_point, items):
            statuses[todo[j]] = status
            bar.advance(task)
    return statuses  # type: ignore[return-value]


def study_points(study: Study, config: ExperimentConfig, seeds: Sequence[int]) -> list[Point]:
    """The points of one study run: one per seed, keyed with the study's code fingerprint."""
    fp = code_fingerprint(study.module) if study.module else ""
    return [Point(study.id, config.to_dict(), int(s), study.module, fp) for s in seeds]


@dataclasses.dataclass
class StudyRun:
    """A finished study: per-seed statuses, the merge of the finite seeds, the claims per figure.

    Attributes:
        study, config, seeds: what was run.
        figures: the figures requested (all of the study's, or the one asked for).
        statuses: one dict per seed (key, status 'ok' | 'cached' | 'diverged', seconds, cause).
        seeds_result: :class:`Seeds` of the seeds that did not diverge (None if all diverged).
        checks: figure id -> its claims (empty lists if every seed diverged).
    """

    study: Study
    config: ExperimentConfig
    seeds: list[int]
    figures: list[FigureSpec]
    statuses: list[dict[str, Any]]
    seeds_result: Seeds | None
    checks: dict[str, list[Check]]
    point_keys: list[str]

    @property
    def diverged_seeds(self) -> list[int]:
        """Seeds whose point diverged (an error or non-finite values outside ``nan_ok``)."""
        return [s for s, st in zip(self.seeds, self.statuses) if st["status"] == "diverged"]

    @property
    def causes(self) -> list[str]:
        """Why each diverged seed diverged."""
        return [str(st.get("cause")) for st in self.statuses if st["status"] == "diverged"]

    @property
    def all_checks(self) -> list[Check]:
        """Every claim of every figure, in order."""
        return [c for f in self.figures for c in self.checks[f.id]]


def run_study(
    study: Study,
    config: ExperimentConfig,
    *,
    figures: Sequence[FigureSpec] | None = None,
    seeds: Sequence[int] = (0,),
    store: ResultStore | None = None,
    executor: AbstractExecutor | None = None,
    progress: bool = True,
) -> StudyRun:
    """Run (or load) every seed of a study, merge them and evaluate the figures' claims."""
    store = store or ResultStore()
    points = study_points(study, config, seeds)
    statuses = run_points(points, store, executor, progress=progress, description=study.id)
    return finish_study(study, config, list(seeds), points, statuses, store, figures)


def finish_study(
    study: Study,
    config: ExperimentConfig,
    seeds: list[int],
    points: Sequence[Point],
    statuses: list[dict[str, Any]],
    store: ResultStore,
    figures: Sequence[FigureSpec] | None = None,
) -> StudyRun:
    """Load the stored points of a study run, merge the finite seeds and evaluate the claims."""
    figures = list(figures if figures is not None else study.figures.values())
    records = [store.load(p) for p in points]
    missing = [p.seed for p, r in zip(points, records) if r is None]
    if missing:
        raise RuntimeError(f"{study.id}: results for seeds {missing} are missing from the store.")
    for st, rec in zip(statuses, records):
        st["status"] = "diverged" if rec.status == "diverged" else st["status"]
        st["cause"] = rec.cause
        st["compute_seconds"] = rec.info.get("seconds")
    finite = [r.result for r in records if r.status == "ok"]
    merged = merge_seeds(finite) if finite else None
    checks = {f.id: (f.claims(config, merged) if merged is not None else []) for f in figures}
    keys = [p.key(store.version) for p in points]
    return StudyRun(study, config, list(seeds), figures, list(statuses), merged, checks, keys)
