"""Content-addressed, atomically written result store.

Layout: ``<root>/<experiment id>/<key>.npz`` (arrays) and ``<key>.json`` (scalars, metadata, config,
seed, version and the SHA-256 of the ``.npz``). The JSON is written last, so it is the commit marker:
an entry without it does not exist; an entry whose ``.npz`` is missing or does not match the recorded
hash is corrupt, reported, deleted and recomputed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from metagrad._env import results_dir
from metagrad.experiments._base import Result

__all__ = ["CorruptEntryWarning", "Point", "ResultStore", "atomic_write_bytes", "to_jsonable"]


class CorruptEntryWarning(UserWarning):
    """A store entry failed its integrity check and will be recomputed."""


@dataclasses.dataclass(frozen=True)
class Point:
    """One unit of work: an experiment id, a config (as a plain dict) and an integer seed.

    `module` is the module defining the experiment; workers import it before looking the id up,
    so experiments defined outside metagrad work too.
    """

    exp_id: str
    config: dict[str, Any]
    seed: int
    module: str = ""

    def key(self, version: str) -> str:
        """Hash of (experiment id, config, seed, metagrad version): the cache key."""
        payload = json.dumps(
            {"id": self.exp_id, "config": self.config, "seed": self.seed, "version": version},
            sort_keys=True,
            default=str,
        )
        return hashlib.sha256(payload.encode()).hexdigest()[:20]


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` atomically: a temporary file in the same directory, fsync, rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def to_jsonable(obj: Any) -> Any:
    """Convert NumPy values and non-finite floats to plain JSON-serialisable values."""
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, (np.generic, np.ndarray)):
        return np.asarray(obj).tolist()
    if isinstance(obj, float) and not np.isfinite(obj):
        return repr(obj)
    return obj


class ResultStore:
    """Results keyed by :meth:`Point.key`, under `root` (default ``$METAGRAD_RESULTS`` or ./results)."""

    def __init__(self, root: str | os.PathLike | None = None, version: str | None = None):
        from metagrad import __version__

        self.root = results_dir(root)
        self.version = version or __version__

    def paths(self, point: Point) -> tuple[Path, Path]:
        """(npz path, json path) of a point."""
        base = self.root / point.exp_id / point.key(self.version)
        return base.with_suffix(".npz"), base.with_suffix(".json")

    def save(self, point: Point, result: Result, info: dict[str, Any] | None = None) -> None:
        """Write a result atomically (arrays first, then the JSON commit marker)."""
        npz_path, json_path = self.paths(point)
        buf = io.BytesIO()
        np.savez(buf, **result.arrays)
        data = buf.getvalue()
        atomic_write_bytes(npz_path, data)
        record = {
            "exp_id": point.exp_id,
            "config": point.config,
            "seed": point.seed,
            "version": self.version,
            "sha256": hashlib.sha256(data).hexdigest(),
            "scalars": {k: repr(v) for k, v in result.scalars.items()},
            "meta": result.meta,
            "nan_ok": list(result.nan_ok),
            "status": "diverged" if result.diverged else "ok",
            "nonfinite": result.nonfinite(),
            "info": info or {},
        }
        atomic_write_bytes(json_path, json.dumps(to_jsonable(record), indent=1).encode())

    def load(self, point: Point) -> Result | None:
        """The stored result, or None on a miss; a corrupt entry is reported, removed, and missed."""
        npz_path, json_path = self.paths(point)
        if not json_path.exists():
            return None
        try:
            record = json.loads(json_path.read_text())
            data = npz_path.read_bytes()
            if hashlib.sha256(data).hexdigest() != record["sha256"]:
                raise ValueError("array file does not match its recorded SHA-256")
            with np.load(io.BytesIO(data), allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
            scalars = {k: float(v) for k, v in record["scalars"].items()}
            return Result(arrays, scalars, record["meta"], tuple(record.get("nan_ok", ())))
        except (OSError, ValueError, KeyError, json.JSONDecodeError) as err:
            warnings.warn(
                f"corrupt result entry {json_path} ({err}); it will be recomputed.",
                CorruptEntryWarning,
                stacklevel=2,
            )
            for p in (json_path, npz_path):
                p.unlink(missing_ok=True)
            return None

    def record(self, point: Point) -> dict[str, Any] | None:
        """The JSON record of a point (status, timings), or None."""
        _, json_path = self.paths(point)
        try:
            return json.loads(json_path.read_text())
        except (OSError, json.JSONDecodeError):
            return None
