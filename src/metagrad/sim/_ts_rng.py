r"""Gaussian input streams of the simulators: a counter-mode Threefry-2x32 stream and ``jax.random``.

The direct simulator draws (P+V)·N standard normals per run and task, and drawing them is nearly all
of its work (docs/benchmarks/ts_sim.md). On this CPU ``jax.random`` produces float32 normals at
~45 M per CPU second with threefry keys (~100 M with ``jax_threefry_partitionable`` off, a global
switch) and at ~15–20 M with ``rbg`` / ``unsafe_rbg`` keys (XLA's RngBitGenerator), against ~55 M
float64 for NumPy's ziggurat. The ``"counter"`` stream below computes the *same* hash,
Threefry-2x32 with 20 rounds (Salmon et al. 2011; the function ``jax.random`` uses, checked bit for
bit in tests/sim), on 32-bit counters (i, t): i = position in the task's draw, t = task index, with
one 64-bit key per run. It runs at ~320 M words per CPU second here. Each pair of words gives two
Gaussians by Box–Muller (:func:`box_muller`; the transform ~2x the rate of the erf⁻¹ that
``jax.random.normal`` uses; ~200 M normals per CPU second in all), and the stream is
reproducible: the same key gives the same numbers.

The other names select ``jax.random.normal`` with one key per run and task, of that implementation.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jax import Array

__all__ = [
    "RNGS",
    "box_muller",
    "counter_normals",
    "counter_uniforms",
    "jax_key",
    "key_words",
    "task_normals",
    "threefry2x32",
]

RNGS = ("counter", "threefry", "rbg", "unsafe_rbg")
_U = jnp.uint32
_ROT = ((13, 15, 26, 6), (17, 29, 16, 24))
_KEY_WORDS = {"threefry": 2, "rbg": 4, "unsafe_rbg": 4}
_IMPL = {"threefry": "threefry2x32", "rbg": "rbg", "unsafe_rbg": "unsafe_rbg"}


def threefry2x32(k0: Array, k1: Array, x0: Array, x1: Array) -> tuple[Array, Array]:
    """Threefry-2x32-20 block of the counter words (x0, x1) under the key (k0, k1); all uint32.

    The same function as ``jax.extend.random.threefry_2x32``, written with elementwise uint32
    operations only, so that XLA fuses and vectorises it with its consumers."""
    ks = (k0, k1, k0 ^ k1 ^ _U(0x1BD11BDA))
    x0, x1 = x0 + ks[0], x1 + ks[1]
    for i in range(5):
        for r in _ROT[i % 2]:
            x0 = x0 + x1
            x1 = ((x1 << _U(r)) | (x1 >> _U(32 - r))) ^ x0
        x0, x1 = x0 + ks[(i + 1) % 3], x1 + ks[(i + 2) % 3] + _U(i + 1)
    return x0, x1


_F = jnp.float32
# Taylor coefficients of sin x / x and cos x in x², |x| ≤ π/4: truncation < 2e-9 (float32 ulp 6e-8)
_SIN = tuple(np.float32((-1) ** k / np.prod(np.arange(1.0, 2 * k + 2))) for k in range(5))
_COS = tuple(np.float32((-1) ** k / np.prod(np.arange(1.0, 2 * k + 1))) for k in range(6))


def _horner(x2: Array, coef: tuple) -> Array:
    out = coef[-1]
    for a in coef[-2::-1]:
        out = a + x2 * out
    return out


def box_muller(y0: Array, y1: Array) -> tuple[Array, Array]:
    """Two independent float32 standard normals per pair of uint32 words (Box–Muller).

    Radius r = √(−2 ln u), u = (⌊y0/2⁸⌋ + 1)/2²⁴ ∈ (0, 1] (exact in float32; r ≤ 5.77); angle
    θ = qπ/2 + x, quadrant q = the top 2 bits of y1, x ∈ [−π/4, π/4) from its next 24 bits, so
    θ is uniform on the circle; (r cos θ, r sin θ) from polynomials of x and the quadrant's sign
    and swap (float32 accuracy; no general range reduction)."""
    u = ((y0 >> _U(8)).astype(jnp.int32) + 1).astype(_F) * _F(2.0**-24)
    r = jnp.sqrt(_F(-2.0) * jnp.log(u))
    q = y1 >> _U(30)
    x = ((y1 << _U(2)) >> _U(8)).astype(jnp.int32).astype(_F) * _F(np.pi / 2 * 2.0**-24)
    x = x - _F(np.pi / 4)
    x2 = x * x
    s, c = x * _horner(x2, _SIN), _horner(x2, _COS)
    odd, neg = (q & _U(1)) == _U(1), q >= _U(2)
    cs, sn = jnp.where(odd, -s, c), jnp.where(odd, c, s)
    return r * jnp.where(neg, -cs, cs), r * jnp.where(neg, -sn, sn)


def counter_normals(kw: Array, t: Array, shape: tuple[int, ...]) -> Array:
    """float32 standard normals of ``shape`` from the counter stream: key words kw (2,) uint32,
    stream index t (uint32 scalar, e.g. the task). The block at counter (j, t) gives elements j
    (r cos θ) and ⌈n/2⌉ + j (r sin θ) of the flattened draw, by :func:`box_muller`."""
    n = int(np.prod(shape))
    half = (n + 1) // 2
    if half >= 2**32:
        raise ValueError(f"shape={shape}: at most 2**33 normals per draw.")
    y = jnp.stack(threefry2x32(kw[0], kw[1], jax.lax.iota(_U, half), jnp.full((half,), t, _U)))
    # materialise the words: otherwise XLA fuses the hash into every use and recomputes it
    y = jax.lax.optimization_barrier(y)
    return jnp.concatenate(box_muller(y[0], y[1]))[:n].reshape(shape)


def counter_uniforms(kw: Array, t: Array, n: int) -> Array:
    """n float64 uniforms on (0, 1] from the counter stream (kw, t): 53 bits from the two words of
    the block at counter (j, t), u = (2²⁶⌊y0/2⁵⌋ + ⌊y1/2⁶⌋ + 1)/2⁵³."""
    if n >= 2**32:
        raise ValueError(f"n={n}: at most 2**32 uniforms per draw.")
    y0, y1 = threefry2x32(kw[0], kw[1], jax.lax.iota(_U, n), jnp.full((n,), t, _U))
    hi, lo = (y0 >> _U(5)).astype(jnp.float64), (y1 >> _U(6)).astype(jnp.float64)
    return (hi * 2.0**26 + lo + 1.0) * 2.0**-53


def key_words(rng: str, key: Array, shape: tuple[int, ...]) -> Array:
    """Key data for ``shape`` independent streams of ``rng``: uint32 (*shape, words)."""
    if rng not in RNGS:
        raise ValueError(f"rng={rng!r} must be one of {RNGS}.")
    return jr.bits(key, (*shape, _KEY_WORDS.get(rng, 2)), _U)


def jax_key(rng: str, kw: Array) -> Array:
    """The ``jax.random`` key of implementation ``rng`` (not ``"counter"``) made of key words kw."""
    return jr.wrap_key_data(kw, impl=_IMPL[rng])


def task_normals(rng: str, kw: Array, t: Array, shape: tuple[int, ...]) -> Array:
    """float32 normals of one task: the counter stream (kw = a run's key words, t = task index),
    or ``jax.random.normal`` with the key of implementation ``rng`` wrapped from kw (then kw must
    differ between tasks; t is unused)."""
    if rng == "counter":
        return counter_normals(kw, t, shape)
    return jr.normal(jax_key(rng, kw), shape, jnp.float32)
