"""Glyph dataset: several hundred distinct classes, deterministic rendering, cached store."""

import numpy as np

from metagrad.data import glyph_classes, render_glyphs


def test_several_hundred_classes_from_several_faces():
    classes = glyph_classes()
    chars = [c for c, _ in classes]
    assert len(classes) >= 300 and len(set(chars)) == len(chars)
    assert all(len(f) >= 3 for _, f in classes)
    scripts = {
        "A": "latin",
        "Ω": "greek",
        "Ж": "cyrillic",
        "Ա": "armenian",
        "א": "hebrew",
        "∂": "math",
    }
    assert set(scripts) <= set(chars)


def test_same_seed_same_bytes_other_seed_other_bytes():
    a = render_glyphs(seed=5, n_instances=3, max_classes=4)
    b = render_glyphs(seed=5, n_instances=3, max_classes=4)
    c = render_glyphs(seed=6, n_instances=3, max_classes=4)
    np.testing.assert_array_equal(a.images, b.images)
    assert a.class_names == b.class_names
    assert not np.array_equal(a.images, c.images)


def test_instances_vary_and_have_ink():
    ds = render_glyphs(seed=1, size=84, n_instances=4, max_classes=3)
    assert ds.image_shape == (1, 84, 84)
    imgs = ds.class_images(0).astype(float)
    assert np.all(imgs.reshape(4, -1).max(1) > 200)  # ink present
    assert np.abs(imgs[0] - imgs[1]).mean() > 5  # two instances differ


def test_cached_store_is_reused(glyph_small, tmp_path_factory):
    s = glyph_small.summary()
    assert s["train"]["classes"] + s["val"]["classes"] + s["test"]["classes"] == 30
    assert min(s[k]["classes"] for k in ("train", "val", "test")) >= 4
    assert isinstance(glyph_small.images, np.memmap)
    names = {glyph_small.splits[j]: set() for j in range(30)}
    for n, sp in zip(glyph_small.class_names, glyph_small.splits):
        names[sp].add(n)
    assert not (names["train"] & names["test"]) and not (names["train"] & names["val"])
