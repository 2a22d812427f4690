"""Test configuration: float64 on, a `getkey` fixture giving fresh keys."""

import itertools

import jax
import jax.random as jr
import pytest

jax.config.update("jax_enable_x64", True)

_counter = itertools.count()


@pytest.fixture
def getkey():
    """Return a function giving a fresh `jax.random` key at each call (fixed base seed)."""
    base = jr.PRNGKey(20261122)

    def _getkey():
        return jr.fold_in(base, next(_counter))

    return _getkey
