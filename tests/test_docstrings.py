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
