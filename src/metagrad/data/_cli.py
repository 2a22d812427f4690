"""The `metagrad data` sub-command: list, prepare and show few-shot datasets."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from metagrad.data._registry import DATASETS, dataset_path, open_dataset, prepare
from metagrad.data._store import SPLITS, ClassDataset, data_dir

__all__ = ["data_app", "sample_grid"]

data_app = typer.Typer(
    help="Few-shot datasets: list, prepare (validate and convert) and show.",
    no_args_is_help=True,
    add_completion=False,
)
_console = Console()
_err = Console(stderr=True, soft_wrap=True)  # errors unwrapped: paths stay whole at any width

DataOpt = Annotated[
    Path | None,
    typer.Option("--data", help="Dataset cache (default $METAGRAD_DATA or ~/.cache/metagrad)."),
]


def _fail(message: str) -> None:
    _err.print(f"[bold red]error:[/] {message}", markup=True, highlight=False)
    raise typer.Exit(2)


@data_app.command("list")
def list_cmd(data: DataOpt = None) -> None:
    """Known datasets, where they are looked for and whether they are ready."""
    source = (
        "--data"
        if data is not None
        else (
            "$METAGRAD_DATA"
            if os.environ.get("METAGRAD_DATA")
            else "default; set $METAGRAD_DATA or --data"
        )
    )
    _console.print(f"dataset cache: {data_dir(data)} ({source})", highlight=False)
    table = Table()
    for col in ("name", "description", "status", "layouts accepted by prepare"):
        table.add_column(col)
    for name, info in DATASETS.items():
        ready = (dataset_path(name, data=data) / "meta.json").is_file()
        status = "generated" if info.make else ("prepared" if ready else "not prepared")
        table.add_row(name, info.description, status, "\n".join(info.layouts))
    _console.print(table)


@data_app.command("prepare")
def prepare_cmd(
    name: Annotated[str, typer.Argument(help="Dataset name (see `metagrad data list`).")],
    path: Annotated[Path | None, typer.Argument(help="The dataset's root on disk.")] = None,
    data: DataOpt = None,
    force: Annotated[bool, typer.Option("--force", help="Convert again if cached.")] = False,
    image_size: Annotated[
        int | None, typer.Option("--image-size", min=4, help="Resize images (image layouts).")
    ] = None,
) -> None:
    """Validate the dataset at PATH and convert it once into the cache."""
    if name not in DATASETS:
        _fail(f"dataset {name!r} is unknown; known: {', '.join(DATASETS)}")
    opts = {"image_size": image_size} if image_size is not None else {}
    try:
        ds = prepare(name, path, data=data, force=force, progress=True, **opts)
    except (ValueError, FileNotFoundError, TypeError) as e:
        _fail(str(e))
    _print_summary(ds)


@data_app.command("show")
def show_cmd(
    name: Annotated[str, typer.Argument(help="Dataset name.")],
    data: DataOpt = None,
    grid: Annotated[
        Path | None, typer.Option("--grid", help="Write a PNG grid of samples here.")
    ] = None,
    classes: Annotated[int, typer.Option("--classes", min=1, help="Classes in the grid.")] = 8,
    per_class: Annotated[int, typer.Option("--per-class", min=1, help="Images per class.")] = 8,
) -> None:
    """Classes and images per split, and a PNG grid of samples."""
    if name not in DATASETS:
        _fail(f"dataset {name!r} is unknown; known: {', '.join(DATASETS)}")
    try:
        ds = open_dataset(name, data=data)
    except (ValueError, FileNotFoundError) as e:
        _fail(str(e))
    _print_summary(ds)
    out = grid or Path(f"{name}_samples.png")
    sample_grid(ds, out, classes=classes, per_class=per_class)
    _console.print(f"sample grid: {out}")


def _print_summary(ds: ClassDataset) -> None:
    s = ds.summary()
    table = Table(title=f"{s['name']}: images {tuple(s['image_shape'])} (c, h, w)")
    for col in ("split", "classes", "images", "min images/class"):
        table.add_column(col)
    for sp in SPLITS:
        table.add_row(sp, str(s[sp]["classes"]), str(s[sp]["images"]), str(s[sp]["min_per_class"]))
    _console.print(table)


def sample_grid(ds: ClassDataset, path: Path, *, classes: int = 8, per_class: int = 8) -> Path:
    """Save a PNG grid: one row per class (spread over the classes), `per_class` images each."""
    from PIL import Image

    rows_idx = np.linspace(0, ds.n_classes - 1, min(classes, ds.n_classes)).round().astype(int)
    c, h, w = ds.image_shape
    rows = []
    for j in rows_idx:
        imgs = ds.class_images(int(j))[:per_class]
        pad = np.zeros((per_class - len(imgs), c, h, w), np.uint8)
        rows.append(np.concatenate(list(np.concatenate([imgs, pad])), axis=2))
    img = np.concatenate(rows, axis=1)
    img = img[0] if c == 1 else img.transpose(1, 2, 0)
    scale = max(1, 64 // h)
    pil = Image.fromarray(img)
    pil = pil.resize((pil.size[0] * scale, pil.size[1] * scale), Image.Resampling.NEAREST)
    path.parent.mkdir(parents=True, exist_ok=True)
    pil.save(path)
    return path
