"""report/papers.py: every docs link points at an existing page and heading; omissions are not
registered figures; figure ids map to their paper."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from metagrad.report.papers import PAPERS, docs_anchor, paper_for

REPO = Path(__file__).resolve().parents[2]


def _anchors(page: Path) -> set[str]:
    """The anchors of a markdown page: its headings' and explicit <a id="..."> ones."""
    text = page.read_text(encoding="utf-8")
    heads = {docs_anchor(m.group(1)) for m in re.finditer(r"^#+\s+(.*?)\s*$", text, re.M)}
    return heads | set(re.findall(r'<a id="([^"]+)"', text))


@pytest.mark.parametrize("paper", PAPERS, ids=[p.key for p in PAPERS])
def test_docs_sections_exist(paper):
    items = [*paper.deviations, *(o for o in paper.not_implemented if o.section)]
    page = REPO / paper.docs
    if not page.is_file():
        assert items == [], f"{paper.docs} does not exist but sections of it are cited"
        return
    anchors = _anchors(page)
    for it in items:
        assert docs_anchor(it.section) in anchors, f"{paper.docs} has no heading {it.section!r}"
        assert it.link_anchor() in anchors, f"{paper.docs} has no anchor {it.link_anchor()!r}"


def test_keys_unique_and_lookup():
    keys = [p.key for p in PAPERS]
    assert len(set(keys)) == len(keys)
    for p in PAPERS:
        assert paper_for(f"{p.key}.fig99") is p
        assert p.citation and p.short and p.docs.startswith("docs/")
        for o in p.not_implemented:
            assert o.item and o.reason and (not o.figure_id or o.figure_id.startswith(p.key + "."))
    assert paper_for("nopaper.fig1") is None


def test_docs_anchor_matches_github():
    assert docs_anchor("Fig 5: `wang2024.fig5`") == "fig-5-wang2024fig5"
    assert docs_anchor("Measured (paper scale, seed 0)") == "measured-paper-scale-seed-0"
    assert docs_anchor("Deep-learning heuristics (H.18–H.25, H.3)") == (
        "deep-learning-heuristics-h18h25-h3"
    )


def test_omissions_are_not_registered_figures():
    """An omission whose figure got implemented must be removed from papers.py."""
    from metagrad.experiments import list_figures

    registered = {f.id for f in list_figures()}
    stale = [o.figure_id for p in PAPERS for o in p.not_implemented if o.figure_id in registered]
    assert stale == [], f"implemented now, remove from report/papers.py: {stale}"
