"""Recorded verdicts: `record_verdicts` copies current summaries (never stale ones) into the verdict
file, keeps other entries, and the report and the README table read it."""

from __future__ import annotations

import json

import pytest
from _fake_store import check, summary, write_run

from metagrad.report.html import ReportError, build_report
from metagrad.report.verdicts import load_verdicts, record_verdicts, tally


def _paper_run(root, fig_id, checks, *, tag, seconds=(12.5, 7.5), points=True):
    s = summary(fig_id, "paper", checks, keys=(f"k{tag}a", f"k{tag}b"))
    s["seeds"] = [0, 1]
    s["statuses"] = [
        {"key": k, "status": "ok", "compute_seconds": t} for k, t in zip(s["point_keys"], seconds)
    ]
    write_run(root, s, tag=tag, points=points)
    return s


def test_record_then_load(tmp_path):
    root, vfile = tmp_path / "store", tmp_path / "docs" / "verdicts.json"
    _paper_run(root, "bernacchia2021.fig2", [check("a", True, 1.0, 1.0), check("b", False, 3, 1)],
               tag="t1")
    write_run(root, summary("bernacchia2021.fig3", "quick", [check("c", True, 1, 1)]), tag="t2")
    done, skipped = record_verdicts(root, vfile, scale="paper", check_code=False)
    assert done == ["bernacchia2021.fig2"] and skipped == []
    v = load_verdicts(vfile)
    assert set(v) == {("bernacchia2021.fig2", "paper")}
    entry = v[("bernacchia2021.fig2", "paper")]
    assert entry["compute_seconds"] == pytest.approx(20.0)
    assert entry["recorded"] and entry["version"]
    assert [c["passed"] for c in entry["checks"]] == [True, False]
    assert tally(entry) == "1/2" and tally(None) == "—"


def test_stale_runs_are_not_recorded_and_old_entries_kept(tmp_path):
    root, vfile = tmp_path / "store", tmp_path / "verdicts.json"
    _paper_run(root, "zou2022.fig2", [check("a", True, 1, 1)], tag="t1")
    assert record_verdicts(root, vfile, check_code=False)[0] == ["zou2022.fig2"]
    # a second store whose run lost its points: skipped with the reason, the old entry stays
    root2 = tmp_path / "store2"
    _paper_run(root2, "zou2022.fig4", [check("b", True, 1, 1)], tag="t2", points=False)
    done, skipped = record_verdicts(root2, vfile, check_code=False)
    assert done == [] and len(skipped) == 1 and skipped[0].startswith("zou2022.fig4: ")
    assert set(load_verdicts(vfile)) == {("zou2022.fig2", "paper")}


def test_report_shows_recorded_verdicts_where_the_store_has_none(tmp_path):
    rec_store, vfile = tmp_path / "rec", tmp_path / "verdicts.json"
    _paper_run(rec_store, "wang2024.fig3", [check("claim-recorded", False, 2.0, 1.0)], tag="r")
    record_verdicts(rec_store, vfile, check_code=False)
    store = tmp_path / "store"
    write_run(store, summary("wang2024.fig3", "quick", [check("claim-quick", True, 1, 1)]), tag="q")
    page = build_report(store, tmp_path / "out", check_code=False, verdicts=vfile).read_text()
    sec = page[page.index('id="fig-wang2024-fig3"'):]
    sec = sec[: sec.index("</section>")]
    assert "claim-quick" in sec and "claim-recorded" in sec
    assert "recorded verdict" in sec and "paper: FAIL" in sec
    assert "1 recorded verdicts (not in this store), 0/1 pass" in page
    # without the file the recorded claim is absent
    page2 = build_report(store, tmp_path / "out2", check_code=False).read_text()
    assert "claim-recorded" not in page2


def test_malformed_verdict_file_is_a_clear_error(tmp_path):
    vfile = tmp_path / "verdicts.json"
    vfile.write_text(json.dumps({"format": 1, "verdicts": [{"id": "x"}]}))
    with pytest.raises(ValueError, match=r"verdicts\[0\] is malformed"):
        load_verdicts(vfile)
    (tmp_path / "store").mkdir()
    with pytest.raises(ReportError, match="recorded verdicts"):
        build_report(tmp_path / "store", tmp_path / "out", verdicts=vfile)
    vfile.write_text(json.dumps({"format": 99}))
    with pytest.raises(ValueError, match="format 1"):
        load_verdicts(vfile)
