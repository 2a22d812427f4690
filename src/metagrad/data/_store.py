"""The array store: a class-indexed uint8 image dataset with disjoint class splits.

On disk a dataset is one directory holding

- ``images.npy``: uint8 ``[n_images, channels, height, width]``, images grouped by split
  (train, val, test) and, inside a split, by class, so a split is a contiguous slice;
- ``meta.json``: class names, the number of images of every class and the split of every class.

``images.npy`` is opened memory-mapped: a 7 GB mini-ImageNet costs no RAM until episodes touch
its pages. Writes go to a temporary directory renamed into place (a killed conversion leaves no
half-written store).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

__all__ = ["ClassDataset", "SPLITS", "data_dir", "save_dataset", "load_dataset", "from_arrays"]

from metagrad._env import data_dir  # noqa: E402

SPLITS = ("train", "val", "test")
_FORMAT = 1


@dataclasses.dataclass(frozen=True)
class ClassDataset:
    """Images of one split (or of all splits), grouped by class.

    Attributes:
        images: uint8 `[n_images, c, h, w]` (a memory map when loaded from disk); the images
            of class `j` are `images[offsets[j] : offsets[j] + counts[j]]`.
        counts: int64 `[n_classes]` images per class.
        class_names: `n_classes` names (unique).
        splits: the split of every class, `n_classes` entries of ``"train"``, ``"val"``,
            ``"test"``.
        name: dataset name (for messages).
    """

    images: np.ndarray
    counts: np.ndarray
    class_names: tuple[str, ...]
    splits: tuple[str, ...]
    name: str = "dataset"

    def __post_init__(self) -> None:
        _validate(self)

    @property
    def offsets(self) -> np.ndarray:
        """Start index of every class in `images`, int64 `[n_classes]`."""
        return np.concatenate([[0], np.cumsum(self.counts)[:-1]]).astype(np.int64)

    @property
    def n_classes(self) -> int:
        """Number of classes."""
        return len(self.class_names)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """`(channels, height, width)`."""
        return tuple(self.images.shape[1:])  # type: ignore[return-value]

    def split(self, which: str) -> ClassDataset:
        """The classes of split `which` (``train``, ``val``, ``test``) as a dataset (a view)."""
        if which not in SPLITS:
            raise ValueError(f"split={which!r} must be one of {SPLITS}")
        idx = [j for j, s in enumerate(self.splits) if s == which]
        if not idx:
            raise ValueError(f"{self.name}: split {which!r} has no classes")
        if idx != list(range(idx[0], idx[-1] + 1)):
            raise ValueError(f"{self.name}: classes of split {which!r} are not contiguous")
        start = int(self.offsets[idx[0]])
        stop = start + int(self.counts[idx].sum())
        return ClassDataset(
            self.images[start:stop],
            self.counts[idx],
            tuple(self.class_names[j] for j in idx),
            tuple(which for _ in idx),
            f"{self.name}/{which}",
        )

    def class_images(self, j: int) -> np.ndarray:
        """uint8 images `[counts[j], c, h, w]` of class `j`."""
        o = int(self.offsets[j])
        return self.images[o : o + int(self.counts[j])]

    def summary(self) -> dict:
        """Classes and images per split, image shape (for `metagrad data show`)."""
        out = {"name": self.name, "image_shape": list(self.image_shape)}
        for s in SPLITS:
            mask = np.array([x == s for x in self.splits], bool)
            cnt = self.counts[mask]
            out[s] = {
                "classes": int(mask.sum()),
                "images": int(cnt.sum()),
                "min_per_class": int(cnt.min()) if cnt.size else 0,
            }
        return out


def _validate(ds: ClassDataset) -> None:
    imgs, counts = ds.images, np.asarray(ds.counts)
    if imgs.dtype != np.uint8 or imgs.ndim != 4:
        raise ValueError(
            f"{ds.name}: images must be uint8 [n, c, h, w], got {imgs.dtype} {imgs.shape}"
        )
    if counts.ndim != 1 or len(counts) != len(ds.class_names) or len(ds.splits) != len(counts):
        raise ValueError(
            f"{ds.name}: {len(counts)} counts, {len(ds.class_names)} names and "
            f"{len(ds.splits)} splits must agree"
        )
    empty = [ds.class_names[j] for j in np.flatnonzero(counts <= 0)]
    if empty:
        raise ValueError(f"{ds.name}: empty classes (no images): {empty[:5]}")
    if int(counts.sum()) != imgs.shape[0]:
        raise ValueError(
            f"{ds.name}: counts sum to {counts.sum()} but there are {imgs.shape[0]} images"
        )
    if len(set(ds.class_names)) != len(ds.class_names):
        raise ValueError(f"{ds.name}: class names are not unique")
    bad = sorted(set(ds.splits) - set(SPLITS))
    if bad:
        raise ValueError(f"{ds.name}: unknown splits {bad}; allowed {SPLITS}")


def from_arrays(
    per_class: Sequence[np.ndarray],
    class_names: Sequence[str],
    splits: Sequence[str],
    *,
    name: str = "dataset",
) -> ClassDataset:
    """An in-memory dataset from per-class uint8 arrays `[n_j, c, h, w]`, reordered by split.

    Raises:
        ValueError: naming the class, if a class is empty or its images differ in shape from
            the first class's.
    """
    if not (len(per_class) == len(class_names) == len(splits)):
        raise ValueError("from_arrays: per_class, class_names and splits must have equal lengths")
    if not per_class:
        raise ValueError(f"{name}: no classes")
    shape = per_class[0].shape[1:]
    for arr, cname in zip(per_class, class_names):
        if arr.ndim != 4 or arr.shape[0] == 0:
            raise ValueError(f"{name}: class {cname!r} is empty or not [n, c, h, w]: {arr.shape}")
        if arr.shape[1:] != shape:
            raise ValueError(
                f"{name}: class {cname!r} has images of shape {arr.shape[1:]} but "
                f"{class_names[0]!r} has {shape}; all images must share one size"
            )
    order = sorted(
        range(len(splits)), key=lambda j: SPLITS.index(splits[j]) if splits[j] in SPLITS else 99
    )
    return ClassDataset(
        np.ascontiguousarray(np.concatenate([per_class[j] for j in order]).astype(np.uint8)),
        np.array([per_class[j].shape[0] for j in order], np.int64),
        tuple(class_names[j] for j in order),
        tuple(splits[j] for j in order),
        name,
    )


@contextlib.contextmanager
def atomic_dataset_dir(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary directory beside `path` that replaces it atomically when the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}."))
    try:
        yield tmp
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_meta(directory: Path, name: str, class_names, counts, splits, extra: dict | None) -> None:
    """Write the ``meta.json`` of a dataset directory (format, name, classes, counts, splits)."""
    meta = {
        "format": _FORMAT,
        "name": name,
        "class_names": list(class_names),
        "counts": [int(c) for c in counts],
        "splits": list(splits),
        "extra": extra or {},
    }
    (directory / "meta.json").write_text(json.dumps(meta))


def save_dataset(ds: ClassDataset, path: str | os.PathLike, *, extra: dict | None = None) -> Path:
    """Write `ds` to directory `path` atomically (``images.npy`` + ``meta.json``)."""
    with atomic_dataset_dir(path) as tmp:
        np.save(tmp / "images.npy", np.asarray(ds.images), allow_pickle=False)
        write_meta(tmp, ds.name, ds.class_names, ds.counts, ds.splits, extra)
    return Path(path)


def load_dataset(path: str | os.PathLike, *, mmap: bool = True) -> ClassDataset:
    """Open a dataset written by `save_dataset` (images memory-mapped unless `mmap=False`)."""
    path = Path(path)
    meta_file, img_file = path / "meta.json", path / "images.npy"
    if not (meta_file.is_file() and img_file.is_file()):
        raise FileNotFoundError(
            f"{path} is not a metagrad array store: expected images.npy and meta.json, found "
            f"{sorted(p.name for p in path.iterdir()) if path.is_dir() else 'no directory'}"
        )
    meta = json.loads(meta_file.read_text())
    if meta.get("format") != _FORMAT:
        raise ValueError(
            f"{path}: store format {meta.get('format')} != {_FORMAT}; prepare it again"
        )
    images = np.load(img_file, mmap_mode="r" if mmap else None, allow_pickle=False)
    return ClassDataset(
        images,
        np.asarray(meta["counts"], np.int64),
        tuple(meta["class_names"]),
        tuple(meta["splits"]),
        meta["name"],
    )


def store_extra(path: str | os.PathLike) -> dict:
    """The ``extra`` metadata recorded by `save_dataset` (generator parameters, source...)."""
    return json.loads((Path(path) / "meta.json").read_text()).get("extra", {})
