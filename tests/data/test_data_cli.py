"""`metagrad data` sub-app through typer's runner."""

from typer.testing import CliRunner

from metagrad.data._cli import data_app

runner = CliRunner()
ENV = {"COLUMNS": "200"}


def test_list_names_every_dataset(tmp_path):
    from metagrad.data import DATASETS

    out = runner.invoke(data_app, ["list", "--data", str(tmp_path)], env=ENV)
    assert out.exit_code == 0, out.output
    for name in DATASETS:
        assert name in out.output
    assert str(tmp_path) in out.output


def test_prepare_then_show_writes_grid(folder_root, tmp_path):
    cache = str(tmp_path / "cache")
    out = runner.invoke(data_app, ["prepare", "folder", str(folder_root), "--data", cache], env=ENV)
    assert out.exit_code == 0, out.output
    assert "train" in out.output and "12" in out.output
    grid = tmp_path / "grid.png"
    out = runner.invoke(data_app, ["show", "folder", "--data", cache, "--grid", str(grid)], env=ENV)
    assert out.exit_code == 0, out.output
    assert grid.stat().st_size > 0


def test_prepare_bad_path_explains_layout(tmp_path):
    out = runner.invoke(
        data_app, ["prepare", "cifar-fs", str(tmp_path / "nope"), "--data", str(tmp_path)], env=ENV
    )
    assert out.exit_code == 2
    assert "CIFAR_FS_train.pickle" in out.output and "does not exist" in out.output


def test_show_unprepared_and_unknown(tmp_path):
    out = runner.invoke(data_app, ["show", "omniglot", "--data", str(tmp_path)], env=ENV)
    assert out.exit_code == 2 and "metagrad data prepare omniglot" in out.output
    out = runner.invoke(data_app, ["show", "imagenet-1k", "--data", str(tmp_path)], env=ENV)
    assert out.exit_code == 2 and "unknown" in out.output


def test_show_digits(tmp_path):
    grid = tmp_path / "d.png"
    out = runner.invoke(data_app, ["show", "digits", "--grid", str(grid)], env=ENV)
    assert out.exit_code == 0, out.output
    assert grid.is_file()


def test_errors_are_not_wrapped_at_narrow_widths(tmp_path, monkeypatch):
    """A long path in an error stays whole on one line, whatever the terminal width."""
    from metagrad.data import _cli

    monkeypatch.setattr(_cli._err, "width", 30)
    bad = tmp_path / ("deep-" * 8) / "nope"
    out = runner.invoke(data_app, ["prepare", "cifar-fs", str(bad), "--data", str(tmp_path)])
    assert out.exit_code == 2
    assert f"Found: {bad} does not exist" in out.output
