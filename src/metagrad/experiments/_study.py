"""Studies: one computation whose result feeds the figures, tables and claims that share it.

A :class:`Study` has a typed config (quick and paper presets), a ``run(config, *, key)`` returning a
result tree (see :mod:`metagrad.experiments._result`), and any number of figures or tables
registered against it by id (``"wang2024.fig3"``). Each figure has a plot function and/or a claims
function, both of ``(config, seeds)`` where ``seeds`` is the :class:`Seeds` merge of the per-seed
results. Several figures share one study, hence one run and one store entry per seed.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
import math
import pkgutil
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from metagrad.experiments._config import ConfigError, ExperimentConfig
from metagrad.experiments._result import Seeds

__all__ = [
    "Check",
    "FigureSpec",
    "Study",
    "check_close",
    "check_true",
    "cost_factor",
    "format_seconds",
    "get_figure",
    "get_study",
    "list_figures",
    "list_studies",
    "parse_seconds",
    "resolve",
]


@dataclasses.dataclass(frozen=True)
class Check:
    """One claim of a paper, checked on a result.

    Attributes:
        name: short description of the claim ("optimal alpha_t < 0").
        passed: whether the measured value satisfies the claim.
        measured: the value we measured (number or short text).
        target: the paper's value or the bound (number or short text).
        tolerance: the tolerance used (None where the claim is qualitative).
        note: how the tolerance was derived, or why the check is what it is.
    """

    name: str
    passed: bool
    measured: Any
    target: Any
    tolerance: Any = None
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form."""
        d = dataclasses.asdict(self)
        for k in ("measured", "target", "tolerance"):
            if isinstance(d[k], (np.generic, np.ndarray)):
                d[k] = np.asarray(d[k]).tolist()
        d["passed"] = bool(d["passed"])
        return d


def check_close(
    name: str, measured: float, target: float, *, rtol: float = 0.0, atol: float = 0.0, note: str = ""
) -> Check:
    """A Check that `measured` is within ``atol + rtol*|target|`` of `target` (NaN fails)."""
    tol = atol + rtol * abs(target)
    ok = bool(np.isfinite(measured)) and bool(abs(measured - target) <= tol)
    return Check(name, ok, float(measured), float(target), float(tol), note)


def check_true(name: str, passed: bool, measured: Any, target: Any, note: str = "") -> Check:
    """A Check of a qualitative claim (an inequality, an ordering)."""
    return Check(name, bool(passed), measured, target, None, note)


_UNITS = {"s": 1.0, "min": 60.0, "h": 3600.0}


def parse_seconds(text: str) -> float | None:
    """Seconds in a cost string such as ``"~10 s"``, ``"10-30 s"`` (the upper end), ``"~52 min"``,
    ``"<1 s"`` (1 s), ``"2 h"``; None when the text gives no duration."""
    m = re.search(r"(\d+(?:\.\d+)?)(?:\s*[-–]\s*(\d+(?:\.\d+)?))?\s*(h|min|s)\b", text)
    if m is None:
        return None
    return float(m.group(2) or m.group(1)) * _UNITS[m.group(3)]


def _size(value: Any) -> float:
    if isinstance(value, tuple):
        return float(max(len(value), 1))
    return max(abs(float(value)), 1e-300)


def cost_factor(config: ExperimentConfig, reference: ExperimentConfig) -> tuple[float, str]:
    """(Estimated cost of `config` over that of `reference`, the key that changes it most).

    The product over fields declared with ``param(..., cost=e)`` of (size/reference size)**e,
    where the size of a number is its magnitude and of a tuple its length.
    """
    log_f, worst, worst_log = 0.0, "", 0.0
    for f in dataclasses.fields(config):
        e = f.metadata.get("cost")
        if not e:
            continue
        step = e * (math.log(_size(getattr(config, f.name))) - math.log(_size(getattr(reference, f.name))))
        log_f += step
        if step > worst_log:
            worst, worst_log = f.name, step
    return math.exp(min(log_f, 700.0)), worst


PlotFn = Callable[[Any, Seeds], dict[str, Any]]
ClaimsFn = Callable[[Any, Seeds], list[Check]]


@dataclasses.dataclass
class FigureSpec:
    """A figure or table of a paper, drawn from one study's result.

    Attributes:
        id: ``"<author><year>.<fig|table><N>"``, e.g. ``"yuksel2024.table1"``.
        title: what it shows.
        study: the study that computes it.
        plot_fn: ``(config, seeds) -> {name: matplotlib Figure}`` or None (claims only).
        claims_fn: ``(config, seeds) -> [Check]`` or None (a figure without numeric claims).
    """

    id: str
    title: str
    study: Study
    plot_fn: PlotFn | None = None
    claims_fn: ClaimsFn | None = None

    @property
    def paper(self) -> str:
        """The paper (from the study)."""
        return self.study.paper

    def plot(self, config: ExperimentConfig, seeds: Seeds) -> dict[str, Any]:
        """The figures, by name (empty when the figure has no plot)."""
        return {} if self.plot_fn is None else self.plot_fn(config, seeds)

    def claims(self, config: ExperimentConfig, seeds: Seeds) -> list[Check]:
        """The paper's claims on this result, each with measured value, target and tolerance."""
        return [] if self.claims_fn is None else list(self.claims_fn(config, seeds))


_STUDIES: dict[str, Study] = {}
_FIGURES: dict[str, FigureSpec] = {}


class Study:
    """A computation shared by figures and tables: config, presets, cost, run and its figures.

    Args:
        id: ``"<author><year>.<name>"``; figure ids of the same paper must not equal it unless the
            study has exactly that one figure.
        title: what it computes.
        paper: the paper, e.g. ``"Bernacchia 2021, ICLR"``.
        config: the :class:`ExperimentConfig` subclass; its defaults are the paper scale unless
            ``presets["paper"]`` overrides them.
        presets: ``{"quick": {...}, "paper": {...}}`` overrides of the config defaults.
        cost: ``{"quick": "~10 s", "paper": "~20 min"}`` as measured on the 2-core CPU.
    """

    def __init__(
        self,
        id: str,
        *,
        title: str,
        paper: str,
        config: type[ExperimentConfig],
        presets: Mapping[str, Mapping[str, Any]],
        cost: Mapping[str, str],
    ):
        for scale in ("quick", "paper"):
            if scale not in presets:
                raise ValueError(f"study {id!r} lacks the {scale!r} preset.")
            if scale not in cost:
                raise ValueError(f"study {id!r} lacks the {scale!r} cost.")
        if id.count(".") != 1:
            raise ValueError(f"study id {id!r} must look like 'author2024.name'.")
        if id in _STUDIES:
            raise ValueError(f"study id {id!r} is registered twice.")
        self.id, self.title, self.paper = id, title, paper
        self.Config, self.presets, self.cost = config, dict(presets), dict(cost)
        self.run_fn: Callable[..., Any] | None = None
        self.figures: dict[str, FigureSpec] = {}
        self.module = ""
        _STUDIES[id] = self

    def __repr__(self) -> str:
        return f"Study({self.id!r}, figures={list(self.figures)})"

    # -- registration (decorators) ------------------------------------------------------------
    def run(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """Decorator registering ``fn(config, *, key) -> result`` as the study's computation."""
        if self.run_fn is not None:
            raise ValueError(f"study {self.id!r} already has a run function.")
        self.run_fn, self.module = fn, fn.__module__
        return fn

    def _figure(self, fig_id: str, title: str | None) -> FigureSpec:
        if fig_id in _FIGURES and _FIGURES[fig_id].study is not self:
            raise ValueError(f"figure id {fig_id!r} is registered by two studies.")
        if fig_id not in self.figures:
            if fig_id.count(".") != 1:
                raise ValueError(f"figure id {fig_id!r} must look like 'author2024.fig3'.")
            self.figures[fig_id] = _FIGURES[fig_id] = FigureSpec(fig_id, title or fig_id, self)
        spec = self.figures[fig_id]
        if title:
            spec.title = title
        return spec

    def plot(self, fig_id: str, title: str) -> Callable[[PlotFn], PlotFn]:
        """Decorator registering ``fn(config, seeds) -> {name: Figure}`` as figure `fig_id`."""

        def deco(fn: PlotFn) -> PlotFn:
            spec = self._figure(fig_id, title)
            if spec.plot_fn is not None:
                raise ValueError(f"figure {fig_id!r} already has a plot function.")
            spec.plot_fn = fn
            return fn

        return deco

    def claims(self, fig_id: str, title: str | None = None) -> Callable[[ClaimsFn], ClaimsFn]:
        """Decorator registering ``fn(config, seeds) -> [Check]`` as the claims of `fig_id`."""

        def deco(fn: ClaimsFn) -> ClaimsFn:
            spec = self._figure(fig_id, title)
            if spec.claims_fn is not None:
                raise ValueError(f"figure {fig_id!r} already has a claims function.")
            spec.claims_fn = fn
            return fn

        return deco

    # -- use ----------------------------------------------------------------------------------
    def config(self, scale: str = "quick", overrides: Mapping[str, Any] | Sequence[str] = ()):
        """The validated config at `scale` ('quick' or 'paper') with overrides applied.

        `overrides` is a mapping or a sequence of ``"key=value"`` strings.
        """
        if scale not in self.presets:
            raise ConfigError(f"scale={scale!r} is not allowed: expected one of {sorted(self.presets)}.")
        if not isinstance(overrides, Mapping):
            overrides = dict(self.Config.parse_override(t) for t in overrides)
        return self.Config.build({**self.presets[scale], **overrides})

    def estimate_seconds(self, config: ExperimentConfig) -> tuple[float | None, str]:
        """(Estimated seconds of one seed of `config`, the key that raises it most); None if unknown.

        Anchored on the two measured costs: with F the work factor of `config` over the quick
        preset (:func:`cost_factor`) and F_p that of the paper preset, the estimate interpolates
        log-linearly between the quick and paper costs for 1 <= F <= F_p (quick runs are often
        dominated by compilation) and scales the paper cost by F / F_p beyond it; without a paper
        cost it scales the quick cost by F.
        """
        quick = parse_seconds(self.cost["quick"])
        if quick is None:
            return None, ""
        quick = max(quick, 1.0)
        factor, worst = cost_factor(config, self.config("quick"))
        paper = parse_seconds(self.cost["paper"])
        f_paper, _ = cost_factor(self.config("paper"), self.config("quick"))
        if paper is None or f_paper <= 1.0 or paper <= quick:  # no monotone anchor: scale the larger
            if paper is not None and paper >= quick:
                return paper * factor / f_paper, worst
            return quick * factor, worst
        if factor <= f_paper:
            slope = math.log(paper / quick) / math.log(f_paper)
            return quick * max(factor, 1e-300) ** slope, worst
        return paper * factor / f_paper, worst

    def check_cost(self, config: ExperimentConfig, *, n_seeds: int = 1, limit: float) -> float | None:
        """Raise :class:`ConfigError` when the estimated time exceeds `limit` seconds.

        Returns the estimate (seconds for all seeds) or None when the study has no quick cost.
        """
        est, worst = self.estimate_seconds(config)
        if est is None:
            return None
        est *= n_seeds
        if est > limit:
            raise ConfigError(
                f"{self.id}: estimated {format_seconds(est)} for {n_seeds} seed(s), above the limit "
                f"of {format_seconds(limit)}; the largest factor is {worst}="
                f"{getattr(config, worst, '?')!r}. Reduce it, raise --max-hours, or pass --force."
            )
        return est

    def compute(self, config: ExperimentConfig, *, key: Any) -> Any:
        """Run the study for one seed (`key` is a ``jax.random`` key); returns its result tree."""
        if self.run_fn is None:
            raise RuntimeError(f"study {self.id!r} has no run function.")
        if not isinstance(config, self.Config):
            raise ConfigError(f"study {self.id!r} needs a {self.Config.__name__}, got {type(config).__name__}.")
        return self.run_fn(config, key=key)


def format_seconds(seconds: float) -> str:
    """A duration for people: ``"42 s"``, ``"3.5 min"``, ``"7.2 h"``, ``"3.1e+04 h"``."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.3g} h"


def _load_all() -> None:
    import metagrad.experiments as pkg

    for mod in pkgutil.walk_packages(pkg.__path__, prefix="metagrad.experiments."):
        if not mod.name.rsplit(".", 1)[-1].startswith("_"):
            importlib.import_module(mod.name)


def _load_for(name: str, registry: Mapping[str, Any]) -> None:
    """Import what is needed to find `name`: its paper's module first, every module if still missing."""
    if name in registry:
        return
    prefix = name.split(".", 1)[0]
    try:
        importlib.import_module(f"metagrad.experiments.{prefix}")
    except ImportError:
        pass
    if name not in registry:
        _load_all()


def list_studies() -> list[Study]:
    """All registered studies, sorted by id."""
    _load_all()
    return [_STUDIES[k] for k in sorted(_STUDIES)]


def list_figures() -> list[FigureSpec]:
    """All registered figures and tables, sorted by id."""
    _load_all()
    return [_FIGURES[k] for k in sorted(_FIGURES)]


def _unknown(kind: str, name: str, known: Sequence[str]) -> ConfigError:
    close = difflib.get_close_matches(name, list(known), n=5, cutoff=0.5)
    hint = f" Did you mean: {', '.join(close)}?" if close else " Run `metagrad list`."
    return ConfigError(f"unknown {kind} id {name!r}.{hint}")


def get_study(study_id: str) -> Study:
    """The registered study `study_id`; the error lists close matches."""
    _load_for(study_id, _STUDIES)
    if study_id not in _STUDIES:
        raise _unknown("study", study_id, list(_STUDIES))
    return _STUDIES[study_id]


def get_figure(fig_id: str) -> FigureSpec:
    """The registered figure or table `fig_id`; the error lists close matches."""
    _load_for(fig_id, _FIGURES)
    if fig_id not in _FIGURES:
        raise _unknown("figure", fig_id, list(_FIGURES))
    return _FIGURES[fig_id]


def resolve(name: str) -> tuple[Study, list[FigureSpec]]:
    """(study, figures) for a figure id (that figure) or a study id (all its figures)."""
    _load_for(name, {**_FIGURES, **_STUDIES})
    if name in _FIGURES:
        return _FIGURES[name].study, [_FIGURES[name]]
    if name in _STUDIES:
        return _STUDIES[name], list(_STUDIES[name].figures.values())
    raise _unknown("figure or study", name, list(_FIGURES) + list(_STUDIES))
