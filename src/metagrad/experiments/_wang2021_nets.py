"""Finite-width networks for wang2021.networks: full-batch GD with MTL (N heads) and ANIL.

NTK parameterisation (:class:`metagrad.theory.mtl_ntk.NTKMLP`, σ_w² = 2, σ_b = 0). The network is
centred, f(x) − f_θ0(x), so that initial outputs are exactly 0 (the paper's assumption of B.3.1).
All heads (the N MTL heads, ANIL's head and the test head) start from the same w_0: the kernels of
Lemma 1 (Θ − K across tasks, Eq. 62) are those of heads with a common initial value. The ANIL inner
loop and the test-time adaptation are gradient flow on the head for time λτ, in closed form
(Eq. 36), K̂⁻¹(I − e^{−λτK̂}) computed as λτ·[expm([[−λτK̂, I], [0, 0]])]_{12} (no inverse).
"""

from __future__ import annotations

import dataclasses
from functools import partial

import jax
import jax.numpy as jnp
import jax.random as jr
import jax.scipy.linalg as jsl
import numpy as np

from metagrad.experiments._config import ExperimentConfig, param
from metagrad.theory import mtl_ntk as M

__all__ = ["NetsConfig", "NetsResult", "TaskFamilyConfig", "run_networks"]


@dataclasses.dataclass(frozen=True)
class TaskFamilyConfig(ExperimentConfig):
    """The task family of Sec. 5.1 shared by the Wang, Zhao, Li 2021 studies."""

    N: int = param(20, "training tasks", ge=1, cost=1)
    n: int = param(10, "points per training task", ge=1, cost=1)
    d: int = param(10, "input dimension", ge=1)
    n_test: int = param(20, "test tasks per seed", ge=1)
    n_support: int = param(5, "support points per test task", ge=1)
    n_query: int = param(10, "query points per test task", ge=1)


@dataclasses.dataclass(frozen=True)
class NetsConfig(TaskFamilyConfig):
    """Sec. 5.1 tasks; networks of width 512 and several depths, trained by full-batch GD."""

    width: int = param(512, "hidden width", ge=1, cost=2)
    depths: tuple[int, ...] = param((2, 5, 10, 20), "depths L", ge=2, cost=1)
    lam_tau: float = param(0.0, "ANIL training inner loop λτ (gradient flow on the head)", ge=0)
    lam_tau_hat: float = param(1.0, "test-time adaptation λτ̂", gt=0)
    steps: int = param(400, "full-batch GD steps", ge=1, cost=1)
    eta_scale: float = param(0.25, "η = eta_scale / σ_max(Θ(𝒳, 𝒳))", gt=0, lt=1)


@dataclasses.dataclass(frozen=True)
class NetsResult:
    """One seed of the finite-width comparison.

    Attributes:
        depth: (n_L,) depths.
        gap_net: (n_L,) mean over test tasks of ‖F_ANIL − F_MTL‖₂ of the trained networks.
        gap_kernel: (n_L,) the same for the analytic kernel predictors at the same ηt (Lemma 2).
        gap_kernel_inf: (n_L,) the same at t = ∞ (Lemma 1).
        gap_kernel_init: (n_L,) the same with the network's own empirical kernels at initialisation.
        err_mtl: (n_L,) RMS(F_MTL,net − F_MTL,kernel) / RMS(F_MTL,kernel), analytic kernels.
        err_anil: (n_L,) the same for ANIL.
        err_mtl_init: (n_L,) the same against the empirical kernels at initialisation.
        err_anil_init: (n_L,) the same for ANIL.
        loss_mtl: (n_L,) final training loss ½‖f − 𝒴‖² / Nn of MTL.
        loss_anil: (n_L,) the same for ANIL.
        eta_t: (n_L,) ηt of the training.
    """

    depth: np.ndarray
    gap_net: np.ndarray
    gap_kernel: np.ndarray
    gap_kernel_inf: np.ndarray
    gap_kernel_init: np.ndarray
    err_mtl: np.ndarray
    err_anil: np.ndarray
    err_mtl_init: np.ndarray
    err_anil_init: np.ndarray
    loss_mtl: np.ndarray
    loss_anil: np.ndarray
    eta_t: np.ndarray


def _phi(backbone, x, sigma_w2):
    """Head features φ(x) = σ_w z^{L−1}(x)/√h, so that K̂ = φφᵀ (σ_b = 0)."""
    ws = backbone
    for w in ws:
        x = jax.nn.relu(jnp.sqrt(sigma_w2 / w.shape[0]) * (x @ w))
    return jnp.sqrt(sigma_w2 / x.shape[-1]) * x


def _adapt_T(K, lam_tau):
    """K⁻¹(I − e^{−λτK}) by the block exponential (differentiable, no inverse); K (..., n, n)."""
    n = K.shape[-1]
    top = jnp.concatenate([-lam_tau * K, jnp.broadcast_to(jnp.eye(n), K.shape)], -1)
    Mx = jnp.concatenate([top, jnp.zeros_like(top)], -2)
    return lam_tau * jax.vmap(jsl.expm)(Mx.reshape(-1, 2 * n, 2 * n))[:, :n, n:].reshape(K.shape)


def _adapted(fq, fs, phq, phs, ys, lam_tau):
    """Gradient-flow head adaptation (Eq. 36): f(X) + K̂(X, X')K̂⁻¹(I − e^{−λτK̂})(Y' − f(X'))."""
    Kss = phs @ jnp.swapaxes(phs, -1, -2)
    T = _adapt_T(Kss, lam_tau)
    return fq + jnp.einsum("...qh,...sh,...st,...t->...q", phq, phs, T, ys - fs)


def _train(loss, params, eta, steps):
    grad = jax.grad(loss)

    def body(p, _):
        return jax.tree_util.tree_map(lambda a, g: a - eta * g, p, grad(p)), None

    return jax.lax.scan(body, params, None, length=steps)[0]


@partial(jax.jit, static_argnames=("steps", "lam_tau", "lam_tau_hat"))
def _fit(backbone0, w0, Xt, Y, Xq, Xs, Ys, eta, *, steps, lam_tau, lam_tau_hat):
    """Train MTL and ANIL from the same initialisation; test predictions (T, n_q) of both."""
    sw = 2.0
    N, n, _ = Xt.shape
    f0t = _phi(backbone0, Xt, sw) @ w0
    f0q, f0s = _phi(backbone0, Xq, sw) @ w0, _phi(backbone0, Xs, sw) @ w0
    Yb = Y.reshape(N, n)

    def loss_mtl(p):
        bb, H = p
        f = jnp.einsum("inh,ih->in", _phi(bb, Xt, sw), H) - f0t
        return 0.5 * jnp.sum((f - Yb) ** 2)

    def meta_out(bb, w):
        ph = _phi(bb, Xt, sw)
        f = ph @ w - f0t
        if lam_tau == 0:
            return f
        return _adapted(f, f, ph, ph, Yb, lam_tau)

    def loss_anil(p):
        return 0.5 * jnp.sum((meta_out(*p) - Yb) ** 2)

    pm = _train(loss_mtl, (backbone0, jnp.broadcast_to(w0, (N, w0.size))), eta, steps)
    pa = _train(loss_anil, (backbone0, w0), eta, steps)

    def test(bb):
        phq, phs = _phi(bb, Xq, sw), _phi(bb, Xs, sw)
        return _adapted(phq @ w0 - f0q, phs @ w0 - f0s, phq, phs, Ys, lam_tau_hat)

    n_pts = N * n
    return test(pm[0]), test(pa[0]), loss_mtl(pm) / n_pts, loss_anil(pa) / n_pts


def _rel(a, b) -> float:
    return float(np.sqrt(np.mean((a - b) ** 2)) / np.sqrt(np.mean(b**2)))


def _gap(fa, fm) -> float:
    return float(np.mean(np.linalg.norm(fa - fm, axis=-1)))


def run_networks(c: NetsConfig, data: dict, *, key) -> NetsResult:
    """Per depth: one network, MTL and ANIL trained from it, kernel predictors next to them."""
    kw = dict(X_train=data["Xt"], X_query=data["Xq"], X_support=data["Xs"])
    kerns = M.relu_task_kernels(**kw, depth=max(c.depths))
    rows = []
    for L, k in zip(c.depths, jr.split(key, len(c.depths))):
        kern = kerns[L - 1]
        model = M.NTKMLP(c.d, c.width, L, key=k)
        eta = c.eta_scale / np.linalg.eigvalsh(kern.Theta)[-1]
        args = (model.weights[:-1], model.weights[-1][:, 0], *(jnp.asarray(data[s]) for s in
                ("Xt", "Y", "Xq", "Xs", "Ys")), eta)  # fmt: skip
        fm, fa, lm, la = (
            np.asarray(a)
            for a in _fit(*args, steps=c.steps, lam_tau=c.lam_tau, lam_tau_hat=c.lam_tau_hat)
        )
        eta_t = eta * c.steps

        def preds(kr, et):
            pk = dict(Y=data["Y"], Y_support=data["Ys"], lam_tau_hat=c.lam_tau_hat, eta_t=et)
            return (M.predict_mtl(kernels=kr, **pk),
                    M.predict_anil(kernels=kr, **pk, lam_tau=c.lam_tau))  # fmt: skip

        km, ka = preds(kern, eta_t)
        kmi, kai = preds(kern, np.inf)
        emp = M.empirical_task_kernels(model, **kw)
        em, ea = preds(emp, eta_t)
        rows.append((L, _gap(fa, fm), _gap(ka, km), _gap(kai, kmi), _gap(ea, em), _rel(fm, km),
                     _rel(fa, ka), _rel(fm, em), _rel(fa, ea), float(lm), float(la), eta_t))  # fmt: skip
    return NetsResult(*np.asarray(rows, np.float64).T)
