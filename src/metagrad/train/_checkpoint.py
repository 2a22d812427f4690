"""Atomic checkpoints of a training state: array leaves plus a JSON header in one `.npz`.

A checkpoint is written to a temporary file in the same directory, flushed and fsync'ed, then
renamed over the old one with `os.replace` (atomic on POSIX), and the directory is fsync'ed:
a process killed at any instant leaves either the previous checkpoint or the new one, never a
torn file. Loading needs a template state of the same structure (the freshly initialised state
of the same config), so only arrays are stored.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import numpy as np
from jaxtyping import PyTree

__all__ = ["CheckpointError", "load_checkpoint", "save_checkpoint"]


class CheckpointError(ValueError):
    """A checkpoint that cannot be used for this run (another config, key, model or dataset)."""


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def save_checkpoint(path: str | os.PathLike, state: PyTree, header: dict[str, Any]) -> None:
    """Write the array leaves of `state` and the JSON `header` to `path` atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    leaves = jax.tree.leaves(eqx.filter(state, eqx.is_array))
    arrays = {f"leaf_{i}": np.asarray(x) for i, x in enumerate(leaves)}
    arrays["header"] = np.frombuffer(json.dumps(header).encode(), np.uint8)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def read_header(path: str | os.PathLike) -> dict[str, Any]:
    """The JSON header of a checkpoint."""
    with np.load(path) as z:
        return json.loads(bytes(z["header"]).decode())


def load_checkpoint(path: str | os.PathLike, template: PyTree) -> tuple[PyTree, dict[str, Any]]:
    """`(state, header)` from `path`, the arrays placed into the structure of `template`.

    Raises:
        CheckpointError: if the number, shapes or dtypes of the arrays differ from the template
            (a checkpoint of another model or method).
    """
    arrays, static = eqx.partition(template, eqx.is_array)
    leaves, treedef = jax.tree.flatten(arrays)
    with np.load(path) as z:
        header = json.loads(bytes(z["header"]).decode())
        stored = [z[f"leaf_{i}"] for i in range(sum(k.startswith("leaf_") for k in z.files))]
    if len(stored) != len(leaves):
        raise CheckpointError(
            f"checkpoint {path} holds {len(stored)} arrays, this run's state {len(leaves)}: "
            "it was written for another model or method; use another run directory"
        )
    for i, (a, b) in enumerate(zip(stored, leaves)):
        if a.shape != b.shape or a.dtype != b.dtype:
            raise CheckpointError(
                f"checkpoint {path}: array {i} is {a.dtype}{list(a.shape)}, this run needs "
                f"{b.dtype}{list(b.shape)}: another model; use another run directory"
            )
    restored = jax.tree.unflatten(treedef, [jax.numpy.asarray(a) for a in stored])
    return eqx.combine(restored, static), header
