"""Self-check of the plumbing (store, executors, CLI, report) on a small real computation.

It checks the closed form of the Gaussian integral behind the teacher–student theory (seeds/000),
E[g(u) g(v)] = (2/π) arcsin(c / sqrt((1+a)(1+b))) for g(x) = erf(x/√2) and (u, v) ~ N(0, [[a, c], [c, b]]),
against Monte Carlo, with a tolerance of 5 standard errors. `delay` slows a point down on purpose so
that tests can kill a sweep mid-way.
"""

from __future__ import annotations

import dataclasses
import time

import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jax.scipy.special import erf

from metagrad.experiments._base import AbstractExperiment, Result, check_close, register
from metagrad.experiments._config import ConfigError, ExperimentConfig, param


@dataclasses.dataclass(frozen=True)
class SelfCheckConfig(ExperimentConfig):
    a: float = param(1.0, "variance of u", gt=0)
    b: float = param(0.5, "variance of v", gt=0)
    c: float = param(0.3, "covariance of u and v")
    n_samples: int = param(200_000, "Monte Carlo samples", ge=100)
    delay: float = param(0.0, "seconds to sleep per point (for kill/resume tests)", ge=0)

    def check(self) -> None:
        if self.c**2 >= self.a * self.b:
            raise ConfigError(
                f"c={self.c} must satisfy c^2 < a*b={self.a * self.b} (positive definite)."
            )


@register
class SelfCheck(AbstractExperiment):
    id = "selfcheck.erf_i2"
    title = "Closed-form erf integral I2 vs Monte Carlo"
    paper = "Wang, Yip, Li (seeds/000), App. B"
    Config = SelfCheckConfig
    presets = {"quick": {"n_samples": 20_000}, "paper": {}}
    cost = {"quick": "<1 s", "paper": "~1 s"}

    def run(self, config: SelfCheckConfig, key) -> Result:
        time.sleep(config.delay)
        cov = jnp.array([[config.a, config.c], [config.c, config.b]])
        uv = jr.multivariate_normal(key, jnp.zeros(2), cov, (config.n_samples,))
        prod = np.asarray(erf(uv[:, 0] / jnp.sqrt(2)) * erf(uv[:, 1] / jnp.sqrt(2)))
        theory = 2 / np.pi * np.arcsin(config.c / np.sqrt((1 + config.a) * (1 + config.b)))
        return Result(
            arrays={"samples_head": prod[:16]},
            scalars={"mc": prod.mean(), "se": prod.std() / np.sqrt(prod.size), "theory": theory},
        )

    def plot(self, result: Result):
        from metagrad.report.plotting import new_figure, sim_errorbar, theory_line

        fig, ax = new_figure()
        theory_line(ax[0, 0], [0, 1], [result.scalars["theory"]] * 2, label="theory")
        sim_errorbar(ax[0, 0], [0.5], [result.scalars["mc"]], [result.scalars["se"]], label="MC")
        ax[0, 0].legend()
        return {"i2": fig}

    def checks(self, result: Result):
        s = result.scalars
        se = s["se"] / np.sqrt(result.meta.get("n_seeds", 1))  # the mean over seeds averages them
        return [
            check_close(
                "I2 closed form = Monte Carlo",
                s["mc"],
                s["theory"],
                atol=5 * se,
                note="5 standard errors of the Monte Carlo mean (over all seeds)",
            )
        ]
