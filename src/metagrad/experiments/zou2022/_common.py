"""Helpers shared by the zou2022 experiments: key -> NumPy generator, D(x) samplers, moments."""

from __future__ import annotations

import jax.random as jr
import numpy as np

from metagrad.experiments._config import ConfigError
from metagrad.theory import adaptation_lr as alr


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
