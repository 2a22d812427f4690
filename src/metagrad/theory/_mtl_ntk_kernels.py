# ruff: noqa: F722  (jaxtyping shape strings are not forward annotations)
r"""Infinite-width NNGP/NTK of deep ReLU networks (arc-cosine recursion) and their finite-width
empirical counterparts (per-layer contractions of an NTK-parameterised equinox MLP).

Convention (Wang, Zhao, Li 2021, App. A.3, Eq. 22; NTK parameterisation): a depth-L network has
L−1 ReLU hidden layers and a linear head, h^{l+1} = (σ_w/√l_l) z^l ω^{l+1} + σ_b β^{l+1} with
ω, β ~ N(0, 1); z^0 = x. "depth" is L, the number of linear layers (head included).
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

__all__ = ["NTKMLP", "empirical_kernels", "relu_kernels", "relu_kernels_by_depth"]


def _check_kernel_args(X1, X2, depth, sigma_w2, sigma_b2) -> tuple[np.ndarray, np.ndarray]:
    """Validate the arguments of the kernel functions; return float64 arrays."""
    if isinstance(depth, bool) or int(depth) != depth or depth < 1:
        raise ValueError(f"depth={depth!r} is out of range: expected an integer >= 1.")
    if not (np.isfinite(sigma_w2) and sigma_w2 > 0):
        raise ValueError(f"sigma_w2={sigma_w2!r} is out of range: expected a finite value > 0.")
    if not (np.isfinite(sigma_b2) and sigma_b2 >= 0):
        raise ValueError(f"sigma_b2={sigma_b2!r} is out of range: expected a finite value >= 0.")
    X1, X2 = np.asarray(X1, dtype=np.float64), np.asarray(X2, dtype=np.float64)
    if X1.ndim < 2 or X2.ndim < 2:
        raise ValueError(
            f"X1 and X2 must have shape (..., n, d); got shapes {X1.shape} and {X2.shape}."
        )
    if X1.shape[-1] != X2.shape[-1]:
        raise ValueError(
            f"X1 and X2 must have the same input dimension d; got X1.shape={X1.shape}, "
            f"X2.shape={X2.shape}."
        )
    try:
        np.broadcast_shapes(X1.shape[:-2], X2.shape[:-2])
    except ValueError as err:
        raise ValueError(
            f"the batch shapes of X1 {X1.shape[:-2]} and X2 {X2.shape[:-2]} do not broadcast."
        ) from err
    if not (np.all(np.isfinite(X1)) and np.all(np.isfinite(X2))):
        raise ValueError("X1 and X2 must be finite (found NaN or inf).")
    return X1, X2


def _relu_step(S, q1, q2, Th, sigma_w2, sigma_b2):
    """One ReLU layer of the recursion: (Σ, q, q', Θ) of layer l -> layer l + 1.

    The cosine is clipped to [−1, 1] and zero-variance inputs get cosine 0 (their Σ is 0 anyway),
    so no arccos of 1 + ε and no 0/0.
    """
    nrm = jnp.sqrt(q1[..., :, None] * q2[..., None, :])
    safe = jnp.where(nrm > 0, nrm, 1.0)
    c = jnp.clip(jnp.where(nrm > 0, S / safe, 0.0), -1.0, 1.0)
    # a cosine within 8 ulps of ±1 is rounding noise of a (anti)parallel pair: arccos would turn it
    # into an angle of ~sqrt(16 eps) ≈ 6e-8, so snap it (exact diagonals, Θ(x, x) = Lσ_w² q-scaled)
    c = jnp.where(jnp.abs(c) > 1 - 8 * jnp.finfo(c.dtype).eps, jnp.sign(c), c)
    theta = jnp.arccos(c)
    sin = jnp.sqrt(jnp.maximum(1.0 - c * c, 0.0))
    S_new = sigma_w2 * nrm * (sin + (jnp.pi - theta) * c) / (2 * jnp.pi) + sigma_b2
    S_dot = sigma_w2 * (jnp.pi - theta) / (2 * jnp.pi)
    return S_new, sigma_w2 * q1 / 2 + sigma_b2, sigma_w2 * q2 / 2 + sigma_b2, S_new + Th * S_dot


@jax.jit
def _relu_first(X1, X2, sigma_w2, sigma_b2):
    """Layer 1: Σ¹ = σ_w² x·x'/d + σ_b² and the diagonals q, q' broadcast to the batch shape."""
    d = X1.shape[-1]
    S = sigma_w2 * jnp.einsum("...ad,...bd->...ab", X1, X2) / d + sigma_b2
    q1 = sigma_w2 * jnp.sum(X1 * X1, -1) / d + sigma_b2
    q2 = sigma_w2 * jnp.sum(X2 * X2, -1) / d + sigma_b2
    q1 = jnp.broadcast_to(q1, S.shape[:-1])
    q2 = jnp.broadcast_to(q2, S.shape[:-2] + S.shape[-1:])
    return S, q1, q2


_relu_step_jit = jax.jit(_relu_step)


def _relu_all_depths(X1, X2, depth, sigma_w2, sigma_b2):
    """Stacked (K, Θ) for l = 1..depth, each of shape (depth, ..., n1, n2).

    A Python loop over one jitted layer step: one compilation per input shape, any depth.
    """
    S, q1, q2 = _relu_first(X1, X2, sigma_w2, sigma_b2)
    state = (S, q1, q2, S)
    Ks, Ths = [S], [S]
    for _ in range(depth - 1):
        state = _relu_step_jit(*state, sigma_w2, sigma_b2)
        Ks.append(state[0])
        Ths.append(state[3])
    return jnp.stack(Ks), jnp.stack(Ths)


def relu_kernels_by_depth(
    X1: ArrayLike, X2: ArrayLike, *, depth: int, sigma_w2: float = 2.0, sigma_b2: float = 0.0
) -> tuple[Float[Array, "L ... n1 n2"], Float[Array, "L ... n1 n2"]]:
    r"""NNGP K and NTK Θ of ReLU networks of every depth 1..`depth` (one pass of the recursion).

    Same recursion and convention as :func:`relu_kernels`; entry ``[l - 1]`` is depth l.

    Args:
        X1: inputs, shape (..., n1, d).
        X2: inputs, shape (..., n2, d); batch shape broadcastable with X1's.
        depth: largest depth L, integer >= 1.
        sigma_w2: weight variance σ_w², > 0 (He: 2).
        sigma_b2: bias variance σ_b², >= 0.

    Returns:
        ``(K, Theta)``, float64, each of shape (depth, ..., n1, n2).
    """
    X1, X2 = _check_kernel_args(X1, X2, depth, sigma_w2, sigma_b2)
    return _relu_all_depths(X1, X2, int(depth), float(sigma_w2), float(sigma_b2))


def relu_kernels(
    X1: ArrayLike, X2: ArrayLike, *, depth: int, sigma_w2: float = 2.0, sigma_b2: float = 0.0
) -> tuple[Float[Array, "... n1 n2"], Float[Array, "... n1 n2"]]:
    r"""NNGP kernel K and NTK Θ of a depth-L fully connected ReLU network (infinite width).

    Arc-cosine recursion (NTK parameterisation, Wang et al. 2021, App. A.3, Eq. 22; the
    kernels of Eqs. 55–56):

    .. math::
        Σ^1 = σ_w^2\, x·x'/d + σ_b^2,\quad Θ^1 = Σ^1,\\
        Σ^{l+1} = σ_w^2 \sqrt{q q'}\,\frac{\sin θ + (π − θ)\cos θ}{2π} + σ_b^2,\quad
        \dot Σ^{l+1} = σ_w^2 \frac{π − θ}{2π},\quad Θ^{l+1} = Σ^{l+1} + Θ^l \dot Σ^{l+1},

    with q = Σ^l(x, x), q' = Σ^l(x', x'), cos θ = Σ^l(x, x')/√(q q') clipped to [−1, 1];
    K = Σ^L (the head-only tangent kernel ∇_w f ∇_w fᵀ) and Θ = Θ^L.

    Units: with σ_w² = 2, σ_b² = 0 and ‖x‖² = d, K(x, x) = 2 and Θ(x, x) = 2L (tested). The paper's
    Lemma 4 (Eqs. 69–71) is stated in units where K(x, x) = 1 and Θ(x, x) = L, i.e. half of these.
    A depth-1 network is linear: K = Θ = Σ¹.

    Args:
        X1: inputs, shape (..., n1, d), finite.
        X2: inputs, shape (..., n2, d); batch shape broadcastable with X1's.
        depth: number of layers L (L − 1 ReLU hidden layers and the head), integer >= 1.
        sigma_w2: weight variance σ_w², > 0 (He initialisation: 2).
        sigma_b2: bias variance σ_b², >= 0 (default 0: no biases).

    Returns:
        ``(K, Theta)``, float64, each of shape (..., n1, n2).

    Examples:
        >>> import numpy as np
        >>> x = np.ones((1, 3))
        >>> K, Th = relu_kernels(x, x, depth=4)
        >>> float(K[0, 0]), float(Th[0, 0])
        (2.0, 8.0)
    """
    K, Th = relu_kernels_by_depth(X1, X2, depth=depth, sigma_w2=sigma_w2, sigma_b2=sigma_b2)
    return K[-1], Th[-1]


class NTKMLP(eqx.Module):
    """Fully connected ReLU network in NTK parameterisation (Wang et al. 2021, Eq. 22).

    h^{l+1} = (σ_w/√l_l) z^l ω^{l+1} + σ_b β^{l+1}, z = ReLU(h), ω, β ~ N(0, 1); the last layer
    (the head, ``weights[-1]``, ``biases[-1]``) is linear. Maps a batch (n, d) to (n, k).

    Args:
        in_size: input dimension d, >= 1.
        width: hidden width h, >= 1.
        depth: number of layers L (L − 1 hidden layers and the head), >= 1.
        out_size: output dimension k, >= 1.
        sigma_w2: weight variance σ_w², > 0.
        sigma_b2: bias variance σ_b², >= 0 (0: the biases are present but multiply 0).
        dtype: parameter dtype (float64 by default).
        key: `jax.random` key of the initialisation.
    """

    weights: tuple[Array, ...]
    biases: tuple[Array, ...]
    sigma_w2: float = eqx.field(static=True)
    sigma_b2: float = eqx.field(static=True)

    def __init__(
        self,
        in_size: int,
        width: int,
        depth: int,
        out_size: int = 1,
        *,
        sigma_w2: float = 2.0,
        sigma_b2: float = 0.0,
        dtype=jnp.float64,
        key: PRNGKeyArray,
    ):
        for name, value in (("in_size", in_size), ("width", width), ("depth", depth)):
            if int(value) != value or value < 1:
                raise ValueError(f"NTKMLP: {name}={value!r} must be an integer >= 1.")
        if int(out_size) != out_size or out_size < 1:
            raise ValueError(f"NTKMLP: out_size={out_size!r} must be an integer >= 1.")
        if not sigma_w2 > 0 or not sigma_b2 >= 0:
            raise ValueError(
                f"NTKMLP: need sigma_w2 > 0 and sigma_b2 >= 0, got {sigma_w2}, {sigma_b2}."
            )
        sizes = [in_size] + [width] * (depth - 1) + [out_size]
        shapes = [(a, b) for a, b in zip(sizes[:-1], sizes[1:])] + [(b,) for b in sizes[1:]]
        sizes_flat = [int(np.prod(sh)) for sh in shapes]
        flat = jr.normal(key, (sum(sizes_flat),), dtype)  # one draw: one compilation per model size
        parts = np.split(np.arange(sum(sizes_flat)), np.cumsum(sizes_flat)[:-1])
        arrays = [flat[p[0] : p[-1] + 1].reshape(sh) for p, sh in zip(parts, shapes)]
        self.weights = tuple(arrays[:depth])
        self.biases = tuple(arrays[depth:])
        self.sigma_w2, self.sigma_b2 = float(sigma_w2), float(sigma_b2)

    def _layer(self, z: Array, i: int) -> Array:
        w = self.weights[i]
        scale = jnp.sqrt(self.sigma_w2 / w.shape[0]).astype(w.dtype)
        return scale * (z @ w) + jnp.sqrt(self.sigma_b2).astype(w.dtype) * self.biases[i]

    def features(self, x: Float[Array, "n d"]) -> Float[Array, "n h"]:
        """Last hidden layer z^{L−1}(x), shape (n, h) (the input itself when depth is 1)."""
        for i in range(len(self.weights) - 1):
            x = jax.nn.relu(self._layer(x, i))
        return x

    def __call__(self, x: Float[Array, "n d"]) -> Float[Array, "n k"]:
        """Outputs f(x), shape (n, k), for a batch x of shape (n, d)."""
        return self._layer(self.features(x), len(self.weights) - 1)


def _activations_and_deltas(model: NTKMLP, x: Array) -> tuple[list[Array], list[Array]]:
    """Inputs z^{l−1} (n, l_{l−1}) and backpropagated δ^l = ∂f/∂h^l (n, l_l) of every layer l.

    Output 0 of the head is differentiated (scalar-output kernels; multi-output kernels are ⊗ I).
    """
    zs, masks = [x], []
    for i in range(len(model.weights) - 1):
        h = model._layer(zs[-1], i)
        masks.append((h > 0).astype(h.dtype))
        zs.append(jax.nn.relu(h))
    delta = jnp.ones((x.shape[0], 1), x.dtype)
    deltas = [delta]
    for i in range(len(model.weights) - 1, 0, -1):
        w = model.weights[i][:, :1] if i == len(model.weights) - 1 else model.weights[i]
        scale = jnp.sqrt(model.sigma_w2 / w.shape[0]).astype(w.dtype)
        delta = scale * (delta @ w.T) * masks[i - 1]
        deltas.append(delta)
    return zs, deltas[::-1]


@eqx.filter_jit
def _empirical(model: NTKMLP, X1: Array, X2: Array) -> tuple[Array, Array]:
    z1, d1 = _activations_and_deltas(model, X1)
    z2, d2 = _activations_and_deltas(model, X2)
    Th = jnp.zeros((X1.shape[0], X2.shape[0]), X1.dtype)
    for a1, a2, e1, e2 in zip(z1, z2, d1, d2):
        pre = model.sigma_w2 * (a1 @ a2.T) / a1.shape[1] + model.sigma_b2
        Th = Th + pre * (e1 @ e2.T)
    K = model.sigma_w2 * (z1[-1] @ z2[-1].T) / z1[-1].shape[1] + model.sigma_b2
    return K, Th


def empirical_kernels(
    model: NTKMLP, X1: ArrayLike, X2: ArrayLike
) -> tuple[Float[Array, "n1 n2"], Float[Array, "n1 n2"]]:
    r"""Finite-width NNGP K̂ = ∇_w f ∇_w fᵀ and NTK Θ̂ = ∇_θ f ∇_θ fᵀ of an :class:`NTKMLP`.

    Per-layer contractions, never the Jacobian:
    Θ̂(x, x') = Σ_l [σ_w² z^{l−1}·z'^{l−1}/l_{l−1} + σ_b²] (δ^l·δ'^l), with δ^l = ∂f/∂h^l;
    K̂ is the head term (l = L, δ^L = 1). Output 0 of the network is used. They converge to
    :func:`relu_kernels` (Eqs. 55–56 of Wang et al. 2021) with fluctuations O(1/√width).

    Args:
        model: an :class:`NTKMLP`.
        X1: inputs, shape (n1, d).
        X2: inputs, shape (n2, d).

    Returns:
        ``(K_hat, Theta_hat)``, each (n1, n2), in the model's dtype.
    """
    d = model.weights[0].shape[0]
    X1 = jnp.asarray(X1, model.weights[0].dtype)
    X2 = jnp.asarray(X2, model.weights[0].dtype)
    if X1.ndim != 2 or X2.ndim != 2 or X1.shape[1] != d or X2.shape[1] != d:
        raise ValueError(
            f"X1 and X2 must have shape (n, {d}) for this model; got {X1.shape} and {X2.shape}."
        )
    return _empirical(model, X1, X2)
