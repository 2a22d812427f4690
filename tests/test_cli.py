"""The `metagrad` command end to end (in process, with typer's runner)."""

import json

import pytest
from typer.testing import CliRunner

from metagrad.cli import app

runner = CliRunner()


def test_list_shows_every_experiment():
    import metagrad.cli
    from metagrad.experiments import list_figures

    metagrad.cli.console.width = 400  # the console was created at import, whatever COLUMNS was then
    out = runner.invoke(app, ["list"], env={"COLUMNS": "400"})
    assert out.exit_code == 0, out.output
    for fig in list_figures():
        if fig.study.module.startswith("metagrad."):  # not the studies other tests register
            assert fig.id in out.output and fig.study.id in out.output


def test_show_lists_keys_with_ranges():
    out = runner.invoke(app, ["show", "selfcheck.erf_i2"], env={"COLUMNS": "300"})
    assert out.exit_code == 0, out.output
    assert "n_samples" in out.output and ">= 100" in out.output
    assert "claims:" in out.output and "5 standard errors" in out.output


def test_run_json_then_report(tmp_path):
    res = str(tmp_path / "res")
    out = runner.invoke(
        app,
        [
            "run",
            "selfcheck.erf_i2",
            "--json",
            "--executor",
            "inline",
            "--results",
            res,
            "--seeds",
            "2",
            "--set",
            "n_samples=5000",
        ],
    )
    assert out.exit_code == 0, out.output
    summary = json.loads(out.stdout)
    assert summary["seeds"] == [0, 1] and summary["checks"][0]["passed"] is True
    assert summary["config"]["n_samples"] == 5000
    rep = runner.invoke(app, ["report", "--results", res, "--out", str(tmp_path / "rep")])
    assert rep.exit_code == 0, rep.output
    page = (tmp_path / "rep" / "index.html").read_text()
    assert "selfcheck.erf_i2" in page
    assert list((tmp_path / "rep" / "figures").glob("*.png"))


def test_bad_override_exits_2_before_compute(tmp_path):
    for args, fragment in [
        (["--set", "n_samples=-1"], "n_samples=-1 is out of range"),
        (["--set", "bogus=1"], "unknown config key 'bogus'"),
        (["--scale", "huge"], "scale='huge'"),
    ]:
        out = runner.invoke(
            app,
            ["run", "selfcheck.erf_i2", "--results", str(tmp_path), *args],
            env={"COLUMNS": "300"},
        )
        assert out.exit_code == 2 and fragment in out.output, out.output
    assert not list(tmp_path.rglob("*.npz"))


def test_reproduce_selected_ids_writes_report(tmp_path):
    out = runner.invoke(
        app,
        [
            "reproduce",
            "selfcheck.erf_i2",
            "--quick",
            "--executor",
            "inline",
            "--results",
            str(tmp_path / "r"),
            "--out",
            str(tmp_path / "rep"),
            "--strict",
        ],
    )
    assert out.exit_code == 0, out.output
    assert (tmp_path / "rep" / "index.html").exists()


def test_bad_paths_are_clear_errors_before_compute(tmp_path):
    afile = tmp_path / "f"
    afile.write_text("x")
    for results, fragment in [(str(afile), "is a file"), ("", "empty")]:
        out = runner.invoke(app, ["run", "selfcheck.erf_i2", "--results", results],
                            env={"COLUMNS": "300"})
        assert out.exit_code == 2 and fragment in " ".join(out.output.split()), out.output
    out = runner.invoke(app, ["run", "selfcheck.erf_i2", "--seed", str(2**63)], env={"COLUMNS": "300"})
    assert out.exit_code == 2, out.output


def test_run_by_study_id_runs_every_figure_of_it(tmp_path):
    out = runner.invoke(
        app, ["run", "selfcheck.erf_i2", "--executor", "inline", "--results", str(tmp_path), "--json"]
    )
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["study"] == "selfcheck.erf_i2"


def test_unreachable_scheduler_and_bad_worker_count_are_clear_errors(tmp_path, monkeypatch):
    from metagrad.sweep._executors import DaskExecutor

    # Dask retries a refused connection until the timeout (10 s by default): 1 s is enough here
    monkeypatch.setattr(DaskExecutor.__init__, "__kwdefaults__", {"workers": None, "timeout": 1.0})
    args = ["run", "selfcheck.erf_i2", "--results", str(tmp_path)]
    out = runner.invoke(app, [*args, "--executor", "dask", "--scheduler", "tcp://127.0.0.1:9"],
                        env={"COLUMNS": "300"})
    assert out.exit_code == 2 and "cannot reach the Dask scheduler" in out.output, out.output
    out = runner.invoke(app, args, env={"COLUMNS": "300", "METAGRAD_WORKERS": "abc"})
    assert out.exit_code == 2 and "METAGRAD_WORKERS='abc'" in out.output, out.output
    assert not list(tmp_path.rglob("*.npz"))


@pytest.mark.slow
def test_dask_without_scheduler_starts_a_local_cluster(tmp_path):
    out = runner.invoke(app, ["run", "selfcheck.erf_i2", "--executor", "dask", "--workers", "2",
                              "--results", str(tmp_path), "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["checks"][0]["passed"]


def test_cost_is_estimated_before_compute(tmp_path):
    args = ["run", "selfcheck.erf_i2", "--results", str(tmp_path), "--executor", "inline"]
    out = runner.invoke(app, [*args, "--set", "n_samples=5e7", "--max-hours", "0.01"],
                        env={"COLUMNS": "300"})
    assert out.exit_code == 2 and "estimated" in out.output and "n_samples" in out.output, out.output
    assert not list(tmp_path.rglob("*.npz"))
    out = runner.invoke(app, [*args, "--set", "n_samples=1e9"], env={"COLUMNS": "300"})
    assert out.exit_code == 2 and "n_samples=1000000000 is out of range" in out.output, out.output
    out = runner.invoke(app, [*args, "--set", "n_samples=2e6"], env={"COLUMNS": "300"})
    assert out.exit_code == 0 and "above its paper-scale cost" in out.output, out.output


def test_divergent_training_is_recorded_not_a_crash(tmp_path):
    """Issue 11: a learning rate that blows training up marks the point diverged (cause and step)."""
    args = ["run", "maml.sinusoid", "--executor", "inline", "--results", str(tmp_path),
            "--set", "inner_lr=1e30", "--set", "meta_steps=50", "--set", "eval_tasks=20",
            "--set", "grad_tasks=4", "--json"]
    out = runner.invoke(app, args)
    assert out.exit_code == 0, out.output
    summary = json.loads(out.stdout)
    assert summary["diverged_seeds"] == [0] and "DivergenceError" in summary["causes"][0]
    assert summary["figures"] == [] and summary["plot_error"] is None
    records = [json.loads(p.read_text()) for p in (tmp_path / "maml.sinusoid").glob("*.json")]
    assert records[0]["status"] == "diverged" and isinstance(records[0]["info"]["step"], int)
    strict = runner.invoke(app, [*args, "--strict"])
    assert strict.exit_code == 1


def test_compilation_cache_location_and_reuse(tmp_path, monkeypatch):
    """METAGRAD_JAX_CACHE picks (or switches off) the CLI's persistent cache; a cleared process
    cache then reads the compiled program back from disk instead of compiling it again."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    from metagrad._env import compilation_cache_dir

    for off in ("off", "0", ""):
        monkeypatch.setenv("METAGRAD_JAX_CACHE", off)
        assert compilation_cache_dir() is None
    monkeypatch.delenv("METAGRAD_JAX_CACHE")
    monkeypatch.setenv("JAX_COMPILATION_CACHE_DIR", str(tmp_path / "jax-own"))
    assert compilation_cache_dir() == tmp_path / "jax-own"
    monkeypatch.delenv("JAX_COMPILATION_CACHE_DIR")
    assert compilation_cache_dir() == Path.home() / ".cache" / "metagrad" / "jax"

    script = """
import jax, jax.numpy as jnp
from metagrad._env import enable_compilation_cache_from_env
hits = []
jax.monitoring.register_event_listener(
    lambda name, **kw: hits.append(name) if name.endswith("cache_hits") else None)
assert enable_compilation_cache_from_env(min_compile_seconds=0.0) is not None
f = lambda x: jnp.sin(x) @ jnp.cos(x).T
jax.jit(f)(jnp.ones((3, 3))).block_until_ready()
first = len(hits)
jax.clear_caches()
jax.jit(f)(jnp.ones((3, 3))).block_until_ready()
print(first, len(hits))
"""
    env = {**os.environ, "METAGRAD_JAX_CACHE": str(tmp_path / "cache")}
    env.pop("JAX_COMPILATION_CACHE_DIR", None)
    env.pop("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", None)
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    first, second = map(int, out.stdout.split())
    assert first == 0 and second >= 1
    assert any((tmp_path / "cache").iterdir())


def test_check_values_with_brackets_are_shown_not_eaten_as_markup():
    """A list-valued measurement (e.g. a grid of minimal rates with NaNs) reaches the terminal."""
    from io import StringIO

    from rich.console import Console
    from rich.table import Table

    from metagrad.cli import _FMT_MAX, _fmt

    values = [[float("nan"), 4.0, 2.5], [float("nan"), float("nan"), 3.5]]
    table = Table()
    table.add_column("metagrad")
    table.add_row(_fmt(values))
    out = StringIO()
    Console(file=out, width=200).print(table)
    assert "[nan, 4.0, 2.5]" in out.getvalue()
    long = _fmt(list(range(1000)))
    assert long.endswith("…") and len(long) <= _FMT_MAX + 2
