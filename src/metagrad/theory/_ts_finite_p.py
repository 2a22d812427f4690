r"""The O(1/P) correction of the teacher–student theory: the variance of the adapted head.

The closure (32) of Wang, Yip, Li 2024 replaces ⟨w_i w_k⟩ over the P training examples by
⟨w_i⟩⟨w_k⟩; its error is the μ = μ' part of the double sum, of order 1/P. Given u, w is the mean of
P i.i.d. terms (η_w/√K) g(x^μ) s^μ with s = u·g(ℓ)/√M + Δ (ℓ: the label fields, y or ỹ), so

    ⟨w_i w_k⟩_{ξ,u} = (η_w²/KM) [G_ik + (H_ik − G_ik)/P],
    H_ik = Σ_m ⟨g(x_i) g(x_k) g(ℓ_m)²⟩ + M Σ_noise ⟨g(x_i) g(x_k)⟩.

Every term of the ODEs and of ε that is *quadratic* in w (the O(1) drift and Eq. (39)) is therefore
exact at finite P when G is replaced by G̃ = G + (H − G)/P. The η_J²/V terms (quartic in w) keep
the P → ∞ closure; the part left out is O(1/(PV)).

The four-point function ⟨g g g g⟩ has no closed form for erf. Along the path S(t) = diag S +
t·offdiag S (t ∈ [0, 1]), Price's theorem gives d/dt ⟨∏ g(u_a)⟩ = Σ_{a<b} S_ab ⟨g'(u_a)g'(u_b)
g(u_c)g(u_d)⟩_t, and each term is the closed-form I4 of Eq. (37); at t = 0 the four variables are
independent and the mean vanishes (g odd). The t-integral is Gauss–Legendre in s with t = 1 − s²
(this removes the √(1−t) endpoint behaviour of repeated arguments). Linear g: Isserlis' theorem.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from jax import Array

from metagrad.theory._ts_integrals import i2, i4_entries

__all__ = ["four_point", "head_second_moment"]

_PAIRS = ((0, 1, 2, 3), (0, 2, 1, 3), (0, 3, 1, 2), (1, 2, 0, 3), (1, 3, 0, 2), (2, 3, 0, 1))
_S, _W = np.polynomial.legendre.leggauss(24)
_S, _W = 0.5 * (_S + 1.0), 0.5 * _W  # nodes and weights on s ∈ [0, 1]


def _four_point_erf(S: Array) -> Array:
    """⟨∏_{a<4} g(u_a)⟩ for u ~ N(0, S), S of shape (..., 4, 4), erf activation.

    One vectorised evaluation over the quadrature nodes and the 6 pairs (small compiled graph)."""
    off = S - jnp.eye(4) * S
    St = S[..., None, :, :] - _S[:, None, None] ** 2 * off[..., None, :, :]  # diag + t offdiag
    d = 1.0 + jnp.diagonal(St, axis1=-2, axis2=-1)  # (..., n, 4)
    a, b, c, e = (np.array(p) for p in zip(*_PAIRS, strict=True))  # each (6,)
    dd = lambda i: d[..., :, i]  # noqa: E731  (..., n, 6)
    cc = lambda i, j: St[..., :, i, j]  # noqa: E731
    i4 = i4_entries(dd(a), dd(b), dd(c), dd(e), cc(a, b), cc(a, c), cc(a, e), cc(b, c), cc(b, e),
                    cc(c, e))  # fmt: skip
    integrand = jnp.sum(S[..., None, a, b] * i4, axis=-1)  # (..., n)
    return jnp.sum(2.0 * _S * _W * integrand, axis=-1)


def four_point(C: Array, idx: Array, *, activation: str = "erf") -> Array:
    r"""⟨g(u_a) g(u_b) g(u_c) g(u_d)⟩ for u ~ N(0, C) and index tuples (a, b, c, d).

    erf: Price's-theorem path integral of the closed-form I4 of Eq. (37) (24-node Gauss–Legendre);
    linear: Isserlis, C_ab C_cd + C_ac C_bd + C_ad C_bc. Indices may repeat.

    Args:
        C: (L, L) covariance.
        idx: integer array (..., 4) of indices into C.
        activation: ``"erf"`` or ``"linear"``.

    Returns:
        Array of shape idx.shape[:-1].
    """
    idx = np.asarray(idx)
    S = C[idx[..., :, None], idx[..., None, :]]
    if activation == "linear":
        return (
            S[..., 0, 1] * S[..., 2, 3] + S[..., 0, 2] * S[..., 1, 3] + S[..., 0, 3] * S[..., 1, 2]
        )
    return _four_point_erf(S)


def head_second_moment(
    C: Array, K: int, t: slice, *, inv_P: Array, noise: Array, activation: str = "erf"
) -> Array:
    r"""G̃ = G + (H − G)/P: the finite-P second moment ⟨w_i w_k⟩ in units of η_w²/(KM).

    G = f fᵀ with f_km = I2(x_k, ℓ_m); H_ik = Σ_m ⟨g(x_i)g(x_k)g(ℓ_m)²⟩ + M Σ_noise I2(x_i, x_k)
    (module docstring). Goes beyond the closure (32) of Wang, Yip, Li 2024 (their App. A).

    Args:
        C: (L, L) covariance of (x, y[, ỹ]).  K: student width.
        t: slice of the label fields ℓ in C.  inv_P: 1/P (0 gives G).
        noise: output-noise variance Σ_noise of the training labels.
        activation: ``"erf"`` or ``"linear"``.

    Returns:
        (K, K) array.
    """
    I2 = i2(C, activation=activation)
    f = I2[:K, t]
    G = f @ f.T
    lab = np.arange(C.shape[0])[t]
    k = np.arange(K)
    idx = np.stack(np.broadcast_arrays(k[:, None, None], k[None, :, None], lab, lab), -1)
    H = four_point(C, idx, activation=activation).sum(-1) + len(lab) * noise * I2[:K, :K]
    return G + inv_P * (H - G)
