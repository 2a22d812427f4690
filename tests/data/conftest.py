"""Fixtures of tests/data: tiny datasets in every on-disk layout, built in a temp dir."""

import pickle

import numpy as np
import pytest
from PIL import Image


def _png(path, arr):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)


@pytest.fixture
def rng():
    """A NumPy generator for fixture pixels (content is irrelevant to the tests that use it)."""
    return np.random.default_rng(0)


@pytest.fixture
def folder_root(tmp_path, rng):
    """root/{train,val,test}/<class>/*.png, 3/2/2 classes x 4 RGB 12x12 images."""
    root = tmp_path / "folder"
    for split, n in (("train", 3), ("val", 2), ("test", 2)):
        for c in range(n):
            for i in range(4):
                _png(
                    root / split / f"c{c}" / f"{i}.png", rng.integers(0, 255, (12, 12, 3), np.uint8)
                )
    return root


@pytest.fixture
def omniglot_root(tmp_path, rng):
    """images_background (3 alphabets x 2 characters) and images_evaluation (1 x 2), 5 PNGs each."""
    root = tmp_path / "omniglot"
    for part, alphabets in (("images_background", 3), ("images_evaluation", 1)):
        for a in range(alphabets):
            for c in range(2):
                for i in range(5):
                    img = (rng.random((20, 20)) > 0.5).astype(np.uint8) * 255
                    alpha = f"{part[7:11]}{a}"  # back0..back2, eval0 (distinct alphabets)
                    _png(root / part / alpha / f"character{c:02d}" / f"{i}.png", img)
    return root


def _pickle(path, obj):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        pickle.dump(obj, f)


def _data_labels(rng, n_classes, per, size, base=0):
    labels = np.repeat(np.arange(base, base + n_classes), per)
    return {
        "data": rng.integers(0, 255, (len(labels), size, size, 3), np.uint8),
        "labels": list(labels),
    }


@pytest.fixture
def cifar_root(tmp_path, rng):
    """CIFAR_FS_{train,val,test}.pickle and FC100_*.pickle with 3/2/2 classes x 6 images."""
    root = tmp_path / "cifar"
    for prefix in ("CIFAR_FS", "FC100"):
        for split, n, base in (("train", 3, 0), ("val", 2, 3), ("test", 2, 5)):
            _pickle(root / f"{prefix}_{split}.pickle", _data_labels(rng, n, 6, 8, base))
    return root


@pytest.fixture
def mini_roots(tmp_path, rng):
    """mini-ImageNet in its four layouts (3/2/2 classes x 6 images, 10x10)."""
    roots = {}
    r = tmp_path / "mini_meta"
    for f, (n, base) in zip(("train_phase_train", "val", "test"), ((3, 0), (2, 3), (2, 5))):
        d = _data_labels(rng, n, 6, 10, base)
        d["catname2label"] = {f"n{base + j:08d}": base + j for j in range(n)}
        _pickle(r / f"miniImageNet_category_split_{f}.pickle", d)
    roots["meta"] = r
    r = tmp_path / "mini_cache"
    for split, n in (("train", 3), ("val", 2), ("test", 2)):
        imgs = rng.integers(0, 255, (n * 6, 10, 10, 3), np.uint8)
        cd = {f"{split}_n{j}": list(range(j * 6, j * 6 + 6)) for j in range(n)}
        _pickle(r / f"mini-imagenet-cache-{split}.pkl", {"image_data": imgs, "class_dict": cd})
    roots["cache"] = r
    r = tmp_path / "mini_csv"
    for split, n in (("train", 3), ("val", 2), ("test", 2)):
        rows = ["filename,label"]
        for c in range(n):
            for i in range(6):
                fn = f"{split}{c}_{i}.jpg"
                _png(r / "images" / fn, rng.integers(0, 255, (16, 16, 3), np.uint8))
                rows.append(f"{fn},n_{split}{c}")
        (r / f"{split}.csv").write_text("\n".join(rows) + "\n")
    roots["csv"] = r
    r = tmp_path / "mini_folder"
    for split, n in (("train", 3), ("val", 2), ("test", 2)):
        for c in range(n):
            for i in range(6):
                _png(r / split / f"n{c}" / f"{i}.jpg", rng.integers(0, 255, (14, 14, 3), np.uint8))
    roots["folder"] = r
    return roots


@pytest.fixture
def tiered_roots(tmp_path, rng):
    """tiered-ImageNet in the npz and png-pickle layouts (3/2/2 classes x 5 images, 10x10)."""
    import io

    roots = {}
    for kind in ("npz", "png"):
        r = tmp_path / f"tiered_{kind}"
        r.mkdir()
        for split, n in (("train", 3), ("val", 2), ("test", 2)):
            labels = np.repeat(np.arange(n), 5)
            imgs = rng.integers(0, 255, (len(labels), 10, 10, 3), np.uint8)
            _pickle(r / f"{split}_labels.pkl", {"label_specific": labels})
            if kind == "npz":
                np.savez(r / f"{split}_images.npz", images=imgs)
            else:
                enc = []
                for im in imgs:
                    b = io.BytesIO()
                    Image.fromarray(im).save(b, format="PNG")
                    enc.append(b.getvalue())
                _pickle(r / f"{split}_images_png.pkl", enc)
        roots[kind] = r
    return roots


@pytest.fixture(scope="session")
def glyph_small(tmp_path_factory):
    """A small cached glyph dataset (30 classes x 8 images, 28x28), shared by the session."""
    from metagrad.data import glyphs

    return glyphs(seed=3, n_instances=8, max_classes=30, data=tmp_path_factory.mktemp("glyphs"))
