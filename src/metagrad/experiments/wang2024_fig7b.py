"""Wang, Yip, Li 2024, Fig. 7(b): final meta-generalization error against η_w for several γ.

Sec. IV E and App. C (teacher variability: the task teacher is B^t = γB + √(1−γ²)ΔB^t, Eq. 41):
ε^meta at the final time α = 500 as a function of the inner learning rate η_w, at η_J = 6, for
several γ. The paper's claim (Sec. IV E, as for Fig. 4 in Sec. IV C): "there is an optimal value of
η_w for each case, but increasing it to a relatively large value does not significantly impair
performance". Every point integrates the corrected order-parameter ODEs with the exact Gaussian
γ-closure (:mod:`metagrad.theory.teacher_student`; docs/wang2024.md#teacher-variability) in one
vmapped solve over the (γ, η_w) grid. Panel (a) (ε(α) at η_w = 8) is ``wang2024.fig7`` in
:mod:`metagrad.experiments.wang2024`; this module shares its setting (K = M = 3, T = diag(1, 2, 3),
Q(0) = ½I, R(0) = 1e-12, V = 100, δ = 1e-10, D = T). See docs/wang2024.md#fig-7b.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from metagrad.experiments._config import ConfigError, ExperimentConfig, param
from metagrad.experiments._result import Seeds
from metagrad.experiments._study import Check, Study, check_true
from metagrad.theory import teacher_student as ts

__all__ = ["Fig7bConfig", "Fig7bResult", "final_eps_grid", "study"]

_DOCS = "docs/wang2024.md"


@dataclasses.dataclass(frozen=True)
class Fig7bConfig(ExperimentConfig):
    """Fig. 7(b) (Sec. IV E, App. C): ε(α_max) on a (γ, η_w) grid at η_J = 6."""

    eta_J: float = param(6.0, "outer learning rate η_J", gt=0)
    eta_w_grid: tuple[float, ...] = param(
        tuple(float(x) for x in range(1, 21)),
        f"η_w grid (not given by the paper; {_DOCS}#fig-7b)",
        gt=0,
        cost=1,
        min_len=3,
    )
    gammas: tuple[float, ...] = param(
        (1.0, 0.95, 0.9, 0.8),
        f"teacher variability γ (not given by the paper; {_DOCS}#fig-7b)",
        ge=0,
        le=1,
        cost=1,
        min_len=1,
    )
    V: float = param(100.0, f"validation examples per task (not stated for Fig. 7; {_DOCS})", gt=0)
    D: str = param("T", "covariance of ΔB^t: 'T' (norm-preserving) or 'I'", choices=("T", "I"))
    closure: str = param(
        "exact",
        f"γ closure: 'exact' Gaussian ({_DOCS}#teacher-variability) or the paper's 'taylor' (C2)",
        choices=("exact", "taylor"),
    )
    alpha_max: float = param(500.0, "final time α (paper: 500)", gt=0, cost=1)
    d_alpha: float = param(0.01, "RK4 step", gt=0, cost=-1)
    delta: float = param(
        1e-10,
        f"initial-condition perturbation δ of R(0) ({_DOCS}#choices-where-the-paper-is-silent)",
        ge=0,
    )

    def check(self) -> None:
        steps = self.alpha_max / self.d_alpha
        if abs(steps - round(steps)) > 1e-6 * steps or round(steps) < 1:
            raise ConfigError(
                f"alpha_max/d_alpha = {self.alpha_max}/{self.d_alpha} = {steps:g} must be a whole "
                "number of RK4 steps >= 1 (so that the last step lands on alpha_max)."
            )


@dataclasses.dataclass(frozen=True)
class Fig7bResult:
    """ε at the start and at α_max on the (γ, η_w) grid.

    Attributes:
        eps0: (n_gamma, n_eta_w) ε(α = 0) (Eq. 39 with the γ-closure).
        eps: (n_gamma, n_eta_w) ε(α = α_max); rows follow ``gammas``, columns ``eta_w_grid``.
    """

    eps0: np.ndarray
    eps: np.ndarray


def _ts_config(config: Fig7bConfig) -> ts.TSConfig:
    """The shared ODE config; one record at α_max (``record_every`` = all the RK4 steps)."""
    steps = int(round(config.alpha_max / config.d_alpha))
    return ts.TSConfig(
        V=config.V,
        eta_J=config.eta_J,
        eta_w=config.eta_w_grid[0],
        alpha_max=config.alpha_max,
        d_alpha=config.d_alpha,
        record_every=steps,
        gamma=1.0,
        D=config.D,
        closure=config.closure,
        ic_perturbation=config.delta,
    )


def final_eps_grid(config: Fig7bConfig) -> tuple[np.ndarray, np.ndarray]:
    """(ε(0), ε(α_max)), each (n_gamma, n_eta_w), from one vmapped solve over the flattened grid.

    Args:
        config: a :class:`Fig7bConfig`.

    Returns:
        Two float64 arrays of shape (len(gammas), len(eta_w_grid)).
    """
    G, W = np.meshgrid(np.asarray(config.gammas), np.asarray(config.eta_w_grid), indexing="ij")
    tr = ts.integrate_batch(_ts_config(config), eta_w=W.ravel(), gamma=G.ravel())
    eps = np.asarray(tr.eps)
    return eps[:, 0].reshape(G.shape), eps[:, -1].reshape(G.shape)


study = Study(
    "wang2024.variability_eta_w",
    title="Teacher variability γ (App. C): ε(α=500) against η_w at η_J=6, per γ",
    paper="Wang, Yip, Li 2024, Dynamics of meta-learning representation in the teacher-student scenario",
    config=Fig7bConfig,
    presets={
        "quick": {
            "d_alpha": 0.2,
            "eta_w_grid": (1.0, 3.0, 6.0, 9.0, 14.0, 20.0),
            "gammas": (1.0, 0.8),
        },
        "paper": {},
    },
    cost={
        "quick": "~19 s CPU (54 s wall at load 22)",
        "paper": "~30 min at load 5 (extrapolated: the 80 solves took 182 s at dα = 0.1; not run)",
    },
)


@study.run
def run(config: Fig7bConfig, *, key) -> Fig7bResult:
    """ε(0) and ε(α_max) on the (γ, η_w) grid (deterministic: ``key`` is unused)."""
    del key
    eps0, eps = final_eps_grid(config)
    return Fig7bResult(eps0=eps0, eps=eps)


@study.plot("wang2024.fig7b", "Teacher variability γ: ε(α_max) against η_w at η_J=6")
def plot(config: Fig7bConfig, res: Seeds[Fig7bResult]) -> dict:
    """ε(α_max) vs η_w per γ (log scale), each curve's optimum as a filled marker, η_w = 8 of (a)."""
    from metagrad.plotting import new_figure, theory_line

    r, w = res.mean, np.asarray(config.eta_w_grid)
    fig, ax = new_figure(width=5.0, height=3.8)
    a = ax[0, 0]
    for g, e in zip(config.gammas, r.eps):
        (line,) = theory_line(a, w, e, marker="o", ms=3, label=f"γ={g:g}")
        i = int(np.nanargmin(e))
        a.plot(w[i], e[i], "*", ms=10, color=line.get_color())
    a.plot([], [], "k*", ms=8, label="optimal η_w per γ")
    a.axvline(8.0, color="grey", lw=0.8, ls=":", label="η_w=8 (panel a)")
    a.set(
        xlabel="η_w",
        ylabel=f"ε(α={config.alpha_max:g})",
        yscale="log",
        title=f"(b) η_J={config.eta_J:g}, D={config.D}, {config.closure} closure",
    )
    a.legend(fontsize=7)
    fig.tight_layout()
    return {"fig7b": fig}


def _fall_rise(e: np.ndarray) -> tuple[int, float, float]:
    """(argmin, fall from the smallest η_w to the optimum, rise from the optimum to the largest)."""
    i = int(np.argmin(e))
    return i, float(e[0] - e[i]), float(e[-1] - e[i])


@study.claims("wang2024.fig7b")
def claims(config: Fig7bConfig, res: Seeds[Fig7bResult]) -> list[Check]:
    """Sec. IV E: an interior optimal η_w for every γ; large η_w harms little; ε ordered in γ."""
    e, w = res.mean.eps, np.asarray(config.eta_w_grid)
    checks = []
    for g, row in zip(config.gammas, e):
        i, fall, rise = _fall_rise(row)
        checks.append(
            check_true(
                f"γ={g:g}: optimal η_w is interior and large η_w does little harm (rise < fall)",
                bool(np.all(np.isfinite(row)) and 0 < i < len(row) - 1 and rise < fall),
                f"optimum η_w={w[i]:g} (ε={row[i]:.4g}); fall {fall:.4g} from η_w={w[0]:g}, "
                f"rise {rise:.4g} to η_w={w[-1]:g} (rise/fall = {rise / fall:.3f})",
                "interior minimum; rise after it < fall before it",
                "Sec. IV E, Fig. 7(b): there is an optimal η_w for each γ, but a relatively "
                "large η_w does not significantly impair performance; tested with the criterion "
                "of Fig. 4(a) in Sec. IV C, to which Sec. IV E refers. Quick scale tests the "
                "same claim for γ ∈ {1, 0.8} on 6 η_w values with dα = 0.2 (ε(500) equal to "
                f"dα = 0.01 to 6 digits, {_DOCS}#fig-7b); the paper-scale run has 4 γ and η_w = "
                "1..20",
            )
        )
    order = np.argsort(config.gammas)[::-1]
    if len(order) > 1:
        eo = e[order]
        checks.append(
            check_true(
                "ε(α_max) rises as γ falls, at every η_w (γ=1 is best)",
                bool(np.all(np.diff(eo, axis=0) > 0)),
                f"min over η_w of the step between consecutive γ: {np.min(np.diff(eo, axis=0)):.3g}",
                "> 0 for every η_w",
                "Sec. IV E, Fig. 7(a)-(b): with γ < 1 the error is reduced, though not as "
                "well as with γ = 1. Exact closure, D = T keeps ε(0) independent of γ "
                f"({_DOCS}#teacher-variability). Quick scale tests the same claim for "
                "γ ∈ {1, 0.8}",
            )
        )
    return checks
