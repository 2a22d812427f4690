"""Code fingerprints: a hash of a module's source and of every metagrad module whose code it uses.

The result store keys a point by (study, config, seed, version, fingerprint of the study's module),
so editing a function the study uses (directly or through any chain of imports inside the package)
invalidates its stored points, while editing an unrelated module does not.

Imports are read from the source with :mod:`ast` (nothing is executed), per name:

- A plain module counts whole: its source is hashed and all its imports are followed.
- A package counts with its *own code* only: its ``__init__`` without the docstring, ``__all__``
  and the top-level imports that only re-export names (a top-level import whose bound name the rest
  of the ``__init__`` never uses). Importing a package's submodule runs every enclosing package's
  ``__init__``, so each enclosing package's own code counts too.
- ``from pkg import name`` with ``pkg`` a package follows ``name`` to what defines it: through the
  ``__init__``'s re-export (``from pkg._impl import name as name`` → ``pkg._impl``, recursively
  through re-exporting packages), to the submodule ``pkg.name``, or to the ``__init__``'s own code.
  The re-export line itself is hashed, so re-pointing a name changes the fingerprint; the package's
  other re-exports and the siblings they import do not count. A name the ``__init__`` does not
  bind statically, and ``from pkg import *``, count every re-export (as before).
- ``import pkg`` / ``import pkg.sub as s``: the attribute chains used on the bound name
  (``pkg.sub.name``) are followed the same way; a bound name used other than through attributes
  counts every re-export of the package.

Only modules under the same top-level package as the root module are followed. What is not seen:
imports made with :func:`importlib.import_module` or ``__import__`` on computed strings, and
module-level side effects of a sibling that a package's ``__init__`` imports but whose names the
study does not use (metagrad keeps process-wide settings, such as JAX's 64-bit mode, in the top
package's own code, which counts).
"""

from __future__ import annotations

import ast
import dataclasses
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


_PARSED: dict[tuple[str, int, int], tuple[str, ast.Module]] = {}


def _parse(origin: str) -> tuple[str, ast.Module]:
    """The module's source and AST, cached by (path, mtime, size) so that an edited file is parsed
    again."""
    st = Path(origin).stat()
    key = (origin, st.st_mtime_ns, st.st_size)
    if key not in _PARSED:
        text = Path(origin).read_text()
        _PARSED[key] = (text, ast.parse(text, filename=origin))
    return _PARSED[key]


def _absolute(node: ast.ImportFrom, package: str) -> str:
    """The absolute module name of a (possibly relative) ``from ... import`` statement."""
    if not node.level:
        return node.module or ""
    parts = package.split(".")
    base = ".".join(parts[: len(parts) - node.level + 1])
    return f"{base}.{node.module}" if node.module else base


def _bound_name(node: ast.Import | ast.ImportFrom, alias: ast.alias) -> str:
    if alias.asname:
        return alias.asname
    return alias.name.split(".")[0] if isinstance(node, ast.Import) else alias.name


def _binding_text(node: ast.Import | ast.ImportFrom, alias: ast.alias) -> str:
    """One alias of an import statement as canonical text (what is hashed for a re-export)."""
    if isinstance(node, ast.Import):
        return f"import {alias.name} as {_bound_name(node, alias)}"
    return (f"from {'.' * node.level}{node.module or ''} import {alias.name} "
            f"as {_bound_name(node, alias)}")


@dataclasses.dataclass
class _Init:
    """A package ``__init__`` split into its own code and its re-exports.

    Attributes:
        own_text: the kept statements' source (docstring, ``__all__`` and re-exports removed).
        own: the kept statements (imports among them as single-alias statements).
        exports: bound name → the single-alias import statement that re-exports it.
        defined: names the own code binds (definitions, assignments, kept imports).
    """

    own_text: str
    own: list[ast.stmt]
    exports: dict[str, ast.Import | ast.ImportFrom]
    defined: set[str]


_INITS: dict[tuple[str, int, int], _Init] = {}


def _init_info(origin: str) -> _Init:
    """The own code and re-exports of the package ``__init__`` at `origin` (cached like `_parse`)."""
    st = Path(origin).stat()
    key = (origin, st.st_mtime_ns, st.st_size)
    if key in _INITS:
        return _INITS[key]
    text, tree = _parse(origin)
    body = list(tree.body)
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        body = body[1:]  # docstring

    def is_all(stmt: ast.stmt) -> bool:
        targets = (stmt.targets if isinstance(stmt, ast.Assign)
                   else [stmt.target] if isinstance(stmt, (ast.AnnAssign, ast.AugAssign)) else [])
        return any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets)

    rest = [s for s in body if not isinstance(s, (ast.Import, ast.ImportFrom)) and not is_all(s)]
    used = {n.id for s in rest for n in ast.walk(s) if isinstance(n, ast.Name)}
    own: list[ast.stmt] = []
    parts: list[str] = []
    exports: dict[str, ast.Import | ast.ImportFrom] = {}
    defined: set[str] = set()
    for stmt in body:
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            for alias in stmt.names:
                single: ast.Import | ast.ImportFrom = (
                    ast.Import(names=[alias]) if isinstance(stmt, ast.Import)
                    else ast.ImportFrom(module=stmt.module, names=[alias], level=stmt.level))
                bound = _bound_name(stmt, alias)
                if alias.name == "*" or bound in used:
                    own.append(single)
                    parts.append(_binding_text(stmt, alias))
                    defined.add(bound)
                exports[bound] = single
        elif not is_all(stmt):
            own.append(stmt)
            parts.append(ast.get_source_segment(text, stmt) or ast.dump(stmt))
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                defined.add(stmt.name)
            else:
                defined.update(n.id for n in ast.walk(stmt)
                               if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store))
    info = _Init("\n".join(parts), own, exports, defined)
    _INITS[key] = info
    return info


def _chains(nodes: list[ast.AST], names: set[str]) -> list[tuple[str, list[str]]]:
    """Every maximal attribute chain ``b.x1.x2...`` on a name `b` in `names` (``[]``: bare use)."""
    out: list[tuple[str, list[str]]] = []
    stack: list[ast.AST] = list(nodes)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Attribute):
            attrs, cur = [], node
            while isinstance(cur, ast.Attribute):
                attrs.append(cur.attr)
                cur = cur.value
            if isinstance(cur, ast.Name) and cur.id in names:
                out.append((cur.id, attrs[::-1]))
                continue
        elif isinstance(node, ast.Name) and node.id in names:
            out.append((node.id, []))
            continue
        stack.extend(ast.iter_child_nodes(node))
    return out


class _Deps:
    """The modules and package names that module `root` uses, found by a work list."""

    def __init__(self, root: str) -> None:
        self.top = root.split(".")[0]
        self.origins: dict[str, str | None] = {}
        self.modules: dict[str, str] = {}          # used module → source path
        self.names: dict[str, dict[str, str]] = {}  # package → {requested name: resolution}
        self.todo: list[tuple[str, ...]] = [("mod", root)]
        while self.todo:
            item = self.todo.pop()
            if item[0] == "mod":
                self._module(item[1])
            else:
                self._name(item[1], item[2])

    def origin(self, name: str) -> str | None:
        if name not in self.origins:
            ok = name == self.top or name.startswith(self.top + ".")
            self.origins[name] = _spec_origin(name) if ok else None
        return self.origins[name]

    def is_package(self, name: str) -> bool:
        origin = self.origin(name)
        return origin is not None and _is_package(origin)

    def _module(self, name: str) -> None:
        origin = self.origin(name)
        if name in self.modules or origin is None:
            return
        self.modules[name] = origin
        parts = name.split(".")
        self.todo.extend(("mod", ".".join(parts[:i])) for i in range(1, len(parts)))
        if _is_package(origin):
            self._uses(_init_info(origin).own, name, package=name)
        else:
            self._uses(list(_parse(origin)[1].body), name, package=name.rpartition(".")[0])

    def _request(self, pkg: str, attr: str) -> None:
        if attr not in self.names.get(pkg, {}):
            self.todo.append(("name", pkg, attr))

    def _uses(self, nodes: list[ast.stmt], name: str, package: str) -> None:
        """Queue what the statements `nodes` of module `name` import and use."""
        modules: dict[str, str] = {}  # bound name → the module object it refers to
        for node in (n for stmt in nodes for n in ast.walk(stmt)):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if self.origin(alias.name) is None:
                        continue
                    self.todo.append(("mod", alias.name))
                    bound = _bound_name(node, alias)
                    modules[bound] = alias.name if alias.asname else bound
            elif isinstance(node, ast.ImportFrom):
                mod = _absolute(node, package)
                if self.origin(mod) is None:
                    continue
                self.todo.append(("mod", mod))
                if not self.is_package(mod):
                    continue
                for alias in node.names:
                    self._request(mod, alias.name)
                    sub = f"{mod}.{alias.name}"
                    if alias.name != "*" and self.origin(sub) is not None:
                        modules[_bound_name(node, alias)] = sub
        for bound, attrs in _chains(list(nodes), set(modules)):
            self._chain(modules[bound], attrs)

    def _chain(self, mod: str, attrs: list[str]) -> None:
        """Follow ``mod.a1.a2...`` through packages and submodules."""
        for attr in attrs:
            if not self.is_package(mod):
                return
            self._request(mod, attr)
            if self.origin(f"{mod}.{attr}") is None:
                return
            mod = f"{mod}.{attr}"
            self.todo.append(("mod", mod))
        if self.is_package(mod):
            self._request(mod, "*")

    def _name(self, pkg: str, attr: str) -> None:
        """Resolve ``pkg.attr`` (pkg a package) to what defines it."""
        table = self.names.setdefault(pkg, {})
        if attr in table:
            return
        self.todo.append(("mod", pkg))
        info = _init_info(self.origin(pkg))  # type: ignore[arg-type]
        if attr.startswith("__") and attr.endswith("__") and attr not in info.exports \
                and attr not in info.defined:
            table[attr] = "module attribute"  # __path__, __name__, __file__: set by the import
            return
        if attr == "*" or (attr not in info.exports and attr not in info.defined
                           and self.origin(f"{pkg}.{attr}") is None):
            table[attr] = "*"
            for bound in info.exports:
                self._request(pkg, bound)
            return
        if attr in info.exports:
            node = info.exports[attr]
            table[attr] = _binding_text(node, node.names[0])
            self._uses([node], pkg, package=pkg)
            alias = node.names[0]
            target = (alias.name if isinstance(node, ast.Import)
                      else f"{_absolute(node, pkg)}.{alias.name}")
            if self.is_package(target) and not (isinstance(node, ast.ImportFrom)
                                                 and alias.name == attr):
                self._request(target, "*")  # a package object under another name
        elif attr in info.defined:
            table[attr] = "own code"
        else:
            table[attr] = "submodule"
            self.todo.append(("mod", f"{pkg}.{attr}"))


def module_dependencies(name: str) -> dict[str, str]:
    """{module name: source path} of `name` and every module of its package whose code it uses,
    transitively (a package stands for its ``__init__``'s own code and the names used from it)."""
    if _spec_origin(name) is None:
        raise ValueError(f"module {name!r} has no Python source to fingerprint.")
    return _Deps(name).modules


def code_fingerprint(name: str) -> str:
    """SHA-256 (20 hex digits) over the code `name` uses: its source, the sources of the plain
    modules it depends on, and of each package the own code and the re-exports of the names used.

    Re-read on every call (the files are small), so an edit made while a process runs is seen.
    """
    if _spec_origin(name) is None:
        raise ValueError(f"module {name!r} has no Python source to fingerprint.")
    deps = _Deps(name)
    h = hashlib.sha256()
    for mod, path in sorted(deps.modules.items()):
        if _is_package(path):
            names = sorted(deps.names.get(mod, {}).items())
            body = _init_info(path).own_text + "\0" + "\n".join(f"{k}: {v}" for k, v in names)
            h.update(mod.encode() + b"\0" + body.encode() + b"\0")
        else:
            h.update(mod.encode() + b"\0" + Path(path).read_bytes() + b"\0")
    return h.hexdigest()[:20]
