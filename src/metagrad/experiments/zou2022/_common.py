"""Helpers shared by the zou2022 studies: key -> NumPy generator, D(x) samplers, moments, and the
plot/claim pieces more than one figure uses."""

from __future__ import annotations

import dataclasses

import jax.random as jr
import numpy as np

from metagrad.experiments._config import ConfigError
from metagrad.experiments._study import Check, check_close, check_true
from metagrad.theory import adaptation_lr as alr

PAPER = "Zou, Liu, Li 2022, ICLR"


def _rng(key) -> np.random.Generator:
    """A NumPy generator seeded from the bits of a `jax.random` key."""
    return np.random.default_rng(np.asarray(jr.key_data(key)).ravel().tolist())


def _draw_x(rng, dist: str, var: float, shape) -> np.ndarray:
    """Samples of D(x) with variance `var`: N(0, var), U centred, Exp(rate 1/σ) (mean σ)."""
    s = np.sqrt(var)
    if dist == "normal":
        return rng.normal(0, s, shape)
    if dist == "uniform":
        return rng.uniform(-np.sqrt(3) * s, np.sqrt(3) * s, shape)
    if dist == "exp":
        return rng.exponential(s, shape)
    raise ConfigError(f"dist={dist!r}: expected normal, uniform or exp.")


def _moments(G: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sample means of G, G² and G³ over the task axis of G, shape (N, d, d)."""
    G2 = G @ G
    return G.mean(0), G2.mean(0), (G2 @ G).mean(0)


def _lim(EG2, EG3, K) -> float:
    """α*_lim = K tr E G² / (2 tr E G³) (Eq. 3.3) from the moment matrices."""
    return float(alr.alpha_star_limit(T2=np.trace(EG2), T3=np.trace(EG3), K=K))


def _var_grid(var_max: float, n_var: int) -> np.ndarray:
    """The σ² grid of Fig. 4: n_var equispaced points on (0, var_max]."""
    return np.linspace(var_max / n_var, var_max, n_var)


@dataclasses.dataclass(frozen=True)
class AlphaVsVarianceResult:
    """α*_lim along a grid of data variances σ² (Fig. 4, both panels); σ² comes from the config.

    Attributes:
        alpha: distribution name -> (n_var,) α*_lim at each σ².
        feature_m2: distribution name -> (n_var,) feature second moment E‖ϕ(x)‖² at each σ².
    """

    alpha: dict[str, np.ndarray]
    feature_m2: dict[str, np.ndarray]


def _plot_alpha_vs_variance(var, r: AlphaVsVarianceResult, feature: str, paper) -> object:
    """Two panels: α*_lim vs σ² of D(x) and vs E‖feature‖², one curve per distribution.

    `paper` = (low, high, label): the range of the paper's curves, drawn as a grey band on the left
    panel. Axes whose values span more than a decade are drawn in log scale.
    """
    from metagrad.plotting import new_figure, sim_errorbar

    fig, ax = new_figure(2)
    for dist, a in r.alpha.items():
        sim_errorbar(ax[0, 0], var, a, label=dist)
        sim_errorbar(ax[0, 1], r.feature_m2[dist], a, label=dist)
    ax[0, 0].axhspan(paper[0], paper[1], color="grey", alpha=0.2, label=paper[2])
    ax[0, 0].set(xlabel="σ² of D(x)", ylabel="α*_lim")
    ax[0, 1].set(xlabel=f"E‖{feature}(x)‖² (feature variance)", ylabel="α*_lim")
    alphas = np.concatenate([np.ravel(a) for a in r.alpha.values()] + [np.array(paper[:2])])
    m2 = np.concatenate([np.ravel(m) for m in r.feature_m2.values()])
    for a, x, y in ((ax[0, 0], var, alphas), (ax[0, 1], m2, alphas)):
        for axis, v in (("x", x), ("y", y)):
            v = np.abs(np.asarray(v))
            if v.min() > 0 and v.max() / v.min() > 10:
                getattr(a, f"set_{axis}scale")("log")
        a.legend(fontsize=7)
    fig.tight_layout()
    return fig


def _decreasing(name: str, values: np.ndarray, note: str) -> Check:
    """The claim that `values` is strictly decreasing."""
    values = np.asarray(values)
    return check_true(
        name,
        bool(np.all(np.diff(values) < 0)),
        [float(f"{v:.6g}") for v in values],
        "strictly decreasing",
        note,
    )


@dataclasses.dataclass(frozen=True)
class LimitCrossCheck:
    """α*_lim (Eq. 3.3) at one point of a study, computed three independent ways (one seed).

    Attributes:
        alpha_limit: `alpha_star_limit` of the row-moment T2, T3 of fresh sampled rows.
        se_limit: its standard error (batch means over 10 batches of those rows).
        alpha_risk: argmin over α of the limit risk L_apx (Eq. B.6) with the same T1, T2, T3
            (vertex of the parabola through three evaluations of `limit_risk`).
        alpha_plugin: plug-in K Σ tr G_i² / (2 Σ tr G_i³) from independently sampled tasks.
        se_plugin: its standard error (delta method over the tasks).
    """

    alpha_limit: float
    se_limit: float
    alpha_risk: float
    alpha_plugin: float
    se_plugin: float


def _limit_of_rows(phi: np.ndarray, K: int) -> tuple[float, float, float, float]:
    """(α*_lim, T1, T2, T3) from rows phi (n, d) by the row-moment formula."""
    m = alr.row_moments(phi=phi)
    T2, T3 = alr.trace_moments_rows(K=K, **m)
    return float(alr.alpha_star_limit(T2=T2, T3=T3, K=K)), K * np.trace(m["S"]), T2, T3


def _limit_cross_check(rows, *, K: int, n_rows: int, n_tasks: int) -> LimitCrossCheck:
    """Cross-check `alpha_star_limit` against the risk argmin and the plug-in at one point.

    `rows(n)` draws n i.i.d. feature rows (n, d) of the point's distribution.
    """
    phi = rows(n_rows)
    a_lim, T1, T2, T3 = _limit_of_rows(phi, K)
    batches = [_limit_of_rows(b, K)[0] for b in np.array_split(phi, 10)]
    r = [float(alr.limit_risk(alpha=a, T1=T1, T2=T2, T3=T3, K=K)) for a in (0.0, 0.5, 1.0)]
    a_risk = 0.5 - 0.5 * (r[2] - r[0]) / (2 * (r[2] - 2 * r[1] + r[0]))
    Phis = rows(n_tasks * K).reshape(n_tasks, K, -1)
    G = alr.gram(Phis=Phis)
    G2 = G @ G
    t2, t3 = np.trace(G2, axis1=1, axis2=2), np.einsum("nij,nji->n", G2, G)
    ratio = t2.mean() / t3.mean()
    se_plug = K / 2 * np.std(t2 - ratio * t3, ddof=1) / (np.sqrt(n_tasks) * t3.mean())
    return LimitCrossCheck(
        alpha_limit=a_lim,
        se_limit=float(np.std(batches, ddof=1) / np.sqrt(len(batches))),
        alpha_risk=float(a_risk),
        alpha_plugin=alr.alpha_star_plugin(Phis=Phis),
        se_plugin=float(se_plug),
    )


def _limit_claims(cc: LimitCrossCheck, n_seeds: int, where: str) -> list[Check]:
    """Eq. 3.3 = argmin of L_apx (round-off) and = plug-in (5 combined standard errors).

    `cc` is the seed mean (the standard errors are averaged and divided by √n_seeds).
    """
    se = np.hypot(cc.se_limit, cc.se_plugin) / np.sqrt(n_seeds)
    return [
        check_close(
            f"{where}: Eq. 3.3 (alpha_star_limit) = argmin of the limit risk L_apx (Eq. B.6)",
            cc.alpha_risk,
            cc.alpha_limit,
            rtol=1e-9,
            note="Theorem 1 (Sec. 3.1): α*_lim of Eq. 3.3 minimises the limit risk L_apx; "
            "same T1, T2, T3, so equal up to round-off (at either scale)",
        ),
        check_close(
            f"{where}: Eq. 3.3 (alpha_star_limit) = plug-in over sampled tasks",
            cc.alpha_plugin,
            cc.alpha_limit,
            atol=5 * se,
            note="Eq. 3.3 (Theorem 1) as used for Fig. 4(a): the row-moment formula equals the "
            "plug-in over sampled tasks. 5 standard errors: batch means of the rows (row "
            "formula) and the delta method over the tasks (plug-in), combined; quick scale "
            "samples fewer rows (wider tolerance), same claim",
        ),
    ]
