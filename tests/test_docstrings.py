"""Every public name of every metagrad module has a docstring (style guide, practice 1)."""

import importlib
import inspect
import pkgutil

import metagrad


def _public_modules():
    for info in pkgutil.walk_packages(metagrad.__path__, "metagrad."):
        if any(part.startswith("_") for part in info.name.split(".")[1:]):
            continue
        yield importlib.import_module(info.name)


def test_every_exported_name_has_a_docstring():
    missing = []
    for mod in _public_modules():
        if not (mod.__doc__ or "").strip():
            missing.append(mod.__name__)
        for name in getattr(mod, "__all__", ()):
            obj = getattr(mod, name)
            if (inspect.isfunction(obj) or inspect.isclass(obj)) and not (
                obj.__doc__ or ""
            ).strip():
                missing.append(f"{mod.__name__}.{name}")
    assert not missing, missing


def test_code_and_docs_cite_nothing_outside_the_repository():
    """Citations name the papers' own equations/sections and docs/ pages, never the private specs."""
    import re
    from pathlib import Path

    root = Path(metagrad.__file__).resolve().parents[2]
    pattern = re.compile(
        r"\bspec(?:s)? ?(?:§|\d{3}\b|[AVT]\d+\b)|\bseeds/00\d|\bshared/spec|\bthe spec\b"
    )
    files = [*root.joinpath("src").rglob("*.py"), *root.joinpath("docs").rglob("*.md"),
             root / "README.md", root / "BENCHMARKS.md"]
    hits = [
        f"{p.relative_to(root)}:{i}: {line.strip()[:80]}"
        for p in files
        for i, line in enumerate(p.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert not hits, "\n".join(hits)
