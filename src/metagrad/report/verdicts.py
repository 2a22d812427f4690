"""Recorded verdicts: each figure's claims at a scale, kept in the repository as ``docs/verdicts.json``.

A paper-scale run takes minutes to hours; its verdict (every claim with its measured value, the
compute cost, when, with which version and commit) is worth keeping where everybody can read it.
``metagrad record`` copies the current (non-stale) figure summaries of a result store into the file;
the README's experiment table (:mod:`metagrad.report.readme`) and the HTML report read it, so a
report built from a store that only holds quick runs still shows the paper-scale verdicts beside them.

The file is generated: never edit it by hand. Its entries have the fields of a figure summary (see
:func:`metagrad.report.html.save_run`) plus ``recorded`` (date of recording), ``version``,
``commit`` and ``compute_seconds`` (the summed wall-clock time of the seeds' computations, cached
seeds counted with the time they took when computed, on whatever load that machine had).
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from metagrad.report._summaries import read_store, validate_summary
from metagrad.sweep import atomic_write_bytes, to_jsonable

__all__ = [
    "FORMAT",
    "default_path",
    "load_verdicts",
    "record_verdicts",
    "repo_root",
    "tally",
]

FORMAT = 1
_FIELDS = (
    "id", "study", "title", "paper", "scale", "config", "seeds", "diverged_seeds", "causes",
    "checks", "written",
)


def repo_root() -> Path | None:
    """The source checkout holding this package (has docs/ and pyproject.toml), if any."""
    root = Path(__file__).resolve().parents[3]
    if (root / "docs").is_dir() and (root / "pyproject.toml").is_file():
        return root
    return None


def default_path() -> Path | None:
    """``docs/verdicts.json`` of the source checkout holding this package (None when installed)."""
    root = repo_root()
    return None if root is None else root / "docs" / "verdicts.json"


def load_verdicts(path: Path | None = None) -> dict[tuple[str, str], dict[str, Any]]:
    """The recorded verdicts by (figure id, scale); empty when the file does not exist.

    Raises:
        ValueError: the file exists but is not a verdict file of this format (names the entry).
    """
    path = default_path() if path is None else Path(path)
    if path is None or not path.is_file():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(f"{path}: not a metagrad verdict file of format {FORMAT}.")
    out = {}
    for i, entry in enumerate(data.get("verdicts", [])):
        try:
            entry = validate_summary({**entry, "point_keys": []})
        except ValueError as err:
            raise ValueError(f"{path}: verdicts[{i}] is malformed: {err}") from err
        out[(entry["id"], entry["scale"])] = entry
    return out


def _commit() -> str:
    """The git commit of the source checkout (with ``+dirty`` for local changes), or ``""``."""
    root = repo_root()
    if root is None:
        return ""
    try:
        head = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short=12", "HEAD"],
            capture_output=True, text=True, check=True, timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no", "src"],
            capture_output=True, text=True, check=True, timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""
    return head + ("+dirty" if dirty else "")


def _entry(summary: dict[str, Any], *, recorded: str, version: str, commit: str) -> dict[str, Any]:
    seconds = [st.get("compute_seconds") for st in summary["statuses"]]
    known = [float(s) for s in seconds if isinstance(s, (int, float))]
    return {
        **{k: summary[k] for k in _FIELDS},
        "compute_seconds": sum(known) if len(known) == len(seconds) and known else None,
        "recorded": recorded,
        "version": version,
        "commit": commit,
    }


def record_verdicts(
    results_root: Path,
    path: Path,
    *,
    scale: str = "paper",
    ids: Sequence[str] | None = None,
    check_code: bool = True,
) -> tuple[list[str], list[str]]:
    """Copy the store's current summaries at `scale` into the verdict file at `path`.

    Summaries whose points are gone or were computed by other code (stale) are not recorded.
    Entries of other figures and scales in the file are kept.

    Args:
        results_root: the result store.
        path: the verdict file (created if missing).
        scale: which scale to record.
        ids: figure ids to record (default: every figure with a summary at `scale`).
        check_code: also skip summaries the current code would compute differently.

    Returns:
        (recorded figure ids, skipped ``"id: reason"`` strings).
    """
    from metagrad import __version__

    path = Path(path)
    existing = load_verdicts(path)
    contents = read_store(Path(results_root), check_code=check_code)
    now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    commit = _commit()
    recorded, skipped = [], []
    wanted = set(ids) if ids else None
    for run in contents.runs:
        s = run.data
        if s["scale"] != scale or (wanted is not None and s["id"] not in wanted):
            continue
        if run.stale:
            skipped.append(f"{s['id']}: {run.stale}")
            continue
        existing[(s["id"], scale)] = _entry(s, recorded=now, version=__version__, commit=commit)
        recorded.append(s["id"])
    if wanted is not None:
        skipped += [f"{i}: no summary at {scale} scale" for i in sorted(wanted - set(recorded))
                    if not any(sk.startswith(f"{i}: ") for sk in skipped)]
    payload = {
        "format": FORMAT,
        "note": "generated by `metagrad record`; do not edit",
        "verdicts": [existing[k] for k in sorted(existing)],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, (json.dumps(to_jsonable(payload), indent=1) + "\n").encode())
    return recorded, skipped


def tally(entry: dict[str, Any] | None) -> str:
    """Short verdict for tables: ``"3/4"`` claims passing, ``"diverged"``, or ``"—"`` (not run)."""
    if entry is None:
        return "—"
    checks = entry["checks"]
    if not checks:
        return "diverged" if entry["diverged_seeds"] else "no claims"
    return f"{sum(c['passed'] for c in checks)}/{len(checks)}"
