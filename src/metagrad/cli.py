"""The `metagrad` command: list, show, run, reproduce and report experiments."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from metagrad.experiments import ConfigError, list_figures, resolve
from metagrad.sweep import (
    ResultStore,
    StoreError,
    finish_study,
    make_executor,
    run_points,
    study_points,
    to_jsonable,
)

app = typer.Typer(
    help="metagrad: theory and practice of gradient-based meta-learning.",
    no_args_is_help=True,
    add_completion=False,
)
from metagrad.data._cli import data_app  # noqa: E402

app.add_typer(data_app, name="data", help="Few-shot datasets: list, prepare from local files, show.")
console = Console()
err_console = Console(stderr=True, soft_wrap=True)  # errors unwrapped: paths stay whole

ResultsOpt = Annotated[
    str | None,
    typer.Option("--results", help="Result store (default $METAGRAD_RESULTS or ./results)."),
]
ExecutorOpt = Annotated[
    str, typer.Option("--executor", help="inline, local (process pool) or dask.")
]
SchedulerOpt = Annotated[
    str | None, typer.Option("--scheduler", help="Dask scheduler address for --executor dask.")
]
ForceOpt = Annotated[
    bool, typer.Option("--force", help="Run even when the estimated cost is above --max-hours.")
]
MaxHoursOpt = Annotated[
    float,
    typer.Option("--max-hours", min=0.0, help="Refuse configs estimated to take longer (hours)."),
]
WorkersOpt = Annotated[int | None, typer.Option("--workers", min=1, help="Local worker processes.")]


def _fail(message: str) -> None:
    err_console.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(2)


_FMT_MAX = 200  # characters of a measured value shown in the terminal (the summary keeps it all)


def _fmt(v) -> str:
    """A check's value as terminal text: markup-escaped (rich would eat `[...]`), long ones cut."""
    if v is None:
        return "—"
    text = f"{v:.4g}" if isinstance(v, float) else str(v)
    if len(text) > _FMT_MAX:
        text = text[: _FMT_MAX - 1] + "…"
    return escape(text)


def _checks_table(run, figure) -> Table:
    table = Table(title=f"{figure.id}: {figure.title}", show_lines=False)
    for col in ("", "claim", "metagrad", "paper / bound", "tolerance"):
        table.add_column(col)
    for c in run.checks[figure.id]:
        mark = "[green]pass[/]" if c.passed else "[red]FAIL[/]"
        table.add_row(mark, escape(c.name), _fmt(c.measured), _fmt(c.target), _fmt(c.tolerance))
    return table


def _specs(names, scale, overrides=()):
    """[(study, figures, config)] for figure or study ids, one entry per study (runs shared)."""
    by_study: dict[str, list] = {}
    for name in names:
        study, figs = resolve(name)
        entry = by_study.setdefault(study.id, [study, [], None])
        entry[1].extend(f for f in figs if f not in entry[1])
    for entry in by_study.values():
        entry[2] = entry[0].config(scale, overrides)
    return [tuple(e) for e in by_study.values()]


def _check_costs(specs, n_seeds: int, *, force: bool, max_hours: float) -> None:
    """Estimate every study's time before compute: refuse above the limit, warn above paper scale."""
    from metagrad.experiments._study import format_seconds, parse_seconds

    for study, _, cfg in specs:
        try:
            est = study.check_cost(cfg, n_seeds=n_seeds, limit=math.inf if force else max_hours * 3600)
        except ConfigError as err:
            _fail(str(err))
        paper = parse_seconds(study.cost["paper"])
        if est is not None and paper is not None and est > 2 * paper * n_seeds:
            err_console.print(
                f"[yellow]warning:[/] {study.id} is estimated at {format_seconds(est)}, above its "
                f"paper-scale cost ({study.cost['paper']} per seed)."
            )


def _execute(specs, *, seeds, scale, results, executor, scheduler, workers, progress=True):
    """Run the points of several (study, figures, config) specs in one executor; save each figure."""
    from metagrad._env import enable_compilation_cache_from_env
    from metagrad.report.html import save_study_run

    try:
        store = ResultStore(results)
        store.ensure_writable()
    except StoreError as err:
        _fail(str(err))
    all_points = [study_points(study, cfg, seeds) for study, _, cfg in specs]
    flat = [p for pts in all_points for p in pts]
    enable_compilation_cache_from_env()  # a second run of a compile-bound study skips XLA
    try:
        ex = make_executor(executor, workers=workers, scheduler=scheduler)
    except (ValueError, ConnectionError) as err:
        _fail(str(err))
    try:
        statuses = run_points(flat, store, ex, progress=progress, description="points")
    finally:
        ex.close()
    runs, i = [], 0
    for (study, figs, cfg), pts in zip(specs, all_points):
        run_ = finish_study(study, cfg, list(seeds), pts, statuses[i : i + len(pts)], store, figs)
        i += len(pts)
        runs.append((run_, save_study_run(run_, store.root, scale=scale)))
    return store, runs


def _print_run(run_, summaries) -> None:
    if run_.diverged_seeds:
        err_console.print(
            f"[red]diverged[/] {run_.study.id} seeds {run_.diverged_seeds}: {'; '.join(run_.causes)}"
        )
    for fig, summ in zip(run_.figures, summaries):
        console.print(_checks_table(run_, fig))
        if summ["plot_error"]:
            err_console.print(f"[red]plot failed[/] {fig.id}: {summ['plot_error']}")


def _bad(runs) -> bool:
    return any(
        r.diverged_seeds or not all(c.passed for c in r.all_checks) or any(s["plot_error"] for s in ss)
        for r, ss in runs
    )


@app.command("list")
def list_cmd() -> None:
    """List every figure and table with the study that computes it and its cost."""
    table = Table(title="metagrad: figures and tables (a study is run once for all its figures)")
    table.add_column("id", no_wrap=True)  # ids are copied into commands: never truncate them
    for col in ("title", "study", "paper", "quick", "paper scale"):
        table.add_column(col)
    for fig in list_figures():
        st = fig.study
        table.add_row(fig.id, fig.title, st.id, st.paper, st.cost["quick"], st.cost["paper"])
    console.print(table)


@app.command()
def show(
    fig_id: str, scale: Annotated[str, typer.Option(help="quick or paper")] = "paper"
) -> None:
    """Show a figure's study config (every key with its value at SCALE, range, meaning) and claims."""
    try:
        study, figs = resolve(fig_id)
        cfg = study.config(scale)
    except ConfigError as err:
        _fail(str(err))
    table = Table(title=f"{fig_id} — study {study.id}: {study.title} ({study.paper}); scale={scale}")
    table.add_column("key", no_wrap=True)
    for col in ("type", "value", "allowed", "meaning"):
        table.add_column(col)
    values = cfg.to_dict()
    for name, tp, _default, allowed, doc in study.Config.describe():
        table.add_row(name, tp, repr(values[name]), allowed, doc)
    console.print(table)
    console.print(f"cost: quick {study.cost['quick']}, paper {study.cost['paper']}")
    for fig in figs:
        doc = (fig.claims_fn.__doc__ or "").strip() if fig.claims_fn else "(no claims)"
        console.print(f"[bold]{fig.id}[/] — {fig.title}\nclaims: {doc}")


@app.command()
def run(
    fig_id: str,
    scale: Annotated[str, typer.Option(help="quick or paper")] = "quick",
    set_: Annotated[
        list[str], typer.Option("--set", help="Config override key=value (repeatable).")
    ] = [],  # noqa: B006
    seeds: Annotated[int, typer.Option(min=1, help="Number of seeds.")] = 1,
    seed: Annotated[int, typer.Option(min=0, max=2**31 - 1, help="First seed.")] = 0,
    executor: ExecutorOpt = "local",
    scheduler: SchedulerOpt = None,
    workers: WorkersOpt = None,
    results: ResultsOpt = None,
    json_: Annotated[
        bool, typer.Option("--json", help="Print the result summary as JSON.")
    ] = False,
    strict: Annotated[
        bool, typer.Option(help="Exit 1 if a check fails, a point diverges or a plot fails.")
    ] = False,
    force: ForceOpt = False,
    max_hours: MaxHoursOpt = 6.0,
) -> None:
    """Run one figure, table or study (cached points are reused), write figures, print the claims."""
    if seed + seeds > 2**31:
        _fail(f"--seed {seed} + --seeds {seeds} exceeds 2**31 (seeds are 32-bit).")
    try:
        specs = _specs([fig_id], scale, set_)
    except ConfigError as err:
        _fail(str(err))
    _check_costs(specs, seeds, force=force, max_hours=max_hours)
    _, runs = _execute(
        specs,
        seeds=list(range(seed, seed + seeds)),
        scale=scale,
        results=results,
        executor=executor,
        scheduler=scheduler,
        workers=workers,
        progress=not json_,
    )
    run_, summaries = runs[0]
    if json_:
        payload = summaries[0] if len(summaries) == 1 else summaries
        sys.stdout.write(json.dumps(to_jsonable(payload), indent=1) + "\n")
    else:
        _print_run(run_, summaries)
        console.print(f"figures and summaries: {', '.join(s['output'] for s in summaries)}")
    if any(s["plot_error"] for s in summaries):
        raise typer.Exit(1)
    if strict and _bad(runs):
        raise typer.Exit(1)


@app.command()
def reproduce(
    ids: Annotated[
        list[str] | None, typer.Argument(help="Figure or study ids (default: all).")
    ] = None,
    quick: Annotated[bool, typer.Option("--quick", help="Quick scale (default).")] = False,
    paper: Annotated[bool, typer.Option("--paper", help="The papers' parameters (hours).")] = False,
    seeds: Annotated[int, typer.Option(min=1, help="Seeds per study.")] = 1,
    executor: ExecutorOpt = "local",
    scheduler: SchedulerOpt = None,
    workers: WorkersOpt = None,
    results: ResultsOpt = None,
    out: Annotated[Path, typer.Option(help="Directory of the HTML report.")] = Path("report"),
    strict: Annotated[
        bool, typer.Option(help="Exit 1 if a check fails or a point diverges.")
    ] = False,
    force: ForceOpt = False,
    max_hours: MaxHoursOpt = 24.0,
) -> None:
    """Run many figures (all by default; each study once), then write the HTML report."""
    from metagrad.report.html import ReportError, build_report
    from metagrad.report.verdicts import default_path

    if quick and paper:
        _fail("choose one of --quick and --paper.")
    scale = "paper" if paper else "quick"
    try:
        specs = _specs(ids or [f.id for f in list_figures()], scale)
    except ConfigError as err:
        _fail(str(err))
    _check_costs(specs, seeds, force=force, max_hours=max_hours)
    if out.exists() and not out.is_dir():
        _fail(f"--out {out} is a file, not a directory.")
    store, runs = _execute(
        specs,
        seeds=list(range(seeds)),
        scale=scale,
        results=results,
        executor=executor,
        scheduler=scheduler,
        workers=workers,
    )
    for run_, summaries in runs:
        _print_run(run_, summaries)
    try:
        index = build_report(store.root, out, verdicts=default_path())
    except ReportError as err:
        _fail(str(err))
    checks = [c for r, _ in runs for c in r.all_checks]
    ok = sum(c.passed for c in checks)
    n_figs = sum(len(r.figures) for r, _ in runs)
    diverged = [r.study.id for r, _ in runs if r.diverged_seeds]
    failed_plots = [s["id"] for _, ss in runs for s in ss if s["plot_error"]]
    console.print(
        f"{len(runs)} studies, {n_figs} figures/tables, {ok}/{len(checks)} checks pass"
        + (f", diverged: {', '.join(diverged)}" if diverged else "")
        + (f", plot failed: {', '.join(failed_plots)}" if failed_plots else "")
        + f". Report: {index}"
    )
    if failed_plots or (strict and _bad(runs)):
        raise typer.Exit(1)


@app.command()
def record(
    ids: Annotated[
        list[str] | None, typer.Argument(help="Figure ids (default: every figure in the store).")
    ] = None,
    scale: Annotated[str, typer.Option(help="quick or paper")] = "paper",
    results: ResultsOpt = None,
    file: Annotated[
        Path | None,
        typer.Option("--file", help="Verdict file (default: docs/verdicts.json of this checkout)."),
    ] = None,
) -> None:
    """Record the store's current verdicts at SCALE in the repository's verdict file (README, report)."""
    from metagrad.report.html import ReportError
    from metagrad.report.verdicts import default_path, record_verdicts

    if scale not in ("quick", "paper"):
        _fail(f"--scale must be quick or paper, got {scale!r}.")
    path = file or default_path()
    if path is None:
        _fail("not in a source checkout: give the verdict file with --file.")
    try:
        done, skipped = record_verdicts(ResultStore(results).root, path, scale=scale, ids=ids)
    except (ReportError, StoreError, ValueError) as err:
        _fail(str(err))
    for s in skipped:
        err_console.print(f"[yellow]not recorded[/] {s}")
    console.print(f"recorded {len(done)} {scale}-scale verdicts in {path}: {', '.join(done) or '-'}")
    if not done:
        raise typer.Exit(1)


@app.command()
def report(
    results: ResultsOpt = None,
    out: Annotated[Path, typer.Option(help="Directory of the HTML report.")] = Path("report"),
) -> None:
    """Rebuild the HTML report from the result store (no computation)."""
    from metagrad.report.html import ReportError, build_report
    from metagrad.report.verdicts import default_path

    try:
        index = build_report(ResultStore(results).root, out, verdicts=default_path())
    except (ReportError, StoreError) as err:
        _fail(str(err))
    console.print(f"Report: {index}")


if __name__ == "__main__":
    app()
