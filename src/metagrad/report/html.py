"""Saving a finished experiment (figures, summary) and building the HTML report from the store."""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import json
import shutil
from pathlib import Path
from typing import Any

from metagrad.sweep import StudyRun, atomic_write_bytes, to_jsonable

__all__ = ["build_report", "load_summaries", "save_run", "save_study_run"]


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
    """The newest summary of each (experiment id, scale) under `root`, sorted by id."""
    newest: dict[tuple[str, str], tuple[Path, dict[str, Any]]] = {}
    for path in Path(root).glob("runs/*/*/summary.json"):
        try:
            s = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        k = (s["id"], s["scale"])
        if k not in newest or s["written"] > newest[k][1]["written"]:
            newest[k] = (path.parent, s)
    return [newest[k] for k in sorted(newest)]


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, list) and len(v) > 8:
        return html.escape(json.dumps(v[:8])[:-1] + ", …]")
    return html.escape(json.dumps(v) if not isinstance(v, str) else v)


def _section(run_dir: Path, s: dict[str, Any], fig_dir: Path) -> str:
    anchor = html.escape(s["id"] + "-" + s["scale"])
    parts = [
        f'<section id="{anchor}"><h2>{html.escape(s["id"])} — {html.escape(s["title"])}</h2>',
        f'<p class="paper">{html.escape(s["paper"])} · scale <b>{s["scale"]}</b> · seeds '
        f"{_fmt(s['seeds'])} · written {s['written']}</p>",
    ]
    if s["diverged_seeds"]:
        parts.append(
            f'<p class="bad">diverged: seeds {_fmt(s["diverged_seeds"])}: '
            f"{_fmt(s.get('causes', []))}</p>"
        )
    if s.get("plot_error"):
        parts.append(f'<p class="bad">plot failed: {html.escape(s["plot_error"])}</p>')
    for name in s["figures"]:
        src = run_dir / f"{name}.png"
        dst = fig_dir / f"{s['id']}-{s['scale']}-{name}.png"
        if src.exists():
            shutil.copyfile(src, dst)
            parts.append(
                f'<figure><img src="figures/{html.escape(dst.name)}" alt="{html.escape(name)}">'
                f"<figcaption>{html.escape(name)}</figcaption></figure>"
            )
    rows = "".join(
        f'<tr class="{"ok" if c["passed"] else "bad"}"><td>{"pass" if c["passed"] else "FAIL"}</td>'
        f"<td>{html.escape(c['name'])}</td><td>{_fmt(c['measured'])}</td><td>{_fmt(c['target'])}</td>"
        f"<td>{_fmt(c['tolerance'])}</td><td>{html.escape(c['note'])}</td></tr>"
        for c in s["checks"]
    )
    parts.append(
        "<table><tr><th></th><th>claim</th><th>metagrad</th><th>paper / bound</th>"
        f"<th>tolerance</th><th>note</th></tr>{rows}</table>"
    )
    cfg = "".join(
        f"<tr><td>{html.escape(k)}</td><td>{_fmt(v)}</td></tr>" for k, v in s["config"].items()
    )
    parts.append(f"<details><summary>config</summary><table>{cfg}</table></details></section>")
    return "\n".join(parts)


_STYLE = """body{font-family:sans-serif;max-width:1100px;margin:auto;padding:1em}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:2px 6px;font-size:90%}
tr.bad td:first-child,p.bad{color:#b00;font-weight:bold}tr.ok td:first-child{color:#070}
figure{display:inline-block;margin:4px}img{max-width:520px}.paper{color:#555}"""


def build_report(results_root: Path, out_dir: Path) -> Path:
    """Write ``<out_dir>/index.html``: every stored run's figures, config and checks table."""
    out_dir = Path(out_dir)
    fig_dir = out_dir / "figures"
    fig_dir.mkdir(parents=True, exist_ok=True)
    summaries = load_summaries(Path(results_root))
    n_checks = sum(len(s["checks"]) for _, s in summaries)
    n_pass = sum(c["passed"] for _, s in summaries for c in s["checks"])
    toc = "".join(
        f'<li><a href="#{html.escape(s["id"] + "-" + s["scale"])}">{html.escape(s["id"])}</a> '
        f"({s['scale']}): {sum(c['passed'] for c in s['checks'])}/{len(s['checks'])} checks</li>"
        for _, s in summaries
    )
    body = "\n".join(_section(d, s, fig_dir) for d, s in summaries)
    page = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>metagrad report</title>"
        f"<style>{_STYLE}</style></head><body><h1>metagrad report</h1>"
        f"<p>{len(summaries)} experiments, {n_pass}/{n_checks} checks pass.</p><ul>{toc}</ul>"
        f"{body}</body></html>"
    )
    index = out_dir / "index.html"
    atomic_write_bytes(index, page.encode())
    return index
