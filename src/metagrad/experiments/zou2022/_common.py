"""Helpers shared by the zou2022 studies: key -> NumPy generator, D(x) samplers, moments, and the
plot/claim pieces more than one figure uses."""

from __future__ import annotations

import dataclasses

import jax.random as jr
import numpy as np

from metagrad.experiments._config import ConfigError
from metagrad.experiments._study import Check, check_true
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
