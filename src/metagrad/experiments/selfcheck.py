"""Self-check of the plumbing (store, executors, CLI, report) on a small real computation.

It checks the library's Gaussian integral behind the teacher–student theory,
:func:`metagrad.theory.teacher_student.i2` (Wang, Yip, Li 2024, Eqs. 30–31: for g(x) = erf(x/√2) and
(u, v) ~ N(0, [[a, c], [c, b]]), E[g(u) g(v)] = (2/π) arcsin(c / √((1+a)(1+b)))), against Monte Carlo,
with a tolerance of 5 standard errors. `delay` slows a point down on purpose so that tests can kill
a sweep mid-way. This module is also the template of the study form.
"""

from __future__ import annotations

import dataclasses
import time

import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jax.scipy.special import erf

from metagrad.experiments._config import ConfigError, ExperimentConfig, param
from metagrad.experiments._result import Seeds
from metagrad.experiments._study import Check, Study, check_close
from metagrad.theory.teacher_student import i2

__all__ = ["I2Config", "I2Result", "study"]


@dataclasses.dataclass(frozen=True)
class I2Config(ExperimentConfig):
    """Covariance of (u, v) and the Monte Carlo sample size."""

    a: float = param(1.0, "variance of u", gt=0)
    b: float = param(0.5, "variance of v", gt=0)
    c: float = param(0.3, "covariance of u and v")
    n_samples: int = param(
        200_000, "Monte Carlo samples (all held in memory: 16 bytes each)", ge=100, le=50_000_000, cost=1
    )
    delay: float = param(0.0, "seconds to sleep per point (for kill/resume tests)", ge=0, le=3600)

    def check(self) -> None:
        if self.c * self.c >= self.a * self.b:  # not c**2: it raises OverflowError beyond 1e154
            raise ConfigError(
                f"c={self.c} must satisfy c^2 < a*b={self.a * self.b} (positive definite)."
            )


@dataclasses.dataclass(frozen=True)
class I2Result:
    """One seed of the self-check.

    Attributes:
        samples_head: (16,) the first products g(u) g(v) (to exercise array storage).
        mc: Monte Carlo mean of g(u) g(v).
        se: its standard error.
        theory: the library's I2 for the config's covariance.
    """

    samples_head: np.ndarray
    mc: float
    se: float
    theory: float


study = Study(
    "selfcheck.erf_i2",
    title="Library erf integral I2 vs Monte Carlo",
    paper="Wang, Yip, Li 2024, App. B",
    config=I2Config,
    presets={"quick": {"n_samples": 20_000}, "paper": {}},
    cost={"quick": "<1 s", "paper": "~1 s"},
)


@study.run
def run(config: I2Config, *, key) -> I2Result:
    """Monte Carlo estimate of E[g(u) g(v)] next to the library's closed form."""
    time.sleep(config.delay)
    cov = jnp.array([[config.a, config.c], [config.c, config.b]])
    uv = jr.multivariate_normal(key, jnp.zeros(2), cov, (config.n_samples,))
    prod = np.asarray(erf(uv[:, 0] / jnp.sqrt(2)) * erf(uv[:, 1] / jnp.sqrt(2)))
    theory = float(i2(cov, activation="erf")[0, 1])
    return I2Result(prod[:16], float(prod.mean()), float(prod.std() / np.sqrt(prod.size)), theory)


@study.plot("selfcheck.erf_i2", "Library erf integral I2 vs Monte Carlo")
def plot(config: I2Config, res: Seeds[I2Result]) -> dict:
    """The closed form as a dashed line, the Monte Carlo mean with ±1 SE of the seed mean."""
    from metagrad.plotting import new_figure, sim_errorbar, theory_line

    r = res.mean
    fig, ax = new_figure()
    theory_line(ax[0, 0], [0, 1], [r.theory] * 2, label="theory (library i2)")
    sim_errorbar(ax[0, 0], [0.5], [r.mc], [r.se / np.sqrt(res.n)], label="Monte Carlo")
    ax[0, 0].set(ylabel="E[g(u) g(v)]", xticks=[])
    ax[0, 0].legend()
    return {"i2": fig}


@study.claims("selfcheck.erf_i2")
def claims(config: I2Config, res: Seeds[I2Result]) -> list[Check]:
    """The library's I2 equals the Monte Carlo mean within 5 standard errors of the seed mean."""
    r = res.mean
    se = r.se / np.sqrt(res.n)  # the mean over seeds averages their errors
    return [
        check_close(
            "I2 closed form (library) = Monte Carlo",
            r.mc,
            r.theory,
            atol=5 * se,
            note="5 standard errors of the Monte Carlo mean (over all seeds)",
        )
    ]
