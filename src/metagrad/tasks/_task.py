"""The task container shared by samplers and algorithms."""

from __future__ import annotations

from typing import NamedTuple

from jaxtyping import Array

__all__ = ["Task"]


class Task(NamedTuple):
    """One task (or, with a leading axis on every field, a batch of tasks).

    Attributes:
        x_support: support inputs, `[n_support, ...]` (or `[tasks, n_support, ...]`).
        y_support: support targets, `[n_support, ...]`: float targets or int class labels.
        x_query: query inputs, `[n_query, ...]`.
        y_query: query targets, `[n_query, ...]`.
        classes: global class index of each of the task's N ways, `[N]` (few-shot tasks;
            used by MTL's global head), or None for regression tasks.
    """

    x_support: Array
    y_support: Array
    x_query: Array
    y_query: Array
    classes: Array | None = None

    @property
    def support(self) -> tuple[Array, Array]:
        """`(x_support, y_support)`."""
        return self.x_support, self.y_support

    @property
    def query(self) -> tuple[Array, Array]:
        """`(x_query, y_query)`."""
        return self.x_query, self.y_query
