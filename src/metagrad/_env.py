"""The one place where metagrad reads environment variables.

- ``METAGRAD_RESULTS``: directory of the result store (default ``./results``).
- ``METAGRAD_X64``: ``0`` keeps JAX in 32-bit mode (default ``1``: float64 on).
- ``METAGRAD_WORKERS``: number of local worker processes (default: the machine's cores).
- ``METAGRAD_DATA``: cache of few-shot datasets (default ``~/.cache/metagrad``).
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["data_dir", "default_workers", "enable_x64_from_env", "results_dir"]


def enable_x64_from_env() -> None:
    """Turn on ``jax_enable_x64`` unless ``METAGRAD_X64=0``."""
    if os.environ.get("METAGRAD_X64", "1") != "0":
        import jax

        jax.config.update("jax_enable_x64", True)


def data_dir(override: str | os.PathLike | None = None) -> Path:
    """Root of the dataset cache: `override`, else ``$METAGRAD_DATA``, else ``~/.cache/metagrad``."""
    if override is not None:
        return Path(override)
    env = os.environ.get("METAGRAD_DATA")
    return Path(env) if env else Path.home() / ".cache" / "metagrad"


def results_dir(override: str | os.PathLike | None = None) -> Path:
    """Directory of the result store: `override`, else ``$METAGRAD_RESULTS``, else ``./results``."""
    return Path(override or os.environ.get("METAGRAD_RESULTS", "results"))


def default_workers() -> int:
    """Local worker count: ``$METAGRAD_WORKERS`` or the number of usable cores."""
    env = os.environ.get("METAGRAD_WORKERS")
    if env:
        try:
            n = int(env)
        except ValueError:
            n = 0
        if n < 1:
            raise ValueError(f"METAGRAD_WORKERS={env!r} is not allowed: expected an integer >= 1.")
        return n
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)
