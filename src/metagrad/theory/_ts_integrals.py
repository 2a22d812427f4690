"""Closed-form Gaussian integrals of the teacher–student theory (Wang, Yip, Li 2024, App. B; Saad & Solla 1995).

All integrals are vectorised over every index tuple of one covariance matrix ``C`` (size L = K+M,
or K+2M for the task-varying teacher); there is no Python loop over indices. For g(x) = erf(x/√2)
they are arcsin / square-root formulas; for the linear activation g(x) = x they are polynomial.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array
from jax.typing import ArrayLike

__all__ = ["i2", "i3", "i4", "i4_entries", "j2", "check_covariance", "integrals"]

_TWO_PI = 2.0 / np.pi


def check_covariance(C: ArrayLike, *, name: str = "C", rtol: float = 1e-9) -> None:
    """Raise ``ValueError`` if a concrete ``C`` is not a symmetric positive semi-definite matrix.

    Traced arrays (inside ``jit``/``vmap``) are not checked. A tolerance of ``rtol·max|C|`` is
    allowed on the smallest eigenvalue, because the augmented covariance of the task-varying
    teacher at γ = 1 is exactly singular.
    """
    if isinstance(C, jax.core.Tracer):
        return
    c = np.asarray(C, dtype=np.float64)
    if c.ndim < 2 or c.shape[-1] != c.shape[-2]:
        raise ValueError(f"{name} must be a square matrix (..., L, L); got shape {c.shape}.")
    if not np.allclose(c, np.swapaxes(c, -1, -2), atol=1e-12 * max(1.0, np.abs(c).max())):
        raise ValueError(f"{name} must be symmetric.")
    lo = np.linalg.eigvalsh(c).min()
    if not np.isfinite(lo) or lo < -rtol * max(1.0, np.abs(c).max()):
        raise ValueError(
            f"{name} must be positive semi-definite (a covariance); smallest eigenvalue {lo:.3g}."
        )


def _asin(x: Array) -> Array:
    """arcsin on [-1, 1], computed as arctan(x / √((1−x)(1+x))).

    Same values (to 1 ulp-level relative error); XLA's float64 arcsin on CPU costs ~2x an arctan
    and dominates the cost of I4, hence of the ODE (docs/benchmarks/teacher_student.md). At
    x = ±1 the quotient is ±inf and arctan returns ±π/2 exactly.
    """
    x = jnp.clip(x, -1.0, 1.0)
    return jnp.arctan(x / jnp.sqrt((1.0 - x) * (1.0 + x)))


def i2(C: ArrayLike, *, activation: str = "erf") -> Array:
    r"""⟨g(u_a) g(u_b)⟩ for u ~ N(0, C), all pairs (a, b).

    erf: I2(a,b) = (2/π) arcsin(C_ab / √((1+C_aa)(1+C_bb))); linear: I2(a,b) = C_ab.

    Implements Wang, Yip, Li 2024, Eqs. (30)–(31) (Saad & Solla 1995).

    Args:
        C: covariance, shape (L, L), symmetric positive semi-definite.
        activation: ``"erf"`` (g(x) = erf(x/√2)) or ``"linear"`` (g(x) = x).

    Returns:
        Array of shape (L, L).
    """
    C = jnp.asarray(C)
    check_covariance(C)
    if _lin(activation):
        return C
    d = 1.0 + jnp.diagonal(C)
    return _TWO_PI * _asin(C / jnp.sqrt(d[:, None] * d[None, :]))


def i3(C: ArrayLike, *, k: int | None = None, activation: str = "erf") -> Array:
    r"""⟨g'(u_a) u_b g(u_c)⟩ for u ~ N(0, C), first index a < k, all b, c.

    erf: I3 = (2/π) [C_bc(1+C_aa) − C_ab C_ac] / [(1+C_aa) √((1+C_aa)(1+C_cc) − C_ac²)];
    linear: I3 = C_bc.

    Implements Wang, Yip, Li 2024, Eqs. (33)–(34) (Saad & Solla 1995).

    Args:
        C: covariance, shape (L, L), symmetric positive semi-definite.
        k: number of leading indices allowed in the first slot (default L).
        activation: ``"erf"`` or ``"linear"``.

    Returns:
        Array of shape (k, L, L), indexed [a, b, c].
    """
    C = jnp.asarray(C)
    check_covariance(C)
    L = C.shape[-1]
    k = L if k is None else _check_k(k, L)
    if _lin(activation):
        return jnp.broadcast_to(C[None], (k, L, L))
    d = 1.0 + jnp.diagonal(C)
    da = d[:k, None, None]
    cab, cac = C[:k, :, None], C[:k, None, :]
    lam3 = da * d[None, None, :] - cac**2
    return _TWO_PI * (C[None] * da - cab * cac) / (da * jnp.sqrt(lam3))


def i4(C: ArrayLike, *, k: int | None = None, activation: str = "erf") -> Array:
    r"""⟨g'(u_a) g'(u_b) g(u_c) g(u_d)⟩ for u ~ N(0, C), a, b < k, all c, d.

    erf: I4 = (4/π²) Λ4^{-1/2} arcsin(Λ0 / √(Λ1 Λ2)) with Λ0..Λ4 as in Wang, Yip, Li 2024, App. B (Saad & Solla 1995);
    linear: I4 = C_cd.

    Implements Wang, Yip, Li 2024, Eq. (37) (Saad & Solla 1995).

    Args:
        C: covariance, shape (L, L), symmetric positive semi-definite.
        k: number of leading indices allowed in the first two slots (default L).
        activation: ``"erf"`` or ``"linear"``.

    Returns:
        Array of shape (k, k, L, L), indexed [a, b, c, d].
    """
    C = jnp.asarray(C)
    check_covariance(C)
    L = C.shape[-1]
    k = L if k is None else _check_k(k, L)
    if _lin(activation):
        return jnp.broadcast_to(C[None, None], (k, k, L, L))
    d = 1.0 + jnp.diagonal(C)
    da, db = d[:k, None, None, None], d[None, :k, None, None]
    dc, dd = d[None, None, :, None], d[None, None, None, :]
    cab = C[:k, :k, None, None]
    cac, cad = C[:k, None, :, None], C[:k, None, None, :]
    cbc, cbd = C[None, :k, :, None], C[None, :k, None, :]
    return i4_entries(da, db, dc, dd, cab, cac, cad, cbc, cbd, C[None, None])


def i4_entries(
    da: Array,
    db: Array,
    dc: Array,
    dd: Array,
    cab: Array,
    cac: Array,
    cad: Array,
    cbc: Array,
    cbd: Array,
    ccd: Array,
) -> Array:
    """The erf I4 of Eq. (37) from its covariance entries (d· = 1 + C··, c·· = C··), broadcasting.

    Used by :func:`i4` (all index tuples of one C) and by the finite-P correction (4×4 blocks)."""
    lam4 = da * db - cab**2
    lam0 = lam4 * ccd - cbc * cbd * da - cac * cad * db + cab * cac * cbd + cab * cad * cbc
    lam1 = lam4 * dc - cbc**2 * da - cac**2 * db + 2 * cab * cac * cbc
    lam2 = lam4 * dd - cbd**2 * da - cad**2 * db + 2 * cab * cad * cbd
    return (4.0 / np.pi**2) / jnp.sqrt(lam4) * _asin(lam0 / jnp.sqrt(lam1 * lam2))


def j2(C: ArrayLike, *, activation: str = "erf") -> Array:
    r"""⟨g'(u_a) g'(u_b)⟩ for u ~ N(0, C), all pairs (a, b).

    erf: J2 = (2/π) / √((1+C_aa)(1+C_bb) − C_ab²) (for a = b: (2/π)/√(1+2C_aa)); linear: 1.

    Implements Wang, Yip, Li 2024, Eq. (D7) (the paper's I2').

    Args:
        C: covariance, shape (L, L), symmetric positive semi-definite.
        activation: ``"erf"`` or ``"linear"``.

    Returns:
        Array of shape (L, L).
    """
    C = jnp.asarray(C)
    check_covariance(C)
    if _lin(activation):
        return jnp.ones_like(C)
    d = 1.0 + jnp.diagonal(C)
    det = d[:, None] * d[None, :] - C**2  # for a = b this is 1 + 2 C_aa, as it must be
    return _TWO_PI / jnp.sqrt(det)


def integrals(C: Array, k: int, activation: str) -> tuple[Array, Array, Array]:
    """(I2 (L,L), I3 (k,L,L), I4 (k,k,L,L)) of one covariance, unchecked (for use under jit)."""
    return (
        i2(C, activation=activation),
        i3(C, k=k, activation=activation),
        i4(C, k=k, activation=activation),
    )


def _lin(activation: str) -> bool:
    if activation not in ("erf", "linear"):
        raise ValueError(f"activation={activation!r} must be 'erf' or 'linear'.")
    return activation == "linear"


def _check_k(k: int, L: int) -> int:
    if not 1 <= k <= L:
        raise ValueError(f"k={k} must satisfy 1 <= k <= L={L}.")
    return int(k)
