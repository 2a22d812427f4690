# ruff: noqa: F722  (jaxtyping shape strings are not forward annotations)
r"""MAML on mixed linear regression: exact and asymptotic test loss, negative learning rates.

Theory of Bernacchia, "Meta-learning with negative learning rates" (ICLR 2021), with the
errata listed in docs/bernacchia2021.md: Theorems 1–3 (Eqs. 5, 9, 14), the exact conditional loss (Eqs. 65, 123),
the optimal training rate (Eq. 8), the optimal adaptation rate, the slope at α_t = 0 (Eq. 10) and the
Wishart moments of Lemma 1. All losses are ½·MSE and include the noise floor σ²/2.

Symbols: p input dimension, m training tasks, n_t / n_v training / validation points per task, n_r
target points at test time, σ label noise, ν task variability (Cov w = ν²/p I), ``dist2`` = |ω0 − w0|².
Functions are pure, float64, and broadcast over ``alpha_t`` and ``alpha_r``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float
from scipy.optimize import minimize_scalar

__all__ = [
    "adapt_factor",
    "conditional_loss",
    "general_adapt_matrix",
    "loss_general_covariance",
    "loss_overparameterized",
    "loss_underparameterized",
    "numeric_argmin",
    "optimal_adapt_lr",
    "optimal_train_lr",
    "slope_at_zero",
    "wishart_moments",
]


def _check_int(name: str, value: int, lo: int = 1) -> None:
    if int(value) != value or value < lo:
        raise ValueError(f"{name}={value!r} is out of range: expected an integer >= {lo}.")


def _check_nonneg(name: str, value: float) -> None:
    if not float(value) >= 0:
        raise ValueError(f"{name}={value!r} is out of range: expected a value >= 0.")


def _check_common(p: int, n_t: int, n_v: int, m: int, n_r: int, sigma: float, nu: float) -> None:
    for name, v in (("p", p), ("n_t", n_t), ("n_v", n_v), ("m", m), ("n_r", n_r)):
        _check_int(name, v)
    _check_nonneg("sigma", sigma)
    _check_nonneg("nu", nu)


def adapt_factor(*, alpha: ArrayLike, p: int, n: int) -> Float[Array, ...]:
    r"""h = (1 − α)² + α² (p+1)/n, the mean contraction of one gradient step (Eqs. 6, 7).

    Implements Bernacchia 2021, Eqs. 6–7 (h_t with n = n_t, h_r with n = n_r).

    Args:
        alpha: learning rate, any real, any shape.
        p: input dimension, >= 1.
        n: number of points of the step, >= 1.

    Returns:
        h, shape of ``alpha``.
    """
    _check_int("p", p)
    _check_int("n", n)
    a = jnp.asarray(alpha, dtype=jnp.float64)
    return (1 - a) ** 2 + a**2 * (p + 1) / n


def loss_overparameterized(
    *, alpha_t, alpha_r, p: int, n_t: int, n_v: int, m: int, n_r: int, sigma, nu, dist2=0.0
) -> Float[Array, ...]:
    r"""Average test loss of MAML in the overparameterized regime p > n_v m (Theorem 1).

    .. math:: L = \frac{σ^2}{2}(1 + α_r^2 p/n_r) + \frac{h_r}{2}\Big[ν^2(1 + \tfrac{n_v m}{p})
              + (1 - \tfrac{n_v m}{p})|ω_0 - w_0|^2 + \tfrac{σ^2 n_v m}{p}\tfrac{1 + α_t^2 p/n_t}{h_t}\Big]

    Implements Bernacchia 2021, Eq. 5 (= Eq. 81), to leading order in 1/p.

    Args:
        alpha_t, alpha_r: training and adaptation learning rates, broadcast together.
        p, n_t, n_v, m, n_r: integers >= 1 with p > n_v m.
        sigma, nu: label noise and task variability, >= 0.
        dist2: |ω0 − w0|², >= 0.

    Returns:
        L̄_test, broadcast shape of ``alpha_t`` and ``alpha_r``.
    """
    _check_common(p, n_t, n_v, m, n_r, sigma, nu)
    if not p > n_v * m:
        raise ValueError(f"p={p} must be > n_v*m={n_v * m} (overparameterized regime).")
    at = jnp.asarray(alpha_t, dtype=jnp.float64)
    ar = jnp.asarray(alpha_r, dtype=jnp.float64)
    h_t, h_r = adapt_factor(alpha=at, p=p, n=n_t), adapt_factor(alpha=ar, p=p, n=n_r)
    q = n_v * m / p
    k = nu**2 * (1 + q) + (1 - q) * dist2 + sigma**2 * q * (1 + at**2 * p / n_t) / h_t
    return sigma**2 / 2 * (1 + ar**2 * p / n_r) + h_r / 2 * k


def wishart_moments(*, n: int, p: int) -> dict[str, float]:
    r"""Normalised moments μ of S = XᵀX, X an n×p standard Gaussian matrix (Lemma 1).

    E S^k = n^k μ_k I (k = 2, 3, 4); E[S Tr S] = p n² μ11 I; E[S² Tr S] = p n³ μ21 I;
    E[S Tr S²] = p n³ μ12 I (μ12 = μ21); E[S² Tr S²] = p n⁴ μ22 I.

    Implements Bernacchia 2021, Lemma 1, Eqs. 32–40 (= Eqs. 102–107).

    Args:
        n: rows of X, >= 1.  p: columns of X, >= 1.

    Returns:
        dict with keys "mu2", "mu3", "mu4", "mu11", "mu21", "mu12", "mu22" (floats).
    """
    _check_int("n", n)
    _check_int("p", p)
    n, p = float(n), float(p)
    mu21 = (n**2 * p + n * p**2 + n * p + 4 * n + 4 * p + 4) / (p * n**2)
    return {
        "mu2": (n + p + 1) / n,
        "mu3": (n**2 + p**2 + 3 * n * p + 3 * n + 3 * p + 4) / n**2,
        "mu4": (
            n**3
            + p**3
            + 6 * n**2 * p
            + 6 * n * p**2
            + 6 * n**2
            + 6 * p**2
            + 17 * n * p
            + 21 * n
            + 21 * p
            + 20
        )
        / n**3,
        "mu11": (n**2 * p + 2 * n) / (p * n**2),
        "mu21": mu21,
        "mu12": mu21,
        "mu22": (
            n**3 * p
            + n * p**3
            + 2 * n**2 * p**2
            + 2 * n**2 * p
            + 2 * n * p**2
            + 8 * n**2
            + 8 * p**2
            + 21 * n * p
            + 20 * n
            + 20 * p
            + 20
        )
        / (p * n**3),
    }


def loss_underparameterized(
    *, alpha_t, alpha_r, p: int, n_t: int, n_v: int, m: int, n_r: int, sigma, nu
) -> Float[Array, ...]:
    r"""Average test loss of MAML in the underparameterized regime p < n_v m (Theorem 2).

    .. math:: L = \frac{σ^2}{2}(1 + α_r^2 p/n_r) + \frac{h_r ν^2}{2} + \frac{h_r}{2h_t^2}\frac{p}{n_v m}
              \Big\{σ^2\big[h_t + \tfrac{α_t^2}{n_t}((n_v+1)g_1 + p g_2)\big]
              + \tfrac{ν^2}{p}\big[(n_v+1)g_3 + p g_4\big]\Big\}

    with g1..g4 of Eqs. 98–101 (erratum of Eq. 97: p g4, not p g3). Implements Bernacchia 2021,
    Eq. 9 (= Eq. 108), to leading order in 1/(m n_v).

    Args:
        alpha_t, alpha_r: learning rates, broadcast together.
        p, n_t, n_v, m, n_r: integers >= 1 with p < n_v m.
        sigma, nu: >= 0.

    Returns:
        L̄_test, broadcast shape of ``alpha_t`` and ``alpha_r``.
    """
    _check_common(p, n_t, n_v, m, n_r, sigma, nu)
    if not p < n_v * m:
        raise ValueError(f"p={p} must be < n_v*m={n_v * m} (underparameterized regime).")
    a = jnp.asarray(alpha_t, dtype=jnp.float64)
    ar = jnp.asarray(alpha_r, dtype=jnp.float64)
    mu = wishart_moments(n=n_t, p=p)
    g1 = 1 - 2 * a * mu["mu2"] + a**2 * mu["mu3"]
    g2 = 1 - 2 * a * mu["mu11"] + a**2 * mu["mu21"]
    g3 = 1 - 4 * a + 6 * a**2 * mu["mu2"] - 4 * a**3 * mu["mu3"] + a**4 * mu["mu4"]
    g4 = (
        1
        - 4 * a
        + 2 * a**2 * mu["mu2"]
        + 4 * a**2 * mu["mu11"]
        - 4 * a**3 * mu["mu21"]
        + a**4 * mu["mu22"]
    )
    h_t, h_r = adapt_factor(alpha=a, p=p, n=n_t), adapt_factor(alpha=ar, p=p, n=n_r)
    noise = sigma**2 * (h_t + a**2 / n_t * ((n_v + 1) * g1 + p * g2))
    task = nu**2 / p * ((n_v + 1) * g3 + p * g4)
    extra = h_r / (2 * h_t**2) * p / (n_v * m) * (noise + task)
    return sigma**2 / 2 * (1 + ar**2 * p / n_r) + h_r * nu**2 / 2 + extra


def general_adapt_matrix(*, alpha, n: int, Sigma, F) -> Float[Array, "... p p"]:
    r"""H = E[(I − αS/n) Σ (I − αS/n)] = Σ − 2αΣ² + α²[Σ³ + (F − Σ³)/n], S = XᵀX.

    Implements Bernacchia 2021, Eqs. 113 and 121 (H_t with n = n_t, H_r with n = n_r).

    Args:
        alpha: learning rate, any shape (...).
        n: number of points, >= 1.
        Sigma: input covariance, (p, p).  F: E[(xᵀΣx) x xᵀ], (p, p).

    Returns:
        H, shape (..., p, p).
    """
    _check_int("n", n)
    a = jnp.asarray(alpha, dtype=jnp.float64)[..., None, None]
    S = jnp.asarray(Sigma, dtype=jnp.float64)
    S2, S3 = S @ S, S @ S @ S
    return S - 2 * a * S2 + a**2 * (S3 + (jnp.asarray(F) - S3) / n)


def loss_general_covariance(
    *, alpha_t, alpha_r, n_t: int, n_v: int, m: int, n_r: int, sigma, Sigma, Sigma_w, F
) -> Float[Array, ...]:
    r"""Average test loss with general covariances Σ, Σ_w (overparameterized, ω0 = w0 = 0; Thm 3).

    .. math:: L = \frac{σ^2}{2}\big[1 + \tfrac{α_r^2}{n_r}\mathrm{Tr}Σ^2\big] + \tfrac12\mathrm{Tr}(Σ_w H_r)
              + \frac{n_v m\,\mathrm{Tr}(H_r H_t)}{2\,\mathrm{Tr}(H_t)^2}
                \Big\{\mathrm{Tr}(Σ_w H_t) + σ^2\big[1 + \tfrac{α_t^2}{n_t}\mathrm{Tr}Σ^2\big]\Big\}

    Implements Bernacchia 2021, Eq. 14 (= Eqs. 143–144). With Σ = I, Σ_w = ν²/p I and
    F = (p+2) I it equals Theorem 1 at ω0 = w0.

    Args:
        alpha_t, alpha_r: learning rates, broadcast together.
        n_t, n_v, m, n_r: integers >= 1, with p > n_v m.
        sigma: label noise, >= 0.
        Sigma, Sigma_w, F: (p, p) symmetric matrices (input, task covariance, fourth moment).

    Returns:
        L̄_test, broadcast shape of ``alpha_t`` and ``alpha_r``.
    """
    p = jnp.shape(Sigma)[0]
    _check_common(p, n_t, n_v, m, n_r, sigma, 0.0)
    at, ar = jnp.broadcast_arrays(
        jnp.asarray(alpha_t, jnp.float64), jnp.asarray(alpha_r, jnp.float64)
    )
    H_t = general_adapt_matrix(alpha=at, n=n_t, Sigma=Sigma, F=F)
    H_r = general_adapt_matrix(alpha=ar, n=n_r, Sigma=Sigma, F=F)
    Sw = jnp.asarray(Sigma_w, dtype=jnp.float64)
    tr_s2 = jnp.trace(Sigma @ Sigma)
    tr = lambda A, B: jnp.einsum("...ij,...ji->...", A, B)  # noqa: E731
    tr_ht = jnp.trace(H_t, axis1=-2, axis2=-1)
    brace = tr(Sw, H_t) + sigma**2 * (1 + at**2 / n_t * tr_s2)
    extra = n_v * m / (2 * tr_ht**2) * tr(H_r, H_t) * brace
    return sigma**2 / 2 * (1 + ar**2 / n_r * tr_s2) + tr(Sw, H_r) / 2 + extra


def conditional_loss(*, omega_star, w0, alpha_r, n_r: int, sigma, Sigma, Sigma_w, F) -> Array:
    r"""Exact test loss given ω*, averaged over the test task, target and test data (Eqs. 65, 123).

    .. math:: L = \frac{σ^2}{2}\big[1 + \tfrac{α_r^2}{n_r}\mathrm{Tr}Σ^2\big]
              + \tfrac12\mathrm{Tr}\big[(Σ_w + (ω^* - w_0)(ω^* - w_0)^T) H_r\big]

    For Σ = I, Σ_w = ν²/p I, F = (p+2)I this is Eq. 65. Exact for Gaussian x of any Σ.

    Args:
        omega_star: meta-parameters, shape (..., p).  w0: task mean, (p,).
        alpha_r: adaptation rate, shape (r,) or scalar; appended as the last output axis.
        n_r: target points, >= 1.  sigma: noise, >= 0.
        Sigma, Sigma_w, F: (p, p).

    Returns:
        L̄_test, shape (..., r) (or (...) for a scalar ``alpha_r``).
    """
    ar = jnp.asarray(alpha_r, dtype=jnp.float64)
    H_r = general_adapt_matrix(alpha=ar, n=n_r, Sigma=Sigma, F=F)
    d = jnp.asarray(omega_star) - jnp.asarray(w0)
    quad = jnp.einsum("...i,rij,...j->...r", d, H_r.reshape(-1, *H_r.shape[-2:]), d)
    base = jnp.einsum("ij,rji->r", jnp.asarray(Sigma_w), H_r.reshape(-1, *H_r.shape[-2:]))
    ar1 = ar.reshape(-1)
    out = sigma**2 / 2 * (1 + ar1**2 / n_r * jnp.trace(Sigma @ Sigma)) + (base + quad) / 2
    return out[..., 0] if ar.ndim == 0 else out


def optimal_train_lr(*, p: int, n_t: int) -> tuple[float, float]:
    r"""Stationary points α_t^± of Theorem 1's loss in α_t (minimum α_t^- < 0, maximum α_t^+ > 0).

    .. math:: α_t^{\pm} = -\frac{n_t+1}{2p} \pm \sqrt{\Big(\frac{n_t+1}{2p}\Big)^2 + \frac{n_t}{p}}

    Implements Bernacchia 2021, Eq. 8. Independent of α_r, σ > 0, ν, m, n_v, n_r, ω0, w0.

    Args:
        p: input dimension, >= 1.  n_t: training points per task, >= 1.

    Returns:
        (α_t^-, α_t^+) as floats.
    """
    _check_int("p", p)
    _check_int("n_t", n_t)
    b = (n_t + 1) / (2 * p)
    r = float(np.sqrt(b**2 + n_t / p))
    return -b - r, -b + r


def optimal_adapt_lr(*, K, p: int, n_r: int, sigma) -> Array:
    r"""Minimiser of σ²α_r²p/(2n_r) + h_r K/2 over α_r: α_r* = K n_r / (K (n_r+p+1) + σ² p).

    K = ν² + E|ω* − w0|²; for Theorem 1, K = ν²(1+n_v m/p) + (1−n_v m/p)|ω0−w0|² + σ²(n_v m/p)
    (1 + α_t²p/n_t)/h_t. Derived from Eqs. 5 and 65 (docs/bernacchia2021.md); lies in (0, 1/(1+(p+1)/n_r)).

    Args:
        K: ν² + E|ω* − w0|², > 0, any shape.
        p, n_r: integers >= 1.  sigma: >= 0.

    Returns:
        α_r*, shape of ``K``.
    """
    _check_int("p", p)
    _check_int("n_r", n_r)
    K = jnp.asarray(K, dtype=jnp.float64)
    return K * n_r / (K * (n_r + p + 1) + sigma**2 * p)


def slope_at_zero(*, regime: str, p: int, n_v: int, m: int, n_r: int, sigma, alpha_r) -> Array:
    r"""∂L̄/∂α_t at α_t = 0: h_r σ² n_v m/p (overparameterized), h_r σ² p/(n_v m) (under).

    Implements Bernacchia 2021, Eq. 10 (with the h_r factor restored; docs/bernacchia2021.md) and its
    overparameterized analogue (derived from Eq. 5). Both are >= 0, so a small negative α_t is better.

    Args:
        regime: "over" or "under".
        p, n_v, m, n_r: integers >= 1.  sigma: >= 0.  alpha_r: any shape.

    Returns:
        the slope, shape of ``alpha_r``.
    """
    if regime not in ("over", "under"):
        raise ValueError(f"regime={regime!r} must be 'over' or 'under'.")
    h_r = adapt_factor(alpha=alpha_r, p=p, n=n_r)
    q = n_v * m / p if regime == "over" else p / (n_v * m)
    return h_r * sigma**2 * q


def numeric_argmin(fn, *, lo: float, hi: float, n_grid: int = 401) -> float:
    """Argmin of a scalar function of one learning rate on [lo, hi]: grid, then Brent refinement.

    Used where no closed form exists (Theorems 2 and 3 in α_t). Args: ``fn`` maps a float to a
    float; ``lo < hi``; ``n_grid >= 3``. Returns the argmin as a float.
    """
    if not lo < hi:
        raise ValueError(f"lo={lo} must be < hi={hi}.")
    grid = np.linspace(lo, hi, n_grid)
    # one compiled, broadcast evaluation of the grid (theory functions broadcast) and one
    # compiled scalar version for Brent: no op-by-op dispatch per point. A fn that is not
    # traceable (e.g. it calls float()) is evaluated point by point as it is.
    try:
        jfn = jax.jit(fn)
        vals = np.asarray(jfn(jnp.asarray(grid)), dtype=float)
    except TypeError:
        jfn, vals = fn, np.array([])
    if vals.shape != grid.shape:
        vals = np.array([float(jfn(g)) for g in grid])
    i = int(np.nanargmin(vals))
    a, b = grid[max(i - 1, 0)], grid[min(i + 1, n_grid - 1)]
    res = minimize_scalar(
        lambda x: float(jfn(x)), bounds=(a, b), method="bounded", options={"xatol": 1e-10}
    )
    return float(res.x)
