"""Shared plotting conventions (theory dashed, simulation solid with error bars) and a readability check.

This module sits below the studies: they import it to draw; it imports nothing of metagrad.
"""

from __future__ import annotations

from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

__all__ = ["layout_problems", "new_figure", "sim_errorbar", "theory_line"]


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


def _tick_labels(ax: Any) -> tuple[list[Any], set[int]]:
    """(tick labels drawn inside the view interval, ids of every tick label of `ax`)."""
    drawn, every = [], set()
    for axis in (ax.xaxis, ax.yaxis):
        lo, hi = sorted(axis.get_view_interval())
        pad = 1e-9 * max(abs(lo), abs(hi), 1.0)
        for tick in axis.get_major_ticks() + axis.get_minor_ticks():
            for lab in (tick.label1, tick.label2):
                every.add(id(lab))
                inside = lo - pad <= tick.get_loc() <= hi + pad
                if inside and lab.get_visible() and tick.get_visible() and lab.get_text().strip():
                    drawn.append(lab)
    return drawn, every


def _texts(fig: Any) -> list[Any]:
    """Every text artist that is drawn: titles, axis labels, drawn tick labels, legends, notes."""
    from matplotlib.text import Text

    drawn, skip = [], set()
    for ax in fig.axes:
        labels, every = _tick_labels(ax)
        skip |= every
        if ax.get_visible():
            drawn.extend(labels)
    for t in fig.findobj(Text):
        if id(t) in skip or not t.get_visible() or not t.get_text().strip():
            continue
        if t.axes is not None and not t.axes.get_visible():
            continue
        drawn.append(t)
    return drawn


def _overlap(a: Any, b: Any) -> float:
    """Area of the intersection of two display-space boxes over the smaller box's area."""
    w = min(a.x1, b.x1) - max(a.x0, b.x0)
    h = min(a.y1, b.y1) - max(a.y0, b.y0)
    if w <= 0 or h <= 0:
        return 0.0
    small = min(a.width * a.height, b.width * b.height)
    return w * h / small if small > 0 else 0.0


def layout_problems(fig: Any, *, min_overlap: float = 0.1) -> list[str]:
    """What makes a figure hard to read: empty panels, overlapping text, unnamed curves.

    - an empty panel: a visible axes with no data, image, table or text;
    - overlapping text: two visible text artists (titles, axis and tick labels, legend entries,
      annotations) whose boxes overlap by more than `min_overlap` of the smaller box;
    - unnamed curves: an axes with two or more lines and no legend.

    Returns:
        One sentence per problem (an empty list for a readable figure).
    """
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    problems: list[str] = []
    for i, ax in enumerate(fig.axes):
        if not ax.get_visible():
            continue
        name = ax.get_title() or f"panel {i}"
        has = ax.has_data() or ax.tables or ax.images or [
            t for t in ax.texts if t.get_visible() and t.get_text().strip()
        ]
        if not has:
            problems.append(f"empty axes: {name!r}")
        lines = [ln for ln in ax.get_lines() if ln.get_visible() and len(ln.get_xdata()) > 1]
        if len(lines) >= 2 and ax.get_legend() is None:
            problems.append(f"{len(lines)} curves and no legend in {name!r}")
    texts = _texts(fig)
    boxes = [(t, t.get_window_extent(renderer)) for t in texts]
    for i in range(len(boxes)):
        for j in range(i + 1, len(boxes)):
            (ta, ba), (tb, bb) = boxes[i], boxes[j]
            if _overlap(ba, bb) > min_overlap:
                problems.append(f"overlapping text: {ta.get_text()!r} and {tb.get_text()!r}")
    return problems
