"""Zou, Liu, Li 2022, appendix figures in closed form: Fig. 6 (Example 1's moment coefficients) and
Fig. 7 (extra w_m(α) trajectories, App. H.4.1).

Plain-MSE convention: inner step w' = w − (2α/K)Φᵀ(Φw − y), same K points inner and outer
(docs/zou2022.md#loss-convention-read-this-first).
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy.special import gammaln, logsumexp

from metagrad.experiments._config import ConfigError, ExperimentConfig, param
from metagrad.experiments._result import Seeds
from metagrad.experiments._study import Check, Study, check_close, check_true
from metagrad.experiments.zou2022._common import PAPER, _rng
from metagrad.theory import adaptation_lr as alr

__all__ = [
    "Fig6Config",
    "Fig6Result",
    "Fig7Config",
    "Fig7Result",
    "Fig7Row",
    "fig6_study",
    "fig7_study",
    "poly_coefficients",
]


# ---------------------------------------------------------------- Fig 6: g1, g2, g3 (Example 1)
def poly_coefficients(d: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""The coefficients g1(d, i), g2(d, i), g3(d, i) of Example 1 (App. E, Eqs. E.4–E.6, Fig. 6).

    With 0-based indices j, l, m ∈ {0, …, d−1} of the polynomial features ϕ(x) = (1, x, …, x^{d−1}):
    g1(d, i) = #{(j, m): j + m = i} (i = 0 … 2d−2; the paper's closed form C(i+1, 1) − 2C(i−d+1, 1)),
    g2(d, i) = #{(j, l, m): 3j + 2l + m = i} (i = 0 … 6d−6; the exponent 3j + m + 2l − 6 of the
    printed K = 1 denominator, 1-based), g3(d, i) = #{(j, l, m): j + l + m = i} (i = 0 … 3d−3).

    Args:
        d: feature dimension, >= 1.

    Returns:
        (g1, g2, g3), integer arrays of lengths 2d−1, 6d−5 and 3d−2.
    """
    if int(d) < 1:
        raise ValueError(f"d={d} is out of range: expected >= 1.")
    r = np.arange(int(d))
    g1 = np.bincount((r[:, None] + r[None]).ravel())
    g2 = np.bincount((3 * r[:, None, None] + 2 * r[None, :, None] + r[None, None]).ravel())
    g3 = np.bincount((r[:, None, None] + r[None, :, None] + r[None, None]).ravel())
    return g1, g2, g3


def _log_gauss_even(n: np.ndarray, sigma2: float) -> np.ndarray:
    """log E x^{2n} = log(σ^{2n} (2n−1)!!) for x ~ N(0, σ²)."""
    n = np.asarray(n, dtype=np.float64)
    return n * np.log(sigma2) + gammaln(2 * n + 1) - n * np.log(2) - gammaln(n + 1)


def _log_sum(g: np.ndarray, sigma2: float) -> float:
    """log Σ_i g_i E x^{2i}, x ~ N(0, σ²) (in logs: the moments reach 10^300 at d = 50)."""
    i = np.arange(g.size)
    return float(logsumexp(_log_gauss_even(i, sigma2), b=g))


@dataclasses.dataclass(frozen=True)
class Fig6Config(ExperimentConfig):
    """Fig. 6: the dimension d of the plotted coefficients and a Monte Carlo check at small d."""

    d: int = param(50, "feature dimension of the plotted coefficients (paper: 50)", ge=2, le=200)
    d_check: int = param(2, "feature dimension of the Monte Carlo check", ge=2, le=4)
    n_mc: int = param(1_000_000, "Monte Carlo draws of x ~ N(0, 1) for the check", ge=1000, cost=1)
    n_sigma2: int = param(41, "σ² points on [1e-2, 1e2] for α*_lim(K=1)", ge=3)


@dataclasses.dataclass(frozen=True)
class Fig6Result:
    """One seed of Fig. 6 (the coefficients are deterministic; only the check samples).

    Attributes:
        g1, g2, g3: the coefficients at d (`poly_coefficients`).
        mc_m4, mc_m6: Monte Carlo E‖ϕ‖⁴, E‖ϕ‖⁶ at d_check, x ~ N(0, 1).
        mc_se4, mc_se6: their standard errors.
        alpha_k1: (n_sigma2,) α*_lim at K = 1, d, x ~ N(0, σ²): Σ g1 E x^{2i} / (2 Σ g3 E x^{2i}).
    """

    g1: np.ndarray
    g2: np.ndarray
    g3: np.ndarray
    mc_m4: float
    mc_m6: float
    mc_se4: float
    mc_se6: float
    alpha_k1: np.ndarray


def _fig6_sigma2(c: Fig6Config) -> np.ndarray:
    return np.geomspace(1e-2, 1e2, c.n_sigma2)


fig6_study = Study(
    "zou2022.fig6",
    title="Coefficients g1, g2, g3 of the polynomial-feature moments (Example 1, d = 50)",
    paper=PAPER,
    config=Fig6Config,
    presets={"quick": {"n_mc": 200_000}, "paper": {}},
    cost={"quick": "<1 s", "paper": "~2 s"},
)


@fig6_study.run
def fig6_run(config: Fig6Config, *, key) -> Fig6Result:
    """The coefficients at d, the K = 1 α*_lim along σ², and a Monte Carlo check at d_check."""
    rng = _rng(key)
    g1, g2, g3 = poly_coefficients(config.d)
    x = rng.normal(size=config.n_mc)
    r2 = (x[:, None] ** (2 * np.arange(config.d_check))).sum(1)  # ‖ϕ(x)‖²
    m4, m6 = r2**2, r2**3
    alpha = [0.5 * np.exp(_log_sum(g1, s2) - _log_sum(g3, s2)) for s2 in _fig6_sigma2(config)]
    return Fig6Result(
        g1=g1,
        g2=g2,
        g3=g3,
        mc_m4=float(m4.mean()),
        mc_m6=float(m6.mean()),
        mc_se4=float(m4.std(ddof=1) / np.sqrt(x.size)),
        mc_se6=float(m6.std(ddof=1) / np.sqrt(x.size)),
        alpha_k1=np.array(alpha),
    )


@fig6_study.plot(
    "zou2022.fig6", "Coefficients g1, g2, g3 of the polynomial-feature moments (Example 1, d = 50)"
)
def fig6_plot(config: Fig6Config, res: Seeds[Fig6Result]) -> dict:
    """Left: g1 and g2 against the index i; right: g1 and g3 (the paper's two panels)."""
    from metagrad.plotting import new_figure

    r = res.mean
    fig, ax = new_figure(2)
    for a, (name, g) in zip(ax[0], (("g2", r.g2), ("g3", r.g3))):
        g1 = np.asarray(r.g1)
        a.plot(np.arange(g1.size), g1, label="g1(d, i)")
        a.plot(np.arange(np.size(g)), np.asarray(g), label=f"{name}(d, i)")
        a.set(xlabel=f"index i (d = {config.d})", ylabel="coefficient")
        a.legend(fontsize=7)
    fig.tight_layout()
    return {"fig6": fig}


@fig6_study.claims("zou2022.fig6")
def fig6_claims(config: Fig6Config, res: Seeds[Fig6Result]) -> list[Check]:
    """g1 = the paper's closed form; counts and peaks; which weighting gives E‖ϕ‖⁶ (Monte Carlo)."""
    r, d = res.mean, config.d
    g1, g2, g3 = (np.asarray(g) for g in (r.g1, r.g2, r.g3))
    i = np.arange(g1.size)
    printed = (i + 1) - 2 * np.maximum(i - d + 1, 0)  # C(n, 1) = n for n >= 0, 0 below
    out = [
        check_true(
            "g1(d, i) = C(i+1, 1) − 2C(i−d+1, 1) (the paper's closed form)",
            bool(np.array_equal(g1, printed)),
            int(np.abs(g1 - printed).max()),
            "0 (max |difference|)",
            "App. E, Example 1, below (E.5): the printed closed form of g1; C(n, 1) = n for "
            "n >= 0 and 0 for n < 0. Exact counts: quick and paper scale are the same",
        ),
        check_true(
            "Σ g1 = d², Σ g2 = Σ g3 = d³ (every index pair / triple counted once)",
            bool(g1.sum() == d**2 and g2.sum() == d**3 and g3.sum() == d**3),
            [int(g1.sum()), int(g2.sum()), int(g3.sum())],
            [d**2, d**3, d**3],
            "App. E, Example 1, (E.4)-(E.5): g1, g2, g3 count the index pairs/triples by their "
            "sum (a consistency check of the counts behind Fig. 6, not a printed claim). Exact: "
            "quick and paper scale are the same",
        ),
    ]
    if d == 50:
        out.append(
            check_true(
                "peaks on the paper's axes: g2 in [800, 1000], g3 in [1750, 2000]",
                bool(800 <= g2.max() <= 1000 and 1750 <= g3.max() <= 2000),
                [int(g2.max()), int(g3.max())],
                "[800, 1000], [1750, 2000]",
                "App. E, Fig. 6 (d = 50): the coefficient curves peak on the printed axes, top "
                "ticks 800 (left, spacing 200) and 1750 (right, spacing 250). Exact: quick and "
                "paper scale are the same",
            )
        )
    dc = config.d_check
    c1, c2, c3 = poly_coefficients(dc)
    n = res.n
    se4, se6 = r.mc_se4 / np.sqrt(n), r.mc_se6 / np.sqrt(n)
    m4, m6_g3, m6_g2 = (np.exp(_log_sum(c, 1.0)) for c in (c1, c3, c2))
    out += [
        check_close(
            f"d={dc}, K=1, x~N(0,1): Σ g1(d, i) E x^(2i) = E‖ϕ‖⁴ (Monte Carlo)",
            r.mc_m4,
            m4,
            atol=5 * se4,
            note="App. E, (E.5): the numerator T2 = E‖ϕ‖⁴ of Example 1's α*_lim; 5 standard "
            "errors of the Monte Carlo (quick: 2e5 draws, paper scale 1e6)",
        ),
        check_close(
            f"d={dc}, K=1, x~N(0,1): Σ g3(d, i) E x^(2i) = E‖ϕ‖⁶ (Monte Carlo)",
            r.mc_m6,
            m6_g3,
            atol=5 * se6,
            note="App. E, (E.4)-(E.5): the K=1 denominator T3 = E‖ϕ‖⁶ of Example 1's "
            "α*_lim; the correct form uses the j+l+m counts g3 (docs/zou2022.md#fig6); 5 SE "
            "(quick: 2e5 draws, paper scale 1e6)",
        ),
        check_true(
            f"d={dc}: the printed K=1 denominator Σ g2(d, i) E x^(2i) is not E‖ϕ‖⁶",
            bool(abs(m6_g2 - r.mc_m6) > 5 * se6),
            float(m6_g2 / r.mc_m6),
            "ratio to the Monte Carlo E‖ϕ‖⁶ away from 1 by > 5 SE",
            "App. E, (E.4)-(E.5) as printed: the exponent 3j+m+2l−6 should be 2(j+l+m−3) "
            "(docs/zou2022.md#fig6); this check holds the erratum, not a claim of the paper. "
            "5 SE (quick: 2e5 draws, paper scale 1e6)",
        ),
    ]
    a = np.asarray(r.alpha_k1)
    out.append(
        check_true(
            f"Example 1: α*_lim (K=1, d={d}) decreases in σ² (σ² from 1e-2 to 1e2)",
            bool(np.all(np.diff(a) < 0)),
            [float(f"{a[0]:.4g}"), float(f"{a[-1]:.4g}")],
            "strictly decreasing",
            "App. E, Example 1 and Sec. 5.2 (bounds 3.5): α*_lim has an 'inverse relationship "
            "with σ²' (data variance). Σ g1 E x^(2i) / (2 Σ g3 E x^(2i)) in log space; exact, "
            "quick and paper scale are the same",
        )
    )
    return out


# ---------------------------------------------------------------- Fig 7: extra trajectories
_FIG7_ROWS = {"normal": "x ~ N(0, 2), centred", "uniform_0_5": "x ~ U(0, 5), not centred"}
_FIG7_T = np.linspace(0, 4, 41)  # α / α*_lim of the averaged distance curve


@dataclasses.dataclass(frozen=True)
class Fig7Config(ExperimentConfig):
    """Fig. 7: 2-d identity features, centred N(0, 2) (row 1) or U(0, 5) (row 2) entries."""

    K: int = param(5, "points per task (not given in the paper)", ge=2)
    n_tasks: int = param(20, "training tasks of the shown task set (not given)", ge=2)
    x_var: float = param(2.0, "variance of the N(0, σ²) entries (row 1)", gt=0)
    x_high: float = param(5.0, "upper end of the U(0, x_high) entries (row 2)", gt=0)
    sigma_a2: float = param(3.0, "Var a per coordinate (a ~ N(0, σ_a² I))", gt=0)
    n_alpha: int = param(200, "α grid points on [0, 4 α*_lim]", ge=10)
    n_rep: int = param(500, "independent task sets for the averaged distance curve", ge=2, cost=1)


@dataclasses.dataclass(frozen=True)
class Fig7Row:
    """One row of Fig. 7 (one data distribution, one seed).

    Attributes:
        alpha: (n_alpha,) α grid on [0, 4 α*_lim] of the shown task set.
        w_m: (n_alpha, 2) w_m(α) (Eq. 3.1).
        a: (n_tasks, 2) task optima.
        a_new: (2,) the optimum of one new task (the paper's circled red dot).
        w_star: (2,) w_m(α*_lim).
        mean_distance: (n_alpha,) mean ‖w_m(α) − a_i‖ over the shown tasks.
        rep_distance_rel: (n_rep, 41) d(t α*_lim) − d(0), t on [0, 4], per independent task set.
        alpha_lim: α*_lim, plug-in Eq. 3.3 from the shown task set's features.
    """

    alpha: np.ndarray
    w_m: np.ndarray
    a: np.ndarray
    a_new: np.ndarray
    w_star: np.ndarray
    mean_distance: np.ndarray
    rep_distance_rel: np.ndarray
    alpha_lim: float


@dataclasses.dataclass(frozen=True)
class Fig7Result:
    """One seed of Fig. 7.

    Attributes:
        row: row name (normal, uniform_0_5) -> its trajectory and distance curves.
    """

    row: dict[str, Fig7Row]


def _fig7_tasks(rng, c: Fig7Config, row: str, n: int) -> tuple[np.ndarray, np.ndarray]:
    shape = (n, c.K, 2)
    if row == "normal":
        Phis = rng.normal(0, np.sqrt(c.x_var), shape)
    elif row == "uniform_0_5":
        Phis = rng.uniform(0, c.x_high, shape)
    else:
        raise ConfigError(f"row={row!r}: expected one of {sorted(_FIG7_ROWS)}.")
    return Phis, rng.normal(0, np.sqrt(c.sigma_a2), (n, 2))


def _dist(w: np.ndarray, a: np.ndarray) -> np.ndarray:
    """Mean ‖w_k − a_i‖ over i, for each row w_k of w (n, 2)."""
    return np.linalg.norm(w[:, None] - a[None], axis=-1).mean(1)


fig7_study = Study(
    "zou2022.fig7",
    title="Extra trajectories of w_m(α): centred N(0, 2) and uncentred U(0, 5) data",
    paper=PAPER,
    config=Fig7Config,
    presets={"quick": {}, "paper": {}},
    cost={"quick": "~4 s", "paper": "~4 s"},
)


@fig7_study.run
def fig7_run(config: Fig7Config, *, key) -> Fig7Result:
    """Per row: w_m(α) on one task set, and the distance curve over independent task sets."""
    rng, c = _rng(key), config
    out = {}
    for row in _FIG7_ROWS:
        Phis, a = _fig7_tasks(rng, c, row, c.n_tasks)
        a_new = rng.normal(0, np.sqrt(c.sigma_a2), 2)
        ms = alr.moment_sums(Phis=Phis, a=a)
        lim = alr.alpha_star_plugin(Phis=Phis)
        alpha = np.linspace(0, 4 * lim, c.n_alpha)
        w = alr.maml_init(moments=ms, alpha=alpha)
        reps = []
        for _ in range(c.n_rep):
            P, aa = _fig7_tasks(rng, c, row, c.n_tasks)
            ww = alr.maml_init(
                moments=alr.moment_sums(Phis=P, a=aa), alpha=_FIG7_T * alr.alpha_star_plugin(Phis=P)
            )
            reps.append(_dist(ww, aa))
        reps = np.array(reps)
        out[row] = Fig7Row(
            alpha=alpha,
            w_m=w,
            a=a,
            a_new=a_new,
            w_star=alr.maml_init(moments=ms, alpha=lim),
            mean_distance=_dist(w, a),
            rep_distance_rel=reps - reps[:, :1],
            alpha_lim=lim,
        )
    return Fig7Result(row=out)


def _fig7_rel(res: Seeds[Fig7Result], row: str) -> np.ndarray:
    """(n_seeds · n_rep, 41) distance curves of every independent task set of every seed."""
    return np.asarray(res.values.row[row].rep_distance_rel).reshape(-1, _FIG7_T.size)


@fig7_study.plot(
    "zou2022.fig7", "Extra trajectories of w_m(α): centred N(0, 2) and uncentred U(0, 5) data"
)
def fig7_plot(config: Fig7Config, res: Seeds[Fig7Result]) -> dict:
    """Rows as in the paper; left: the path of w_m(α); right: mean distance vs α/α*_lim (± 1 SE)."""
    from metagrad.plotting import new_figure, sim_errorbar

    fig, ax = new_figure(2, 2)
    for k, (row, title) in enumerate(_FIG7_ROWS.items()):
        r = res.mean.row[row]
        left, right = ax[k, 0], ax[k, 1]
        left.scatter(*np.asarray(r.a).T, s=8, c="orange", label="task optima a_i")
        left.scatter(
            *np.asarray(r.a_new), s=60, facecolors="none", edgecolors="r", label="new task"
        )
        left.plot(*np.asarray(r.w_m).T, color="purple", label="w_m(α), α ∈ [0, 4α*_lim]")
        left.plot(*np.asarray(r.w_m)[0], "gx", markersize=10, label="w_r (α=0)")
        left.plot(*np.asarray(r.w_star), "r*", markersize=12, label="w_m(α*_lim)")
        left.set(xlabel="w₁", ylabel="w₂", title=title)
        left.legend(fontsize=6)
        rel = _fig7_rel(res, row)
        se = rel.std(0) / np.sqrt(rel.shape[0])
        sim_errorbar(right, _FIG7_T, rel.mean(0), se, label=f"mean over {rel.shape[0]} task sets")
        d = np.asarray(r.mean_distance)
        right.plot(
            np.linspace(0, 4, d.size), d - d[0], color="purple", lw=1, label="set on the left"
        )
        right.axvline(1.0, color="r", linestyle="--", label="α = α*_lim")
        right.axhline(0.0, color="grey", linewidth=0.5)
        right.set(xlabel="α / α*_lim", ylabel="mean ‖w_m(α) − a_i‖ − (α=0)", title=title)
        right.legend(fontsize=6)
    fig.tight_layout()
    return {"fig7": fig}


@fig7_study.claims("zou2022.fig7")
def fig7_claims(config: Fig7Config, res: Seeds[Fig7Result]) -> list[Check]:
    """Per row: the mean distance to the task optima falls at small α (by > 5 SE)."""
    out = []
    k = int(np.argmin(np.abs(_FIG7_T - 0.5)))
    for row, title in _FIG7_ROWS.items():
        rel = _fig7_rel(res, row)
        m, se = rel[:, k].mean(), rel[:, k].std() / np.sqrt(rel.shape[0])
        out.append(
            check_true(
                f"{title}: mean distance to the task optima lower at α = α*_lim/2 than at α=0",
                bool(m + 5 * se < 0),
                float(m),
                f"< -5 SE = {-5 * se:.3g}",
                "App. H.4.1, Fig. 7 (as Fig. 1(b)): 'α always minimize[s] the geometric "
                "distance at [the] beginning'; averaged over independent task sets. Quick and "
                "paper scale are the same run",
            )
        )
    return out
