"""metagrad (jit + vmap) vs PyTorch (task loop with create_graph, and torch.func.vmap).

MAML, FO-MAML and ANIL meta-steps (one inner step, Adam outer step) on
(a) the sinusoid MLP (1-40-40-1, K=10 support + 10 query, meta-batch 25) and
(b) Conv-4 (32 filters) on 28x28 5-way 1-shot tasks (15 queries per class, meta-batch 4).
Run: `python benchmarks/bench_maml_torch.py [--quick]`. Needs the `bench` extra (torch).
Peak memory is measured per variant in a fresh subprocess (VmHWM, includes the runtime).
`--fwdbwd`: forward+backward of one batch (the MTL training step) of Conv-4 (320 images 28x28)
and ResNet-12 (20 images 32x32), every Conv4 `conv_impl` against torch, side by side.
`--conv4-only`: only the Conv-4 meta-step rows.

Threads: one core for both. The process pins itself to one CPU (`os.sched_setaffinity`; the
first allowed one, or `BENCH_CPU=k`) before JAX or torch start, since XLA:CPU splits loops over
its own threads even with `--xla_cpu_multi_thread_eigen=false` (set below unless XLA_FLAGS is
set; an earlier version appended `intra_op_parallelism_threads=1` without `--`, which XLA's flag
parser stopped at, so flags after it were ignored), and `torch.set_num_threads(1)`. Times: min
over repeats of wall time per call, and of the process CPU time per call (less sensitive to
other jobs on a shared machine; pinned, CPU time is one core's work).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false")
if hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, {int(os.environ.get("BENCH_CPU", min(os.sched_getaffinity(0))))})

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import jax.random as jr  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402

import metagrad  # noqa: F401, E402
from metagrad.algorithms import (  # noqa: E402
    anil,
    cross_entropy,
    fo_maml,
    init_meta_state,
    maml,
    meta_step,
    mse,
)
from metagrad.models import MLP, Conv4, ResNet12  # noqa: E402
from metagrad.tasks import (  # noqa: E402
    make_prototypes,
    sample_fewshot_batch,
    sample_sinusoid_batch,
)

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


def _jax_runner(setting, algo, conv_impl="fast"):
    tasks = _data(setting)
    make, _, _ = ALGOS[algo]
    if setting == "mlp":
        model, loss = MLP(1, 1, 40, 2, key=jr.PRNGKey(1)), mse
    else:
        model, loss = Conv4(5, 32, conv_impl=conv_impl, key=jr.PRNGKey(1)), cross_entropy
    loop = "vmap" if setting == "mlp" else "map"  # lax.map over tasks for convolutions
    alg, opt = make(loss=loss, lr=LR[setting], steps=1, task_loop=loop), optax.adam(1e-3)
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
    if impl == "metagrad":
        return _jax_runner(setting, algo)
    if impl.startswith("metagrad-"):  # e.g. metagrad-matmul: the plain layers, for reference
        return _jax_runner(setting, algo, impl.split("-", 1)[1])
    return _torch_runner(setting, algo, impl)


def _time(run, number, repeat):
    """(wall, cpu) seconds per call: min over `repeat` rounds of `number` calls, after warm-up."""
    run()
    best = (float("inf"), float("inf"))
    for _ in range(repeat):
        w0, c0 = time.perf_counter(), time.process_time()
        for _ in range(number):
            run()
        w, c = (time.perf_counter() - w0) / number, (time.process_time() - c0) / number
        best = (min(best[0], w), min(best[1], c))
    return best


def _torch_net(arch, filters=32, n_out=5):
    """Conv-4 (`filters` wide, 28x28 inputs) or ResNet-12 in torch, `n_out` outputs."""
    from torch import nn

    if arch == "conv4":
        layers, c = [], 1
        for _ in range(4):
            layers += [
                nn.Conv2d(c, filters, 3, padding=1),
                nn.BatchNorm2d(filters, track_running_stats=False),
                nn.ReLU(),
                nn.MaxPool2d(2),
            ]
            c = filters
        return nn.Sequential(*layers, nn.Flatten(), nn.Linear(filters, n_out))

    class Block(nn.Module):
        def __init__(self, a, b):
            super().__init__()
            bn = lambda: nn.BatchNorm2d(b, track_running_stats=False)
            self.c = nn.ModuleList([nn.Conv2d(x, b, 3, padding=1, bias=False) for x in (a, b, b)])
            self.n = nn.ModuleList([bn() for _ in range(3)])
            self.sc, self.sn = nn.Conv2d(a, b, 1, bias=False), bn()
            self.act, self.pool = nn.LeakyReLU(0.1), nn.MaxPool2d(2)

        def forward(self, x):
            h = x
            for i in range(3):
                h = self.n[i](self.c[i](h))
                h = self.act(h) if i < 2 else h
            return self.pool(self.act(h + self.sn(self.sc(x))))

    chans = (3, 64, 160, 320, 640)
    blocks = [Block(a, b) for a, b in zip(chans[:-1], chans[1:])]
    return nn.Sequential(*blocks, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(640, n_out))


FWDBWD = {"conv4": (320, 1, 28), "resnet12": (20, 3, 32)}  # batch, channels, side


def fwdbwd(arch: str, number: int = 3, repeat: int = 3) -> list[dict]:
    """Forward+backward (loss and gradient of all parameters) of one batch, jax vs torch."""
    import torch

    torch.set_num_threads(1)
    n, c, side = FWDBWD[arch]
    x = jr.normal(jr.PRNGKey(0), (n, c, side, side), jnp.float32)
    y = jr.randint(jr.PRNGKey(1), (n,), 0, 5)
    impls = ("fast", "matmul", "xla") if arch == "conv4" else ("fast", "matmul")
    rows = []
    for impl in impls:
        if arch == "conv4":
            model = Conv4(5, 32, conv_impl=impl, key=jr.PRNGKey(2))
        else:
            model = ResNet12(5, conv_impl=impl, key=jr.PRNGKey(2))
        step = jax.jit(jax.value_and_grad(lambda m: cross_entropy(m(x), y)))
        wall, cpu = _time(lambda s=step, m=model: jax.block_until_ready(s(m)), number, repeat)
        rows.append(
            {"arch": arch, "impl": f"metagrad-{impl}", "ms": 1e3 * wall, "cpu_ms": 1e3 * cpu}
        )
    net = _torch_net(arch)
    xt, yt = torch.from_numpy(np.asarray(x).copy()), torch.from_numpy(np.asarray(y).copy())

    def torch_step():
        net.zero_grad()
        torch.nn.functional.cross_entropy(net(xt), yt).backward()

    wall, cpu = _time(torch_step, number, repeat)
    rows.append({"arch": arch, "impl": "torch", "ms": 1e3 * wall, "cpu_ms": 1e3 * cpu})
    for r in rows:
        r["speedup"] = rows[-1]["ms"] / r["ms"]
        r["cpu_speedup"] = rows[-1]["cpu_ms"] / r["cpu_ms"]
        r["load"] = os.getloadavg()[0]
        print(json.dumps(r), flush=True)
    return rows


def _peak_mb(setting, algo, impl, steps):
    code = (
        f"import sys; sys.path.insert(0, 'benchmarks'); import bench_maml_torch as b; "
        f"r = b._runner({setting!r}, {algo!r}, {impl!r})\nfor _ in range({steps}): r()\n"
        "print([l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    return float(out.stdout.split()[-1]) / 1024 if out.returncode == 0 else float("nan")


def main(quick: bool, settings=("mlp", "conv4"), peak: bool = True) -> list[dict]:
    """Meta-steps per second of every (setting, algorithm, implementation), printed as JSON."""
    rows, number, repeat = [], (3 if quick else 10), 3
    for setting in settings:
        for algo in ALGOS:
            for impl in ("metagrad", "loop", "vmap"):
                try:
                    run = _runner(setting, algo, impl)
                    wall, cpu = _time(run, number, repeat)
                    row = {
                        "setting": setting,
                        "algo": algo,
                        "impl": impl,
                        "steps_per_s": 1 / wall,
                        "cpu_steps_per_s": 1 / cpu,
                        "load": os.getloadavg()[0],
                        "peak_mb": _peak_mb(setting, algo, impl, 2 * number) if peak else None,
                    }
                except Exception as e:  # report, do not hide, a failing variant
                    row = {"setting": setting, "algo": algo, "impl": impl, "error": repr(e)[:120]}
                print(json.dumps(row), flush=True)
                rows.append(row)
    return rows


if __name__ == "__main__":
    if "--fwdbwd" in sys.argv:
        for arch in ("conv4", "resnet12"):
            fwdbwd(arch)
    elif "--conv4-only" in sys.argv:
        main("--quick" in sys.argv, ("conv4",), peak="--no-peak" not in sys.argv)
    else:
        main("--quick" in sys.argv)
