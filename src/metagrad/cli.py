"""The `metagrad` command: list, show, run, reproduce and report experiments."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from metagrad.experiments import ConfigError, get_experiment, list_experiments
from metagrad.sweep import (
    ResultStore,
    experiment_points,
    finish_experiment,
    make_executor,
    run_points,
    to_jsonable,
)

app = typer.Typer(
    help="metagrad: theory and practice of gradient-based meta-learning.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()
err_console = Console(stderr=True)

ResultsOpt = Annotated[
    Path | None,
    typer.Option("--results", help="Result store (default $METAGRAD_RESULTS or ./results)."),
]
ExecutorOpt = Annotated[
    str, typer.Option("--executor", help="inline, local (process pool) or dask.")
]
SchedulerOpt = Annotated[
    str | None, typer.Option("--scheduler", help="Dask scheduler address for --executor dask.")
]
WorkersOpt = Annotated[int | None, typer.Option("--workers", min=1, help="Local worker processes.")]


def _fail(message: str) -> None:
    err_console.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(2)


def _checks_table(run) -> Table:
    table = Table(title=f"{run.exp.id}: {run.exp.title}", show_lines=False)
    for col in ("", "claim", "metagrad", "paper / bound", "tolerance"):
        table.add_column(col)
    for c in run.checks:
        fmt = lambda v: f"{v:.4g}" if isinstance(v, float) else str(v)  # noqa: E731
        mark = "[green]pass[/]" if c.passed else "[red]FAIL[/]"
        table.add_row(mark, c.name, fmt(c.measured), fmt(c.target), fmt(c.tolerance))
    return table


def _summary(run, run_dir: Path) -> dict:
    return to_jsonable(
        {
            "id": run.exp.id,
            "config": run.config.to_dict(),
            "seeds": run.seeds,
            "statuses": run.statuses,
            "diverged_seeds": run.diverged_seeds,
            "scalars": run.result.scalars,
            "checks": [c.to_dict() for c in run.checks],
            "output": str(run_dir),
        }
    )


def _execute(specs, *, scale, results, executor, scheduler, workers, progress=True):
    """Run the points of several (experiment, config, seeds) specs in one executor; save each run."""
    from metagrad.report.html import save_run

    store = ResultStore(results)
    all_points = [experiment_points(exp, cfg, seeds) for exp, cfg, seeds in specs]
    flat = [p for pts in all_points for p in pts]
    try:
        ex = make_executor(executor, workers=workers, scheduler=scheduler)
    except ValueError as err:
        _fail(str(err))
    try:
        statuses = run_points(flat, store, ex, progress=progress, description="points")
    finally:
        ex.close()
    runs, i = [], 0
    for (exp, cfg, seeds), pts in zip(specs, all_points):
        run = finish_experiment(exp, cfg, list(seeds), pts, statuses[i : i + len(pts)], store)
        i += len(pts)
        runs.append((run, save_run(run, store.root, scale=scale)))
    return store, runs


@app.command("list")
def list_cmd() -> None:
    """List the registered experiments with their cost at quick and paper scale."""
    table = Table(title="metagrad experiments")
    table.add_column("id", no_wrap=True)  # ids are copied into commands: never truncate them
    for col in ("title", "paper", "quick", "paper scale"):
        table.add_column(col)
    for exp in list_experiments():
        table.add_row(
            exp.id, exp.title, exp.paper, exp.cost.get("quick", "?"), exp.cost.get("paper", "?")
        )
    console.print(table)


@app.command()
def show(exp_id: str, scale: Annotated[str, typer.Option(help="quick or paper")] = "paper") -> None:
    """Show an experiment's config: every key with its value at SCALE, range and meaning."""
    try:
        exp = get_experiment(exp_id)
        cfg = exp.config(scale)
    except ConfigError as err:
        _fail(str(err))
    table = Table(title=f"{exp.id} — {exp.title} ({exp.paper}); scale={scale}")
    table.add_column("key", no_wrap=True)
    for col in ("type", "value", "allowed", "meaning"):
        table.add_column(col)
    values = cfg.to_dict()
    for name, tp, _default, allowed, doc in exp.Config.describe():
        table.add_row(name, tp, repr(values[name]), allowed, doc)
    console.print(table)


@app.command()
def run(
    exp_id: str,
    scale: Annotated[str, typer.Option(help="quick or paper")] = "quick",
    set_: Annotated[
        list[str], typer.Option("--set", help="Config override key=value (repeatable).")
    ] = [],  # noqa: B006
    seeds: Annotated[int, typer.Option(min=1, help="Number of seeds.")] = 1,
    seed: Annotated[int, typer.Option(min=0, help="First seed.")] = 0,
    executor: ExecutorOpt = "local",
    scheduler: SchedulerOpt = None,
    workers: WorkersOpt = None,
    results: ResultsOpt = None,
    json_: Annotated[
        bool, typer.Option("--json", help="Print the result summary as JSON.")
    ] = False,
    strict: Annotated[
        bool, typer.Option(help="Exit 1 if a check fails or a point diverges.")
    ] = False,
) -> None:
    """Run one experiment (cached points are reused), write figures and print the checks."""
    try:
        exp = get_experiment(exp_id)
        cfg = exp.config(scale, set_)
    except ConfigError as err:
        _fail(str(err))
    spec = [(exp, cfg, list(range(seed, seed + seeds)))]
    _, runs = _execute(
        spec,
        scale=scale,
        results=results,
        executor=executor,
        scheduler=scheduler,
        workers=workers,
        progress=not json_,
    )
    run_, out = runs[0]
    if json_:
        sys.stdout.write(json.dumps(_summary(run_, out), indent=1) + "\n")
    else:
        if run_.diverged_seeds:
            err_console.print(
                f"[red]diverged[/] seeds {run_.diverged_seeds}: non-finite "
                f"{run_.result.nonfinite()}; not plotted."
            )
        console.print(_checks_table(run_))
        console.print(f"figures and summary: {out}")
    bad = run_.diverged_seeds or not all(c.passed for c in run_.checks)
    if strict and bad:
        raise typer.Exit(1)


@app.command()
def reproduce(
    ids: Annotated[list[str] | None, typer.Argument(help="Experiment ids (default: all).")] = None,
    quick: Annotated[bool, typer.Option("--quick", help="Quick scale (default).")] = False,
    paper: Annotated[bool, typer.Option("--paper", help="The papers' parameters (hours).")] = False,
    seeds: Annotated[int, typer.Option(min=1, help="Seeds per experiment.")] = 1,
    executor: ExecutorOpt = "local",
    scheduler: SchedulerOpt = None,
    workers: WorkersOpt = None,
    results: ResultsOpt = None,
    out: Annotated[Path, typer.Option(help="Directory of the HTML report.")] = Path("report"),
    strict: Annotated[
        bool, typer.Option(help="Exit 1 if a check fails or a point diverges.")
    ] = False,
) -> None:
    """Run many experiments (all by default), then write the HTML report."""
    from metagrad.report.html import build_report

    if quick and paper:
        _fail("choose one of --quick and --paper.")
    scale = "paper" if paper else "quick"
    try:
        exps = [get_experiment(i) for i in ids] if ids else list_experiments()
        specs = [(e, e.config(scale), list(range(seeds))) for e in exps]
    except ConfigError as err:
        _fail(str(err))
    store, runs = _execute(
        specs, scale=scale, results=results, executor=executor, scheduler=scheduler, workers=workers
    )
    for run_, _ in runs:
        console.print(_checks_table(run_))
    index = build_report(store.root, out)
    n = sum(len(r.checks) for r, _ in runs)
    ok = sum(c.passed for r, _ in runs for c in r.checks)
    diverged = [r.exp.id for r, _ in runs if r.diverged_seeds]
    console.print(
        f"{len(runs)} experiments, {ok}/{n} checks pass"
        + (f", diverged: {', '.join(diverged)}" if diverged else "")
        + f". Report: {index}"
    )
    if strict and (ok < n or diverged):
        raise typer.Exit(1)


@app.command()
def report(
    results: ResultsOpt = None,
    out: Annotated[Path, typer.Option(help="Directory of the HTML report.")] = Path("report"),
) -> None:
    """Rebuild the HTML report from the result store (no computation)."""
    from metagrad.report.html import build_report

    index = build_report(ResultStore(results).root, out)
    console.print(f"Report: {index}")


if __name__ == "__main__":
    app()
