"""Loaders: every layout converts to the array store; bad layouts and files get named errors."""

import numpy as np
import pytest
from PIL import Image

from metagrad.data import LayoutError, load_dataset, prepare


def _check(ds, classes, per, shape):
    s = ds.summary()
    assert [s[k]["classes"] for k in ("train", "val", "test")] == list(classes)
    assert ds.images.dtype == np.uint8 and ds.image_shape == shape
    assert set(ds.counts.tolist()) == {per}
    assert isinstance(ds.images, np.memmap)


def test_folder_layout_roundtrip(folder_root, tmp_path):
    ds = prepare("folder", folder_root, data=tmp_path / "cache")
    _check(ds, (3, 2, 2), 4, (3, 12, 12))
    png = np.asarray(Image.open(folder_root / "val" / "c1" / "2.png")).transpose(2, 0, 1)
    j = ds.class_names.index("val/c1")
    np.testing.assert_array_equal(ds.class_images(j)[2], png)
    again = load_dataset(tmp_path / "cache" / "folder")
    assert again.class_names == ds.class_names


def test_omniglot_rotations_and_splits(omniglot_root, tmp_path):
    ds = prepare("omniglot", omniglot_root, data=tmp_path / "cache", image_size=20)
    # 3 background alphabets: last one is val; 2 characters x 4 rotations per alphabet
    _check(ds, (16, 8, 8), 5, (1, 20, 20))
    src = np.asarray(
        Image.open(omniglot_root / "images_evaluation/eval0/character01/3.png").convert("L")
    )
    j0 = ds.class_names.index("eval0/character01/rot0")
    j90 = ds.class_names.index("eval0/character01/rot90")
    np.testing.assert_array_equal(ds.class_images(j0)[3, 0], 255 - src)
    np.testing.assert_array_equal(ds.class_images(j90)[3, 0], np.rot90(255 - src))


@pytest.mark.parametrize("name", ["cifar-fs", "fc100"])
def test_cifar_pickles(cifar_root, tmp_path, name):
    ds = prepare(name, cifar_root, data=tmp_path / "cache")
    _check(ds, (3, 2, 2), 6, (3, 8, 8))


@pytest.mark.parametrize("layout", ["meta", "cache", "csv", "folder"])
def test_mini_imagenet_layouts(mini_roots, tmp_path, layout):
    ds = prepare("mini-imagenet", mini_roots[layout], data=tmp_path / "cache", image_size=10)
    _check(ds, (3, 2, 2), 6, (3, 10, 10))


@pytest.mark.parametrize("layout", ["npz", "png"])
def test_tiered_imagenet_layouts(tiered_roots, tmp_path, layout):
    ds = prepare("tiered-imagenet", tiered_roots[layout], data=tmp_path / "cache")
    _check(ds, (3, 2, 2), 5, (3, 10, 10))


def test_conversion_is_cached(folder_root, tmp_path):
    ds = prepare("folder", folder_root, data=tmp_path / "cache")
    (folder_root / "train" / "c0" / "0.png").unlink()  # the cache must not re-read the source
    assert (
        prepare("folder", folder_root, data=tmp_path / "cache").counts.tolist()
        == ds.counts.tolist()
    )
    assert prepare("folder", folder_root, data=tmp_path / "cache", force=True).counts[0] == 3


@pytest.mark.parametrize(
    "name", ["omniglot", "mini-imagenet", "tiered-imagenet", "cifar-fs", "folder"]
)
def test_wrong_layout_names_expected_and_found(tmp_path, name):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "readme.txt").write_text("x")
    with pytest.raises(LayoutError, match="Expected one of") as e:
        prepare(name, tmp_path / "src", data=tmp_path / "c")
    assert "readme.txt" in str(e.value)
    with pytest.raises(LayoutError, match="does not exist"):
        prepare(name, tmp_path / "missing", data=tmp_path / "c")


def test_non_image_file_is_named(folder_root, tmp_path):
    (folder_root / "train" / "c1" / "notes.txt").write_text("hello")
    with pytest.raises(ValueError, match="notes.txt"):
        prepare("folder", folder_root, data=tmp_path / "cache")
    (folder_root / "train" / "c1" / "notes.txt").unlink()
    (folder_root / "train" / "c1" / "fake.png").write_text("not a png")
    with pytest.raises(ValueError, match="fake.png"):
        prepare("folder", folder_root, data=tmp_path / "cache")


def test_mixed_sizes_name_the_file(folder_root, tmp_path):
    Image.fromarray(np.zeros((9, 12, 3), np.uint8)).save(folder_root / "val" / "c0" / "1.png")
    with pytest.raises(ValueError, match=r"1\.png.*image_size"):
        prepare("folder", folder_root, data=tmp_path / "cache")
    ds = prepare("folder", folder_root, data=tmp_path / "cache", image_size=12)  # resizing fixes it
    assert ds.image_shape == (3, 12, 12)


def test_mixed_sizes_across_classes_name_the_class(folder_root, tmp_path):
    for i in range(4):
        Image.fromarray(np.zeros((10, 10, 3), np.uint8)).save(
            folder_root / "test" / "c1" / f"{i}.png"
        )
    with pytest.raises(ValueError, match="test/c1"):
        prepare("folder", folder_root, data=tmp_path / "cache")


def test_empty_class_is_named(folder_root, tmp_path):
    (folder_root / "train" / "empty").mkdir()
    with pytest.raises(ValueError, match="train/empty is empty"):
        prepare("folder", folder_root, data=tmp_path / "cache")


def test_malformed_pickles_name_the_file_and_keys(cifar_root, tmp_path):
    import pickle

    with open(cifar_root / "CIFAR_FS_val.pickle", "wb") as f:
        pickle.dump({"images": np.zeros((2, 8, 8, 3), np.uint8)}, f)
    with pytest.raises(ValueError, match=r"CIFAR_FS_val\.pickle has keys \['images'\].*data"):
        prepare("cifar-fs", cifar_root, data=tmp_path / "cache")
    (cifar_root / "CIFAR_FS_val.pickle").write_bytes(b"not a pickle at all")
    with pytest.raises(ValueError, match=r"CIFAR_FS_val\.pickle: not a readable pickle"):
        prepare("cifar-fs", cifar_root, data=tmp_path / "cache")
