"""README.md stays true: its experiment table matches the registry; it shows the two commands."""

from pathlib import Path

from metagrad.report.readme import BEGIN, END, experiment_table

README = Path(__file__).resolve().parents[1] / "README.md"


def test_experiment_table_in_sync():
    text = README.read_text()
    block = text.split(BEGIN, 1)[1].split(END, 1)[0].strip()
    assert block == experiment_table(), "run: python -m metagrad.report.readme"


def test_setup_commands_present():
    text = README.read_text()
    assert "pip install -e . && metagrad reproduce --quick" in text
    assert "pip install -e '.[test]' && pytest -q" in text


def _python_blocks(text: str) -> list[str]:
    return [b.split("```", 1)[0] for b in text.split("```python\n")[1:]]


def test_api_tour_runs(tmp_path, monkeypatch):
    """Every Python block of the README runs, in order, in one namespace (as a reader would)."""
    blocks = _python_blocks(README.read_text())
    assert len(blocks) >= 3
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for block in blocks:
        exec(
            compile(
                block.replace("/tmp/metagrad-results", str(tmp_path / "results")), "README", "exec"
            ),
            namespace,
        )


def test_docs_links_resolve():
    root = README.parent
    import re

    for target in re.findall(r"\]\(([^)#]+)\)", README.read_text()):
        if not target.startswith("http"):
            assert (root / target).exists(), target
