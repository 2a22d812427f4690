"""Zou, Liu, Li 2022, Table 2 / App. H.4.3: sinusoid regression with frozen MLP features.

A 1-40-40-1 ReLU MLP is pre-trained by ERM on y = a·sin(x + b), a, b ~ U(0, π), x ~ U(−5, 5); its
first two layers are frozen and their 40 outputs plus a bias column are the features ϕ (41-d).
Only the last layer is trained by one-step MAML, in closed form (the B.8 normal equations with
labels y in place of Φa). Plain-MSE convention: inner step w' = w − (2α/K)Φᵀ(Φw − y).
"""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp
import jax.random as jr
import numpy as np

from metagrad.experiments._config import ExperimentConfig, param
from metagrad.experiments._result import Seeds
from metagrad.experiments._study import Check, Study, check_true
from metagrad.experiments.zou2022._common import PAPER
from metagrad.theory import adaptation_lr as alr

__all__ = ["Table2Config", "Table2Curves", "Table2Result", "table2_study"]

_PAPER_ALPHAS = (0.001, 0.005, 0.01, 0.05, 0.08, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5)


@dataclasses.dataclass(frozen=True)
class Table2Config(ExperimentConfig):
    """Table 2: task size, task counts, pre-training length and the dense α grid."""

    K: int = param(10, "support points per task (inner = outer in training)", ge=1)
    n_train: int = param(1000, "training tasks of the last-layer MAML", ge=2)
    n_test: int = param(10_000, "test tasks", ge=2, cost=1)
    n_query: int = param(256, "query points per task", ge=2)
    pretrain_steps: int = param(20_000, "ERM pre-training steps (Adam 1e-3)", ge=1, cost=1)
    pretrain_tasks: int = param(25, "tasks per pre-training batch (10 + 10 points each)", ge=1)
    n_dense: int = param(61, "points of the dense log α grid on [1e-3, 0.5] (argmins)", ge=11)


def _sine_tasks(key, n: int, n_s: int, n_q: int):
    """n tasks y = a sin(x + b), a, b ~ U(0, π) (the paper's ranges), x ~ U(−5, 5)."""
    from metagrad.tasks import Task
    from metagrad.tasks.sinusoid import sinusoid

    ka, kb, kx = jr.split(key, 3)
    a = jr.uniform(ka, (n, 1, 1), minval=0.0, maxval=np.pi)
    b = jr.uniform(kb, (n, 1, 1), minval=0.0, maxval=np.pi)
    x = jr.uniform(kx, (n, n_s + n_q, 1), minval=-5.0, maxval=5.0)
    y = sinusoid(x, a=a, b=b)
    return Task(x[:, :n_s], y[:, :n_s], x[:, n_s:], y[:, n_s:], None)


def _pretrain(c: Table2Config, key):
    """ERM pre-training of the 1-40-40-1 ReLU MLP (H.3); returns the model."""
    import optax

    from metagrad.algorithms import ERM, meta_train, mse
    from metagrad.models import MLP

    k_init, k_fit = jr.split(key)
    model = MLP(1, 1, width=40, depth=2, key=k_init)
    model, _ = meta_train(
        ERM(loss=mse),
        optax.adam(1e-3),
        model,
        lambda k: _sine_tasks(k, c.pretrain_tasks, c.K, c.K),
        steps=c.pretrain_steps,
        key=k_fit,
    )
    return model


def _phi(model, x) -> np.ndarray:
    """Frozen features + bias column, float64: x (n, k, 1) -> (n, k, 41)."""
    x = np.asarray(x)
    h = model.features(jnp.asarray(x.reshape(-1, 1), dtype=jnp.float32))
    h = np.asarray(h, dtype=np.float64).reshape(*x.shape[:2], -1)
    return np.concatenate([h, np.ones_like(h[..., :1])], axis=-1)


def _maml_head(Phis: np.ndarray, y: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Last-layer MAML w_m(α) = (Σ B_i)⁺ Σ (I − cG_i)²Φ_iᵀy_i, c = 2α/K (Eq. 3.1, B.8).

    G^p a of `moment_sums` becomes G^{p−1}Φᵀy when the labels are not exactly Φa. Least squares
    (pseudo-inverse) because dead ReLU units give zero feature columns. Returns (n_alpha, d).
    """
    G = alr.gram(Phis=Phis)
    h = np.einsum("nki,nk->ni", Phis, y)
    S = np.stack([G.sum(0), (G @ G).sum(0), (G @ G @ G).sum(0)])
    v = np.stack([h.sum(0), np.einsum("nij,nj->i", G, h), np.einsum("nij,nj->i", G @ G, h)])
    K = Phis.shape[1]
    co = np.stack([np.ones_like(alpha), -4 * alpha / K, 4 * alpha**2 / K**2], -1)
    W, nu = np.einsum("ap,pij->aij", co, S), np.einsum("ap,pi->ai", co, v)
    return np.stack([np.linalg.lstsq(Wa, na, rcond=None)[0] for Wa, na in zip(W, nu)])


def _quad_mse(w: np.ndarray, G: np.ndarray, h: np.ndarray, yy: np.ndarray, n: int) -> np.ndarray:
    """Mean over tasks of (1/n)‖Φ_i w_i − y_i‖² from G_i, h_i = Φ_iᵀy_i, yy_i; w (a, N, d)."""
    q = np.einsum("ani,nij,anj->an", w, G, w) - 2 * np.einsum("ani,ni->an", w, h) + yy
    return q.mean(-1) / n


def _moments(model, x, y, chunk: int = 500) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-task G_i = Φ_iᵀΦ_i, h_i = Φ_iᵀy_i and ‖y_i‖², in chunks of tasks (bounded memory)."""
    out = []
    for j in range(0, x.shape[0], chunk):
        P, yj = _phi(model, x[j : j + chunk]), np.asarray(y[j : j + chunk], np.float64)[..., 0]
        out.append((alr.gram(Phis=P), np.einsum("nki,nk->ni", P, yj), (yj**2).sum(1)))
    return tuple(np.concatenate(z) for z in zip(*out))


def _test_losses(w: np.ndarray, alpha: np.ndarray, sup, qry, K: int, nq: int):
    """Pre- and post-adaptation MSE on the query points, and post-MSE on the support points.

    One adaptation step on the K support points, w' = w − (2α/K)(G_s w − h_s); `sup` and `qry`
    are the (G, h, ‖y‖²) moments of `_moments`. Returns name -> array of shape alpha.shape.
    """
    Gs, hs, yys = sup
    w_ad = w[:, None] - (2 * alpha / K)[:, None, None] * (np.einsum("nij,aj->ani", Gs, w) - hs)
    w_pre = np.broadcast_to(w[:, None], w_ad.shape)
    return {
        "pre": _quad_mse(w_pre, *qry, nq),
        "post": _quad_mse(w_ad, *qry, nq),
        "post_support": _quad_mse(w_ad, *sup, K),
    }


def _alpha_split_aniso(Ps: np.ndarray, Pq: np.ndarray, yq: np.ndarray, w_r: np.ndarray) -> float:
    r"""Cor. 2 (H.6) split estimate with an anisotropic Σ = E(w_r − a)(w_r − a)ᵀ [derived].

    α = k1 tr(Σ E[G_u G_t]) / (2 tr(Σ E[G_u G_t G_u])): adapt on the k1 support points, evaluate on
    the query points (Table 2's protocol). a_i is the least-squares fit on the query points.
    """
    Gu, Gt = alr.gram(Phis=Ps), alr.gram(Phis=Pq)
    hq = np.einsum("nqi,nq->ni", Pq, yq)
    a = np.stack([np.linalg.lstsq(g, r, rcond=None)[0] for g, r in zip(Gt, hq)])
    D = w_r[None] - a
    Sig = D.T @ D / len(D)
    GuGt = Gu @ Gt
    num, den = np.einsum("ij,nji->", Sig, GuGt), np.einsum("ij,nji->", Sig, GuGt @ Gu)
    return float(Ps.shape[1] * num / (2 * den))


@dataclasses.dataclass(frozen=True)
class Table2Curves:
    """Test MSEs along one α grid.

    Attributes:
        pre: (n,) MSE on the query points before adaptation.
        post: (n,) MSE on the query points after one step on the support points (the paper's).
        post_support: (n,) MSE on the support points after that step (the theory's same-points
            loss).
    """

    pre: np.ndarray
    post: np.ndarray
    post_support: np.ndarray


@dataclasses.dataclass(frozen=True)
class Table2Result:
    """One seed of Table 2; the α grids come from the config (`Table2Config.grids`).

    Attributes:
        table: the curves on the paper's 11 α values.
        dense: the curves on the dense log grid (n_dense,).
        alpha_lim: Eq. 3.3 plug-in from the training support features (paper: 0.10319).
        alpha_split_aniso: Corollary 2 split estimate with Σ = Cov(w_r − a) (derived).
        mse_alpha0: query MSE of the ERM head (α = 0).
        best_alpha_query: dense-grid argmin of the query post-MSE.
        best_alpha_support: dense-grid argmin of the support post-MSE.
    """

    table: Table2Curves
    dense: Table2Curves
    alpha_lim: float
    alpha_split_aniso: float
    mse_alpha0: float
    best_alpha_query: float
    best_alpha_support: float


def _dense(c: Table2Config) -> np.ndarray:
    """The dense log α grid on [1e-3, 0.5] (argmins)."""
    return np.geomspace(1e-3, 0.5, c.n_dense)


table2_study = Study(
    "zou2022.table2",
    title="Sinusoid, frozen ERM features, last-layer MAML: pre/post-adaptation MSE vs α",
    paper=PAPER,
    config=Table2Config,
    presets={"quick": {"n_test": 1000, "pretrain_steps": 2000}, "paper": {}},
    cost={"quick": "~12 s", "paper": "~35 s"},
)


@table2_study.run
def table2_run(config: Table2Config, *, key) -> Table2Result:
    """Pre-train, freeze, fit the last layer by MAML in closed form, test along α (Table 2)."""
    c = config
    k_pre, k_tr, k_te = jr.split(key, 3)
    model = _pretrain(c, k_pre)
    tr = _sine_tasks(k_tr, c.n_train, c.K, c.n_query)
    te = _sine_tasks(k_te, c.n_test, c.K, c.n_query)
    Ps, Pq = _phi(model, tr.x_support), _phi(model, tr.x_query)
    ys, yq = (np.asarray(y, dtype=np.float64)[..., 0] for y in (tr.y_support, tr.y_query))
    grid, dense = np.asarray(_PAPER_ALPHAS), _dense(c)
    alpha = np.concatenate([[0.0], grid, dense])
    w = _maml_head(Ps, ys, alpha)
    sup, qry = (
        _moments(model, te.x_support, te.y_support),
        _moments(model, te.x_query, te.y_query),
    )
    L = _test_losses(w, alpha, sup, qry, c.K, c.n_query)
    tab, den = slice(1, 1 + grid.size), slice(1 + grid.size, None)
    return Table2Result(
        table=Table2Curves(**{k: v[tab] for k, v in L.items()}),
        dense=Table2Curves(**{k: v[den] for k, v in L.items()}),
        alpha_lim=alr.alpha_star_plugin(Phis=Ps),
        alpha_split_aniso=_alpha_split_aniso(Ps, Pq, yq, w[0]),
        mse_alpha0=float(L["pre"][0]),
        best_alpha_query=float(dense[np.argmin(L["post"][den])]),
        best_alpha_support=float(dense[np.argmin(L["post_support"][den])]),
    )


@table2_study.plot(
    "zou2022.table2", "Sinusoid, frozen ERM features, last-layer MAML: pre/post-adaptation MSE vs α"
)
def table2_plot(config: Table2Config, res: Seeds[Table2Result]) -> dict:
    """Query (left) and support (right) MSE vs α, with the estimates and the paper's α*_lim."""
    from metagrad.plotting import new_figure, sim_errorbar

    r, dense = res.mean, _dense(config)
    fig, ax = new_figure(2)
    for a, (title, post) in zip(
        ax[0], (("query", r.dense.post), ("support", r.dense.post_support))
    ):
        sim_errorbar(a, dense, r.dense.pre, label="pre (query)", marker="")
        sim_errorbar(a, dense, post, label="post", marker="")
        a.axvline(r.alpha_lim, color="r", linestyle="--", label="α*_lim (Eq. 3.3)")
        a.axvline(r.alpha_split_aniso, color="m", linestyle=":", label="split, Cov(w_r − a)")
        a.axvline(0.10319, color="grey", linestyle="-.", label="paper: α*_lim = 0.103")
        a.set(xscale="log", yscale="log", xlabel="α", ylabel="MSE", title=f"post-MSE on {title}")
        a.legend(fontsize=6)
    fig.tight_layout()
    return {"table2": fig}


@table2_study.claims("zou2022.table2")
def table2_claims(config: Table2Config, res: Seeds[Table2Result]) -> list[Check]:
    """Flat pre-MSE, U-shaped post-MSE, and where the estimates put the optimum."""
    r = res.mean
    pre, post = np.asarray(r.table.pre), np.asarray(r.table.post)
    i = int(np.argmin(post))
    spread = (pre.max() - pre.min()) / (post.max() - post.min())
    ratio_support = r.best_alpha_support / r.alpha_lim
    ratio_split = r.best_alpha_query / r.alpha_split_aniso
    return [
        check_true(
            "pre-MSE is flat next to post-MSE",
            bool(spread < 0.25),
            float(spread),
            "range(pre) / range(post) < 0.25",
            "App. H.4.3, Table 2: the MSE before adaptation is flat in α, pre 821-829 while "
            "post 797-989 (ratio 0.04). Quick scale (2000 pre-training steps instead of "
            "20,000, 1000 test tasks) tests the same claim on a less trained network",
        ),
        check_true(
            "post-MSE is U-shaped in α (interior minimum on the paper's grid)",
            bool(0 < i < post.size - 1 and post[-1] > post[i] and post[0] > post[i]),
            float(_PAPER_ALPHAS[i]),
            "argmin strictly inside the grid",
            "App. H.4.3, Table 2: the MSE after one adaptation step falls from α = 0.001 to "
            "its minimum (α = 0.1 in the paper) and rises again up to α = 0.5. Quick scale "
            "tests the same claim on a less trained network",
        ),
        check_true(
            "α*_lim (Eq. 3.3) locates the optimum of the theory's same-points loss",
            bool(0.5 <= ratio_support <= 2),
            float(ratio_support),
            "best α (support post-MSE, dense grid) / α*_lim in [0.5, 2]",
            "App. H.4.3, Table 2 claims the best α (0.1) ≈ α*_lim (0.103) on the query points; "
            "that is not reproduced (measured 0.55 α*_lim, reported as best_alpha_query / "
            "alpha_lim, not checked; docs/zou2022.md#table2). This check holds the theory's "
            "own loss (Eq. 3.3 is the optimum of the same-points loss). Quick scale tests the "
            "same claim on a less trained network",
        ),
        check_true(
            "the split estimate with Cov(w_r − a) locates the query optimum",
            bool(0.5 <= ratio_split <= 2),
            float(ratio_split),
            "best α (query post-MSE, dense grid) / alpha_split_aniso in [0.5, 2]",
            "Not a claim of the paper: our derived explanation of Table 2's optimum (adapt on K "
            "support points, test on other points: Corollary 2 with anisotropic task optima; "
            "docs/zou2022.md#table2). Quick scale tests it on a less trained network",
        ),
    ]
