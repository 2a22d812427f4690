"""The one place where metagrad reads environment variables.

- ``METAGRAD_RESULTS``: directory of the result store (default ``./results``).
- ``METAGRAD_X64``: ``0`` keeps JAX in 32-bit mode (default ``1``: float64 on).
- ``METAGRAD_WORKERS``: number of local worker processes (default: the machine's cores).
- ``METAGRAD_DATA``: cache of few-shot datasets (default ``~/.cache/metagrad``).
- ``METAGRAD_JAX_CACHE``: JAX's persistent compilation cache of the `metagrad` command (default
  ``~/.cache/metagrad/jax``; ``off`` disables it). The library itself never turns it on.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = [
    "compilation_cache_dir",
    "data_dir",
    "default_workers",
    "enable_compilation_cache_from_env",
    "enable_x64_from_env",
    "results_dir",
]

_OFF = ("", "0", "off", "none", "false")


def enable_x64_from_env() -> None:
    """Turn on ``jax_enable_x64`` unless ``METAGRAD_X64=0``."""
    if os.environ.get("METAGRAD_X64", "1") != "0":
        import jax

        jax.config.update("jax_enable_x64", True)


def compilation_cache_dir() -> Path | None:
    """JAX compilation cache of the command: ``$METAGRAD_JAX_CACHE`` (None if ``off``), else
    ``$JAX_COMPILATION_CACHE_DIR`` when the user set JAX's own, else ``~/.cache/metagrad/jax``."""
    env = os.environ.get("METAGRAD_JAX_CACHE")
    if env is not None:
        return None if env.strip().lower() in _OFF else Path(env)
    jax_env = os.environ.get("JAX_COMPILATION_CACHE_DIR")
    return Path(jax_env) if jax_env else Path.home() / ".cache" / "metagrad" / "jax"


def enable_compilation_cache_from_env(min_compile_seconds: float = 1.0) -> Path | None:
    """Turn on JAX's persistent compilation cache at `compilation_cache_dir()` (the CLI calls it).

    Programs that took at least `min_compile_seconds` to compile are stored, so a second run of
    a compile-bound study (a quick scale, most tests of a study) skips XLA's compilation. The
    setting also goes into the environment, so the spawned workers of the local pool share it.
    Returns the directory, or None when disabled.
    """
    path = compilation_cache_dir()
    if path is None:
        return None
    os.environ["JAX_COMPILATION_CACHE_DIR"] = str(path)
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", str(min_compile_seconds))
    import jax

    jax.config.update("jax_compilation_cache_dir", str(path))
    jax.config.update(
        "jax_persistent_cache_min_compile_time_secs",
        float(os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"]),
    )
    return path


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
