"""Test configuration: float64 on, a `getkey` fixture giving fresh keys."""

import itertools
import os

import jax
import jax.random as jr
import pytest

jax.config.update("jax_enable_x64", True)

_counter = itertools.count()


@pytest.fixture
def getkey():
    """Return a function giving a fresh `jax.random` key at each call.

    The base seed is fixed (reproducible CI); set METAGRAD_TEST_SEED to run the suite on other draws,
    which is how statistical tolerances are checked for flakiness.
    """
    base = jr.PRNGKey(int(os.environ.get("METAGRAD_TEST_SEED", "20261122")))

    def _getkey():
        return jr.fold_in(base, next(_counter))

    return _getkey
