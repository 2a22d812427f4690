"""Shared plotting conventions: theory dashed, simulation solid with error bars."""

from __future__ import annotations

from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

__all__ = ["new_figure", "theory_line", "sim_errorbar"]


def new_figure(ncols: int = 1, nrows: int = 1, *, width: float = 4.0, height: float = 3.2):
    """A figure with a grid of axes (always returned as a 2-D array) sized per panel."""
    fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows), squeeze=False)
    return fig, axes


def theory_line(ax: Any, x: Any, y: Any, *, label: str | None = None, **kw: Any) -> Any:
    """Plot a theory curve: dashed line."""
    kw.setdefault("linestyle", "--")
    return ax.plot(np.asarray(x), np.asarray(y), label=label, **kw)


def sim_errorbar(
    ax: Any, x: Any, mean: Any, err: Any = None, *, label: str | None = None, **kw: Any
) -> Any:
    """Plot simulation points: solid line with markers and error bars (`err` may be None)."""
    kw.setdefault("linestyle", "-")
    kw.setdefault("marker", "o")
    kw.setdefault("markersize", 3)
    kw.setdefault("capsize", 2)
    return ax.errorbar(
        np.asarray(x),
        np.asarray(mean),
        yerr=None if err is None else np.asarray(err),
        label=label,
        **kw,
    )
