"""Study results as trees of named fields; seeds merged by one function.

A study's result is a frozen dataclass whose fields are NumPy arrays, Python numbers, booleans,
strings, ``None``, nested result dataclasses, or ``dict[str, ...]`` / tuples of those. The tree is
flattened to named arrays only inside the result store (:func:`flatten`, :func:`unflatten`).

A result class may declare ``nan_ok: ClassVar[tuple[str, ...]]``: the fields in which NaN is a
legitimate value (e.g. "never crossed"); a non-finite value anywhere else marks the point diverged.
"""

from __future__ import annotations

import dataclasses
import importlib
import warnings
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

import numpy as np

__all__ = ["Seeds", "flatten", "merge_seeds", "nonfinite", "tree_map", "unflatten"]

R = TypeVar("R")
_SEP = "/"


def _is_node(x: Any) -> bool:
    return (dataclasses.is_dataclass(x) and not isinstance(x, type)) or isinstance(
        x, (dict, tuple, list)
    )


def _children(x: Any) -> list[tuple[str, Any]]:
    if dataclasses.is_dataclass(x):
        return [(f.name, getattr(x, f.name)) for f in dataclasses.fields(x)]
    if isinstance(x, dict):
        return [(str(k), v) for k, v in x.items()]
    return [(str(i), v) for i, v in enumerate(x)]


def _rebuild(template: Any, values: list[Any]) -> Any:
    if dataclasses.is_dataclass(template):
        names = [f.name for f in dataclasses.fields(template)]
        return type(template)(**dict(zip(names, values)))
    if isinstance(template, dict):
        return dict(zip(template.keys(), values))
    return type(template)(values)


def tree_map(fn: Callable[..., Any], tree: Any, *rest: Any, path: str = "") -> Any:
    """Apply ``fn(path, leaf, *other_leaves)`` to every leaf of `tree` (and the same leaves of `rest`).

    Leaves are everything that is not a dataclass instance, dict, tuple or list. `path` is the
    ``/``-joined field names from the root, e.g. ``"curves/fo_anil/star_min"``.
    """
    if not _is_node(tree):
        return fn(path, tree, *rest)
    kids = _children(tree)
    others = [_children(r) for r in rest]
    out = []
    for i, (name, child) in enumerate(kids):
        sub = f"{path}{_SEP}{name}" if path else name
        out.append(tree_map(fn, child, *(o[i][1] for o in others), path=sub))
    return _rebuild(tree, out)


def _nan_ok_paths(tree: Any, path: str = "") -> set[str]:
    """Paths declared NaN-tolerant by the ``nan_ok`` class attribute of any dataclass in the tree."""
    paths: set[str] = set()
    if not _is_node(tree):
        return paths
    if dataclasses.is_dataclass(tree):
        paths |= {f"{path}{_SEP}{n}" if path else n for n in getattr(tree, "nan_ok", ())}
    for name, child in _children(tree):
        paths |= _nan_ok_paths(child, f"{path}{_SEP}{name}" if path else name)
    return paths


def _covered(path: str, prefixes: set[str]) -> bool:
    return any(path == p or path.startswith(p + _SEP) for p in prefixes)


def _is_numeric(leaf: Any) -> bool:
    if isinstance(leaf, bool):
        return False
    if isinstance(leaf, (int, float, np.number)):
        return True
    return isinstance(leaf, np.ndarray) and np.issubdtype(leaf.dtype, np.number)


def nonfinite(result: Any) -> list[str]:
    """Paths of numeric leaves holding NaN/inf outside the fields declared in ``nan_ok``."""
    ok = _nan_ok_paths(result)
    bad: list[str] = []

    def visit(path: str, leaf: Any) -> None:
        if _is_numeric(leaf) and not _covered(path, ok) and not np.all(np.isfinite(leaf)):
            bad.append(path)

    tree_map(visit, result)
    return bad


@dataclasses.dataclass(frozen=True)
class Seeds(Generic[R]):
    """The results of several seeds of one study, merged (see :func:`merge_seeds`).

    Attributes:
        mean: the result with every numeric leaf replaced by its mean over seeds (NaN-ignoring in
            ``nan_ok`` fields); non-numeric leaves (strings, booleans) are those of the first seed.
        std: the same tree with the standard deviation over seeds (ddof = 0; zeros for one seed).
        values: the same tree with every leaf stacked over seeds along a new leading axis.
        n: the number of seeds.
    """

    mean: R
    std: R
    values: R
    n: int


def merge_seeds(results: Sequence[R]) -> Seeds[R]:
    """Merge per-seed results of one study: mean, standard deviation and stacked values per leaf.

    Numeric leaves are averaged (``np.nanmean`` in ``nan_ok`` fields) and Python numbers stay
    Python floats; other leaves are taken from the first seed. With one seed the mean *is* that
    result (not a copy), so a single-seed run is plotted and checked exactly as it was computed.
    """
    if not results:
        raise ValueError("merge_seeds needs at least one result.")
    first = results[0]
    ok = _nan_ok_paths(first)

    def stack(path: str, *leaves: Any) -> Any:
        return np.stack([np.asarray(v) for v in leaves])

    def reduce(fn: Callable, nan_fn: Callable) -> Callable:
        def leaf(path: str, *leaves: Any) -> Any:
            if not _is_numeric(leaves[0]):
                return leaves[0]
            s = np.stack([np.asarray(v, dtype=float) for v in leaves])
            with warnings.catch_warnings():  # an all-NaN entry of a nan_ok field stays NaN, silently
                warnings.simplefilter("ignore", RuntimeWarning)
                out = (nan_fn if _covered(path, ok) else fn)(s, axis=0)
            return float(out) if np.ndim(out) == 0 and not isinstance(leaves[0], np.ndarray) else out

        return leaf

    values = tree_map(stack, first, *results[1:])
    std = tree_map(reduce(np.std, np.nanstd), first, *results[1:])
    mean = first if len(results) == 1 else tree_map(reduce(np.mean, np.nanmean), first, *results[1:])
    return Seeds(mean=mean, std=std, values=values, n=len(results))


def flatten(result: Any) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """(arrays by path, JSON layout) of a result tree; :func:`unflatten` inverts it exactly."""
    arrays: dict[str, np.ndarray] = {}

    def layout(x: Any, path: str) -> dict[str, Any]:
        if dataclasses.is_dataclass(x) and not isinstance(x, type):
            cls = type(x)
            kids = {n: layout(v, f"{path}{_SEP}{n}" if path else n) for n, v in _children(x)}
            return {"dataclass": f"{cls.__module__}:{cls.__qualname__}", "fields": kids}
        if isinstance(x, dict):
            for k in x:
                if not isinstance(k, str) or _SEP in k:
                    raise TypeError(f"result dict keys must be strings without '/': {k!r} at {path!r}")
            return {"dict": {k: layout(v, f"{path}{_SEP}{k}" if path else k) for k, v in x.items()}}
        if isinstance(x, (tuple, list)):
            kind = "tuple" if isinstance(x, tuple) else "list"
            return {kind: [layout(v, f"{path}{_SEP}{i}" if path else str(i)) for i, v in enumerate(x)]}
        if x is None or isinstance(x, str):
            return {"leaf": "value", "value": x}
        if isinstance(x, (bool, np.bool_)):
            return {"leaf": "bool", "value": bool(x)}
        if isinstance(x, (int, float, np.number)):
            arrays[path] = np.asarray(x)
            return {"leaf": "int" if isinstance(x, (int, np.integer)) else "float", "path": path}
        if isinstance(x, np.ndarray) or hasattr(x, "__array__"):
            arrays[path] = np.asarray(x)
            return {"leaf": "array", "path": path}
        raise TypeError(f"result leaf {path!r} has unsupported type {type(x).__name__}.")

    return arrays, layout(result, "")


def _resolve(name: str) -> type:
    module, _, qual = name.partition(":")
    obj: Any = importlib.import_module(module)
    for part in qual.split("."):
        obj = getattr(obj, part)
    return obj


def unflatten(arrays: dict[str, np.ndarray], layout: dict[str, Any]) -> Any:
    """Rebuild the result tree from :func:`flatten`'s output (raises KeyError/TypeError if malformed)."""
    if not isinstance(layout, dict):
        raise TypeError(f"layout node must be an object, got {type(layout).__name__}")
    if "dataclass" in layout:
        cls = _resolve(layout["dataclass"])
        return cls(**{n: unflatten(arrays, v) for n, v in layout["fields"].items()})
    if "dict" in layout:
        return {k: unflatten(arrays, v) for k, v in layout["dict"].items()}
    if "tuple" in layout:
        return tuple(unflatten(arrays, v) for v in layout["tuple"])
    if "list" in layout:
        return [unflatten(arrays, v) for v in layout["list"]]
    kind = layout["leaf"]
    if kind == "value":
        return layout["value"]
    if kind == "bool":
        return bool(layout["value"])
    a = arrays[layout["path"]]
    if kind == "int":
        return int(a)
    if kind == "float":
        return float(a)
    return a
