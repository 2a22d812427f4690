"""Simulation against theory for Wang, Yip & Li 2024 (Figs. 2, 8, 9): online FO-ANIL at finite N.

One study runs the simulator (:func:`metagrad.sim.teacher_student.simulate`; by default the exact
reduced simulator, whose law equals the direct N-dimensional algorithm's) for every distinct
(η_w, P = V) of the three figures, all runs from the same B and J(0) (Sec. IV A) with different
task streams, and integrates the ODEs from the realised overlaps: the paper's P → ∞ theory and
the O(1/P) correction (the variance of the adapted head; beyond the paper, docs/wang2024.md).
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import numpy as np

from metagrad.experiments._config import ConfigError, ExperimentConfig, param
from metagrad.experiments._result import Seeds
from metagrad.experiments._study import Check, Study, check_true
from metagrad.sim import teacher_student as sim
from metagrad.theory import teacher_student as ts

__all__ = ["SimStudyConfig", "SimCurves", "SimStudyResult", "study"]


@dataclasses.dataclass(frozen=True)
class SimStudyConfig(ExperimentConfig):
    """Fig. 2 setting (Sec. IV A) and the η_w / P = V values of Figs. 8 and 9."""

    N: int = param(1000, "input dimension N", ge=20, cost=2)
    K: int = param(3, "student width K", ge=1)
    M: int = param(3, "teacher width M", ge=1)
    P: int = param(100, "training examples per task (Fig. 2)", ge=1)
    eta_J: float = param(6.0, "outer learning rate η_J", gt=0)
    eta_w: float = param(4.0, "inner learning rate η_w (Fig. 2)", gt=0)
    eta_w_fig8: tuple[float, ...] = param((4.0, 1.0), "η_w values of Fig. 8")
    PV_fig9: tuple[int, ...] = param((20, 50, 100), "P = V values of Fig. 9")
    alpha_max: float = param(50.0, "horizon α (not stated in the paper)", gt=0, cost=1)
    d_record: float = param(0.05, "α between records = ε moving-average window (Fig. 2)", gt=0)
    d_alpha: float = param(0.01, "RK4 step of the ODEs", gt=0)
    n_runs: int = param(10, "runs (same B, J(0); different tasks)", ge=2, cost=1)
    method: str = param("reduced", "simulator: 'reduced' (exact, fast) or 'direct'")

    def check(self) -> None:
        if self.method not in ("reduced", "direct"):
            raise ConfigError(f"method={self.method!r} must be 'reduced' or 'direct'.")
        if self.P not in self.PV_fig9 or self.eta_w not in self.eta_w_fig8:
            raise ConfigError("P must be in PV_fig9 and eta_w in eta_w_fig8 (shared Fig. 2 run).")
        ratio = self.d_record / self.d_alpha
        if abs(ratio - round(ratio)) > 1e-9:
            raise ConfigError(f"d_record={self.d_record} must be a multiple of d_alpha.")
        if round(self.d_record * self.N) < 1:
            raise ConfigError(f"d_record={self.d_record} must be >= 1/N.")


@dataclasses.dataclass(frozen=True)
class SimCurves:
    """Runs and theory for one (η_w, P = V).

    Attributes:
        eta_w: inner rate.  P: P = V.
        Q: (n_runs, n, K, K), R: (n_runs, n, K, M) simulated overlaps.
        eps: (n_runs, n) low-variance ε estimate.  eps_ma: (n_runs, n) moving average (NaN at 0).
        Q_th, R_th, eps_th: (n, …) ODE theory (P → ∞ closure of the paper).
        Q_thP, R_thP, eps_thP: (n, …) with the O(1/P) correction.
    """

    eta_w: float
    P: int
    Q: np.ndarray
    R: np.ndarray
    eps: np.ndarray
    eps_ma: np.ndarray
    Q_th: np.ndarray
    R_th: np.ndarray
    eps_th: np.ndarray
    Q_thP: np.ndarray
    R_thP: np.ndarray
    eps_thP: np.ndarray
    nan_ok: ClassVar[tuple[str, ...]] = ("eps_ma",)


@dataclasses.dataclass(frozen=True)
class SimStudyResult:
    """Attributes:
    alpha: (n,) record grid.  T: (M, M) realised teacher overlaps.
    runs: {"w{η_w}_P{P}": SimCurves} for every distinct (η_w, P = V) of Figs. 2, 8, 9.
    """

    alpha: np.ndarray
    T: np.ndarray
    runs: dict


def _tag(eta_w: float, P: int) -> str:
    return f"w{eta_w:g}_P{P}"


def _pairs(c: SimStudyConfig) -> list[tuple[float, int]]:
    pairs = [(w, c.P) for w in c.eta_w_fig8] + [(c.eta_w, p) for p in c.PV_fig9]
    return list(dict.fromkeys(pairs))


def _theory(c: SimStudyConfig, eta_w, P, T, Q0, R0, finite_P):
    every = int(round(c.d_record / c.d_alpha))
    cfg = ts.TSConfig(
        K=c.K, M=c.M, V=float(P), eta_J=c.eta_J, eta_w=eta_w, T=T, Q0=Q0, R0=R0,
        alpha_max=c.alpha_max, d_alpha=c.d_alpha, record_every=every,
        P=float(P) if finite_P else None,
    )  # fmt: skip
    tr = ts.integrate(cfg)
    return np.asarray(tr.Q), np.asarray(tr.R), np.asarray(tr.eps)


study = Study(
    "wang2024.sim",
    title="Online FO-ANIL simulation vs ODE theory (Figs. 2, 8, 9)",
    paper="Wang, Yip, Li 2024",
    config=SimStudyConfig,
    presets={
        "quick": {"N": 500, "alpha_max": 8.0, "d_record": 0.2, "d_alpha": 0.02, "n_runs": 4},
        "paper": {},
    },
    cost={"quick": "~1 min", "paper": "~48 min (measured at load ~20)"},
)


@study.run
def run(config: SimStudyConfig, *, key) -> SimStudyResult:
    """Simulate every distinct (η_w, P = V) from one B, J(0); integrate both theories."""
    c = config
    runs, alpha, T = {}, None, None
    for eta_w, P in _pairs(c):
        cfg = sim.SimConfig(
            N=c.N, K=c.K, M=c.M, P=P, V=P, eta_J=c.eta_J, eta_w=eta_w, alpha_max=c.alpha_max,
            d_record=c.d_record,
        )  # fmt: skip
        res = sim.simulate(cfg, method=c.method, n_runs=c.n_runs, key=key)  # same key: same init
        T = np.asarray(res.T[0])
        Q0, R0 = np.asarray(res.Q[0, 0]), np.asarray(res.R[0, 0])
        th = _theory(c, eta_w, P, T, Q0, R0, False)
        thP = _theory(c, eta_w, P, T, Q0, R0, True)
        n = min(len(res.alpha), len(th[2]))
        alpha = np.asarray(res.alpha[:n])
        runs[_tag(eta_w, P)] = SimCurves(
            float(eta_w), int(P), *(np.asarray(a)[:, :n] for a in (res.Q, res.R, res.eps, res.eps_ma)),
            *(a[:n] for a in th), *(a[:n] for a in thP),
        )  # fmt: skip
    return SimStudyResult(alpha, T, runs)


# -- measures ------------------------------------------------------------------------------------


def q_mismatch(r: SimCurves, corrected: bool = False) -> float:
    """RMS over α and entries of (mean-over-runs Q − theory Q), relative to the RMS of theory Q."""
    th = r.Q_thP if corrected else r.Q_th
    return float(np.sqrt(np.mean((r.Q.mean(0) - th) ** 2) / np.mean(th**2)))


def _within_spread(sim_runs, th, k=2.0):
    """Fraction of (α, entry) points where |mean − theory| ≤ k·(run-to-run std) (α > 0)."""
    m, s = sim_runs.mean(0)[1:], sim_runs.std(0, ddof=1)[1:]
    return float(np.mean(np.abs(m - th[1:]) <= k * s))


# -- figures -------------------------------------------------------------------------------------


def _curves(ax, alpha, runs, th, thP, pairs, name):
    from metagrad.plotting import sim_errorbar, theory_line

    every = max(len(alpha) // 12, 1)
    for i, (a, b) in enumerate(pairs):
        col = f"C{i}"
        sim_errorbar(ax, alpha, runs[:, :, a, b].mean(0), runs[:, :, a, b].std(0, ddof=1),
                     label=f"{name}{a + 1}{b + 1} sim", color=col, marker="", errorevery=every)  # fmt: skip
        theory_line(ax, alpha, th[:, a, b], color=col, label=f"{name}{a + 1}{b + 1} theory")
        if thP is not None:
            theory_line(ax, alpha, thP[:, a, b], color=col, linestyle=":", label="  O(1/P)")
    ax.set_xlabel("α")
    ax.legend(fontsize=5, ncol=2)


def _diag(K):
    return [(k, k) for k in range(K)]


def _offdiag(K):
    return [(k, j) for k in range(K) for j in range(k + 1, K)]


@study.plot("wang2024.fig2", "ε, Q, R of 10 runs (±1 std) vs theory from the realised overlaps")
def fig2(config: SimStudyConfig, res: Seeds[SimStudyResult]) -> dict:
    """Panels (a) ε, (b, c) Q diagonal / off-diagonal, (d–f) R rows: sim solid, theory dashed."""
    from metagrad.plotting import new_figure, sim_errorbar, theory_line

    r0, alpha = res.values, res.mean.alpha
    r = {k: _first(v) for k, v in r0.runs.items()}[_tag(config.eta_w, config.P)]
    alpha = np.asarray(alpha)
    fig, ax = new_figure(3, 2, width=4.2, height=3.2)
    a = ax[0, 0]
    every = max(len(alpha) // 12, 1)
    sim_errorbar(a, alpha, r.eps.mean(0), r.eps.std(0, ddof=1), label="sim (estimator)",
                 marker="", errorevery=every)  # fmt: skip
    sim_errorbar(a, alpha[1:], r.eps_ma[:, 1:].mean(0), None, label="sim (moving avg.)",
                 marker="", alpha=0.5)  # fmt: skip
    theory_line(a, alpha, r.eps_th, label="theory (P→∞)")
    theory_line(a, alpha, r.eps_thP, linestyle=":", label="theory O(1/P)")
    a.set(xlabel="α", ylabel="ε", title="(a) ε")
    a.legend(fontsize=6)
    _curves(ax[0, 1], alpha, r.Q, r.Q_th, r.Q_thP, _diag(config.K), "Q")
    ax[0, 1].set_title("(b) Q_kk")
    _curves(ax[0, 2], alpha, r.Q, r.Q_th, None, _offdiag(config.K), "Q")
    ax[0, 2].set_title("(c) Q_kl")
    for k in range(min(config.K, 3)):
        _curves(ax[1, k], alpha, r.R, r.R_th, None, [(k, n) for n in range(config.M)], "R")
        ax[1, k].set_title(f"({'def'[k]}) R_{k + 1}n")
    fig.tight_layout()
    return {"fig2": fig}


def _first(x):
    """The first seed of a stacked SimCurves (figures show one study seed: runs are inside)."""
    return dataclasses.replace(
        x, **{f.name: np.asarray(getattr(x, f.name))[0] for f in dataclasses.fields(x)}
    )


def _q_panels(config, res, tags, titles, name):
    from metagrad.plotting import new_figure

    runs = {k: _first(v) for k, v in res.values.runs.items()}
    alpha = np.asarray(res.mean.alpha)
    fig, ax = new_figure(len(tags), 2, width=4.0, height=3.0)
    for j, (tag, title) in enumerate(zip(tags, titles, strict=True)):
        r = runs[tag]
        _curves(ax[0, j], alpha, r.Q, r.Q_th, r.Q_thP, _diag(config.K), "Q")
        ax[0, j].set_title(f"Q_kk, {title}")
        _curves(ax[1, j], alpha, r.Q, r.Q_th, None, _offdiag(config.K), "Q")
        ax[1, j].set_title(f"Q_kl, {title}")
    fig.tight_layout()
    return {name: fig}


@study.plot("wang2024.fig8", "Q: simulation vs theory for η_w = 4 and 1")
def fig8(config: SimStudyConfig, res: Seeds[SimStudyResult]) -> dict:
    """Q diagonal (top) and off-diagonal (bottom) for each η_w of Fig. 8."""
    tags = [_tag(w, config.P) for w in config.eta_w_fig8]
    return _q_panels(config, res, tags, [f"η_w={w:g}" for w in config.eta_w_fig8], "fig8")


@study.plot("wang2024.fig9", "Q: simulation vs theory for P = V = 20, 50, 100")
def fig9(config: SimStudyConfig, res: Seeds[SimStudyResult]) -> dict:
    """Q diagonal (top) and off-diagonal (bottom) for each P = V of Fig. 9."""
    tags = [_tag(config.eta_w, p) for p in config.PV_fig9]
    return _q_panels(config, res, tags, [f"P=V={p}" for p in config.PV_fig9], "fig9")


# -- claims --------------------------------------------------------------------------------------


@study.claims("wang2024.fig2")
def fig2_claims(config: SimStudyConfig, res: Seeds[SimStudyResult]) -> list[Check]:
    """ε decreases; ε and R follow the theory (10 % / ±2 run-to-run std); Q deviates more than R
    (in units of the run-to-run spread); the O(1/P) correction shrinks the Q mismatch."""
    r = {k: _first(v) for k, v in res.values.runs.items()}[_tag(config.eta_w, config.P)]
    e = r.eps.mean(0)
    rel_eps = float(np.max(np.abs(e[1:] - r.eps_th[1:]) / r.eps_th[1:]))
    fr_R, fr_Q = _within_spread(r.R, r.R_th), _within_spread(r.Q, r.Q_th)
    fr_QP = _within_spread(r.Q, r.Q_thP)
    qm, qmP = q_mismatch(r), q_mismatch(r, corrected=True)
    return [
        check_true(
            "ε decreases over training (ε(α_max) < 0.9 ε(0))",
            e[-1] < 0.9 * e[0],
            f"{e[0]:.4f} → {e[-1]:.4f}",
            "ε(α_max) < 0.9 ε(0)",
        ),  # fmt: skip
        check_true(
            "ε: simulation = theory within 10 % (relative) at every record",
            rel_eps <= 0.10,
            round(rel_eps, 4),
            "≤ 0.10",
            "tolerance chosen for the Fig. 2 comparison (docs/wang2024_sim.md); the P→∞ theory lies below",
        ),  # fmt: skip
        check_true(
            "R: theory within ±2 run-to-run std at ≥ 90 % of (α, k, n) points",
            fr_R >= 0.90,
            round(fr_R, 3),
            "≥ 0.90",
            "2 std of the runs: ~95 % of points if the theory is the mean",
        ),  # fmt: skip
        check_true(
            "Q deviates more than R (fraction of points within ±2 std: Q < R)",
            fr_Q < fr_R,
            f"Q {fr_Q:.3f} vs R {fr_R:.3f}",
            "Q < R",
        ),  # fmt: skip
        check_true(
            "the O(1/P) correction shrinks the Q mismatch (relative RMS)",
            qmP < qm,
            f"{qm:.4f} → {qmP:.4f}",
            "corrected < P→∞",
            f"fraction of Q points within ±2 std: {fr_Q:.3f} → {fr_QP:.3f}",
        ),  # fmt: skip
    ]


@study.claims("wang2024.fig8")
def fig8_claims(config: SimStudyConfig, res: Seeds[SimStudyResult]) -> list[Check]:
    """The Q mismatch is smaller at smaller η_w."""
    runs = {k: _first(v) for k, v in res.values.runs.items()}
    ws = sorted(config.eta_w_fig8)
    m = [q_mismatch(runs[_tag(w, config.P)]) for w in ws]
    return [
        check_true(
            "Q agreement better for smaller η_w",
            bool(np.all(np.diff(m) > 0)),
            dict(zip([f"{w:g}" for w in ws], np.round(m, 4).tolist(), strict=True)),
            "mismatch increasing in η_w",
        ),  # fmt: skip
    ]


@study.claims("wang2024.fig9")
def fig9_claims(config: SimStudyConfig, res: Seeds[SimStudyResult]) -> list[Check]:
    """The Q mismatch shrinks as P = V grows, and the O(1/P) correction shrinks it at every P."""
    runs = {k: _first(v) for k, v in res.values.runs.items()}
    ps = sorted(config.PV_fig9)
    m = [q_mismatch(runs[_tag(config.eta_w, p)]) for p in ps]
    mP = [q_mismatch(runs[_tag(config.eta_w, p)], corrected=True) for p in ps]
    key = [str(p) for p in ps]
    return [
        check_true(
            "Q agreement improves as P = V grows",
            bool(np.all(np.diff(m) < 0)),
            dict(zip(key, np.round(m, 4).tolist(), strict=True)),
            "mismatch decreasing",
        ),  # fmt: skip
        check_true(
            "O(1/P) correction shrinks the Q mismatch at every P = V",
            bool(np.all(np.array(mP) < np.array(m))),
            dict(zip(key, np.round(mP, 4).tolist(), strict=True)),
            "corrected < P→∞",
        ),  # fmt: skip
    ]
