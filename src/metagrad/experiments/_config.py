"""Typed, frozen, validated experiment configurations.

An experiment's config is a frozen dataclass deriving from :class:`ExperimentConfig` whose fields
are declared with :func:`param`, which records a docstring and the allowed range. Values are
validated when the config is built (before any compute), and command-line overrides
(``--set key=value``) are parsed to the field's type.
"""

from __future__ import annotations

import dataclasses
import json
import math
import typing
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["ConfigError", "ExperimentConfig", "param"]


class ConfigError(ValueError):
    """An invalid configuration value; the message names the key and the allowed range."""


def param(
    default: Any,
    doc: str,
    *,
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
    lt: float | None = None,
    choices: Sequence[Any] | None = None,
    cost: float | None = None,
    min_len: int | None = None,
    max_len: int | None = None,
) -> Any:
    """Declare a config field with a docstring and an allowed range.

    Args:
        default: default value (tuples for sequences, so that configs stay hashable).
        doc: one-line description, shown by ``metagrad show``.
        ge, gt, le, lt: bounds applied to the value, or to every element of a tuple value.
        choices: the allowed values, for categorical fields.
        cost: the exponent with which the run's time grows in this value (in the length of a
            tuple value): 1 for a number of samples, runs or grid points, -1 for a step size, 2
            for a quadratic grid. Used to estimate a config's cost before compute.

    Returns:
        A ``dataclasses.field`` carrying the metadata.
    """
    meta = {"doc": doc, "ge": ge, "gt": gt, "le": le, "lt": lt, "choices": choices, "cost": cost,
            "min_len": min_len, "max_len": max_len}
    return dataclasses.field(default=default, metadata=meta)


def _range_text(meta: Mapping[str, Any]) -> str:
    parts = []
    if meta.get("choices") is not None:
        return "one of " + ", ".join(repr(c) for c in meta["choices"])
    for key, sym in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
        if meta.get(key) is not None:
            parts.append(f"{sym} {meta[key]}")
    return " and ".join(parts) if parts else "any value"


def _check_scalar(name: str, value: Any, meta: Mapping[str, Any]) -> None:
    if meta.get("choices") is not None:
        if value not in meta["choices"]:
            raise ConfigError(f"{name}={value!r} is not allowed: expected {_range_text(meta)}.")
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(
            f"{name}={value!r} is not allowed: expected a finite number, {_range_text(meta)}."
        )
    ok = (
        (meta.get("ge") is None or value >= meta["ge"])
        and (meta.get("gt") is None or value > meta["gt"])
        and (meta.get("le") is None or value <= meta["le"])
        and (meta.get("lt") is None or value < meta["lt"])
    )
    if not ok:
        raise ConfigError(f"{name}={value!r} is out of range: expected {_range_text(meta)}.")


def _check_length(name: str, value: Any, meta: Mapping[str, Any]) -> None:
    if not isinstance(value, tuple):
        return
    lo, hi = meta.get("min_len"), meta.get("max_len")
    if (lo is not None and len(value) < lo) or (hi is not None and len(value) > hi):
        want = f"{lo}" if lo == hi else f"{lo if lo is not None else 0} to {hi if hi is not None else 'any'}"
        raise ConfigError(f"{name}={list(value)!r} has {len(value)} elements: expected {want}.")


def _coerce(name: str, value: Any, tp: Any) -> Any:
    """Convert `value` to the annotated type `tp`, or raise a ConfigError naming `name`."""
    origin = typing.get_origin(tp)
    if origin is typing.Union or (
        origin is not None and str(origin) == "<class 'types.UnionType'>"
    ):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None:
            return None
        tp = args[0]
        origin = typing.get_origin(tp)
    if origin is tuple:
        args = typing.get_args(tp)
        if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
            raise ConfigError(f"{name}={value!r} has the wrong type: expected a sequence such as [1,2].")
        if args and args[-1] is not Ellipsis:  # fixed length, one type per position
            if len(value) != len(args):
                raise ConfigError(
                    f"{name}={list(value)!r} must have exactly {len(args)} elements "
                    f"({', '.join(getattr(a, '__name__', str(a)) for a in args)})."
                )
            return tuple(_coerce(f"{name}[{i}]", v, a) for i, (v, a) in enumerate(zip(value, args)))
        elem = args[0] if args else Any
        return tuple(_coerce(f"{name}[{i}]", v, elem) for i, v in enumerate(value))
    if tp is Any:
        return value
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{name}={value!r} has the wrong type: expected true or false.")
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise ConfigError(f"{name}={value!r} has the wrong type: expected an integer.")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{name}={value!r} has the wrong type: expected a number.")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{name}={value!r} has the wrong type: expected a string.")
        return value
    return value


@dataclasses.dataclass(frozen=True)
class ExperimentConfig:
    """Base class of experiment configs: frozen dataclasses validated when built.

    Subclasses declare fields with :func:`param` and may override :meth:`check` for
    constraints between fields (e.g. ``K <= N``); it must raise :class:`ConfigError`.
    """

    def __post_init__(self) -> None:
        hints = typing.get_type_hints(type(self))
        for f in dataclasses.fields(self):
            value = _coerce(f.name, getattr(self, f.name), hints.get(f.name, Any))
            object.__setattr__(self, f.name, value)
            values = value if isinstance(value, tuple) else (value,)
            for v in values:
                _check_scalar(f.name, v, f.metadata)
            _check_length(f.name, value, f.metadata)
        self.check()

    def check(self) -> None:
        """Cross-field validation; override in subclasses. Raise ConfigError on failure."""

    @classmethod
    def build(cls, values: Mapping[str, Any] | None = None, **overrides: Any):
        """Build from a mapping of values, rejecting unknown keys with the list of known ones."""
        merged = {**(values or {}), **overrides}
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(merged) - known)
        if unknown:
            raise ConfigError(
                f"unknown config key(s) {', '.join(unknown)} for {cls.__name__}; "
                f"known keys: {', '.join(sorted(known))}."
            )
        return cls(**merged)

    def replace(self, **changes: Any):
        """A copy with some fields changed (validated)."""
        return type(self).build(self.to_dict(), **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable dict of the field values."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    @classmethod
    def describe(cls) -> list[tuple[str, str, Any, str, str]]:
        """Rows (name, type, default, allowed range, doc) for ``metagrad show``."""
        hints = typing.get_type_hints(cls)
        rows = []
        for f in dataclasses.fields(cls):
            tp = hints.get(f.name, Any)
            rows.append(
                (
                    f.name,
                    getattr(tp, "__name__", str(tp)),
                    f.default,
                    _range_text(f.metadata),
                    f.metadata.get("doc", ""),
                )
            )
        return rows

    @classmethod
    def parse_override(cls, text: str) -> tuple[str, Any]:
        """Parse ``key=value`` from the command line; the value is read as JSON if it can be.

        ``eta_w=3``, ``etas=[1,2,3]``, ``etas=(1,2,3)``, ``activation=linear`` and ``flag=true``
        all work (a parenthesised tuple is read as a JSON list).
        """
        if "=" not in text:
            raise ConfigError(f"override {text!r} must look like key=value.")
        key, raw = text.split("=", 1)
        key = key.strip()
        known = {f.name for f in dataclasses.fields(cls)}
        if key not in known:
            raise ConfigError(
                f"unknown config key {key!r} for {cls.__name__}; known keys: {', '.join(sorted(known))}."
            )
        text = raw.strip()
        if text.startswith("(") and text.endswith(")"):
            text = "[" + text[1:-1].rstrip().rstrip(",") + "]"
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            value = raw
        if isinstance(value, list):
            value = tuple(value)
        return key, value
