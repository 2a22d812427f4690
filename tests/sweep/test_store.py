"""Result store and sweeps: cache hits, atomic writes, corruption recovery, kill/resume, Dask."""

import json
import os
import signal
import subprocess
import sys
import time
import warnings

import numpy as np
import pytest

from metagrad.experiments import Result, get_experiment
from metagrad.sweep import (
    CorruptEntryWarning,
    InlineExecutor,
    LocalExecutor,
    Point,
    ResultStore,
    experiment_points,
    run_experiment,
    run_points,
)

EXP_ID = "selfcheck.erf_i2"


def _points(n, **overrides):
    exp = get_experiment(EXP_ID)
    return experiment_points(exp, exp.config("quick", overrides), range(n))


def _arrays(store, points):
    return [store.load(p) for p in points]


def test_key_depends_on_every_field():
    p = Point("a.b", {"x": 1}, 0)
    keys = {
        p.key("1"),
        p.key("2"),
        Point("a.c", {"x": 1}, 0).key("1"),
        Point("a.b", {"x": 2}, 0).key("1"),
        Point("a.b", {"x": 1}, 1).key("1"),
    }
    assert len(keys) == 5
    assert Point("a.b", {"x": 1}, 0, module="m").key("1") == p.key("1")


def test_cache_miss_then_hit(tmp_path):
    store = ResultStore(tmp_path)
    pts = _points(3)
    first = run_points(pts, store, progress=False)
    assert [s["status"] for s in first] == ["ok"] * 3
    second = run_points(pts, store, progress=False)
    assert [s["status"] for s in second] == ["cached"] * 3
    changed = run_points(_points(3, n_samples=3000), store, progress=False)
    assert [s["status"] for s in changed] == ["ok"] * 3


def test_roundtrip_preserves_arrays_scalars_and_nan(tmp_path):
    store = ResultStore(tmp_path)
    rng = np.random.default_rng(7)
    res = Result(
        {"x": rng.normal(size=(3, 4)), "gap": np.array([1.0, np.nan])},
        {"s": rng.normal(), "never": float("nan")},
        {"note": "hi"},
        nan_ok=("gap", "never"),
    )
    pt = Point("t.x", {"k": 1}, 3)
    store.save(pt, res)
    back = store.load(pt)
    np.testing.assert_array_equal(back.arrays["x"], res.arrays["x"])
    np.testing.assert_array_equal(back.arrays["gap"], res.arrays["gap"])
    assert back.scalars["s"] == res.scalars["s"] and np.isnan(back.scalars["never"])
    assert back.meta == {"note": "hi"} and not back.diverged
    assert not list(tmp_path.rglob("*.tmp"))


def test_diverged_result_is_flagged(tmp_path):
    res = Result({"loss": np.array([1.0, np.inf])}, {})
    assert res.diverged and res.nonfinite() == ["loss"]
    store = ResultStore(tmp_path)
    pt = Point("t.x", {}, 0)
    store.save(pt, res)
    assert store.record(pt)["status"] == "diverged"


@pytest.mark.parametrize("damage", ["truncate_npz", "delete_npz", "garble_json", "flip_byte"])
def test_corrupt_entry_is_reported_and_recomputed(tmp_path, damage):
    store = ResultStore(tmp_path)
    pts = _points(1)
    run_points(pts, store, progress=False)
    good = store.load(pts[0])
    npz, js = store.paths(pts[0])
    if damage == "truncate_npz":
        npz.write_bytes(npz.read_bytes()[:50])
    elif damage == "delete_npz":
        npz.unlink()
    elif damage == "garble_json":
        js.write_text("{not json")
    else:
        data = bytearray(npz.read_bytes())
        data[len(data) // 2] ^= 0xFF
        npz.write_bytes(bytes(data))
    with pytest.warns(CorruptEntryWarning):
        statuses = run_points(pts, store, progress=False)
    assert statuses[0]["status"] == "ok"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = store.load(pts[0])
    np.testing.assert_array_equal(again.arrays["samples_head"], good.arrays["samples_head"])


def test_same_seed_same_numbers_different_seed_different(tmp_path):
    exp = get_experiment(EXP_ID)
    cfg = exp.config("quick")
    a = run_experiment(exp, cfg, seeds=[5], store=ResultStore(tmp_path / "a"), progress=False)
    b = run_experiment(exp, cfg, seeds=[5], store=ResultStore(tmp_path / "b"), progress=False)
    c = run_experiment(exp, cfg, seeds=[6], store=ResultStore(tmp_path / "c"), progress=False)
    np.testing.assert_array_equal(a.result.arrays["samples_head"], b.result.arrays["samples_head"])
    assert not np.array_equal(a.result.arrays["samples_head"], c.result.arrays["samples_head"])


def test_merge_over_seeds(tmp_path):
    exp = get_experiment(EXP_ID)
    run = run_experiment(
        exp, exp.config("quick"), seeds=range(4), store=ResultStore(tmp_path), progress=False
    )
    stacked = run.result.arrays["samples_head__seeds"]
    assert stacked.shape[0] == 4
    np.testing.assert_allclose(run.result.arrays["samples_head"], stacked.mean(0))
    np.testing.assert_allclose(run.result.arrays["samples_head__std"], stacked.std(0))
    assert all(c.passed for c in run.checks)


def test_killed_sweep_resumes_and_loses_nothing(tmp_path):
    """SIGKILL a sweep mid-way in a subprocess, resume it, compare with an uninterrupted run."""
    n, killed_dir, clean_dir = 8, tmp_path / "killed", tmp_path / "clean"
    cmd = [
        sys.executable,
        "-m",
        "metagrad.cli",
        "run",
        EXP_ID,
        "--seeds",
        str(n),
        "--set",
        "delay=0.4",
        "--executor",
        "inline",
        "--results",
        str(killed_dir),
    ]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    deadline = time.monotonic() + 300
    while len(list((killed_dir / EXP_ID).glob("*.json"))) < 3:
        assert proc.poll() is None, "sweep finished before it could be killed"
        assert time.monotonic() < deadline, "sweep made no progress"
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = len(list((killed_dir / EXP_ID).glob("*.json")))
    assert 3 <= done_before < n
    pts = _points(n, delay=0.4)
    store = ResultStore(killed_dir)
    with warnings.catch_warnings():
        warnings.simplefilter("error", CorruptEntryWarning)
        statuses = run_points(pts, store, progress=False)
    assert sum(s["status"] == "cached" for s in statuses) == done_before
    clean = ResultStore(clean_dir)
    run_points(pts, clean, progress=False)
    for p in pts:
        np.testing.assert_array_equal(
            store.load(p).arrays["samples_head"], clean.load(p).arrays["samples_head"]
        )
        assert store.load(p).scalars == clean.load(p).scalars


def test_local_process_pool_equals_inline(tmp_path):
    pts = _points(3)
    a, b = ResultStore(tmp_path / "a"), ResultStore(tmp_path / "b")
    run_points(pts, a, InlineExecutor(), progress=False)
    statuses = run_points(pts, b, LocalExecutor(2), progress=False)
    assert [s["status"] for s in statuses] == ["ok"] * 3
    for p in pts:
        assert a.load(p).scalars == b.load(p).scalars


def test_dask_local_cluster_equals_local_executor(tmp_path):
    distributed = pytest.importorskip("dask.distributed")
    from metagrad.sweep import DaskExecutor

    pts = _points(4)
    a, b = ResultStore(tmp_path / "a"), ResultStore(tmp_path / "b")
    run_points(pts, a, InlineExecutor(), progress=False)
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        ex = DaskExecutor(cluster.scheduler_address)
        try:
            statuses = run_points(pts, b, ex, progress=False)
        finally:
            ex.close()
    assert [s["status"] for s in statuses] == ["ok"] * 4
    for p in pts:
        np.testing.assert_array_equal(
            a.load(p).arrays["samples_head"], b.load(p).arrays["samples_head"]
        )
        assert a.load(p).scalars == b.load(p).scalars
    record = json.loads(b.paths(pts[0])[1].read_text())
    assert record["status"] == "ok" and record["seed"] == 0
