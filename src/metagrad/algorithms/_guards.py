"""Divergence detection: find the first non-finite inner or outer loss and report it."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["DivergenceError", "check_finite"]


class DivergenceError(FloatingPointError):
    """A NaN/inf appeared in the inner or outer loop; the message says where and how to fix.

    Attributes:
        meta_step: index of the meta-step (outer iteration) that diverged.
        task: index of the first task (in the meta-batch) with a non-finite value, or None.
        inner_step: index of the first non-finite inner step of that task, or None (outer).
        lr: the inner learning rate(s) in use.
    """

    def __init__(
        self, message: str, *, meta_step: int, task: int | None, inner_step: int | None, lr: Any
    ):
        super().__init__(message)
        self.meta_step, self.task, self.inner_step, self.lr = meta_step, task, inner_step, lr


def _first_bad(inner: np.ndarray) -> tuple[int, int] | None:
    """(task, step) of the first non-finite entry of a `[tasks, steps]` array, or None."""
    bad = ~np.isfinite(inner)
    if not bad.any():
        return None
    task = int(np.argmax(bad.any(axis=1)))
    return task, int(np.argmax(bad[task]))


def _describe_lr(lr: Any) -> str:
    """Short text of a scalar or per-parameter learning rate."""
    try:
        return f"{float(lr):g}"
    except (TypeError, ValueError):
        import jax

        leaves = [np.asarray(v) for v in jax.tree.leaves(lr)]
        lo = min(float(v.min()) for v in leaves)
        hi = max(float(v.max()) for v in leaves)
        return f"per-parameter in [{lo:g}, {hi:g}]"


def check_finite(metrics: dict[str, Any], *, meta_step: int, lr: Any, meta_lr: Any = None) -> None:
    """Raise `DivergenceError` if the metrics of a meta-step hold a NaN/inf.

    Looks at `metrics["inner_losses"]` (`[tasks, steps]`, support loss before each inner
    step), then `metrics["task_losses"]` (`[tasks]`), then `metrics["loss"]` and
    `metrics["grad_norm"]`. Call it outside `jit` on the returned metrics (one host sync).
    """
    inner = metrics.get("inner_losses")
    where = _first_bad(np.asarray(inner)) if inner is not None and np.size(inner) else None
    outer = np.asarray(metrics.get("task_losses", metrics.get("loss", 0.0))).reshape(-1)
    if (
        where is None
        and np.isfinite(outer).all()
        and np.isfinite(np.asarray(metrics.get("grad_norm", 0.0)))
    ):
        return
    lr_txt = _describe_lr(lr) + ("" if meta_lr is None else f", meta lr {meta_lr:g}")
    if where is not None:
        task, step = where
        msg = (
            f"inner loop diverged at meta-step {meta_step}, task {task}, inner step {step} "
            f"(inner lr {lr_txt}); try a smaller |inner lr| or fewer inner steps"
        )
    else:
        bad = np.flatnonzero(~np.isfinite(outer))
        task, step = (int(bad[0]) if bad.size else None), None
        msg = (
            f"outer loss or meta-gradient non-finite at meta-step {meta_step}, task {task} "
            f"(inner lr {lr_txt}); try a smaller meta learning rate or inner lr"
        )
    raise DivergenceError(msg, meta_step=meta_step, task=task, inner_step=step, lr=lr)
