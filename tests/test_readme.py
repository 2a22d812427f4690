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
