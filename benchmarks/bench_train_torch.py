"""Training throughput: metagrad's jitted training step against the same step in PyTorch.

For MTL (images/s) and every episodic method (MAML, FO-MAML, ANIL, ProtoNet, R2D2, MetaOptNet;
meta-steps/s), one optimiser step (meta-gradient + RAdam) on Conv-4 and 5-way 1-/5-shot
episodes of the glyph dataset (28x28x1), with the hyperparameters of the `wang2021.fewshot`
study: ``--setting quick`` is its quick preset (Conv-4 16 filters, meta-batch 2, 1 inner step),
``--setting paper`` its paper preset with the backbone replaced by Conv-4 (64 filters,
meta-batch 6, 5 inner steps).

- metagrad: `metagrad.train._loop._step`, the function `metagrad.train.train` jits (the
  method's `meta_grad`, RAdam via optax, the reduce-on-plateau scale), on the `TrainConfig`
  that the study builds (`wang2021_fewshot._train_cfg`), parameters from `make_model` / `build`.
- torch: the same step written plainly (loop over the tasks of a meta-batch, each task's loss
  divided by the meta-batch and back-propagated, `torch.optim.RAdam`), starting from the same
  parameters (copied from the JAX model), so the first step's loss and gradient norm are
  compared as a check of the re-implementation.

Both step on the same fixed meta-batch, interleaved (metagrad round, torch round, ...), after a
warm-up (JAX compilation excluded, measured separately); times are min over rounds of wall and
process-CPU time per step. One thread each (XLA flags set by `bench_maml_torch`, which is
imported first; `torch.set_num_threads(1)`). Results: one JSON line per (shot, method).

Run: `python benchmarks/bench_train_torch.py --setting quick [--methods mtl maml ...]
[--shots 1 5] [--number 3] [--repeat 3] [--map] [--out rows.jsonl]`;
`python benchmarks/bench_train_torch.py --table rows.jsonl` prints the markdown table.
Needs the `bench` extra (torch).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import platform
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_maml_torch as bmt  # noqa: E402, I001  (first: sets one-thread XLA_FLAGS before JAX starts)

import equinox as eqx  # noqa: E402
import jax  # noqa: E402
import jax.random as jr  # noqa: E402
import numpy as np  # noqa: E402

from metagrad.data import EpisodeSampler, open_dataset  # noqa: E402
from metagrad.experiments.wang2021_fewshot import _train_cfg, study  # noqa: E402
from metagrad.train import METHODS  # noqa: E402
from metagrad.train._loop import _optimizer, _step  # noqa: E402
from metagrad.train._methods import build, make_model  # noqa: E402

DATASET = "glyphs-quick"
SETTINGS = {"quick": {}, "paper": {"backbone": "conv4"}}  # overrides of the study's presets


def train_config(setting: str, method: str, shot: int):
    """The `TrainConfig` the `wang2021.fewshot` study trains `method` with at `setting`."""
    cfg = study.config(setting, SETTINGS[setting])
    return _train_cfg(cfg, method, shot, cfg.max_epochs)


# ----------------------------------------------------------------------------- torch


def _simplex(v):
    """Rows of `v` projected onto the probability simplex (as `metagrad`'s `project_simplex`)."""
    import torch

    k = v.shape[-1]
    u = torch.sort(v, dim=-1, descending=True).values
    css = torch.cumsum(u, dim=-1) - 1.0
    ind = torch.arange(1, k + 1, dtype=v.dtype)
    rho = (u - css / ind > 0).sum(-1, keepdim=True)
    theta = torch.gather(css, -1, rho - 1) / rho.to(v.dtype)
    return torch.clamp(v - theta, min=0.0)


def svm_logits_torch(phi_s, ys, phi_q, n_way, *, C, ridge, iters):
    """MetaOptNet's Crammer-Singer SVM head in torch: the same dual, solver and gradient.

    `iters` FISTA steps on the product of simplices (P = Y - alpha/C) without autograd, then
    the implicit gradient through the fixed point F(P) = P - proj(P - eta grad) = 0:
    P* - (J^-1 F(P*) - stop_grad(J^-1 F(P*))) has P*'s value and derivative -J^-1 dF/dtheta,
    with J = dF/dP (`torch.func.jacrev`, [nK, nK]) solved by `torch.linalg.solve`.
    """
    import torch

    y = torch.nn.functional.one_hot(ys.long(), n_way).to(phi_s.dtype)
    gram = phi_s @ phi_s.T
    g0 = gram.detach()
    eta = 1.0 / torch.clamp(C * C * (torch.linalg.eigvalsh(g0)[-1] + ridge), min=1e-38)

    def residual(p, g):
        a = C * (y - p)
        return p - _simplex(p + eta * C * (g @ a + ridge * a - y))

    with torch.no_grad():
        p, z, t = y, y, 1.0
        for _ in range(iters):
            a = C * (y - z)
            p_new = _simplex(z + eta * C * (g0 @ a + ridge * a - y))
            t_new = 0.5 * (1.0 + math.sqrt(1.0 + 4.0 * t * t))
            z = p_new + ((t - 1.0) / t_new) * (p_new - p)
            p, t = p_new, t_new
    m = p.numel()
    jac = torch.func.jacrev(lambda q: residual(q, g0))(p).reshape(m, m)
    corr = torch.linalg.solve(jac, residual(p, gram).reshape(m)).reshape(p.shape)
    alpha = C * (y - (p - (corr - corr.detach())))
    return (phi_q @ phi_s.T) @ alpha


def _task_loss_torch(cfg, net, params, task):
    """One task's training loss in torch (`params`: the net's named parameters, and `heads`)."""
    import torch
    from torch.func import functional_call
    from torch.nn.functional import cross_entropy, normalize, one_hot

    xs, ys, xq, yq, classes = task
    body, head = net[:-1], net[-1]
    m = cfg.method
    if m in ("maml", "fo_maml"):
        names = [n for n in params if n != "heads"]
        fast = {n: params[n] for n in names}
        for _ in range(cfg.inner_steps):
            inner = cross_entropy(functional_call(net, fast, (xs,)), ys)
            g = torch.autograd.grad(inner, list(fast.values()), create_graph=m == "maml")
            fast = {n: w - cfg.inner_lr * gw for (n, w), gw in zip(fast.items(), g)}
        return cross_entropy(functional_call(net, fast, (xq,)), yq)
    if m == "anil":  # features once; only the head adapts (second order through the head)
        phi_s, phi_q = body(xs), body(xq)
        w, b = head.weight, head.bias
        for _ in range(cfg.inner_steps):
            inner = cross_entropy(phi_s @ w.T + b, ys)
            gw, gb = torch.autograd.grad(inner, (w, b), create_graph=True)
            w, b = w - cfg.inner_lr * gw, b - cfg.inner_lr * gb
        return cross_entropy(phi_q @ w.T + b, yq)
    if m == "mtl":
        phi = body(torch.cat([xs, xq]))
        phi = normalize(phi, dim=-1) if cfg.normalize else phi
        return cross_entropy(phi @ params["heads"][classes].T, torch.cat([ys, yq]))
    phi_s, phi_q = body(xs), body(xq)
    if m == "protonet":
        onehot = one_hot(ys, cfg.n_way).to(phi_s.dtype)
        protos = (onehot.T @ phi_s) / onehot.sum(0).clamp(min=1.0)[:, None]
        logits = -torch.cdist(phi_q, protos) ** 2
    elif m == "r2d2":
        y = one_hot(ys, cfg.n_way).to(phi_s.dtype)
        gram = phi_s @ phi_s.T + cfg.ridge_lam * torch.eye(phi_s.shape[0])
        logits = cfg.head_scale * phi_q @ (phi_s.T @ torch.linalg.solve(gram, y))
    else:  # metaoptnet; the dual ridge 1.0 is `MetaOptNet`'s default, as `build` uses it
        logits = cfg.head_scale * svm_logits_torch(
            phi_s, ys, phi_q, cfg.n_way, C=cfg.svm_C, ridge=1.0, iters=cfg.svm_iters
        )
    return cross_entropy(logits, yq)


def _copy_conv4(net, model) -> None:
    """Load metagrad's Conv-4 parameters into the torch Conv-4 of `bench_maml_torch`."""
    import torch

    sd = {}
    for i, (conv, norm) in enumerate(zip(model.convs, model.norms)):
        sd |= {f"{4 * i}.weight": conv.weight, f"{4 * i}.bias": conv.bias.reshape(-1),
               f"{4 * i + 1}.weight": norm.weight, f"{4 * i + 1}.bias": norm.bias}
    sd |= {f"{len(net) - 1}.weight": model.head.weight, f"{len(net) - 1}.bias": model.head.bias}
    net.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in sd.items()})


def torch_runner(cfg, params, tasks):
    """`run(check=False)`: one torch training step; with `check`, (loss, gradient norm) of it."""
    import torch

    torch.set_num_threads(1)
    model = params.model if hasattr(params, "heads") else params
    net = bmt._torch_net("conv4", cfg.filters, cfg.n_way)
    _copy_conv4(net, model)
    named = dict(net.named_parameters())
    if hasattr(params, "heads"):
        named["heads"] = torch.nn.Parameter(torch.from_numpy(np.array(params.heads)))
    opt = torch.optim.RAdam(named.values(), lr=cfg.lr)
    as_t = lambda a: torch.from_numpy(np.array(a))
    ts = [as_t(getattr(tasks, f)) for f in ("x_support", "y_support", "x_query", "y_query",
                                            "classes")]
    ts[1], ts[3] = ts[1].long(), ts[3].long()
    n_tasks = ts[0].shape[0]

    def run(check: bool = False):
        opt.zero_grad()
        total = 0.0
        for i in range(n_tasks):
            loss = _task_loss_torch(cfg, net, named, [t[i] for t in ts]) / n_tasks
            loss.backward()
            total += loss.item()
        if check:
            sq = sum(float((p.grad**2).sum()) for p in named.values() if p.grad is not None)
            out = (total, math.sqrt(sq))
        opt.step()
        return out if check else None

    return run


# ----------------------------------------------------------------------------- metagrad


def metagrad_runner(cfg, algorithm, params, tasks):
    """`(run, (loss, gradient norm) of the first step, compile seconds)` of `train`'s `_step`."""
    optimizer, plateau = _optimizer(cfg)
    arrays = eqx.filter(params, eqx.is_inexact_array)
    opt_state, scale = optimizer.init(arrays), plateau.init(arrays).scale
    t0 = time.perf_counter()
    p, s, loss, gnorm = jax.block_until_ready(
        _step(algorithm, optimizer, params, opt_state, scale, tasks))
    compile_s = time.perf_counter() - t0
    state = [p, s]

    def run():
        state[0], state[1], loss_, _ = _step(algorithm, optimizer, *state, scale, tasks)
        loss_.block_until_ready()

    return run, (float(loss), float(gnorm)), compile_s


def _interleaved(runs: dict, number: int, repeat: int) -> dict:
    """{name: (wall, cpu)} seconds per call, min over `repeat` interleaved rounds of `number`."""
    for run in runs.values():
        run()  # warm-up
    best = {k: (math.inf, math.inf) for k in runs}
    for _ in range(repeat):
        for k, run in runs.items():
            w0, c0 = time.perf_counter(), time.process_time()
            for _ in range(number):
                run()
            w, c = (time.perf_counter() - w0) / number, (time.process_time() - c0) / number
            best[k] = (min(best[k][0], w), min(best[k][1], c))
    return best


def measure(setting: str, method: str, shot: int, number: int, repeat: int,
            with_map: bool = False) -> dict:
    """One row: metagrad vs torch training-step times of `method` at `shot` shots."""
    cfg = train_config(setting, method, shot)
    ds = open_dataset(DATASET)
    train_ds = ds.split("train")
    key = jr.PRNGKey(0)
    model = make_model(cfg, ds.image_shape, key=jr.fold_in(key, 1))
    algorithm, params = build(cfg, model, train_ds.n_classes, key=jr.fold_in(key, 2))
    tasks = EpisodeSampler(train_ds, cfg.n_way, cfg.n_shot, cfg.n_query).sample(
        jr.fold_in(key, 3), cfg.meta_batch)
    load0 = os.getloadavg()[0]
    mg_run, mg_check, compile_s = metagrad_runner(cfg, algorithm, params, tasks)
    th_run = torch_runner(cfg, params, tasks)
    th_check = th_run(check=True)
    runs = {"metagrad": mg_run, "torch": th_run}
    if with_map and method in ("maml", "fo_maml", "anil"):
        runs["metagrad_map"] = metagrad_runner(
            cfg, dataclasses.replace(algorithm, task_loop="map"), params, tasks)[0]
    t = _interleaved(runs, number, repeat)
    row = {
        "setting": setting, "method": method, "shot": shot, "filters": cfg.filters,
        "meta_batch": cfg.meta_batch, "inner_steps": cfg.inner_steps,
        "images_per_step": cfg.images_per_step, "compile_s": compile_s,
        "loss0": {"metagrad": mg_check[0], "torch": th_check[0]},
        "gnorm0": {"metagrad": mg_check[1], "torch": th_check[1]},
        **{f"{k}_wall_s": v[0] for k, v in t.items()},
        **{f"{k}_cpu_s": v[1] for k, v in t.items()},
        "ratio_cpu": t["torch"][1] / t["metagrad"][1],
        "ratio_wall": t["torch"][0] / t["metagrad"][0],
        "number": number, "repeat": repeat,
        "load": [load0, os.getloadavg()[0]],
    }
    print(json.dumps(row), flush=True)
    return row


def table(rows: list[dict]) -> str:
    """Markdown table of the rows: throughput from CPU time (wall in brackets), ratios."""
    out = ["| setting | shot | method | metagrad | torch | metagrad / torch CPU (wall) | "
           "first-step loss, grad norm: metagrad / torch | compile (s) | load |",
           "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        mtl = r["method"] == "mtl"
        unit, per = ("images/s", r["images_per_step"]) if mtl else ("steps/s", 1)

        def rate(k, r=r, per=per):
            return f"{per / r[f'{k}_cpu_s']:.4g} ({per / r[f'{k}_wall_s']:.4g})"

        extra = (f"; `task_loop=\"map\"` {rate('metagrad_map')}" if "metagrad_map_cpu_s" in r
                 else "")
        lo, gn = r["loss0"], r["gnorm0"]
        out.append(
            f"| {r['setting']} (Conv-4 {r['filters']}, batch {r['meta_batch']}) | {r['shot']} | "
            f"{r['method']} | {rate('metagrad')} {unit}{extra} | {rate('torch')} | "
            f"**{r['ratio_cpu']:.2f}×** ({r['ratio_wall']:.2f}×) | "
            f"{lo['metagrad']:.5g} / {lo['torch']:.5g}, {gn['metagrad']:.4g} / {gn['torch']:.4g} | "
            f"{r['compile_s']:.1f} | {r['load'][0]:.1f}–{r['load'][1]:.1f} |")
    return "\n".join(out)


def main(argv=None) -> list[dict]:
    """Command line: measure the requested rows (or print the table of a JSON-lines file)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--setting", choices=tuple(SETTINGS), default="quick")
    ap.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    ap.add_argument("--shots", nargs="+", type=int, default=[1, 5])
    ap.add_argument("--number", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--map", action="store_true",
                    help="also time MAML/FO-MAML/ANIL with task_loop='map' (not what train uses)")
    ap.add_argument("--out", help="append the JSON rows to this file")
    ap.add_argument("--table", help="print the markdown table of this JSON-lines file and exit")
    a = ap.parse_args(argv)
    if a.table:
        with open(a.table) as f:
            print(table([json.loads(ln) for ln in f if ln.strip()]))
        return []
    import torch

    print(json.dumps({"python": platform.python_version(), "jax": jax.__version__,
                      "torch": torch.__version__, "numpy": np.__version__,
                      "XLA_FLAGS": os.environ.get("XLA_FLAGS"),
                      "torch_threads": 1, "uptime": os.popen("uptime").read().strip(),
                      "start": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())}),
          flush=True)
    rows = []
    for shot in a.shots:
        for method in a.methods:
            row = measure(a.setting, method, shot, a.number, a.repeat, a.map)
            rows.append(row)
            if a.out:
                with open(a.out, "a") as f:
                    f.write(json.dumps(row) + "\n")
    print(json.dumps({"end": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
                      "uptime": os.popen("uptime").read().strip()}), flush=True)
    return rows


if __name__ == "__main__":
    main()
