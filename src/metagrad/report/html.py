"""Saving a finished experiment (figures, summary) and building the HTML report from the store.

The report (``<out>/index.html``, images under ``<out>/figures/``) is grouped by paper: per paper the
figures and tables reproduced, the claims checked and passing at each scale, the documented
deviations (linked to the paper's docs page) and what is not implemented (from
:mod:`metagrad.report.papers`); then every figure with its images and its claims, the paper-scale
rows beside the quick ones. Unreadable summaries are listed as broken, figures whose stored points
are gone (or whose code changed) as stale: neither is ever counted as passing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from metagrad.report._summaries import BrokenSummary, ReportError, StoredRun, read_store
from metagrad.report.verdicts import load_verdicts, repo_root
from metagrad.sweep import StudyRun, atomic_write_bytes, to_jsonable

__all__ = [
    "BrokenSummary",
    "ReportError",
    "StoredRun",
    "build_report",
    "load_summaries",
    "save_run",
    "save_study_run",
]


def _run_dir(root: Path, fig_id: str, run: StudyRun, scale: str) -> Path:
    payload = json.dumps([run.config.to_dict(), run.seeds, scale], sort_keys=True, default=str)
    return root / "runs" / fig_id / hashlib.sha256(payload.encode()).hexdigest()[:16]


def _save_figure(fig, path: Path) -> None:
    """Save a matplotlib figure atomically under a unique temporary name (concurrent runs)."""
    import os
    import tempfile

    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=path.suffix)
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=110, bbox_inches="tight")
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def save_run(run: StudyRun, figure, root: Path, *, scale: str, formats=("png", "svg")) -> dict:
    """Write one figure of a study run and its `summary.json` under ``<root>/runs/<fig id>/<hash>/``.

    A run whose seeds all diverged is not plotted; its summary says which seeds diverged and why.
    Returns the summary (with ``"output"``: the directory).
    """
    import matplotlib.pyplot as plt

    out = _run_dir(Path(root), figure.id, run, scale)
    out.mkdir(parents=True, exist_ok=True)
    figures: list[str] = []
    plot_error = None
    if run.seeds_result is not None:
        try:
            for name, fig in figure.plot(run.config, run.seeds_result).items():
                for fmt in formats:
                    _save_figure(fig, out / f"{name}.{fmt}")
                figures.append(name)
                plt.close(fig)
        except Exception as err:  # a plotting bug must not lose the numbers; reported and exit != 0
            plot_error = f"{type(err).__name__}: {err}"
    summary = {
        "id": figure.id,
        "study": run.study.id,
        "title": figure.title,
        "paper": run.study.paper,
        "scale": scale,
        "config": run.config.to_dict(),
        "seeds": run.seeds,
        "statuses": run.statuses,
        "point_keys": run.point_keys,
        "diverged_seeds": run.diverged_seeds,
        "causes": run.causes,
        "checks": [c.to_dict() for c in run.checks[figure.id]],
        "figures": figures,
        "plot_error": plot_error,
        "output": str(out),
        "written": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }
    atomic_write_bytes(out / "summary.json", json.dumps(to_jsonable(summary), indent=1).encode())
    return summary


def save_study_run(run: StudyRun, root: Path, *, scale: str) -> list[dict]:
    """Save every figure of a study run (see :func:`save_run`); returns their summaries."""
    return [save_run(run, f, root, scale=scale) for f in run.figures]


def load_summaries(root: Path) -> list[tuple[Path, dict[str, Any]]]:
    """The newest valid summary of each (figure id, scale) under `root`: (run directory, summary).

    Broken files are not returned here; :func:`build_report` lists them.

    Raises:
        ReportError: `root` does not exist or is not a directory.
    """
    return [(r.run_dir, r.data) for r in read_store(Path(root), check_code=False).runs]


def _docs_linker(out_dir: Path, docs_base: str | None):
    """A function (paper, anchor) -> href of the paper's docs page (None: no link)."""
    import urllib.parse

    repo = repo_root()
    if docs_base is None and repo is not None:
        base = Path(os.path.relpath(repo, out_dir.resolve())).as_posix()
    else:
        base = docs_base

    def link(paper, anchor: str) -> str | None:
        if base is None:
            return None
        if docs_base is None and repo is not None and not (repo / paper.docs).is_file():
            return None
        href = base.rstrip("/") + "/" + urllib.parse.quote(paper.docs)
        return href + ("#" + anchor if anchor else "")

    return link


def _check_out_dir(out_dir: Path) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise ReportError(f"--out {out_dir} is a file, not a directory.")
    for parent in out_dir.parents:
        if parent.exists():
            if not parent.is_dir():
                raise ReportError(f"--out {out_dir}: {parent} is a file, not a directory.")
            break


def build_report(
    results_root: Path,
    out_dir: Path,
    *,
    docs_base: str | None = None,
    check_code: bool = True,
    verdicts: Path | None = None,
) -> Path:
    """Write ``<out_dir>/index.html`` (and ``<out_dir>/figures/``) from the store; return its path.

    Args:
        results_root: the result store (must exist).
        out_dir: the report directory (created; must not be a file).
        docs_base: URL or path prefix of the repository for links to ``docs/<paper>.md``
            (default: a relative path to this source checkout, or no links when installed).
        check_code: also mark as stale the summaries whose points the current code would key
            differently (code or version changed since the run).
        verdicts: a recorded verdict file (e.g. :func:`metagrad.report.verdicts.default_path`);
            its entries are shown for the (figure, scale) pairs the store has no run of, marked as
            recorded (see :mod:`metagrad.report.verdicts`).

    Raises:
        ReportError: the store is missing or not a directory, `out_dir` is a file or cannot be
            created.
    """
    from metagrad import __version__
    from metagrad.experiments import list_figures
    from metagrad.report._render import STYLE, Renderer, esc, group_runs

    results_root, out_dir = Path(results_root), Path(out_dir)
    _check_out_dir(out_dir)
    contents = read_store(results_root, check_code=check_code)
    try:
        recorded = load_verdicts(verdicts) if verdicts is not None else {}
    except (OSError, ValueError) as err:
        raise ReportError(f"cannot read the recorded verdicts: {err}") from err
    in_store = {(x.data["id"], x.data["scale"]) for x in contents.runs}
    extra = [StoredRun(Path(verdicts), e) for k, e in sorted(recorded.items()) if k not in in_store]
    try:
        (out_dir / "figures").mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ReportError(
            f"cannot create the report directory {out_dir} ({err.strerror})."
        ) from err
    warning = ""
    try:
        registered = [(f.id, f.title) for f in list_figures()]
    except Exception as err:  # a broken study module must not hide the stored results
        registered = []
        warning = (
            f'<p class="bad">Could not list the registered figures ({esc(type(err).__name__)}: '
            f"{esc(err)}); the counts of registered figures are missing.</p>"
        )
    groups = group_runs(contents.runs + extra, registered)
    r = Renderer(out_dir, _docs_linker(out_dir, docs_base))
    n_checks = sum(len(x.data["checks"]) for x in contents.runs if not x.stale)
    n_pass = sum(c["passed"] for x in contents.runs if not x.stale for c in x.data["checks"])
    n_stale = sum(bool(x.stale) for x in contents.runs)
    lines = [f"{len(contents.runs)} stored figure runs, {n_pass}/{n_checks} claims pass"]
    if extra:
        e_pass = sum(c["passed"] for x in extra for c in x.data["checks"])
        e_checks = sum(len(x.data["checks"]) for x in extra)
        lines.append(f"{len(extra)} recorded verdicts (not in this store), {e_pass}/{e_checks} pass")
    if n_stale:
        lines.append(f'<span class="stale">{n_stale} stale (not counted)</span>')
    if contents.broken:
        lines.append(f'<a class="bad" href="#broken">{len(contents.broken)} broken summaries</a>')
    built = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    body = "".join(r.paper_section(g) for g in groups)
    if not contents.runs:
        body = '<p class="warn">The store holds no figure summaries yet.</p>' + body
    page = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>metagrad reproduction report</title>"
        '<link rel="icon" href="data:,">'
        f"<style>{STYLE}</style></head><body><h1>metagrad reproduction report</h1>"
        f'<p class="meta">store <code>{esc(results_root)}</code> · metagrad {esc(__version__)}'
        f" · built {esc(built)}</p>"
        f"<p>{' · '.join(lines)}.</p>"
        f"{warning}{r.broken(contents.broken)}<h2>Papers</h2>{r.overview(groups)}{body}</body></html>"
    )
    index = out_dir / "index.html"
    atomic_write_bytes(index, page.encode("utf-8"))
    return index
