"""Counter-mode Gaussian stream of the teacher–student simulators (metagrad.sim._ts_rng)."""

import jax
import jax.extend.random as jxr
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from metagrad.sim import teacher_student as sim
from metagrad.sim._ts_rng import counter_normals, counter_uniforms, threefry2x32

U = jnp.uint32


def _words(getkey):
    return jax.random.bits(getkey(), (2,), U)


def test_threefry_is_jax_threefry(getkey):
    """Bit for bit the hash that jax.random uses."""
    kw = _words(getkey)
    x = jax.random.bits(getkey(), (2, 64), U)
    ours = jnp.concatenate(threefry2x32(kw[0], kw[1], x[0], x[1]))
    np.testing.assert_array_equal(ours, jxr.threefry_2x32(kw, x.ravel()))


def test_counter_normals_are_standard_normal_and_reproducible(getkey):
    """2·10⁵ draws: mean, variance, kurtosis within 5 standard errors, KS p > 1e-4; the cos and
    sin halves uncorrelated; the same (key, t) repeats, another t does not."""
    kw = _words(getkey)
    draw = jax.jit(lambda k, t: counter_normals(k, t, (200, 1000)))
    z = np.asarray(draw(kw, U(7)), np.float64).ravel()
    n = z.size
    assert abs(z.mean()) < 5 / np.sqrt(n)
    assert abs(z.var() - 1) < 5 * np.sqrt(2 / n)
    assert abs((z**4).mean() - 3) < 5 * np.sqrt(96 / n)
    assert stats.kstest(z, "norm").pvalue > 1e-4
    assert abs(np.corrcoef(z[: n // 2], z[n // 2 :])[0, 1]) < 5 / np.sqrt(n // 2)
    np.testing.assert_array_equal(draw(kw, U(7)).ravel(), z.astype(np.float32))
    assert not np.array_equal(np.asarray(draw(kw, U(8))).ravel(), z.astype(np.float32))


def test_counter_uniforms_in_unit_interval(getkey):
    u = np.asarray(counter_uniforms(_words(getkey), U(3), 100_000))
    assert u.dtype == np.float64 and u.min() > 0 and u.max() <= 1
    assert stats.kstest(u, "uniform").pvalue > 1e-4


def test_rng_option_validated():
    with pytest.raises(ValueError, match="rng"):
        sim.SimConfig(N=120, K=2, M=2, P=4, V=4, alpha_max=0.1, d_record=0.05, rng="mt19937")


@pytest.mark.slow  # compiles the direct simulator (~15 s)
def test_direct_same_key_same_numbers(getkey):
    cfg = sim.SimConfig(N=120, K=2, M=2, P=4, V=4, alpha_max=0.1, d_record=0.05)
    k = getkey()
    a = sim.simulate(cfg, method="direct", n_runs=2, key=k)
    b = sim.simulate(cfg, method="direct", n_runs=2, key=k)
    np.testing.assert_array_equal(a.Q, b.Q)
    assert float(jnp.abs(a.Q[0, -1] - a.Q[1, -1]).max()) > 0
