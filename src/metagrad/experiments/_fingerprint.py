"""Code fingerprints: a hash of a module's source and of every metagrad module it imports.

The result store keys a point by (study, config, seed, version, fingerprint of the study's module),
so editing a function the study uses (directly or through any chain of imports inside the package)
invalidates its stored points, while editing an unrelated module does not.

Imports are read from the source with :mod:`ast` (nothing is executed); ``from a.b import c``
depends on ``a.b`` and, when ``a.b.c`` is a module, on it too. A package depends on its
``__init__``. Only modules under the same top-level package as the root module are followed.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
from pathlib import Path

__all__ = ["code_fingerprint", "module_dependencies"]


def _spec_origin(name: str) -> str | None:
    """Source file of module `name`, found on disk from its top-level package (nothing imported
    but that package)."""
    top, _, rest = name.partition(".")
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return spec.origin if spec is not None and not rest else None
    for base in spec.submodule_search_locations:
        path = Path(base, *rest.split(".")) if rest else Path(base)
        for cand in (path / "__init__.py", path.with_suffix(".py")):
            if rest == "" and cand.name != "__init__.py":
                continue
            if cand.is_file():
                return str(cand)
    return None


def _is_package(origin: str) -> bool:
    return Path(origin).name == "__init__.py"


_PARSED: dict[tuple[str, int, int], ast.AST] = {}


def _parse(origin: str) -> ast.AST:
    """The module's AST, cached by (path, mtime, size) so that an edited file is parsed again."""
    st = Path(origin).stat()
    key = (origin, st.st_mtime_ns, st.st_size)
    if key not in _PARSED:
        _PARSED[key] = ast.parse(Path(origin).read_text(), filename=origin)
    return _PARSED[key]


def _imports(name: str, origin: str, top: str) -> set[str]:
    """Module names under `top` imported by the module `name` whose file is `origin`."""
    tree = _parse(origin)
    package = name if _is_package(origin) else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1])
                mod = f"{base}.{node.module}" if node.module else base
            else:
                mod = node.module or ""
            found.add(mod)
            found.update(f"{mod}.{a.name}" for a in node.names)
    out = set()
    for mod in found:
        if mod == top or mod.startswith(top + "."):
            # every enclosing package's __init__ runs on import
            parts = mod.split(".")
            out.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
    return {m for m in out if _spec_origin(m) is not None}


def module_dependencies(name: str) -> dict[str, str]:
    """{module name: source path} of `name` and every module of its package it imports, transitively."""
    origin = _spec_origin(name)
    if origin is None:
        raise ValueError(f"module {name!r} has no Python source to fingerprint.")
    top = name.split(".")[0]
    seen = {name: origin}
    todo = [name]
    while todo:
        mod = todo.pop()
        for dep in _imports(mod, seen[mod], top):
            if dep not in seen:
                seen[dep] = _spec_origin(dep)  # type: ignore[assignment]
                todo.append(dep)
    return seen


def code_fingerprint(name: str) -> str:
    """SHA-256 (20 hex digits) over the sources of `name` and all its in-package dependencies.

    Re-read on every call (the files are small), so an edit made while a process runs is seen.
    """
    h = hashlib.sha256()
    for mod, path in sorted(module_dependencies(name).items()):
        h.update(mod.encode() + b"\0" + Path(path).read_bytes() + b"\0")
    return h.hexdigest()[:20]
