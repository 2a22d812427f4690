"""Execution of many points: content-addressed verified store, local and Dask executors, progress."""

from metagrad.sweep._executors import AbstractExecutor as AbstractExecutor
from metagrad.sweep._executors import DaskExecutor as DaskExecutor
from metagrad.sweep._executors import InlineExecutor as InlineExecutor
from metagrad.sweep._executors import LocalExecutor as LocalExecutor
from metagrad.sweep._executors import compute_point as compute_point
from metagrad.sweep._executors import make_executor as make_executor
from metagrad.sweep._store import CorruptEntryWarning as CorruptEntryWarning
from metagrad.sweep._store import Point as Point
from metagrad.sweep._store import Record as Record
from metagrad.sweep._store import ResultStore as ResultStore
from metagrad.sweep._store import StoreError as StoreError
from metagrad.sweep._store import atomic_write_bytes as atomic_write_bytes
from metagrad.sweep._store import to_jsonable as to_jsonable
from metagrad.sweep._sweep import StudyRun as StudyRun
from metagrad.sweep._sweep import finish_study as finish_study
from metagrad.sweep._sweep import run_points as run_points
from metagrad.sweep._sweep import run_study as run_study
from metagrad.sweep._sweep import study_points as study_points

__all__ = [
    "AbstractExecutor",
    "CorruptEntryWarning",
    "DaskExecutor",
    "InlineExecutor",
    "LocalExecutor",
    "Point",
    "Record",
    "ResultStore",
    "StoreError",
    "StudyRun",
    "atomic_write_bytes",
    "compute_point",
    "finish_study",
    "make_executor",
    "run_points",
    "run_study",
    "study_points",
    "to_jsonable",
]
