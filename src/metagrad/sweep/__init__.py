"""Execution of many points: content-addressed cache, local and Dask executors, progress."""

from metagrad.sweep._executors import (
    AbstractExecutor as AbstractExecutor,
)
from metagrad.sweep._executors import (
    DaskExecutor as DaskExecutor,
)
from metagrad.sweep._executors import (
    InlineExecutor as InlineExecutor,
)
from metagrad.sweep._executors import (
    LocalExecutor as LocalExecutor,
)
from metagrad.sweep._executors import (
    compute_point as compute_point,
)
from metagrad.sweep._executors import (
    make_executor as make_executor,
)
from metagrad.sweep._store import (
    CorruptEntryWarning as CorruptEntryWarning,
)
from metagrad.sweep._store import (
    Point as Point,
)
from metagrad.sweep._store import (
    ResultStore as ResultStore,
)
from metagrad.sweep._store import (
    atomic_write_bytes as atomic_write_bytes,
)
from metagrad.sweep._store import (
    to_jsonable as to_jsonable,
)
from metagrad.sweep._sweep import (
    ExperimentRun as ExperimentRun,
)
from metagrad.sweep._sweep import (
    experiment_points as experiment_points,
)
from metagrad.sweep._sweep import (
    finish_experiment as finish_experiment,
)
from metagrad.sweep._sweep import (
    run_experiment as run_experiment,
)
from metagrad.sweep._sweep import (
    run_points as run_points,
)

__all__ = [
    "AbstractExecutor",
    "CorruptEntryWarning",
    "DaskExecutor",
    "ExperimentRun",
    "InlineExecutor",
    "LocalExecutor",
    "Point",
    "ResultStore",
    "atomic_write_bytes",
    "compute_point",
    "experiment_points",
    "finish_experiment",
    "make_executor",
    "run_experiment",
    "run_points",
    "to_jsonable",
]
