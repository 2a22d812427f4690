"""Result store and sweeps: cache hits, atomic writes, verification of every record, divergence,
kill/resume, concurrent processes, executors (inline = process pool = Dask)."""

import dataclasses
import json
import os
import signal
import stat
import subprocess
import sys
import time
import warnings

import numpy as np
import pytest

from metagrad.algorithms import DivergenceError
from metagrad.experiments import ExperimentConfig, Study, flatten, get_study, param
from metagrad.sweep import (
    CorruptEntryWarning,
    InlineExecutor,
    LocalExecutor,
    Point,
    ResultStore,
    run_points,
    run_study,
    study_points,
)

EXP_ID = "selfcheck.erf_i2"


def _assert_same(a, b):
    """Two result trees are identical, bit for bit."""
    (fa, la), (fb, lb) = flatten(a), flatten(b)
    assert la == lb and fa.keys() == fb.keys()
    for k in fa:
        np.testing.assert_array_equal(fa[k], fb[k], err_msg=k)


def _points(n, **overrides):
    st = get_study(EXP_ID)
    return study_points(st, st.config("quick", overrides), range(n))


# a study that diverges on odd seeds: by an exception, or by returning inf
@dataclasses.dataclass(frozen=True)
class _DivConfig(ExperimentConfig):
    mode: str = param("raise", "how odd seeds diverge", choices=("raise", "inf"))


@dataclasses.dataclass(frozen=True)
class _DivResult:
    loss: np.ndarray


_div = Study(
    "testdiv.study", title="diverges on odd seeds", paper="-", config=_DivConfig,
    presets={"quick": {}, "paper": {}}, cost={"quick": "<1 s", "paper": "<1 s"},
)


@_div.run
def _div_compute(config, *, key):
    import jax.numpy as jnp

    # the key of seed s is PRNGKey(s): its second word is s
    seed = int(jnp.asarray(key)[-1])
    if seed % 2 == 0:
        return _DivResult(np.array([1.0, 0.5]))
    if config.mode == "raise":
        raise DivergenceError("inner loop diverged", meta_step=7, task=0, inner_step=1, lr=1e30)
    return _DivResult(np.array([1.0, np.inf]))



@_div.claims("testdiv.fig1")
def _div_claims(config, res):
    """The loss falls."""
    from metagrad.experiments import check_true

    return [check_true("falls", res.mean.loss[-1] < res.mean.loss[0], res.mean.loss.tolist(), "<")]


@dataclasses.dataclass(frozen=True)
class Inner:
    gap: np.ndarray
    nan_ok = ("gap",)


@dataclasses.dataclass(frozen=True)
class Outer:
    x: np.ndarray
    s: float
    n: int
    flag: bool
    label: str
    per: dict


def test_key_depends_on_every_field():
    p = Point("a.b", {"x": 1}, 0, fingerprint="f")
    keys = {
        p.key("1"),
        p.key("2"),
        Point("a.c", {"x": 1}, 0, fingerprint="f").key("1"),
        Point("a.b", {"x": 2}, 0, fingerprint="f").key("1"),
        Point("a.b", {"x": 1}, 1, fingerprint="f").key("1"),
        Point("a.b", {"x": 1}, 0, fingerprint="g").key("1"),
    }
    assert len(keys) == 6
    assert Point("a.b", {"x": 1}, 0, module="m", fingerprint="f").key("1") == p.key("1")


def test_cache_miss_then_hit(tmp_path):
    store = ResultStore(tmp_path)
    pts = _points(3)
    assert [s["status"] for s in run_points(pts, store, progress=False)] == ["ok"] * 3
    assert [s["status"] for s in run_points(pts, store, progress=False)] == ["cached"] * 3
    changed = run_points(_points(3, n_samples=3000), store, progress=False)
    assert [s["status"] for s in changed] == ["ok"] * 3


def test_roundtrip_preserves_tree_and_nan(tmp_path, getkey):
    import jax.random as jr

    x = np.asarray(jr.normal(getkey(), (3, 4)))
    res = Outer(x, float(x[0, 0]), 3, True, "hi", {"a": Inner(np.array([1.0, np.nan]))})
    store = ResultStore(tmp_path)
    pt = Point("t.x", {"k": 1}, 3)
    rec = store.save(pt, res)
    assert rec.status == "ok"
    back = store.load(pt).result
    np.testing.assert_array_equal(back.x, x)
    assert (back.s, back.n, back.flag, back.label) == (res.s, 3, True, "hi")
    assert type(back.n) is int and type(back.s) is float
    np.testing.assert_array_equal(back.per["a"].gap, [1.0, np.nan])
    assert not list(tmp_path.rglob("*.tmp"))


def _tamper(js, how):
    rec = json.loads(js.read_text())
    if how == "edit_value":
        npz = js.with_suffix(".npz")
        data = np.load(npz)
        arrays = {k: data[k] for k in data.files}
        arrays["mc"] = arrays["mc"] + 1.0
        np.savez(npz, **arrays)
        return
    if how == "mark_diverged":
        rec["status"] = "diverged"
    elif how == "other_seed":
        rec["seed"] = rec["seed"] + 1
    elif how == "edit_config":
        rec["config"]["n_samples"] = 7
    elif how == "list":
        rec = []
    elif how == "null":
        rec = None
    elif how == "layout_list":
        rec["layout"] = []
    elif how == "missing_field":
        del rec["layout"]["fields"]["mc"]
    elif how == "nan_value":
        rec["info"]["seconds"] = "nan"
    js.write_text(json.dumps(rec))


@pytest.mark.parametrize(
    "damage",
    [
        "truncate_npz", "delete_npz", "garble_json", "flip_byte", "edit_value", "mark_diverged",
        "other_seed", "edit_config", "list", "null", "layout_list", "missing_field", "nan_value",
    ],
)
def test_bad_record_is_reported_moved_aside_and_recomputed(tmp_path, damage):
    store = ResultStore(tmp_path)
    pts = _points(1)
    run_points(pts, store, progress=False)
    good = store.load(pts[0]).result
    npz, js = store.paths(pts[0])
    if damage == "truncate_npz":
        npz.write_bytes(npz.read_bytes()[:50])
    elif damage == "delete_npz":
        npz.unlink()
    elif damage == "garble_json":
        js.write_text("{not json")
    elif damage == "flip_byte":
        data = bytearray(npz.read_bytes())
        data[len(data) // 2] ^= 0xFF
        npz.write_bytes(bytes(data))
    else:
        _tamper(js, damage)
    with pytest.warns(CorruptEntryWarning, match=str(js.parent.name)):
        statuses = run_points(pts, store, progress=False)
    assert statuses[0]["status"] == "ok"
    assert list((tmp_path / "_quarantine").rglob("*.json")) or damage == "delete_npz"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = store.load(pts[0]).result
    _assert_same(again, good)


@pytest.mark.parametrize("mode", ["raise", "inf"])
def test_divergence_is_stored_and_the_sweep_goes_on(tmp_path, mode):
    store = ResultStore(tmp_path)
    run = run_study(_div, _div.config("quick", {"mode": mode}), seeds=range(4), store=store,
                    progress=False)
    assert [s["status"] for s in run.statuses] == ["ok", "diverged", "ok", "diverged"]
    assert run.diverged_seeds == [1, 3]
    cause = run.causes[0]
    assert ("DivergenceError" in cause) if mode == "raise" else ("loss" in cause)
    assert run.seeds_result.n == 2 and all(c.passed for c in run.all_checks)
    if mode == "raise":
        rec = store.record(study_points(_div, run.config, [1])[0])
        assert rec["status"] == "diverged" and rec["info"]["step"] == 7
    again = run_study(_div, run.config, seeds=range(4), store=store, progress=False)
    assert [s["status"] for s in again.statuses] == ["cached", "diverged", "cached", "diverged"]


def test_same_seed_same_numbers_different_seed_different(tmp_path):
    st = get_study(EXP_ID)
    cfg = st.config("quick")
    a, b, c = (
        run_study(st, cfg, seeds=[s], store=ResultStore(tmp_path / d), progress=False)
        for s, d in ((5, "a"), (5, "b"), (6, "c"))
    )
    np.testing.assert_array_equal(a.seeds_result.mean.samples_head, b.seeds_result.mean.samples_head)
    assert not np.array_equal(a.seeds_result.mean.samples_head, c.seeds_result.mean.samples_head)


def test_merge_over_seeds(tmp_path):
    st = get_study(EXP_ID)
    run = run_study(st, st.config("quick"), seeds=range(4), store=ResultStore(tmp_path),
                    progress=False)
    res = run.seeds_result
    assert res.n == 4 and res.values.samples_head.shape == (4, 16)
    np.testing.assert_allclose(res.mean.samples_head, res.values.samples_head.mean(0))
    np.testing.assert_allclose(res.std.samples_head, res.values.samples_head.std(0))
    assert res.mean.mc == pytest.approx(res.values.mc.mean())
    assert all(c.passed for c in run.all_checks)


def _cli(*args):
    return [sys.executable, "-m", "metagrad.cli", *args]


def test_killed_sweep_resumes_and_loses_nothing(tmp_path):
    """SIGKILL a sweep mid-way in a subprocess, resume it, compare with an uninterrupted run."""
    n, killed_dir, clean_dir = 8, tmp_path / "killed", tmp_path / "clean"
    cmd = _cli("run", EXP_ID, "--seeds", str(n), "--set", "delay=0.4", "--executor", "inline",
               "--results", str(killed_dir))
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
        _assert_same(store.load(p).result, clean.load(p).result)


def test_concurrent_runs_compute_each_point_once_and_keep_figures(tmp_path):
    """Three processes run the same study on one store: each point computed once, figures intact."""
    res = tmp_path / "r"
    cmd = _cli("run", EXP_ID, "--seeds", "4", "--set", "delay=0.3", "--executor", "inline",
               "--results", str(res), "--json")
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(3)]
    outs = [p.communicate(timeout=600) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1][-2000:] for o in outs]
    summaries = [json.loads(o[0]) for o in outs]
    computed = [sum(s["statuses"][i]["status"] == "ok" for s in summaries) for i in range(4)]
    assert computed == [1, 1, 1, 1], computed
    for s in summaries:
        assert s["figures"] == ["i2"] and s["plot_error"] is None
    run_dirs = list((res / "runs" / EXP_ID).iterdir())
    assert len(run_dirs) == 1 and (run_dirs[0] / "i2.png").stat().st_size > 1000
    assert not list(res.rglob(".*.tmp")) and not list(res.rglob(".*.png"))


def test_store_files_are_group_readable_and_stale_temporaries_cleaned(tmp_path):
    store = ResultStore(tmp_path)
    pts = _points(1)
    stale = tmp_path / EXP_ID / ".x.json.abc.tmp"
    stale.parent.mkdir(parents=True)
    stale.write_text("partial")
    old = time.time() - 3600
    os.utime(stale, (old, old))
    fresh = tmp_path / EXP_ID / ".y.json.abc.tmp"
    fresh.write_text("being written")
    prev = os.umask(0o022)
    try:
        run_points(pts, store, progress=False)
    finally:
        os.umask(prev)
    assert not stale.exists() and fresh.exists()
    for p in store.paths(pts[0]):
        assert stat.S_IMODE(p.stat().st_mode) & 0o044 == 0o044


@pytest.mark.slow  # measured >= 8 s of the fast suite's wall time (2026-12-02)
def test_local_process_pool_equals_inline(tmp_path):
    pts = _points(3)
    a, b = ResultStore(tmp_path / "a"), ResultStore(tmp_path / "b")
    run_points(pts, a, InlineExecutor(), progress=False)
    statuses = run_points(pts, b, LocalExecutor(2), progress=False)
    assert [s["status"] for s in statuses] == ["ok"] * 3
    for p in pts:
        np.testing.assert_array_equal(a.load(p).result.samples_head, b.load(p).result.samples_head)
        assert a.load(p).result.mc == b.load(p).result.mc


@pytest.mark.slow  # measured >= 8 s of the fast suite's wall time (2026-12-02)
def test_dask_local_cluster_equals_inline(tmp_path):
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
        np.testing.assert_array_equal(a.load(p).result.samples_head, b.load(p).result.samples_head)
        assert a.load(p).result.mc == b.load(p).result.mc
    record = json.loads(b.paths(pts[0])[1].read_text())
    assert record["status"] == "ok" and record["seed"] == 0
