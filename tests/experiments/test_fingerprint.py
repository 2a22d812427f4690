"""Code fingerprints in the cache key: editing code a study uses invalidates its stored points,
editing an unrelated module does not (on a fixture package, and on metagrad's own import graph)."""

import dataclasses
import importlib
import sys
import textwrap

import numpy as np
import pytest

from metagrad.experiments import code_fingerprint
from metagrad.experiments._fingerprint import module_dependencies


def _package(tmp_path, monkeypatch, name, files):
    """Write package `name` from {relative path: source} under tmp_path, importable; then unload it."""
    root = tmp_path / name
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    yield root
    for m in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
        del sys.modules[m]


@pytest.fixture
def fixture_pkg(tmp_path, monkeypatch):
    """A package `fxpkg` whose study module imports a helper (relative and absolute imports)."""
    files = {
        "__init__.py": "",
        "sub/__init__.py": "",
        "helper.py": "def f(x):\n    return 2 * x\n",
        "sub/deep.py": "C = 3\n",
        "unrelated.py": "def g():\n    return 1\n",
        "study_mod.py": "from .helper import f\nfrom fxpkg.sub import deep\nimport numpy\n",
    }
    yield from _package(tmp_path, monkeypatch, "fxpkg", files)


def test_dependencies_follow_relative_absolute_and_package_imports(fixture_pkg):
    deps = set(module_dependencies("fxpkg.study_mod"))
    assert deps == {"fxpkg", "fxpkg.study_mod", "fxpkg.helper", "fxpkg.sub", "fxpkg.sub.deep"}


@pytest.mark.parametrize(
    ("edited", "changes"),
    [("helper.py", True), ("sub/deep.py", True), ("study_mod.py", True), ("unrelated.py", False)],
)
def test_editing_a_used_module_changes_the_fingerprint(fixture_pkg, edited, changes):
    before = code_fingerprint("fxpkg.study_mod")
    path = fixture_pkg / edited
    path.write_text(path.read_text() + "\n# edited\n")
    assert (code_fingerprint("fxpkg.study_mod") != before) is changes


@pytest.fixture
def package_pkg(tmp_path, monkeypatch):
    """A package `fxalg` whose `algos/__init__` re-exports names from its private siblings, like
    metagrad.algorithms; each study module uses `fa` (from `_a`, which uses `util`) differently."""
    files = {
        "__init__.py": '"""Top."""\nfrom fxalg._env import setup\n\nsetup()\n',
        "_env.py": "def setup():\n    return None\n",
        "util.py": "def helper(x):\n    return x + 1\n",
        "algos/__init__.py": (
            '"""Algorithms."""\n\nfrom fxalg.algos._a import fa as fa\n'
            "from fxalg.algos._b import fb as fb\nfrom ._c import C as C\n\n"
            '__all__ = ["C", "fa", "fb"]\n'
        ),
        "algos/_a.py": "from fxalg.util import helper\n\n\ndef fa(x):\n    return helper(x)\n",
        "algos/_b.py": "def fb():\n    return 2\n",
        "algos/_c.py": "C = 3\n",
        "use_from.py": "from fxalg.algos import fa\n",
        "use_attr.py": "import fxalg.algos as al\n\nY = al.fa(1)\n",
        "use_module.py": "import fxalg.algos as al\n\nM = al\n",
    }
    yield from _package(tmp_path, monkeypatch, "fxalg", files)


def _edit(path, text=None):
    path.write_text(path.read_text() + "\n# edited\n" if text is None else text)


@pytest.mark.parametrize("study", ["use_from", "use_attr"])
@pytest.mark.parametrize(
    ("edited", "new_text", "changes"),
    [
        ("algos/_a.py", None, True),                 # the module defining the name used
        ("util.py", None, True),                     # what that module uses
        ("_env.py", None, True),                     # what the top package's own code runs
        ("algos/_b.py", None, False),                # an unrelated sibling
        ("algos/_c.py", None, False),
        ("algos/__init__.py", "from fxalg.algos._a import fa as fa\n", False),   # exports dropped
        ("algos/__init__.py", "from fxalg.algos._b import fb as fa\n", True),    # `fa` re-pointed
        ("algos/__init__.py", "from fxalg.algos._a import fa as fa\nK = 1\n", True),  # own code
    ],
)
def test_a_name_imported_from_a_package_depends_on_its_defining_module_only(
    package_pkg, study, edited, new_text, changes
):
    before = code_fingerprint(f"fxalg.{study}")
    _edit(package_pkg / edited, new_text)
    assert (code_fingerprint(f"fxalg.{study}") != before) is changes


def test_package_dependencies_and_conservative_fallbacks(package_pkg):
    assert set(module_dependencies("fxalg.use_from")) == {
        "fxalg", "fxalg._env", "fxalg.algos", "fxalg.algos._a", "fxalg.util", "fxalg.use_from"}
    # the package object itself is used (not only through attributes): every re-export counts
    assert {"fxalg.algos._b", "fxalg.algos._c"} <= set(module_dependencies("fxalg.use_module"))
    before = code_fingerprint("fxalg.use_module")
    _edit(package_pkg / "algos/_b.py")
    assert code_fingerprint("fxalg.use_module") != before
    # a name the __init__ does not bind statically (and that is no submodule) counts everything
    (package_pkg / "use_unknown.py").write_text("from fxalg.algos import missing\n")
    assert "fxalg.algos._b" in module_dependencies("fxalg.use_unknown")


def test_metagrad_studies_do_not_depend_on_unused_algorithms():
    """Editing metagrad/algorithms/_metaoptnet.py leaves e.g. the MAML and zou2022 studies valid."""
    maml = set(module_dependencies("metagrad.experiments.maml"))
    assert {"metagrad.algorithms._maml", "metagrad.models._mlp"} <= maml
    assert not {"metagrad.algorithms._metaoptnet", "metagrad.models._resnet12"} & maml
    zou = set(module_dependencies("metagrad.experiments.zou2022.linear"))
    assert "metagrad.experiments.zou2022.deep" not in zou and "metagrad.algorithms" not in zou


def test_metagrad_study_depends_on_the_theory_it_uses_only():
    deps = set(module_dependencies("metagrad.experiments.selfcheck"))
    assert "metagrad.theory.teacher_student" in deps and "metagrad.theory._ts_integrals" in deps
    assert "metagrad.theory.negative_lr" not in deps and "metagrad.cli" not in deps


def test_edited_code_invalidates_stored_points(fixture_pkg, tmp_path):
    """End to end: a study defined in the fixture package is recomputed after its helper changes."""
    (fixture_pkg / "fxstudy.py").write_text(textwrap.dedent('''
        import dataclasses
        import numpy as np
        from metagrad.experiments import ExperimentConfig, Study, param
        from fxpkg.helper import f

        @dataclasses.dataclass(frozen=True)
        class Cfg(ExperimentConfig):
            x: float = param(1.5, "input")

        @dataclasses.dataclass(frozen=True)
        class Res:
            y: float

        study = Study("fxpkg.double", title="t", paper="-", config=Cfg,
                      presets={"quick": {}, "paper": {}}, cost={"quick": "<1 s", "paper": "<1 s"})

        @study.run
        def run(config, *, key):
            return Res(float(f(config.x)))
    '''))
    from metagrad.sweep import ResultStore, run_study

    mod = importlib.import_module("fxpkg.fxstudy")
    store = ResultStore(tmp_path / "store")
    cfg = mod.study.config("quick")
    first = run_study(mod.study, cfg, store=store, progress=False)
    assert first.statuses[0]["status"] == "ok" and first.seeds_result.mean.y == 3.0
    (fixture_pkg / "unrelated.py").write_text("def g():\n    return 2\n")
    assert run_study(mod.study, cfg, store=store, progress=False).statuses[0]["status"] == "cached"
    (fixture_pkg / "helper.py").write_text("def f(x):\n    return 3 * x\n")
    sys.modules.pop("fxpkg.helper")
    sys.modules.pop("fxpkg.fxstudy")
    from metagrad.experiments._study import _STUDIES

    _STUDIES.pop("fxpkg.double")
    mod = importlib.import_module("fxpkg.fxstudy")
    again = run_study(mod.study, cfg.replace(), store=store, progress=False)
    assert again.statuses[0]["status"] == "ok" and again.seeds_result.mean.y == 4.5
    _STUDIES.pop("fxpkg.double")
    assert np.isfinite(again.seeds_result.mean.y) and dataclasses.is_dataclass(again.seeds_result.mean)
