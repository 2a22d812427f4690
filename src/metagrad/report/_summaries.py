"""Reading the figure summaries of a result store for the report: validated, broken, stale."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

__all__ = ["BrokenSummary", "ReportError", "StoreContents", "StoredRun", "read_store"]

_SAFE_KEY = re.compile(r"[A-Za-z0-9_.-]+")


class ReportError(ValueError):
    """The report cannot be built (missing store, output path that is a file, ...)."""


@dataclasses.dataclass
class StoredRun:
    """A valid figure summary from the store.

    Attributes:
        path: its ``summary.json``.
        data: the summary (see :func:`metagrad.report.html.save_run`), optional fields filled.
        stale: why its numbers are no longer backed by the store (``""`` if they are).
    """

    path: Path
    data: dict[str, Any]
    stale: str = ""

    @property
    def run_dir(self) -> Path:
        """The directory holding the summary and its figure files."""
        return self.path.parent


@dataclasses.dataclass
class BrokenSummary:
    """A ``summary.json`` that could not be read or has the wrong shape."""

    path: Path
    reason: str


@dataclasses.dataclass
class StoreContents:
    """Newest valid summary per (figure id, scale), the broken ones, and the count superseded."""

    runs: list[StoredRun]
    broken: list[BrokenSummary]
    superseded: int


def _require(s: dict[str, Any], key: str, types: type | tuple[type, ...]) -> Any:
    if key not in s:
        raise ValueError(f"missing field {key!r}")
    v = s[key]
    if not isinstance(v, types):
        raise ValueError(f"field {key!r} has type {type(v).__name__}")
    return v


def validate_summary(s: Any) -> dict[str, Any]:
    """Return the summary with optional fields filled in; raise ValueError naming a bad field."""
    if not isinstance(s, dict):
        raise ValueError(f"top level is {type(s).__name__}, not an object")
    for key in ("id", "study", "scale", "written"):
        if not _require(s, key, str).strip():
            raise ValueError(f"field {key!r} is empty")
    checks = _require(s, "checks", list)
    for i, c in enumerate(checks):
        if not isinstance(c, dict):
            raise ValueError(f"checks[{i}] is not an object")
        if not isinstance(c.get("name"), str):
            raise ValueError(f"checks[{i}].name is missing or not a string")
        if not isinstance(c.get("passed"), bool):
            raise ValueError(f"checks[{i}].passed is missing or not true/false")
        if not isinstance(c.get("note", ""), str):
            raise ValueError(f"checks[{i}].note is not a string")
    keys = _require(s, "point_keys", list)
    if not all(isinstance(k, str) and _SAFE_KEY.fullmatch(k) for k in keys):
        raise ValueError("point_keys must be a list of plain key strings")
    if not _SAFE_KEY.fullmatch(s["study"]) or s["study"].startswith("."):
        raise ValueError("field 'study' is not a plain study id")
    defaults: dict[str, tuple[type | tuple[type, ...], Any]] = {
        "title": (str, ""),
        "paper": (str, ""),
        "config": (dict, {}),
        "seeds": (list, []),
        "statuses": (list, []),
        "diverged_seeds": (list, []),
        "causes": (list, []),
        "figures": (list, []),
        "plot_error": ((str, type(None)), None),
    }
    out = dict(s)
    for key, (types, default) in defaults.items():
        if key in s:
            _require(s, key, types)
        else:
            out[key] = default
    if not all(isinstance(f, str) for f in out["figures"]):
        raise ValueError("field 'figures' must be a list of names")
    return out


def _stale_reason(root: Path, s: dict[str, Any]) -> str:
    missing = [k for k in s["point_keys"] if not (root / s["study"] / f"{k}.json").is_file()]
    if missing:
        n = len(s["point_keys"])
        return (
            f"{len(missing)} of {n} stored points behind this summary are gone from the store "
            f"(e.g. {s['study']}/{missing[0]}.json); rerun to refresh"
        )
    return ""


def _outdated_reason(root: Path, s: dict[str, Any]) -> str:
    """Why the summary's point keys differ from those the current code would use ("" if equal)."""
    from metagrad.experiments import ConfigError, get_study
    from metagrad.sweep import ResultStore, study_points

    try:
        study = get_study(s["study"])
    except ConfigError:
        return f"study {s['study']!r} is not registered in this metagrad (renamed or removed)"
    try:
        config = study.Config.build(s["config"])
        seeds = [int(x) for x in s["seeds"]]
        version = ResultStore(root).version
        keys = [p.key(version) for p in study_points(study, config, seeds)]
    except (ConfigError, TypeError, ValueError) as err:
        return f"its config no longer builds ({type(err).__name__}: {err})"
    if keys != s["point_keys"]:
        return "the code (or metagrad version) changed since this run: its numbers are not current"
    return ""


def _written_key(s: dict[str, Any]) -> str:
    return s["written"]


def read_store(root: Path, *, check_code: bool = True) -> StoreContents:
    """Read every ``<root>/runs/<figure id>/<hash>/summary.json``.

    Keeps the newest valid summary of each (figure id, scale); lists unreadable or malformed
    files as broken (never skips them); marks a summary stale when points it was computed from are
    gone from the store or, with `check_code`, when the current code would compute other points.

    Raises:
        ReportError: `root` does not exist or is not a directory.
    """
    root = Path(root)
    if not root.exists():
        raise ReportError(f"the result store {root} does not exist (run `metagrad run` first).")
    if not root.is_dir():
        raise ReportError(f"the result store {root} is a file, not a directory.")
    newest: dict[tuple[str, str], tuple[Path, dict[str, Any]]] = {}
    broken: list[BrokenSummary] = []
    n_valid = 0
    runs_dir = root / "runs"
    paths = sorted(runs_dir.glob("*/*/summary.json")) if runs_dir.is_dir() else []
    for path in paths:
        try:
            raw = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            broken.append(BrokenSummary(path, f"unreadable: {err}"))
            continue
        try:
            data = validate_summary(json.loads(raw))
        except json.JSONDecodeError as err:
            what = "empty file" if not raw.strip() else f"not valid JSON ({err})"
            broken.append(BrokenSummary(path, what))
            continue
        except ValueError as err:
            broken.append(BrokenSummary(path, f"malformed summary: {err}"))
            continue
        n_valid += 1
        k = (data["id"], data["scale"])
        if k not in newest or _written_key(data) > _written_key(newest[k][1]):
            newest[k] = (path, data)
    runs = []
    for k in sorted(newest):
        path, data = newest[k]
        reason = _stale_reason(root, data)
        if not reason and check_code:
            reason = _outdated_reason(root, data)
        runs.append(StoredRun(path, data, reason))
    return StoreContents(runs, broken, n_valid - len(runs))
