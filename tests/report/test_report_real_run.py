"""A report from a real (tiny) study run: passing while current, stale once the code's keys change."""

from __future__ import annotations

import json

from metagrad.experiments import get_study
from metagrad.report.html import build_report, save_study_run
from metagrad.sweep import InlineExecutor, ResultStore, finish_study, run_points, study_points


def test_real_run_passes_then_outdated(tmp_path):
    study = get_study("selfcheck.erf_i2")
    config = study.config("quick", {"n_samples": 2000})
    store = ResultStore(tmp_path / "store")
    store.ensure_writable()
    points = study_points(study, config, [0])
    statuses = run_points(points, store, InlineExecutor(), progress=False)
    run = finish_study(study, config, [0], points, statuses, store)
    (summ,) = save_study_run(run, store.root, scale="quick")
    page = build_report(store.root, tmp_path / "out").read_text()
    assert "1/1 claims pass" in page and "stale" not in page.split("</h1>")[1].split("<h2>")[0]
    assert len(list((tmp_path / "out" / "figures").glob("selfcheck-erf_i2--quick--i2-*.png"))) == 1
    # keys the current code would not produce (as after an edit of the study's code): stale,
    # even though a record exists under the recorded key
    path = tmp_path / "store" / "runs" / summ["id"]
    (summary_json,) = path.glob("*/summary.json")
    s = json.loads(summary_json.read_text())
    s["point_keys"] = ["0123456789abcdef"]
    (store.root / s["study"] / "0123456789abcdef.json").write_text("{}")
    summary_json.write_text(json.dumps(s))
    page = build_report(store.root, tmp_path / "out").read_text()
    assert "0/0 claims pass" in page and "1 stale (not counted)" in page
    assert "code (or metagrad version) changed" in page
