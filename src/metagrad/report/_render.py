"""HTML rendering of the report: papers, their summaries, figures and claims (quick beside paper)."""

from __future__ import annotations

import dataclasses
import hashlib
import html
import json
import math
import re
import shutil
import urllib.parse
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from metagrad.experiments._study import format_seconds
from metagrad.report._summaries import BrokenSummary, StoredRun
from metagrad.report.papers import PAPERS, Paper

_SAFE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_SCALE_ORDER = {"quick": 0, "paper": 1}


def esc(v: Any) -> str:
    """Escape any value's text for HTML content and attributes."""
    return html.escape(str(v), quote=True)


def fmt(v: Any) -> str:
    """A value as escaped, compact text: None -> "—", floats to 4 significant digits."""
    if v is None:
        return "—"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        if math.isnan(v):
            return "NaN"
        if math.isinf(v):
            return "∞" if v > 0 else "−∞"
        return esc(f"{v:.4g}")
    if isinstance(v, (list, tuple)):
        items = [fmt(x) for x in v[:8]]
        more = f", … ({len(v)} values)" if len(v) > 8 else ""
        return "[" + ", ".join(items) + more + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{esc(k)}: {fmt(x)}" for k, x in v.items()) + "}"
    if isinstance(v, str):
        return esc(v)
    return esc(json.dumps(v, default=str))


def slug(text: str) -> str:
    """An HTML id built from `text` (letters, digits, '-', '_' only)."""
    return re.sub(r"[^A-Za-z0-9_-]+", "-", str(text)).strip("-") or "x"


def natural_key(text: str) -> list[Any]:
    """Sort key putting fig2 before fig10."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", text)]


@dataclasses.dataclass
class Group:
    """A paper (or, with paper=None, the figures of no known paper) and its stored runs."""

    key: str
    title: str
    paper: Paper | None
    registered: list[tuple[str, str]]  # (figure id, title) registered in this metagrad
    runs: dict[str, dict[str, StoredRun]]  # figure id -> scale -> run


def _status(run: StoredRun) -> tuple[str, str]:
    """(css class, label) of one run of a figure."""
    s = run.data
    if run.stale:
        return "stale", "stale"
    if any(not c["passed"] for c in s["checks"]):
        return "bad", "FAIL"
    if s["plot_error"]:
        return "bad", "plot failed"
    if s["diverged_seeds"] and not s["checks"]:
        return "bad", "diverged"
    if s["diverged_seeds"]:
        return "warn", "pass (seeds diverged)"
    if not s["checks"]:
        return "warn", "no claims"
    return "ok", "pass"


def _scales(runs: dict[str, StoredRun]) -> list[str]:
    return sorted(runs, key=lambda x: (_SCALE_ORDER.get(x, 2), x))


def _badge(cls: str, label: str, title: str = "") -> str:
    tip = f' title="{esc(title)}"' if title else ""
    return f'<span class="badge {cls}"{tip}>{esc(label)}</span>'


class Renderer:
    """Builds the page; copies images into ``<out_dir>/figures``."""

    def __init__(self, out_dir: Path, docs_link: Callable[[Paper, str], str | None]):
        self.out_dir = out_dir
        self.fig_dir = out_dir / "figures"
        self.docs_link = docs_link

    # -- pieces ----------------------------------------------------------------------------------
    def _docs(self, paper: Paper, anchor: str, text: str) -> str:
        href = self.docs_link(paper, anchor)
        if href is None:
            return f'<span class="docs">{esc(text)}</span>'
        return f'<a class="docs" href="{esc(href)}">{esc(text)}</a>'

    def _images(self, run: StoredRun) -> str:
        s = run.data
        parts = []
        for name in s["figures"]:
            src = run.run_dir / f"{name}.png"
            ok = bool(_SAFE_NAME.fullmatch(name)) and src.is_file()
            if ok:
                with open(src, "rb") as fh:
                    ok = fh.read(8) == _PNG_MAGIC
            if not ok:
                parts.append(
                    f'<p class="bad">figure {esc(name)}: image missing or not a PNG '
                    f"(<code>{esc(src)}</code>)</p>"
                )
                continue
            # the hash of the source path keeps ids that slug alike ("a.b", "a-b") apart
            tag = hashlib.sha256(str(src.resolve()).encode()).hexdigest()[:8]
            dst = self.fig_dir / f"{slug(s['id'])}--{slug(s['scale'])}--{slug(name)}-{tag}.png"
            shutil.copyfile(src, dst)
            rel = urllib.parse.quote(f"figures/{dst.name}")
            parts.append(
                f'<figure><img src="{esc(rel)}" alt="{esc(s["id"])} {esc(name)} ({esc(s["scale"])})">'
                f"<figcaption>{esc(name)} · {esc(s['scale'])} scale</figcaption></figure>"
            )
        return "".join(parts)

    def _claims(self, runs: dict[str, StoredRun]) -> str:
        scales = _scales(runs)
        names: list[str] = []
        for sc in scales:
            for c in runs[sc].data["checks"]:
                if c["name"] not in names:
                    names.append(c["name"])
        if not names:
            return '<p class="warn">No claims checked.</p>'
        rows = []
        for name in names:
            per = []
            for sc in scales:
                for c in runs[sc].data["checks"]:
                    if c["name"] == name:
                        per.append((sc, runs[sc], c))
                        break
            for i, (sc, run, c) in enumerate(per):
                if run.stale:
                    cls, verdict = "stale", "stale"
                else:
                    cls, verdict = ("ok", "pass") if c["passed"] else ("bad", "FAIL")
                head = f'<td rowspan="{len(per)}" class="claim">{esc(name)}</td>' if i == 0 else ""
                first = ' class="first"' if i == 0 else ""
                rows.append(
                    f'<tr{first}>{head}<td>{esc(sc)}</td><td class="{cls}">{verdict}</td>'
                    f'<td class="num">{fmt(c.get("measured"))}</td>'
                    f'<td class="num">{fmt(c.get("target"))}</td>'
                    f'<td class="num">{fmt(c.get("tolerance"))}</td>'
                    f'<td class="note">{esc(c.get("note", ""))}</td></tr>'
                )
        return (
            '<table class="claims"><thead><tr><th>claim</th><th>scale</th><th>result</th>'
            "<th>measured</th><th>paper value / bound</th><th>tolerance</th><th>note</th></tr>"
            f"</thead><tbody>{''.join(rows)}</tbody></table>"
        )

    def _run_notes(self, run: StoredRun) -> str:
        s = run.data
        sc = esc(s["scale"])
        parts = []
        if "recorded" in s:
            cost = s.get("compute_seconds")
            parts.append(
                f'<p class="recorded">{sc} scale: recorded verdict (run {esc(s["written"])}, metagrad '
                f'{esc(s.get("version", "?"))}, commit {esc(s.get("commit") or "?")}'
                + (f", compute {format_seconds(cost)}" if isinstance(cost, (int, float)) else "")
                + f') from <code>{esc(run.path)}</code>; its figures are not in this store.</p>'
            )
        if run.stale:
            parts.append(f'<p class="stale">{sc} scale is stale: {esc(run.stale)}.</p>')
        if s["diverged_seeds"]:
            causes = "; ".join(str(c) for c in s["causes"]) or "cause not recorded"
            parts.append(
                f'<p class="bad">{sc} scale: seeds {fmt(s["diverged_seeds"])} diverged '
                f"({esc(causes)}).</p>"
            )
        if s["plot_error"]:
            parts.append(f'<p class="bad">{sc} scale: plot failed: {esc(s["plot_error"])}</p>')
        return "".join(parts)

    def _config(self, runs: dict[str, StoredRun]) -> str:
        scales = _scales(runs)
        keys: list[str] = []
        for sc in scales:
            keys += [k for k in runs[sc].data["config"] if k not in keys]
        head = "".join(f"<th>{esc(sc)}</th>" for sc in scales)
        rows = "".join(
            f"<tr><td>{esc(k)}</td>"
            + "".join(
                f"<td>{fmt(runs[sc].data['config'][k]) if k in runs[sc].data['config'] else '—'}</td>"
                for sc in scales
            )
            + "</tr>"
            for k in keys
        )
        meta = "".join(
            f"<li>{esc(sc)}: seeds {fmt(runs[sc].data['seeds'])}, written "
            f"{esc(runs[sc].data['written'])}, <code>{esc(runs[sc].path)}</code></li>"
            for sc in scales
        )
        return (
            f"<details><summary>config and provenance</summary><ul>{meta}</ul>"
            f'<table class="config"><thead><tr><th>parameter</th>{head}</tr></thead>'
            f"<tbody>{rows}</tbody></table></details>"
        )

    def figure(self, fig_id: str, title: str, runs: dict[str, StoredRun]) -> str:
        """One figure or table: status per scale, warnings, images, claims, config."""
        badges = " ".join(
            _badge(_status(runs[sc])[0], f"{sc}: {_status(runs[sc])[1]}") for sc in _scales(runs)
        )
        body = "".join(self._run_notes(runs[sc]) for sc in _scales(runs))
        imgs = "".join(self._images(runs[sc]) for sc in _scales(runs))
        if imgs:
            body += f'<div class="images">{imgs}</div>'
        body += self._claims(runs) + self._config(runs)
        return (
            f'<section class="figure" id="fig-{slug(fig_id)}"><h3>{esc(fig_id)} — {esc(title)} '
            f"{badges}</h3>{body}</section>"
        )

    # -- groups ----------------------------------------------------------------------------------
    @staticmethod
    def counts(group: Group) -> dict[str, Any]:
        """Tallies of a group: claims per scale (passing, checked, stale), figures run, problems."""
        per_scale: dict[str, list[int]] = {}
        problems = 0
        for runs in group.runs.values():
            for sc, run in runs.items():
                t = per_scale.setdefault(sc, [0, 0, 0])
                n = len(run.data["checks"])
                if run.stale:
                    t[2] += n
                else:
                    t[0] += sum(c["passed"] for c in run.data["checks"])
                    t[1] += n
                problems += _status(run)[0] in ("bad", "stale")
        return {"scales": per_scale, "problems": problems}

    def _claims_summary(self, group: Group) -> str:
        tallies = self.counts(group)["scales"]
        if not tallies:
            return "none stored"
        out = []
        for sc in sorted(tallies, key=lambda x: (_SCALE_ORDER.get(x, 2), x)):
            ok, n, stale = tallies[sc]
            cls = "ok" if ok == n and not stale else "bad" if ok < n else "stale"
            text = (
                f"{sc}: {ok}/{n} pass" if n else f"{sc}: none current" if stale else f"{sc}: none"
            )
            if stale:
                text += f" ({stale} stale, not counted)"
            if not n and not stale:
                cls = "warn"
            out.append(f'<span class="{cls}">{esc(text)}</span>')
        return ", ".join(out)

    def paper_section(self, group: Group) -> str:
        """A paper's summary (figures, claims, deviations, omissions) followed by its figures."""
        p = group.paper
        stored = [f for f in group.runs]
        registered_ids = [fid for fid, _ in group.registered]
        not_run = [fid for fid in registered_ids if fid not in group.runs]
        links = ", ".join(
            f'<a href="#fig-{slug(fid)}">{esc(fid)}</a> '
            + " ".join(
                _badge(_status(group.runs[fid][sc])[0], f"{sc}: {_status(group.runs[fid][sc])[1]}")
                for sc in _scales(group.runs[fid])
            )
            for fid in stored
        )
        parts = [f'<section class="paper" id="paper-{slug(group.key)}">']
        parts.append(f"<h2>{esc(group.title)}</h2>")
        if p is not None:
            parts.append(
                f'<p class="citation">{esc(p.citation)}<br>Documentation: '
                f"{self._docs(p, '', p.docs)}</p>"
            )
        parts.append('<div class="summary"><table class="facts">')
        parts.append(
            f"<tr><th>figures and tables reproduced</th><td>{len(stored)} in the store"
            f" (of {len(registered_ids)} registered){': ' + links if links else ''}</td></tr>"
        )
        if not_run:
            parts.append(
                "<tr><th>registered, not in the store</th><td>"
                + ", ".join(esc(f) for f in not_run)
                + "</td></tr>"
            )
        parts.append(f"<tr><th>claims checked</th><td>{self._claims_summary(group)}</td></tr>")
        parts.append("</table>")
        if p is not None:
            devs = "".join(
                f"<li>{esc(d.summary)} — {self._docs(p, d.link_anchor(), '§ ' + d.section)}</li>"
                for d in p.deviations
            )
            parts.append(
                f"<h4>Documented deviations ({len(p.deviations)})</h4>"
                + (f"<ul>{devs}</ul>" if devs else "<p>None documented.</p>")
            )
            missing = [
                o for o in p.not_implemented if o.figure_id not in registered_ids or not o.figure_id
            ]
            items = "".join(
                f"<li><b>{esc(o.item)}</b>: {esc(o.reason)}"
                + (f" — {self._docs(p, o.link_anchor(), '§ ' + o.section)}" if o.section else "")
                + "</li>"
                for o in missing
            )
            parts.append(
                f"<h4>Not implemented ({len(missing)})</h4>"
                + (f"<ul>{items}</ul>" if items else "<p>Everything is implemented.</p>")
            )
        parts.append("</div>")
        titles = dict(group.registered)
        for fid in stored:
            runs = group.runs[fid]
            title = titles.get(fid) or next(iter(runs.values())).data["title"]
            parts.append(self.figure(fid, title, runs))
        parts.append("</section>")
        return "".join(parts)

    def overview(self, groups: Sequence[Group]) -> str:
        """One row per paper: figures, claims, deviations, omissions, problems."""
        rows = []
        for g in groups:
            c = self.counts(g)
            p = g.paper
            registered = {f for f, _ in g.registered}
            n_missing = (
                len(
                    [
                        o
                        for o in p.not_implemented
                        if o.figure_id not in registered or not o.figure_id
                    ]
                )
                if p
                else 0
            )
            prob = c["problems"]
            rows.append(
                f'<tr><td><a href="#paper-{slug(g.key)}">{esc(g.title)}</a></td>'
                f'<td class="num">{len(g.runs)} / {len(g.registered)}</td>'
                f"<td>{self._claims_summary(g)}</td>"
                f'<td class="num">{len(p.deviations) if p else "—"}</td>'
                f'<td class="num">{n_missing if p else "—"}</td>'
                f'<td class="num {"bad" if prob else "ok"}">{prob}</td></tr>'
            )
        return (
            '<table class="overview"><thead><tr><th>paper</th><th>figures / tables in store '
            "(of registered)</th><th>claims passing</th><th>documented deviations</th>"
            "<th>not implemented</th><th>figures with problems</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>"
        )

    @staticmethod
    def broken(items: Sequence[BrokenSummary]) -> str:
        """The list of summaries that could not be read (never silently skipped)."""
        if not items:
            return ""
        lis = "".join(f"<li><code>{esc(b.path)}</code>: {esc(b.reason)}</li>" for b in items)
        return (
            f'<section class="brokenlist" id="broken"><h2>Broken summaries ({len(items)})</h2>'
            "<p>These files could not be read as figure summaries; their figures are not shown. "
            f"Rerun the figures to rewrite them.</p><ul>{lis}</ul></section>"
        )


def group_runs(runs: Sequence[StoredRun], registered: Sequence[tuple[str, str]]) -> list[Group]:
    """Group stored runs and registered figure ids by paper (papers.py order, then others)."""
    from metagrad.report.papers import paper_for

    groups: dict[str, Group] = {p.key: Group(p.key, p.short, p, [], {}) for p in PAPERS}
    other = Group("other", "Other studies and library checks", None, [], {})

    def target(fid: str) -> Group:
        p = paper_for(fid)
        return groups[p.key] if p else other

    for fid, title in registered:
        target(fid).registered.append((fid, title))
    for run in runs:
        fid = run.data["id"]
        target(fid).runs.setdefault(fid, {})[run.data["scale"]] = run
    for g in (*groups.values(), other):
        g.runs = dict(sorted(g.runs.items(), key=lambda kv: natural_key(kv[0])))
        g.registered.sort(key=lambda ft: natural_key(ft[0]))
    out = list(groups.values())
    if other.runs or other.registered:
        out.append(other)
    return out


STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;max-width:1180px;margin:auto;
 padding:1em 1.5em;color:#1a1a1a;line-height:1.4;font-size:15px}
h1{margin-bottom:.2em}h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:2em}
h3{margin-top:1.6em;background:#f3f5f8;padding:.35em .5em;border-left:4px solid #4a6fa5}
h4{margin:.8em 0 .3em}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:3px 7px;
 vertical-align:top;text-align:left}th{background:#f0f0f0}
td.num{font-variant-numeric:tabular-nums;white-space:nowrap}
table.claims{width:100%;font-size:90%}table.claims td{overflow-wrap:anywhere}
table.claims td.num{white-space:normal;max-width:16em}table.facts{width:100%}
section.brokenlist h2{margin-top:.6em}p.recorded{color:#445;font-style:italic}table.claims td.note{color:#444;font-size:95%}
table.claims tr.first td{border-top:2px solid #999}td.claim{font-weight:600;max-width:22em}
.ok{color:#0a6b0a;font-weight:600}.bad{color:#b00000;font-weight:600}
.warn{color:#8a5a00;font-weight:600}.stale{color:#6b4bb0;font-weight:600}
.badge{display:inline-block;font-size:75%;padding:1px 7px;border-radius:9px;margin-left:.4em;
 border:1px solid currentColor;vertical-align:middle}
.summary{background:#fafbfc;border:1px solid #e2e5ea;padding:.5em 1em;border-radius:6px}
table.facts th{width:15em;background:none}
.images{display:flex;flex-wrap:wrap;gap:10px}figure{margin:4px 0}
img{max-width:100%;height:auto;border:1px solid #eee}figcaption{font-size:85%;color:#555}
p.stale,p.bad{background:#fff4f4;padding:.3em .6em;border-radius:4px}p.stale{background:#f6f2ff}
section.brokenlist{border:2px solid #b00000;padding:0 1em 1em;border-radius:6px}
details{margin:.4em 0}summary{cursor:pointer;color:#345}code{font-size:90%;word-break:break-all}
.meta{color:#555}
"""
