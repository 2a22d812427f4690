"""Test configuration: float64 on, a `getkey` fixture giving fresh keys that depend only on the test."""

import hashlib
import itertools
import os

# One XLA:CPU thread per test process: the suite runs one xdist worker per core, and XLA's own
# thread pools would otherwise oversubscribe the cores (measured on tests/algorithms/
# test_linear_two_layer.py, one process, shared machine with the load falling 10 -> 6: 70 s CPU /
# 181 s wall against 81 s / 270 s). Set before
# jax is imported; an explicit XLA_FLAGS wins.
os.environ.setdefault(
    "XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
)

# Hermetic tests: the CLI's persistent compilation cache stays off unless a test turns it on.
os.environ["METAGRAD_JAX_CACHE"] = "off"

import jax  # noqa: E402
import jax.random as jr  # noqa: E402
import pytest  # noqa: E402

jax.config.update("jax_enable_x64", True)


def test_base_seed() -> int:
    """The base seed of every test's draws: METAGRAD_TEST_SEED or a fixed default (reproducible CI)."""
    return int(os.environ.get("METAGRAD_TEST_SEED", "20261122"))


test_base_seed.__test__ = False  # not a test


def node_key(nodeid: str) -> jax.Array:
    """A key derived from the base seed and the test's node id (independent of test order)."""
    digest = hashlib.sha256(nodeid.encode()).digest()
    return jr.fold_in(jr.PRNGKey(test_base_seed()), int.from_bytes(digest[:4], "little") >> 1)


@pytest.fixture
def getkey(request):
    """Return a function giving a fresh `jax.random` key at each call.

    The keys depend on the base seed and on this test's node id only, never on which tests ran
    before: a test draws the same numbers alone or in the whole suite. Set METAGRAD_TEST_SEED to run
    the suite on other draws, which is how statistical tolerances are checked for flakiness.
    """
    base = node_key(request.node.nodeid)
    counter = itertools.count()

    def _getkey():
        return jr.fold_in(base, next(counter))

    return _getkey
