"""The experiment abstraction: config presets, run, plot and checks, and the registry."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from metagrad.experiments._config import ConfigError, ExperimentConfig

__all__ = [
    "AbstractExperiment",
    "Check",
    "Result",
    "check_close",
    "check_true",
    "get_experiment",
    "list_experiments",
    "register",
]


@dataclasses.dataclass
class Result:
    """What one run of an experiment returns: named arrays, named scalars and metadata.

    Attributes:
        arrays: name -> NumPy array (curves, grids, trajectories).
        scalars: name -> float (summary numbers such as an optimum).
        meta: JSON-serialisable metadata (units, conventions, notes, timings).
        nan_ok: names of arrays/scalars in which NaN is a legitimate value (e.g. "never crossed");
            any other non-finite value marks the result as diverged.
    """

    arrays: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)
    scalars: dict[str, float] = dataclasses.field(default_factory=dict)
    meta: dict[str, Any] = dataclasses.field(default_factory=dict)
    nan_ok: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        self.arrays = {k: np.asarray(v) for k, v in self.arrays.items()}
        self.scalars = {k: float(v) for k, v in self.scalars.items()}
        self.nan_ok = tuple(self.nan_ok)

    def nonfinite(self) -> list[str]:
        """Names of arrays/scalars holding NaN/inf where that is not legitimate."""
        bad = []
        for k, v in self.arrays.items():
            if k in self.nan_ok or not np.issubdtype(v.dtype, np.number):
                continue
            if not np.all(np.isfinite(v)):
                bad.append(k)
        for k, v in self.scalars.items():
            if k not in self.nan_ok and not math.isfinite(v):
                bad.append(k)
        return bad

    @property
    def diverged(self) -> bool:
        """True when a non-finite value appears where it should not (see `nan_ok`)."""
        return bool(self.nonfinite()) or bool(self.meta.get("diverged"))


from metagrad.experiments._study import Check, check_close, check_true  # noqa: E402


class AbstractExperiment:
    """Base of every registered experiment (one figure or table of a paper).

    Subclasses set the class attributes and implement `run`, `plot` and `checks`:

    - `id`: ``"<firstauthor><year>.<fig|table><N>"``, e.g. ``"bernacchia2021.fig2b"``.
    - `title`, `paper` (e.g. ``"Bernacchia 2021, ICLR (seeds/001)"``).
    - `Config`: an :class:`ExperimentConfig` subclass; its defaults are the `paper` scale unless
      `presets["paper"]` overrides them.
    - `presets`: ``{"quick": {...}, "paper": {...}}`` overrides of the Config defaults.
    - `cost`: ``{"quick": "~10 s", "paper": "~20 min"}`` as measured on the 2-core CPU.
    """

    id: ClassVar[str]
    title: ClassVar[str]
    paper: ClassVar[str]
    Config: ClassVar[type[ExperimentConfig]]
    presets: ClassVar[Mapping[str, Mapping[str, Any]]] = {"quick": {}, "paper": {}}
    cost: ClassVar[Mapping[str, str]] = {"quick": "?", "paper": "?"}

    def config(self, scale: str = "quick", overrides: Mapping[str, Any] | Sequence[str] = ()):
        """The validated config at `scale` ('quick' or 'paper') with overrides applied.

        `overrides` is a mapping or a sequence of ``"key=value"`` strings.
        """
        if scale not in self.presets:
            raise ConfigError(
                f"scale={scale!r} is not allowed: expected one of {sorted(self.presets)}."
            )
        if not isinstance(overrides, Mapping):
            overrides = dict(self.Config.parse_override(t) for t in overrides)
        return self.Config.build({**self.presets[scale], **overrides})

    def run(self, config: ExperimentConfig, key: Any) -> Result:
        """Run the experiment for one seed; `key` is a `jax.random` key."""
        raise NotImplementedError

    def plot(self, result: Result) -> dict[str, Any]:
        """Matplotlib figures in the paper's layout, by name (theory dashed, simulation solid)."""
        raise NotImplementedError

    def checks(self, result: Result) -> list[Check]:
        """The paper's claims on this result, each with measured value, target and tolerance."""
        raise NotImplementedError

    def merge(self, results: Sequence[Result]) -> Result:
        """Combine the results of several seeds into one.

        Default: the mean over seeds under each original name, the standard deviation under
        ``name + "__std"``, and the stacked values under ``name + "__seeds"`` (arrays only).
        """
        if len(results) == 1:
            return results[0]
        arrays: dict[str, np.ndarray] = {}
        for k in results[0].arrays:
            stack = np.stack([r.arrays[k] for r in results])
            if np.issubdtype(stack.dtype, np.number):
                arrays[k] = np.nanmean(stack, axis=0) if k in results[0].nan_ok else stack.mean(0)
                arrays[k + "__std"] = stack.std(0)
            else:
                arrays[k] = stack[0]
            arrays[k + "__seeds"] = stack
        scalars: dict[str, float] = {}
        for k in results[0].scalars:
            vals = np.array([r.scalars[k] for r in results])
            scalars[k] = float(vals.mean())
            scalars[k + "__std"] = float(vals.std())
        meta = dict(results[0].meta, n_seeds=len(results))
        return Result(arrays, scalars, meta, results[0].nan_ok)


_REGISTRY: dict[str, AbstractExperiment] = {}


def register(cls: type[AbstractExperiment]) -> type[AbstractExperiment]:
    """Class decorator adding an experiment to the registry (ids must be unique)."""
    if cls.id in _REGISTRY and type(_REGISTRY[cls.id]) is not cls:
        raise ValueError(f"experiment id {cls.id!r} is registered twice.")
    for scale in ("quick", "paper"):
        if scale not in cls.presets:
            raise ValueError(f"experiment {cls.id!r} lacks the {scale!r} preset.")
    _REGISTRY[cls.id] = cls()
    return cls


def _load_all() -> None:
    import importlib
    import pkgutil

    import metagrad.experiments as pkg

    for mod in pkgutil.iter_modules(pkg.__path__):
        if not mod.name.startswith("_"):
            try:
                importlib.import_module(f"metagrad.experiments.{mod.name}")
            except ImportError:
                pass


def list_experiments() -> list[AbstractExperiment]:
    """All registered experiments, sorted by id."""
    _load_all()
    return [_REGISTRY[k] for k in sorted(_REGISTRY)]


def get_experiment(exp_id: str) -> AbstractExperiment:
    """The registered experiment `exp_id`; the error lists close matches."""
    _load_all()
    if exp_id not in _REGISTRY:
        import difflib

        close = difflib.get_close_matches(exp_id, list(_REGISTRY), n=5, cutoff=0.5)
        hint = f" Did you mean: {', '.join(close)}?" if close else " Run `metagrad list`."
        raise ConfigError(f"unknown experiment id {exp_id!r}.{hint}")
    return _REGISTRY[exp_id]


Figure = Any
PlotFn = Callable[[Result], dict[str, Figure]]
