"""The HTML report built from a fabricated store: grouping, quick beside paper, broken, stale,
diverged, escaping, images, docs links, and the error cases of missing store / bad --out."""

from __future__ import annotations

import html.parser
import json
import re

import pytest
from _fake_store import EVIL, check, make_store, summary, write_run

from metagrad.report.html import ReportError, build_report, load_summaries
from metagrad.report.papers import PAPERS


class _Collect(html.parser.HTMLParser):
    """Every start tag with its attributes, and the text of each figure section."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def _tags(page: str) -> list[tuple[str, dict[str, str | None]]]:
    p = _Collect()
    p.feed(page)
    return p.tags


def _section(page: str, fig_id: str) -> str:
    """The HTML of one figure's section."""
    m = re.search(
        rf'<section class="figure" id="fig-{re.escape(fig_id)}">(.*?)</section>', page, re.S
    )
    assert m, f"no section for {fig_id}"
    return m.group(1)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """(store paths, report dir, page text) of one report built from the fabricated store."""
    root = tmp_path_factory.mktemp("store")
    out = tmp_path_factory.mktemp("out") / "report"
    paths = make_store(root)
    index = build_report(root, out, check_code=False)
    return paths, out, index.read_text(encoding="utf-8")


def test_grouped_by_paper_with_summaries(built):
    _, _, page = built
    for p in PAPERS:
        assert f'id="paper-{p.key}"' in page
        assert f"Documented deviations ({len(p.deviations)})" in page or not p.deviations
        for o in p.not_implemented:
            if not o.figure_id:  # figure ids may have been implemented since
                assert html_escape(o.reason) in page
    sec = page[page.index('id="paper-bernacchia2021"') : page.index('id="paper-wang2021"')]
    # figures in the store and claims per scale (the stale zou2022 run is not counted anywhere)
    assert "quick: 2/2 pass" in sec and "paper: 1/2 pass" in sec
    zou = page[page.index('id="paper-zou2022"') : page.index('id="paper-yuksel2024"')]
    claims = _strip_tags(zou.split("claims checked")[1].split("</tr>")[0])
    assert "quick: none current (1 stale, not counted)" in claims and "pass" not in claims


def html_escape(s: str) -> str:
    """Escape like the report does."""
    import html

    return html.escape(s, quote=True)


def _strip_tags(s: str) -> str:
    return re.sub(r"<[^>]+>", " ", s)


def test_quick_and_paper_claims_side_by_side(built):
    _, _, page = built
    sec = _section(page, "bernacchia2021-fig2")
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", sec.split('<table class="claims">')[1], re.S)
    text = [_strip_tags(r).split() for r in rows[1:]]
    # claim name spans the quick and the paper row; the paper row has its own measured value
    assert 'rowspan="2" class="claim">theory vs MC gap' in sec
    gap_rows = [t for t in text if "0.011" in t or "0.0512" in t]
    assert [t[-5:-2] if "quick" in t else None for t in gap_rows][0] is not None
    quick = next(r for r in rows if "theory vs MC gap" in r)
    paper = rows[rows.index(quick) + 1]
    assert ">quick<" in quick and ">pass<" in quick and "0.011" in quick and "0.03<" in quick
    assert ">paper<" in paper and ">FAIL<" in paper and "0.0512" in paper and "0.035" in paper
    # the superseded older quick summary (measured 5) is not shown
    assert ">5<" not in sec
    # no tolerance prints as null / None: "—"
    table = sec.split('<table class="claims">')[1].split("</table>")[0]
    assert "null" not in table and "None" not in table
    first = next(r for r in rows if "optimal alpha_t is negative" in r)
    assert re.findall(r'<td class="num">([^<]*)</td>', first)[-1] == "—"
    # both scales' configs are shown
    assert "1000" in sec.split("<details>")[1]


def test_stale_figure_is_never_passing(built):
    _, _, page = built
    sec = _section(page, "zou2022-fig1")
    assert "stale" in sec and "gone from the store" in sec
    assert ">pass<" not in sec and 'class="badge ok"' not in sec
    # counted neither as passing nor as checked in the headline
    head = page.split("<h2>")[0]
    assert "4/5 claims pass" in head, head[-300:]
    assert "1 stale (not counted)" in head


def test_broken_summaries_listed_with_path(built):
    paths, _, page = built
    broken = page.split('id="broken"')[1].split("</section>")[0]
    for name, path in paths.items():
        if name.startswith("broken_"):
            assert html_escape(str(path)) in broken, name
    assert "Broken summaries (6)" in page
    assert "empty file" in broken and "not valid JSON" in broken
    assert "checks[0].passed" in broken and "missing field" in broken
    assert "point_keys" in broken  # the path-traversal key


def test_diverged_run_is_reported(built):
    _, _, page = built
    sec = _section(page, "yuksel2024-fig2")
    assert "seeds [0] diverged" in sec and "loss became inf at step 12" in sec
    assert 'class="badge bad"' in sec and "No claims checked" in sec


def test_every_value_is_escaped(built):
    _, out, page = built
    assert "<script" not in page.lower() and "onerror" not in [k for _, a in _tags(page) for k in a]
    assert html_escape(EVIL) in page
    for tag, attrs in _tags(page):
        assert tag not in ("script", "iframe", "object", "embed")
        for k, v in attrs.items():
            assert not k.startswith("on"), (tag, attrs)
            if k in ("href", "src"):
                assert not (v or "").lower().startswith("javascript:")
    # the hostile figure name pointing outside the run directory is refused, not copied
    sec = page.split('id="fig-wang2024-evil')[1]
    assert "image missing or not a PNG" in sec
    names = sorted(re.sub(r"-[0-9a-f]{8}[.]png$", "", p.name) for p in (out / "figures").iterdir())
    assert names == [
        "bernacchia2021-fig2--paper--main",
        "bernacchia2021-fig2--quick--main",
        next(n for n in names if n.startswith("wang2024")),
        "zou2022-fig1--quick--main",
    ]
    assert "passwd" not in " ".join(names)


def test_every_image_exists_and_is_a_png(built):
    _, out, page = built
    imgs = [a["src"] for t, a in _tags(page) if t == "img"]
    assert len(imgs) == 4
    for src in imgs:
        assert src.startswith("figures/")
        from urllib.parse import unquote

        data = (out / unquote(src)).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"


def test_docs_links(tmp_path, built):
    paths, _, _ = built
    root = paths["quick"].parents[3]
    index = build_report(root, tmp_path / "r", docs_base="https://example.org/repo/blob/main/")
    page = index.read_text()
    assert (
        'href="https://example.org/repo/blob/main/docs/zou2022.md#errata-used-and-deviations"'
        in page
    )
    # default: a relative path to this checkout's docs page, which exists
    _, out, page = built
    hrefs = {a["href"] for t, a in _tags(page) if t == "a" and "docs/" in (a.get("href") or "")}
    assert hrefs
    for h in hrefs:
        assert not h.startswith("/") and (out / h.split("#")[0]).resolve().is_file(), h


def test_missing_store_is_an_error(tmp_path):
    with pytest.raises(ReportError, match="does not exist"):
        build_report(tmp_path / "nope", tmp_path / "out")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ReportError, match="is a file"):
        build_report(tmp_path / "file", tmp_path / "out")
    with pytest.raises(ReportError, match="does not exist"):
        load_summaries(tmp_path / "nope")
    assert not (tmp_path / "out").exists()


def test_out_pointing_at_a_file_is_an_error(tmp_path):
    store = tmp_path / "store"
    store.mkdir()
    (tmp_path / "f.html").write_text("keep me")
    with pytest.raises(ReportError, match="is a file"):
        build_report(store, tmp_path / "f.html")
    with pytest.raises(ReportError, match="is a file"):
        build_report(store, tmp_path / "f.html" / "sub")
    assert (tmp_path / "f.html").read_text() == "keep me"


def test_empty_store_says_so(tmp_path):
    (tmp_path / "store").mkdir()
    page = build_report(tmp_path / "store", tmp_path / "out").read_text()
    assert "holds no figure summaries" in page and "0/0 claims pass" in page


def test_points_deleted_after_a_passing_report(tmp_path):
    """The same summary: passing while its points exist, stale once one is deleted."""
    s = summary("zou2022.fig5", "quick", [check("ok", True, 1.0, 1.0, 0.1)], keys=("a", "b"))
    write_run(tmp_path / "st", s, tag="t")
    sec = _section(
        build_report(tmp_path / "st", tmp_path / "o", check_code=False).read_text(), "zou2022-fig5"
    )
    assert ">pass<" in sec and "stale" not in sec
    (tmp_path / "st" / s["study"] / "b.json").unlink()
    sec = _section(
        build_report(tmp_path / "st", tmp_path / "o", check_code=False).read_text(), "zou2022-fig5"
    )
    assert ">pass<" not in sec and "1 of 2 stored points" in sec


def test_load_summaries_newest_per_scale(built):
    paths, _, _ = built
    got = load_summaries(paths["quick"].parents[3])
    ids = [(s["id"], s["scale"]) for _, s in got]
    assert ids.count(("bernacchia2021.fig2", "quick")) == 1
    quick = next(s for _, s in got if (s["id"], s["scale"]) == ("bernacchia2021.fig2", "quick"))
    assert quick["written"].startswith("2026-12")
    assert json.loads(paths["old"].read_text())["written"].startswith("2026-11")
