"""Known datasets by name: where they are looked for, how they are prepared and opened."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np

from metagrad.data import _loaders as L
from metagrad.data._glyphs import glyphs
from metagrad.data._store import ClassDataset, data_dir, from_arrays, load_dataset

__all__ = ["DATASETS", "DatasetInfo", "prepare", "open_dataset", "digits", "dataset_path"]


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
    """A known dataset.

    Attributes:
        name: registry name. description: one line. layouts: the layouts `prepare` accepts
            (empty for generated datasets). classes: a loader `root -> [SourceClass]`, or None
            for generated datasets. make: a generator `(data) -> ClassDataset`, or None.
    """

    name: str
    description: str
    layouts: tuple[str, ...] = ()
    classes: Callable | None = None
    make: Callable | None = None


def digits() -> ClassDataset:
    """scikit-learn's ``load_digits`` (1797 8x8 images, 10 classes) for smoke tests.

    Classes 0–4 are train, 5–6 val, 7–9 test: 2- and 3-way tasks only. Pixel values 0..16 are
    scaled to 0..255.
    """
    from sklearn.datasets import load_digits

    d = load_digits()
    imgs = np.rint(d.images * (255 / 16)).astype(np.uint8)[:, None]
    per = [imgs[d.target == c] for c in range(10)]
    splits = ["train"] * 5 + ["val"] * 2 + ["test"] * 3
    return from_arrays(per, [f"digit {c}" for c in range(10)], splits, name="digits")


DATASETS: dict[str, DatasetInfo] = {
    d.name: d
    for d in (
        DatasetInfo(
            "glyphs",
            "font glyphs rendered offline, 28x28, 20 per class (Omniglot-like)",
            make=lambda data, progress=False: glyphs(size=28, data=data, progress=progress),
        ),
        DatasetInfo(
            "glyphs84",
            "font glyphs rendered offline, 84x84, 20 per class",
            make=lambda data, progress=False: glyphs(size=84, data=data, progress=progress),
        ),
        DatasetInfo(
            "glyphs-quick",
            "60 glyph classes x 10 images, 28x28 (tests, quick scale)",
            make=lambda data, progress=False: glyphs(
                size=28, n_instances=10, max_classes=60, data=data, progress=progress
            ),
        ),
        DatasetInfo(
            "digits",
            "scikit-learn load_digits, 8x8, 10 classes (2-3-way smoke tests)",
            make=lambda data, progress=False: digits(),
        ),
        DatasetInfo(
            "omniglot",
            "Omniglot, 28x28, rotations as extra classes",
            ("images_background/<alphabet>/<character>/*.png + images_evaluation/...",),
            L.omniglot_classes,
        ),
        DatasetInfo(
            "mini-imagenet",
            "mini-ImageNet, 84x84, 64/16/20 classes",
            (
                "miniImageNet_category_split_{train_phase_train,val,test}.pickle (MetaOptNet)",
                "mini-imagenet-cache-{train,val,test}.pkl (learn2learn)",
                "{train,val,test}/<class>/*.jpg",
                "images/*.jpg + {train,val,test}.csv (Ravi & Larochelle)",
            ),
            L.mini_imagenet_classes,
        ),
        DatasetInfo(
            "tiered-imagenet",
            "tiered-ImageNet, 84x84, 351/97/160 classes",
            (
                "{train,val,test}_images.npz + {split}_labels.pkl (RFS)",
                "{train,val,test}_images_png.pkl + {split}_labels.pkl (MetaOptNet)",
                "{train,val,test}/<class>/*.jpg",
            ),
            L.tiered_imagenet_classes,
        ),
        DatasetInfo(
            "cifar-fs",
            "CIFAR-FS, 32x32, 64/16/20 classes",
            ("CIFAR_FS_{train,val,test}.pickle (MetaOptNet)",),
            partial(L.cifar_pickle_classes, dataset="cifar-fs"),
        ),
        DatasetInfo(
            "fc100",
            "FC100, 32x32, 60/20/20 classes by super-class",
            ("FC100_{train,val,test}.pickle (MetaOptNet)",),
            partial(L.cifar_pickle_classes, dataset="fc100"),
        ),
        DatasetInfo(
            "folder",
            "any root/{train,val,test}/<class>/*.png",
            ("{train,val,test}/<class>/*.png",),
            L.folder_classes,
        ),
    )
}


def _info(name: str) -> DatasetInfo:
    if name not in DATASETS:
        raise ValueError(f"dataset {name!r} is unknown; known: {sorted(DATASETS)}")
    return DATASETS[name]


def dataset_path(name: str, *, data: str | os.PathLike | None = None) -> Path:
    """Where the array store of `name` is cached: ``<data_dir>/<name>``."""
    return data_dir(data) / _info(name).name


def prepare(
    name: str,
    path: str | os.PathLike | None = None,
    *,
    data: str | os.PathLike | None = None,
    force: bool = False,
    progress: bool = False,
    store_as: str | None = None,
    **options,
) -> ClassDataset:
    """Validate and convert the dataset at `path` into the cache (once), and open it.

    Args:
        name: a key of `DATASETS`. path: the dataset's root on disk (not needed for generated
            datasets). data: cache root (default ``$METAGRAD_DATA`` or ``~/.cache/metagrad``).
        force: convert again even if cached. progress: rich progress bar.
        store_as: cache name (default `name`; e.g. several ``folder`` datasets).
        options: loader options (``image_size``, ``rotations``...).
    """
    info = _info(name)
    if info.make is not None:
        return info.make(data, progress=progress)
    target = data_dir(data) / (store_as or name)
    if (target / "meta.json").is_file() and not force:
        return load_dataset(target)
    if path is None:
        raise ValueError(f"{name}: not prepared yet; give the dataset's PATH")
    src = Path(path).resolve()
    if src == target.resolve() or target.resolve() in src.parents:
        raise ValueError(f"{name}: the cache {target} would overwrite the source {src}; use --data")
    classes = info.classes(Path(path), **options)
    extra = {"source": str(Path(path).resolve()), "options": options}
    return L.write_store(classes, target, name=store_as or name, extra=extra, progress=progress)


def open_dataset(name: str, *, data: str | os.PathLike | None = None) -> ClassDataset:
    """A known dataset from the cache (generated ones are rendered on first use)."""
    info = _info(name)
    if info.make is not None:
        return info.make(data)
    target = data_dir(data) / name
    if not (target / "meta.json").is_file():
        raise FileNotFoundError(
            f"{name} is not prepared under {target.parent}: run `metagrad data prepare {name} PATH`"
            f" (expected layouts: {'; '.join(info.layouts)})"
        )
    return load_dataset(target)
