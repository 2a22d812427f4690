"""Loaders from local disk (no downloads) into the array store.

Each loader inspects a directory, recognises one of the layouts researchers actually have and
returns a list of `SourceClass` (name, split, a reader of its images). `write_store` streams the
classes into a memory-mapped ``images.npy`` (a dataset never has to fit in RAM twice), checking
every class before it is written: an empty class, a non-image file or an image of another size
stops the conversion with an error naming the class or the file. A path in no known layout gets
an error listing the layouts expected and what was found.

Pickle layouts are read with `pickle` (Python 2 pickles with ``encoding="latin1"``): only load
files you trust.
"""

from __future__ import annotations

import dataclasses
import io
import os
import pickle
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from metagrad.data._glyphs import _progress
from metagrad.data._store import (
    SPLITS,
    ClassDataset,
    atomic_dataset_dir,
    load_dataset,
    write_meta,
)

__all__ = [
    "SourceClass",
    "LayoutError",
    "write_store",
    "folder_classes",
    "omniglot_classes",
    "mini_imagenet_classes",
    "tiered_imagenet_classes",
    "cifar_pickle_classes",
]

IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")


class LayoutError(FileNotFoundError):
    """The path is missing or holds none of the layouts a loader knows."""


@dataclasses.dataclass(frozen=True)
class SourceClass:
    """One class of a dataset on disk.

    Attributes:
        name: class name (unique in the dataset). split: ``train``, ``val`` or ``test``.
        count: number of images. read: returns uint8 `[count, c, h, w]`.
    """

    name: str
    split: str
    count: int
    read: Callable[[], np.ndarray]


def _found(root: Path) -> str:
    if not root.exists():
        return f"{root} does not exist"
    if not root.is_dir():
        return f"{root} is a file, not a directory"
    names = sorted(p.name + ("/" if p.is_dir() else "") for p in root.iterdir())
    more = f" ... ({len(names)} entries)" if len(names) > 12 else ""
    return f"{root} contains {names[:12] or 'nothing'}{more}"


def _layout_error(dataset: str, root: Path, expected: Sequence[str]) -> LayoutError:
    lines = "\n".join(f"  - {e}" for e in expected)
    return LayoutError(
        f"{dataset}: no known layout at {root}. Expected one of:\n{lines}\nFound: {_found(root)}"
    )


# ---------------------------------------------------------------- image files


def read_image(path: Path, *, image_size: int | None, channels: int) -> np.ndarray:
    """One image file as uint8 `[channels, h, w]`, resized to `image_size` if given."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im = im.convert("L" if channels == 1 else "RGB")
            if image_size is not None and im.size != (image_size, image_size):
                im = im.resize((image_size, image_size), Image.Resampling.BILINEAR)
            arr = np.asarray(im, np.uint8)
    except (UnidentifiedImageError, OSError) as e:
        raise ValueError(f"{path}: not a readable image file ({e.__class__.__name__})") from e
    return arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)


def _image_files(folder: Path) -> list[Path]:
    files = sorted(p for p in folder.iterdir() if not p.name.startswith("."))
    for p in files:
        if p.is_dir() or p.suffix.lower() not in IMAGE_EXTS:
            raise ValueError(
                f"class folder {folder}: {p.name!r} is not an image file "
                f"(allowed extensions {IMAGE_EXTS})"
            )
    return files


def _files_class(name, split, files, *, image_size, channels, transform=None) -> SourceClass:
    def read():
        imgs = [read_image(f, image_size=image_size, channels=channels) for f in files]
        shapes = {a.shape for a in imgs}
        if len(shapes) > 1:
            first = imgs[0].shape
            bad = next(f for f, a in zip(files, imgs) if a.shape != first)
            raise ValueError(
                f"class {name!r}: image {bad} has shape {_shape_of(bad, imgs, files)} but "
                f"{files[0].name} has {first}; pass image_size=... to resize all images"
            )
        out = np.stack(imgs)
        return transform(out) if transform else out

    return SourceClass(name, split, len(files), read)


def _shape_of(f, imgs, files):
    return imgs[files.index(f)].shape


def _channels_of(files: Sequence[Path]) -> int:
    from PIL import Image

    with Image.open(files[0]) as im:
        return 1 if im.mode in ("1", "L", "I", "I;16", "F", "LA") else 3


def folder_classes(
    root: str | os.PathLike,
    *,
    image_size: int | None = None,
    channels: int | None = None,
    dataset: str = "folder",
) -> list[SourceClass]:
    """Generic layout ``root/{train,val,test}/<class>/*.png`` (a split may be absent).

    Args:
        root: dataset root. image_size: resize every image to this square side (None: all
            images must already share one size). channels: 1 or 3 (None: from the first image).
    """
    root = Path(root)
    splits = [s for s in SPLITS if (root / s).is_dir()]
    if not splits:
        raise _layout_error(dataset, root, ["train/<class>/*.png (and val/, test/)"])
    out = []
    for s in splits:
        for cdir in sorted(p for p in (root / s).iterdir() if not p.name.startswith(".")):
            if not cdir.is_dir():
                raise ValueError(f"{root / s}: {cdir.name!r} is a file; expected class folders")
            files = _image_files(cdir)
            if not files:
                raise ValueError(f"{dataset}: class {s}/{cdir.name} is empty (no image files)")
            channels = channels or _channels_of(files)
            out.append(
                _files_class(f"{s}/{cdir.name}", s, files, image_size=image_size, channels=channels)
            )
    return out


# ---------------------------------------------------------------- Omniglot


def omniglot_classes(
    root: str | os.PathLike,
    *,
    image_size: int = 28,
    rotations: bool = True,
    n_val_alphabets: int | None = None,
) -> list[SourceClass]:
    """Omniglot: ``images_background/<alphabet>/<character>/*.png`` and ``images_evaluation/...``.

    `images_evaluation` is the test split. The last `n_val_alphabets` alphabets (sorted by
    name) of `images_background` are the validation split (default: a sixth, i.e. 5 of the 30),
    the rest training. With `rotations`, each character also gives three classes rotated by
    90°, 180° and 270° (Santoro et al. 2016; Vinyals et al. 2016). Images are resized to
    `image_size` and inverted, so ink is bright (like ``glyphs``).
    """
    root = Path(root)
    parts = {p: root / p for p in ("images_background", "images_evaluation")}
    if not all(d.is_dir() for d in parts.values()):
        raise _layout_error(
            "omniglot",
            root,
            ["images_background/<alphabet>/<character>/*.png and images_evaluation/..."],
        )
    out = []
    for part, d in parts.items():
        alphabets = sorted(p for p in d.iterdir() if p.is_dir())
        if not alphabets:
            raise ValueError(f"omniglot: {d} has no alphabet folders")
        n_val = 0
        if part == "images_background":
            n_val = n_val_alphabets if n_val_alphabets is not None else max(1, len(alphabets) // 6)
            if not 0 < n_val < len(alphabets):
                raise ValueError(
                    f"omniglot: n_val_alphabets={n_val} must be in [1, {len(alphabets) - 1}]"
                )
        for i, alpha in enumerate(alphabets):
            split = (
                "test"
                if part == "images_evaluation"
                else ("val" if i >= len(alphabets) - n_val else "train")
            )
            for cdir in sorted(p for p in alpha.iterdir() if p.is_dir()):
                files = _image_files(cdir)
                if not files:
                    raise ValueError(f"omniglot: class {alpha.name}/{cdir.name} is empty")
                for k in range(4 if rotations else 1):
                    tf = lambda a, k=k: np.rot90(255 - a, k, axes=(2, 3)).copy()
                    name = f"{alpha.name}/{cdir.name}" + (f"/rot{90 * k}" if rotations else "")
                    out.append(
                        _files_class(
                            name, split, files, image_size=image_size, channels=1, transform=tf
                        )
                    )
    return out


# ---------------------------------------------------------------- pickles


def _unpickle(path: Path):
    with open(path, "rb") as f:
        try:
            try:
                return pickle.load(f)
            except UnicodeDecodeError:
                f.seek(0)
                return pickle.load(f, encoding="latin1")
        except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, ValueError) as e:
            raise ValueError(
                f"{path}: not a readable pickle ({e.__class__.__name__}: {e}); the file is "
                "truncated, corrupt or of another format"
            ) from e


def _nhwc_to_classes(images, labels, split, names=None, dataset="dataset", src=None):
    images = np.asarray(images)
    labels = np.asarray(labels).reshape(-1)
    if images.dtype != np.uint8 or images.ndim not in (3, 4) or len(images) != len(labels):
        raise ValueError(
            f"{dataset}: {src}: expected uint8 images [n, h, w(, 3)] and n labels, got "
            f"{images.dtype} {images.shape} and {labels.shape}"
        )
    if images.ndim == 3:
        images = images[..., None]
    out = []
    for lab in np.unique(labels):
        idx = np.flatnonzero(labels == lab)
        nm = names.get(lab, str(lab)) if names else str(lab)
        out.append(
            SourceClass(
                f"{split}/{nm}",
                split,
                len(idx),
                lambda idx=idx: np.ascontiguousarray(images[idx].transpose(0, 3, 1, 2)),
            )
        )
    return out


def _dict_get(d, keys, path, dataset):
    if not isinstance(d, dict):
        raise ValueError(f"{dataset}: {path} holds a {type(d).__name__}, expected a dict")
    for k in keys:
        for kk in (k, k.encode()):
            if kk in d:
                return d[kk]
    raise ValueError(f"{dataset}: {path} has keys {sorted(map(str, d))}, expected one of {keys}")


def _label_names(d) -> dict | None:
    for key in ("catname2label", b"catname2label"):
        if isinstance(d, dict) and key in d:
            return {v: (k.decode() if isinstance(k, bytes) else str(k)) for k, v in d[key].items()}
    return None


def _data_labels_pickles(root, files, dataset):
    out = []
    for split, f in zip(SPLITS, files):
        d = _unpickle(root / f)
        imgs = _dict_get(d, ["data"], root / f, dataset)
        labs = _dict_get(d, ["labels"], root / f, dataset)
        out += _nhwc_to_classes(imgs, labs, split, _label_names(d), dataset, root / f)
    return out


def cifar_pickle_classes(
    root: str | os.PathLike, *, dataset: str = "cifar-fs"
) -> list[SourceClass]:
    """CIFAR-FS (``CIFAR_FS_{train,val,test}.pickle``) or FC100 (``FC100_*.pickle``).

    The pickles of Lee et al. (2019, MetaOptNet): dicts with ``data`` uint8 `[n, 32, 32, 3]`
    and ``labels`` `[n]`.
    """
    root = Path(root)
    prefix = "FC100" if dataset == "fc100" else "CIFAR_FS"
    files = [f"{prefix}_{s}.pickle" for s in SPLITS]
    if not all((root / f).is_file() for f in files):
        raise _layout_error(dataset, root, [", ".join(files) + " (dicts with data, labels)"])
    return _data_labels_pickles(root, files, dataset)


_MINI_META = [
    f"miniImageNet_category_split_{s}.pickle" for s in ("train_phase_train", "val", "test")
]
_MINI_CACHE = [f"mini-imagenet-cache-{s}.pkl" for s in SPLITS]


def mini_imagenet_classes(root: str | os.PathLike, *, image_size: int = 84) -> list[SourceClass]:
    """mini-ImageNet in one of four layouts.

    1. MetaOptNet pickles ``miniImageNet_category_split_{train_phase_train,val,test}.pickle``
       (dicts with ``data`` `[n, 84, 84, 3]`, ``labels``, ``catname2label``);
    2. learn2learn / Ravi cache pickles ``mini-imagenet-cache-{train,val,test}.pkl`` (dicts
       with ``image_data`` and ``class_dict`` {name: indices});
    3. image folders ``{train,val,test}/<wnid>/*.jpg``;
    4. Ravi & Larochelle CSVs: ``images/*.jpg`` with ``{train,val,test}.csv`` (filename,label).
    Images from files are resized to `image_size`.
    """
    root = Path(root)
    meta = [m.replace(".pickle", ".pkl") for m in _MINI_META]
    for names in (_MINI_META, meta):
        if all((root / f).is_file() for f in names):
            return _data_labels_pickles(root, names, "mini-imagenet")
    if all((root / f).is_file() for f in _MINI_CACHE):
        out = []
        for split, f in zip(SPLITS, _MINI_CACHE):
            d = _unpickle(root / f)
            imgs = np.asarray(_dict_get(d, ["image_data"], root / f, "mini-imagenet"))
            cd = _dict_get(d, ["class_dict"], root / f, "mini-imagenet")
            labels = np.empty(len(imgs), np.int64)
            names = {}
            for j, (name, idx) in enumerate(sorted(cd.items())):
                labels[np.asarray(idx)] = j
                names[j] = name.decode() if isinstance(name, bytes) else str(name)
            out += _nhwc_to_classes(imgs, labels, split, names, "mini-imagenet", root / f)
        return out
    if all((root / f"{s}.csv").is_file() for s in SPLITS) and (root / "images").is_dir():
        return _csv_classes(root, image_size)
    if any((root / s).is_dir() for s in SPLITS):
        return folder_classes(root, image_size=image_size, channels=3, dataset="mini-imagenet")
    raise _layout_error(
        "mini-imagenet",
        root,
        [
            ", ".join(_MINI_META) + " (MetaOptNet pickles)",
            ", ".join(_MINI_CACHE) + " (learn2learn cache pickles)",
            "{train,val,test}/<class>/*.jpg (image folders)",
            "images/*.jpg + train.csv, val.csv, test.csv (Ravi & Larochelle)",
        ],
    )


def _csv_classes(root: Path, image_size: int) -> list[SourceClass]:
    out = []
    for s in SPLITS:
        rows = [
            line.strip().split(",")
            for line in (root / f"{s}.csv").read_text().splitlines()[1:]
            if line.strip()
        ]
        by = {}
        for row in rows:
            if len(row) != 2:
                raise ValueError(
                    f"mini-imagenet: {root / f'{s}.csv'}: bad row {row}, expected filename,label"
                )
            by.setdefault(row[1], []).append(root / "images" / row[0])
        for lab, files in sorted(by.items()):
            missing = [f for f in files if not f.is_file()]
            if missing:
                raise ValueError(f"mini-imagenet: class {lab}: image file {missing[0]} is missing")
            out.append(_files_class(f"{s}/{lab}", s, files, image_size=image_size, channels=3))
    return out


def tiered_imagenet_classes(root: str | os.PathLike, *, image_size: int = 84) -> list[SourceClass]:
    """tiered-ImageNet in one of three layouts.

    1. ``{train,val,test}_images.npz`` (key ``images``, uint8 `[n, 84, 84, 3]`) with
       ``{split}_labels.pkl`` (dict with ``labels`` or ``label_specific``) (RFS);
    2. ``{split}_images_png.pkl`` (a list of PNG-encoded images) with ``{split}_labels.pkl``
       (MetaOptNet / Ren et al. 2018);
    3. image folders ``{train,val,test}/<class>/*.jpg``.
    """
    root = Path(root)
    lab_files = [root / f"{s}_labels.pkl" for s in SPLITS]
    npz = [root / f"{s}_images.npz" for s in SPLITS]
    png = [root / f"{s}_images_png.pkl" for s in SPLITS]
    if all(f.is_file() for f in lab_files) and (
        all(f.is_file() for f in npz) or all(f.is_file() for f in png)
    ):
        out = []
        for s, lf, nf, pf in zip(SPLITS, lab_files, npz, png):
            d = _unpickle(lf)
            labels = _dict_get(d, ["labels", "label_specific"], lf, "tiered-imagenet")
            names = None
            strs = d.get("label_specific_str") if isinstance(d, dict) else None
            if strs is not None:
                names = {i: str(n) for i, n in enumerate(strs)}
            if nf.is_file():
                with np.load(nf) as z:
                    if "images" not in z:
                        raise ValueError(
                            f"tiered-imagenet: {nf} has keys {list(z)}, expected 'images'"
                        )
                    imgs = z["images"]
            else:
                imgs = _decode_pngs(_unpickle(pf), pf)
            src = nf if nf.is_file() else pf
            out += _nhwc_to_classes(imgs, labels, s, names, "tiered-imagenet", src)
        return out
    if any((root / s).is_dir() for s in SPLITS):
        return folder_classes(root, image_size=image_size, channels=3, dataset="tiered-imagenet")
    raise _layout_error(
        "tiered-imagenet",
        root,
        [
            "{train,val,test}_images.npz + {train,val,test}_labels.pkl (RFS)",
            "{train,val,test}_images_png.pkl + {train,val,test}_labels.pkl (MetaOptNet)",
            "{train,val,test}/<class>/*.jpg (image folders)",
        ],
    )


def _decode_pngs(items, path: Path) -> np.ndarray:
    from PIL import Image

    out = []
    for i, b in enumerate(items):
        try:
            with Image.open(io.BytesIO(bytes(b))) as im:
                out.append(np.asarray(im.convert("RGB"), np.uint8))
        except Exception as e:
            raise ValueError(f"tiered-imagenet: {path}: item {i} is not an encoded image") from e
    return np.stack(out)


# ---------------------------------------------------------------- writing


def write_store(
    classes: Sequence[SourceClass],
    path: str | os.PathLike,
    *,
    name: str,
    extra: dict | None = None,
    progress: bool = False,
) -> ClassDataset:
    """Stream `classes` into the array store at `path` (atomic) and open it memory-mapped."""
    if not classes:
        raise ValueError(f"{name}: no classes found")
    for s in SPLITS:
        if not any(c.split == s for c in classes):
            raise ValueError(f"{name}: split {s!r} has no classes")
    empty = [c.name for c in classes if c.count == 0]
    if empty:
        raise ValueError(f"{name}: class {empty[0]!r} is empty (no images)")
    names = [c.name for c in classes]
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise ValueError(f"{name}: class name {dup!r} appears twice")
    order = sorted(classes, key=lambda c: SPLITS.index(c.split))
    with atomic_dataset_dir(path) as tmp:
        first = order[0].read()
        shape = first.shape[1:]
        total = sum(c.count for c in order)
        mm = np.lib.format.open_memmap(tmp / "images.npy", "w+", np.uint8, (total, *shape))
        pos = 0
        with _progress(progress, len(order), f"converting {name}") as tick:
            for i, c in enumerate(order):
                arr = first if i == 0 else c.read()
                if arr.shape[1:] != shape:
                    raise ValueError(
                        f"{name}: class {c.name!r} has images of shape {arr.shape[1:]}, but "
                        f"class {order[0].name!r} has {shape}; all images must share one size"
                    )
                if arr.shape[0] != c.count:
                    raise ValueError(
                        f"{name}: class {c.name!r} gave {arr.shape[0]} != {c.count} images"
                    )
                mm[pos : pos + c.count] = arr
                pos += c.count
                tick()
        mm.flush()
        del mm
        write_meta(
            tmp,
            name,
            [c.name for c in order],
            [c.count for c in order],
            [c.split for c in order],
            extra,
        )
    return load_dataset(path)
