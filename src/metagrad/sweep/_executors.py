"""Executors: one interface to run sweep points in-process, in a local process pool or on Dask.

Each point is computed by :func:`compute_point` in the worker, which writes its result to the store
itself. A sweep killed at any moment therefore keeps every finished point, and the parent process
only reads the store.
"""

from __future__ import annotations

import abc
import importlib
import multiprocessing
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any

from metagrad._env import default_workers
from metagrad.sweep._store import Point, ResultStore

__all__ = [
    "AbstractExecutor",
    "DaskExecutor",
    "InlineExecutor",
    "LocalExecutor",
    "compute_point",
    "make_executor",
]


def compute_point(point: Point, root: str, version: str) -> dict[str, Any]:
    """Compute one point (unless stored) and store it; returns a small status summary.

    Runs in the worker, holding the point's lock (another process computing the same point makes
    this one wait, then find it stored). A run that raises a divergence error (any
    ``FloatingPointError``, e.g. :class:`metagrad.algorithms.DivergenceError`) or returns non-finite
    values outside ``nan_ok`` is stored as 'diverged' with its cause; the sweep goes on.
    """
    import jax.random as jr

    from metagrad.experiments import get_study

    store = ResultStore(root, version)
    key = point.key(version)
    with store.lock(point):
        rec = store.load(point)
        if rec is not None:
            return {"key": key, "status": "cached", "seconds": 0.0, "cause": rec.cause}
        if point.module:
            importlib.import_module(point.module)
        study = get_study(point.study)
        config = study.Config.build(point.config)
        start = time.perf_counter()
        info: dict[str, Any] = {}
        try:
            result, cause = study.compute(config, key=jr.PRNGKey(point.seed)), None
        except FloatingPointError as err:
            result, cause = None, f"{type(err).__name__}: {err}"
            info["step"] = getattr(err, "meta_step", None)
        seconds = info["seconds"] = time.perf_counter() - start
        rec = store.save(point, result, info, cause=cause)
    return {"key": key, "status": rec.status, "seconds": seconds, "cause": rec.cause}


class AbstractExecutor(abc.ABC):
    """Runs a function over points and yields (index, value) as each finishes."""

    @abc.abstractmethod
    def map_unordered(
        self, fn: Callable[..., Any], items: Sequence[tuple[Any, ...]]
    ) -> Iterator[tuple[int, Any]]:
        """Apply `fn(*item)` to each item; yield `(index, value)` in completion order."""

    def close(self) -> None:
        """Release resources."""


class InlineExecutor(AbstractExecutor):
    """Runs points one after the other in this process (no start-up cost; easiest to debug)."""

    def map_unordered(self, fn, items):
        for i, item in enumerate(items):
            yield i, fn(*item)


class LocalExecutor(AbstractExecutor):
    """A pool of local processes started with the *spawn* method (JAX is not fork-safe)."""

    def __init__(self, workers: int | None = None):
        self.workers = workers or default_workers()

    def map_unordered(self, fn, items):
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=self.workers, mp_context=ctx) as pool:
            futures = {pool.submit(fn, *item): i for i, item in enumerate(items)}
            for fut in as_completed(futures):
                yield futures[fut], fut.result()


class DaskExecutor(AbstractExecutor):
    """Sends points to a Dask distributed cluster.

    Args:
        scheduler: a scheduler address (``tcp://host:8786``), an existing ``Client``, or None to
            start a ``LocalCluster`` on this machine (to try the cluster path on one machine).
        workers: worker processes of the local cluster (default: the machine's cores).
        timeout: seconds to wait for the scheduler before a clear error.
    """

    def __init__(self, scheduler: Any = None, *, workers: int | None = None, timeout: float = 10.0):
        from dask.distributed import Client, LocalCluster

        self._cluster = None
        self._own = not isinstance(scheduler, Client)
        if scheduler is None:
            self._cluster = LocalCluster(
                n_workers=workers or default_workers(),
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
            )
            scheduler = self._cluster.scheduler_address
        if self._own:
            try:
                self.client = Client(scheduler, timeout=timeout)
            except (OSError, TimeoutError) as err:
                if self._cluster is not None:
                    self._cluster.close()
                raise ConnectionError(
                    f"cannot reach the Dask scheduler at {scheduler} within {timeout:g} s "
                    f"({type(err).__name__}); start one with `dask scheduler` or omit --scheduler "
                    "to use a local cluster."
                ) from err
        else:
            self.client = scheduler

    def map_unordered(self, fn, items):
        from dask.distributed import as_completed as dask_completed

        futures = [self.client.submit(fn, *item, pure=False) for item in items]
        index = {f.key: i for i, f in enumerate(futures)}
        for fut in dask_completed(futures):
            yield index[fut.key], fut.result()

    def close(self) -> None:
        if self._own:
            self.client.close()
        if self._cluster is not None:
            self._cluster.close()


def make_executor(name: str = "local", *, workers: int | None = None, scheduler: Any = None):
    """Build an executor by name: 'inline', 'local' (process pool) or 'dask'."""
    if name == "inline":
        return InlineExecutor()
    if name == "local":
        n = workers or default_workers()
        return InlineExecutor() if n == 1 else LocalExecutor(n)
    if name == "dask":
        return DaskExecutor(scheduler, workers=workers)
    raise ValueError(
        f"executor={name!r} is not allowed: expected one of 'inline', 'local', 'dask'."
    )
