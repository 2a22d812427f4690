"""Content-addressed, atomically written, verified result store.

Layout: ``<root>/<study id>/<key>.npz`` (the result's arrays, flattened by path) and ``<key>.json``
(the record: study, config, seed, version, code fingerprint, result layout, status, divergence
cause, timings, and a SHA-256 digest over the arrays *and* the record). The JSON is written last,
so it is the commit marker: a point without it does not exist.

Every load verifies the record as a whole: the digest, the key recomputed from the stored study,
config, seed, version and fingerprint, the record's shape, and that the arrays rebuild the result.
A record that fails is reported with its path, moved aside to ``<root>/_quarantine/`` and
recomputed. Computing a point holds a per-point lock file, so concurrent runs on one store never
compute the same point twice nor corrupt each other.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import io
import json
import os
import tempfile
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from metagrad._env import results_dir
from metagrad.experiments import flatten, nonfinite, unflatten

__all__ = [
    "CorruptEntryWarning",
    "Point",
    "Record",
    "ResultStore",
    "StoreError",
    "atomic_write_bytes",
    "to_jsonable",
]

FORMAT = 2
_STALE_TMP_SECONDS = 600.0


class CorruptEntryWarning(UserWarning):
    """A store record failed verification; it was moved aside and will be recomputed."""


class StoreError(OSError):
    """The result store cannot be used (not a directory, not writable)."""


@dataclasses.dataclass(frozen=True)
class Point:
    """One unit of work: a study id, a config (a plain dict), an integer seed, a code fingerprint.

    `module` is the module defining the study (workers import it before looking the id up, so
    studies defined outside metagrad work too); `fingerprint` hashes the source of that module and
    of every metagrad module it imports, so editing the code a study uses changes the key.
    """

    study: str
    config: dict[str, Any]
    seed: int
    module: str = ""
    fingerprint: str = ""

    def key(self, version: str) -> str:
        """Hash of (study id, config, seed, metagrad version, code fingerprint): the cache key."""
        return _key(self.study, self.config, self.seed, version, self.fingerprint)


def _key(study: str, config: Any, seed: Any, version: Any, fingerprint: Any) -> str:
    payload = json.dumps(
        {"id": study, "config": config, "seed": seed, "version": version, "code": fingerprint},
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:20]


@dataclasses.dataclass(frozen=True)
class Record:
    """A verified stored point.

    Attributes:
        result: the result tree, or None when the run raised a divergence error.
        status: 'ok' or 'diverged'.
        cause: why it diverged (the error message or the non-finite fields), else None.
        info: timings and other run information.
    """

    result: Any
    status: str
    cause: str | None
    info: dict[str, Any]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` atomically: a unique temporary file beside it, fsync, rename.

    The file gets the permissions a normally created file would get (0o666 minus the umask).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
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
        return to_jsonable(np.asarray(obj).tolist())
    if isinstance(obj, float) and not np.isfinite(obj):
        return repr(obj)
    return obj


def _digest(data: bytes, record: dict[str, Any]) -> str:
    body = {k: v for k, v in record.items() if k != "digest"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(data + b"\0" + text.encode()).hexdigest()


_FIELDS = {
    "format": int,
    "study": str,
    "config": dict,
    "seed": int,
    "version": str,
    "fingerprint": str,
    "key": str,
    "status": str,
    "info": dict,
    "digest": str,
}


def _validate(record: Any, point: Point, version: str) -> None:
    if not isinstance(record, dict):
        raise ValueError(f"record is a JSON {type(record).__name__}, not an object")
    for name, tp in _FIELDS.items():
        if name not in record:
            raise ValueError(f"record lacks {name!r}")
        if not isinstance(record[name], tp) or (tp is int and isinstance(record[name], bool)):
            raise ValueError(f"record field {name!r} is a {type(record[name]).__name__}")
    if record["format"] != FORMAT:
        raise ValueError(f"record format {record['format']} is not {FORMAT}")
    if record["status"] not in ("ok", "diverged"):
        raise ValueError(f"status {record['status']!r} is neither 'ok' nor 'diverged'")
    if record["status"] == "ok" and not isinstance(record.get("layout"), dict):
        raise ValueError("an 'ok' record has no result layout")
    stored = _key(
        record["study"], record["config"], record["seed"], record["version"], record["fingerprint"]
    )
    if stored != record["key"] or stored != point.key(version):
        raise ValueError("the key recomputed from the record's study/config/seed/code does not match")


class ResultStore:
    """Results keyed by :meth:`Point.key`, under `root` (default ``$METAGRAD_RESULTS`` or ./results).

    Raises:
        StoreError: `root` exists and is not a directory, or cannot be created or written.
    """

    def __init__(self, root: str | os.PathLike | None = None, version: str | None = None):
        from metagrad import __version__

        if root is not None and str(root).strip() == "":
            raise StoreError("the result store path is empty: pass a directory, e.g. --results results")
        self.root = results_dir(root)
        self.version = version or __version__

    def ensure_writable(self) -> None:
        """Create the store directory if needed; raise :class:`StoreError` if it is unusable."""
        if self.root.exists() and not self.root.is_dir():
            raise StoreError(f"the result store {self.root} is a file, not a directory.")
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=self.root):
                pass
        except OSError as err:
            raise StoreError(f"the result store {self.root} is not writable ({err.strerror}).") from err

    def paths(self, point: Point) -> tuple[Path, Path]:
        """(npz path, json path) of a point."""
        base = self.root / point.study / point.key(self.version)
        return base.with_suffix(".npz"), base.with_suffix(".json")

    def save(
        self,
        point: Point,
        result: Any,
        info: dict[str, Any] | None = None,
        *,
        cause: str | None = None,
    ) -> Record:
        """Write a result (or, with ``result=None``, a diverged point and its `cause`) atomically."""
        npz_path, json_path = self.paths(point)
        arrays, layout = flatten(result) if result is not None else ({}, None)
        bad = nonfinite(result) if result is not None else []
        if bad and cause is None:
            cause = "non-finite values in " + ", ".join(bad)
        status = "diverged" if (result is None or bad) else "ok"
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        data = buf.getvalue()
        record = to_jsonable(
            {
                "format": FORMAT,
                "study": point.study,
                "config": point.config,
                "seed": point.seed,
                "version": self.version,
                "fingerprint": point.fingerprint,
                "key": point.key(self.version),
                "status": status,
                "cause": cause,
                "nonfinite": bad,
                "layout": layout,
                "info": info or {},
            }
        )
        # the digest is taken over the JSON as it will be read back
        record = json.loads(json.dumps(record))
        record["digest"] = _digest(data, record)
        atomic_write_bytes(npz_path, data)
        atomic_write_bytes(json_path, json.dumps(record, indent=1).encode())
        return Record(result, status, cause, record["info"])

    def load(self, point: Point) -> Record | None:
        """The verified record of a point, or None on a miss (a bad record is moved aside)."""
        npz_path, json_path = self.paths(point)
        if not json_path.exists():
            return None
        try:
            record = json.loads(json_path.read_text())
            _validate(record, point, self.version)
            data = npz_path.read_bytes() if npz_path.exists() else b""
            if _digest(data, record) != record["digest"]:
                raise ValueError("digest over arrays and record does not match (edited or damaged)")
            result = None
            if record.get("layout") is not None:
                with np.load(io.BytesIO(data), allow_pickle=False) as z:
                    arrays = {k: z[k] for k in z.files}
                result = unflatten(arrays, record["layout"])
            bad = nonfinite(result) if result is not None else ["(no result)"]
            if (record["status"] == "ok") == bool(bad):
                raise ValueError(f"status {record['status']!r} contradicts the values ({bad})")
            return Record(result, record["status"], record.get("cause"), record["info"])
        except (OSError, ValueError, KeyError, TypeError, AttributeError, ImportError) as err:
            self._quarantine(json_path, npz_path, err)
            return None

    def _quarantine(self, json_path: Path, npz_path: Path, err: Exception) -> None:
        dest = self.root / "_quarantine" / json_path.parent.name
        dest.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%dT%H%M%S")
        for p in (json_path, npz_path):
            with contextlib.suppress(OSError):
                os.replace(p, dest / f"{p.stem}.{stamp}{p.suffix}")
        warnings.warn(
            f"bad result record {json_path} ({type(err).__name__}: {err}); moved to {dest} "
            "and recomputed.",
            CorruptEntryWarning,
            stacklevel=3,
        )

    def record(self, point: Point) -> dict[str, Any] | None:
        """The raw JSON record of a point (status, timings), or None."""
        _, json_path = self.paths(point)
        try:
            return json.loads(json_path.read_text())
        except (OSError, json.JSONDecodeError):
            return None

    @contextlib.contextmanager
    def lock(self, point: Point) -> Iterator[None]:
        """Hold the point's lock file (blocking) so that one process computes it at a time."""
        _, json_path = self.paths(point)
        json_path.parent.mkdir(parents=True, exist_ok=True)
        with open(json_path.with_suffix(".lock"), "a") as fh:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)

    def clean_stale_temporaries(self, max_age: float = _STALE_TMP_SECONDS) -> int:
        """Delete temporary files left by killed runs (older than `max_age` seconds); return count."""
        now, n = time.time(), 0
        if not self.root.is_dir():
            return 0
        for p in self.root.rglob(".*.tmp"):
            with contextlib.suppress(OSError):
                if now - p.stat().st_mtime > max_age:
                    p.unlink()
                    n += 1
        return n
