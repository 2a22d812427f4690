"""MAML sinusoid regression (Finn, Abbeel, Levine 2017, Sec. 5.1 and Fig. 3 left).

Also the sinusoid setting of Zou, Liu, Li (seeds/003, Table 2). MAML (second order, one inner
step with rate α = 0.01, K = 10, meta-batch 25, Adam 1e-3) against the "pretrained" ERM
baseline (the same network fitted to all tasks' data, no inner loop); both are then fine-tuned
on K support points of new tasks with SGD at rate α for 0..`eval_steps` steps.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax

from metagrad.algorithms import ERM, adapt, maml, meta_train, mse
from metagrad.experiments._base import AbstractExperiment, Result, check_true, register
from metagrad.experiments._config import ExperimentConfig, param
from metagrad.models import MLP
from metagrad.tasks import sample_sinusoid_batch

__all__ = ["MamlSinusoid", "MamlSinusoidConfig"]


@dataclasses.dataclass(frozen=True)
class MamlSinusoidConfig(ExperimentConfig):
    """Configuration of `maml.sinusoid`; defaults are Finn et al. (2017)'s settings."""

    k_shot: int = param(10, "support points per task K", ge=1)
    n_query: int = param(10, "query points per training task", ge=1)
    meta_batch: int = param(25, "tasks per meta-batch", ge=1)
    inner_lr: float = param(0.01, "inner (and fine-tuning) learning rate alpha")
    inner_steps: int = param(1, "inner steps during meta-training", ge=0)
    meta_lr: float = param(1e-3, "Adam learning rate of the outer loop", gt=0)
    meta_steps: int = param(70_000, "meta-iterations (also ERM iterations)", ge=1)
    width: int = param(40, "hidden width", ge=1)
    depth: int = param(2, "hidden layers", ge=1)
    eval_steps: int = param(10, "fine-tuning steps at test time", ge=1)
    eval_tasks: int = param(1000, "test tasks", ge=2)
    eval_points: int = param(100, "query points per test task", ge=1)


def _train(alg, config: MamlSinusoidConfig, key) -> MLP:
    kinit, ktrain = jr.split(key)
    model = MLP(1, 1, config.width, config.depth, key=kinit)
    sample = lambda k: sample_sinusoid_batch(
        key=k, tasks=config.meta_batch, n_support=config.k_shot, n_query=config.n_query
    )
    params, _ = meta_train(
        alg,
        optax.adam(config.meta_lr),
        model,
        sample,
        steps=config.meta_steps,
        key=ktrain,
        chunk=500,
        meta_lr=config.meta_lr,
    )
    return params


def _finetune_curve(model: MLP, tasks, *, lr: float, steps: int) -> jax.Array:
    """Query MSE of each task after 0..steps SGD steps on its support: `[tasks, steps+1]`."""

    def one_task(task):
        def body(m, _):
            q = mse(m(task.x_query), task.y_query)
            return adapt(m, task.support, loss=mse, lr=lr, steps=1), q

        m, qs = jax.lax.scan(body, model, None, length=steps)
        return jnp.append(qs, mse(m(task.x_query), task.y_query))

    return jax.jit(jax.vmap(one_task))(tasks)


@register
class MamlSinusoid(AbstractExperiment):
    """MAML vs pretrained (ERM) on sinusoid regression: query MSE vs fine-tuning steps."""

    id = "maml.sinusoid"
    title = "MAML vs pretrained (ERM) on sinusoid regression: MSE vs fine-tuning steps"
    paper = "Finn, Abbeel, Levine 2017 (MAML), Sec. 5.1, Fig. 3; sinusoid of seeds/003 Table 2"
    Config = MamlSinusoidConfig
    presets = {"quick": {"meta_steps": 1000, "eval_tasks": 200}, "paper": {}}
    cost = {"quick": "~18 s (mostly compilation)", "paper": "~10 min"}

    def run(self, config: MamlSinusoidConfig, key) -> Result:
        kmaml, kerm, keval = jr.split(key, 3)
        alg = maml(loss=mse, lr=config.inner_lr, steps=config.inner_steps)
        models = {"maml": _train(alg, config, kmaml), "erm": _train(ERM(loss=mse), config, kerm)}
        tasks = sample_sinusoid_batch(
            key=keval,
            tasks=config.eval_tasks,
            n_support=config.k_shot,
            n_query=config.eval_points,
        )
        arrays = {"steps": np.arange(config.eval_steps + 1)}
        for name, model in models.items():
            curve = np.asarray(
                _finetune_curve(model, tasks, lr=config.inner_lr, steps=config.eval_steps)
            )
            arrays[f"{name}_mse"] = curve.mean(0)
            arrays[f"{name}_se"] = curve.std(0) / np.sqrt(curve.shape[0])
            arrays[f"{name}_per_task"] = curve
        x = jnp.linspace(-5, 5, 200)[:, None].astype(jnp.float32)
        task0 = jax.tree.map(lambda a: a[0], tasks)
        arrays["example_x"] = np.asarray(x[:, 0])
        arrays["example_support_x"] = np.asarray(task0.x_support[:, 0])
        arrays["example_support_y"] = np.asarray(task0.y_support[:, 0])
        for name, model in models.items():
            for k in (0, config.eval_steps):
                m = adapt(model, task0.support, loss=mse, lr=config.inner_lr, steps=k)
                arrays[f"example_{name}_{k}"] = np.asarray(m(x)[:, 0])
        meta = {"loss": "mse: mean over points of squared error", "config": config.to_dict()}
        return Result(arrays=arrays, meta=meta)

    def plot(self, result: Result):
        from metagrad.report.plotting import new_figure, sim_errorbar

        a = result.arrays
        fig, ax = new_figure(2)
        for name, label in (("maml", "MAML"), ("erm", "pretrained (ERM)")):
            sim_errorbar(ax[0, 0], a["steps"], a[f"{name}_mse"], a[f"{name}_se"], label=label)
        ax[0, 0].set(xlabel="fine-tuning gradient steps", ylabel="query MSE", yscale="log")
        ax[0, 0].legend()
        k = int(a["steps"][-1])
        ax[0, 1].plot(a["example_x"], a["example_maml_0"], ":", label="MAML, 0 steps")
        ax[0, 1].plot(a["example_x"], a[f"example_maml_{k}"], "-", label=f"MAML, {k} steps")
        ax[0, 1].plot(a["example_x"], a[f"example_erm_{k}"], "-", label=f"ERM, {k} steps")
        ax[0, 1].scatter(
            a["example_support_x"], a["example_support_y"], c="k", s=12, label="support"
        )
        ax[0, 1].set(xlabel="x", ylabel="y")
        ax[0, 1].legend(fontsize=7)
        return {"mse_vs_steps": fig}

    def checks(self, result: Result):
        a = result.arrays
        out = []
        pairs = (
            (
                "MAML post-adaptation MSE falls from 0 to 1 step",
                a["maml_per_task"][:, 0],
                a["maml_per_task"][:, 1],
            ),
            (
                "MAML MSE falls from 1 step to the last step",
                a["maml_per_task"][:, 1],
                a["maml_per_task"][:, -1],
            ),
            ("MAML beats ERM after 1 step", a["erm_per_task"][:, 1], a["maml_per_task"][:, 1]),
            (
                "MAML beats ERM after the last step",
                a["erm_per_task"][:, -1],
                a["maml_per_task"][:, -1],
            ),
        )
        for name, worse, better in pairs:
            d = np.asarray(worse) - np.asarray(better)
            se = d.std() / np.sqrt(d.size)
            out.append(
                check_true(
                    name,
                    d.mean() > 3 * se,
                    f"mean paired decrease {d.mean():.4g}",
                    f"> 3 standard errors = {3 * se:.3g}",
                    note="paired over the same test tasks; 3 SE of the paired mean (one-sided)",
                )
            )
        return out
