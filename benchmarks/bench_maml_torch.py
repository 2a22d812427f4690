"""metagrad (jit + vmap) vs PyTorch (task loop with create_graph, and torch.func.vmap).

MAML, FO-MAML and ANIL meta-steps (one inner step, Adam outer step) on
(a) the sinusoid MLP (1-40-40-1, K=10 support + 10 query, meta-batch 25) and
(b) Conv-4 (32 filters) on 28x28 5-way 1-shot tasks (15 queries per class, meta-batch 4).
Run: `python benchmarks/bench_maml_torch.py [--quick]`. Needs the `bench` extra (torch).
Peak memory is measured per variant in a fresh subprocess (VmHWM, includes the runtime).
"""

from __future__ import annotations

import json
import subprocess
import sys
import timeit

import jax
import jax.random as jr
import numpy as np
import optax

import metagrad  # noqa: F401
from metagrad.algorithms import anil, cross_entropy, fo_maml, init_meta_state, maml, meta_step, mse
from metagrad.models import MLP, Conv4
from metagrad.tasks import make_prototypes, sample_fewshot_batch, sample_sinusoid_batch

ALGOS = {
    "MAML": (maml, False, False),
    "FO-MAML": (fo_maml, True, False),
    "ANIL": (anil, False, True),
}
LR = {"mlp": 0.01, "conv4": 0.4}


def _data(setting):
    key = jr.PRNGKey(0)
    if setting == "mlp":
        return sample_sinusoid_batch(key=key, tasks=25, n_support=10, n_query=10)
    protos = make_prototypes(key=key, n_classes=64)
    return sample_fewshot_batch(key=key, tasks=4, prototypes=protos, n_way=5, k_shot=1, n_query=15)


def _jax_runner(setting, algo):
    tasks = _data(setting)
    make, _, _ = ALGOS[algo]
    if setting == "mlp":
        model, loss = MLP(1, 1, 40, 2, key=jr.PRNGKey(1)), mse
    else:
        model, loss = Conv4(5, 32, key=jr.PRNGKey(1)), cross_entropy
    alg, opt = make(loss=loss, lr=LR[setting], steps=1), optax.adam(1e-3)
    state = [init_meta_state(model, opt)]

    def run():
        state[0], m = meta_step(alg, opt, state[0], tasks)
        m["loss"].block_until_ready()

    return run


def _torch_runner(setting, algo, mode):
    import torch
    from torch import nn
    from torch.func import functional_call, grad, vmap

    torch.set_num_threads(1)  # 2 threads spin-wait badly on the shared 2-core box
    torch.manual_seed(0)
    t = jax.tree.map(lambda a: torch.from_numpy(np.asarray(a).copy()), _data(setting))
    _, first_order, head_only = ALGOS[algo]
    if setting == "mlp":
        model = nn.Sequential(
            nn.Linear(1, 40), nn.ReLU(), nn.Linear(40, 40), nn.ReLU(), nn.Linear(40, 1)
        )
        loss_fn = lambda p, y: ((p - y) ** 2).sum(-1).mean()
        head = "4."
    else:
        layers, c = [], 1
        for _ in range(4):
            layers += [
                nn.Conv2d(c, 32, 3, padding=1),
                nn.BatchNorm2d(32, track_running_stats=False),
                nn.ReLU(),
                nn.MaxPool2d(2),
            ]
            c = 32
        model = nn.Sequential(*layers, nn.Flatten(), nn.Linear(32, 5))
        loss_fn = lambda p, y: nn.functional.cross_entropy(p, y.long())
        head = f"{len(layers) + 1}."
    params = dict(model.named_parameters())
    names = [n for n in params if n.startswith(head)] if head_only else list(params)
    opt = torch.optim.Adam(params.values(), lr=1e-3)
    lr, n_tasks = LR[setting], t.x_support.shape[0]

    def task_loss(p, xs, ys, xq, yq, grad_fn):
        g = grad_fn(p, xs, ys)
        new = {**p, **{n: p[n] - lr * g[n] for n in names}}
        return loss_fn(functional_call(model, new, (xq,)), yq)

    def autograd_inner(p, xs, ys):
        ls = loss_fn(functional_call(model, p, (xs,)), ys)
        gs = torch.autograd.grad(ls, [p[n] for n in names], create_graph=not first_order)
        return dict(zip(names, gs))

    def func_inner(p, xs, ys):
        adapt = {n: p[n] for n in names}
        rest = {n: v for n, v in p.items() if n not in adapt}
        f = lambda a: loss_fn(functional_call(model, {**rest, **a}, (xs,)), ys)
        g = grad(f)(adapt)
        return {n: v.detach() for n, v in g.items()} if first_order else g

    def run():
        opt.zero_grad()
        if mode == "loop":
            for i in range(n_tasks):
                (
                    task_loss(
                        params,
                        t.x_support[i],
                        t.y_support[i],
                        t.x_query[i],
                        t.y_query[i],
                        autograd_inner,
                    )
                    / n_tasks
                ).backward()
        else:
            losses = vmap(lambda *a: task_loss(params, *a, func_inner))(
                t.x_support, t.y_support, t.x_query, t.y_query
            )
            losses.mean().backward()
        opt.step()

    return run


def _runner(setting, algo, impl):
    return _jax_runner(setting, algo) if impl == "metagrad" else _torch_runner(setting, algo, impl)


def _peak_mb(setting, algo, impl, steps):
    code = (
        f"import sys; sys.path.insert(0, 'benchmarks'); import bench_maml_torch as b; "
        f"r = b._runner({setting!r}, {algo!r}, {impl!r})\nfor _ in range({steps}): r()\n"
        "print([l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    return float(out.stdout.split()[-1]) / 1024 if out.returncode == 0 else float("nan")


def main(quick: bool) -> list[dict]:
    rows, number, repeat = [], (3 if quick else 10), 3
    for setting in ("mlp", "conv4"):
        for algo in ALGOS:
            for impl in ("metagrad", "loop", "vmap"):
                try:
                    run = _runner(setting, algo, impl)
                    run()  # warm-up (compilation)
                    best = min(timeit.repeat(run, number=number, repeat=repeat)) / number
                    row = {
                        "setting": setting,
                        "algo": algo,
                        "impl": impl,
                        "steps_per_s": 1 / best,
                        "peak_mb": _peak_mb(setting, algo, impl, 2 * number),
                    }
                except Exception as e:  # report, do not hide, a failing variant
                    row = {"setting": setting, "algo": algo, "impl": impl, "error": repr(e)[:120]}
                print(json.dumps(row), flush=True)
                rows.append(row)
    return rows


if __name__ == "__main__":
    main("--quick" in sys.argv)
