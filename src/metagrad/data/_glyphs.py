"""``glyphs``: an Omniglot-like dataset rendered offline from the fonts inside matplotlib's wheel.

A class is one Unicode character (Latin, Greek, Cyrillic, Armenian, Hebrew, Georgian letters,
mathematical operators, arrows) that at least `min_faces` of the 16 DejaVu / STIX faces shipped in
``matplotlib/mpl-data/fonts/ttf`` cover (checked in each font's cmap; missing glyphs are
skipped, never drawn as boxes). Characters whose glyph, scaled to fit a box, looks like an
earlier class's (Latin ``O`` / Greek ``Ο`` / Cyrillic ``О``, ``o`` / ``O``...) are dropped, so
no two classes share a shape. An instance is the character drawn in one face with a random
stroke width, then a random affine map (rotation, shear, anisotropic scale, shift), resampled
to `size` x `size` with Gaussian pixel noise: white ink on black, uint8.

Everything is a deterministic function of `seed` (a NumPy generator per class, seeded from
`(seed, class index)`); the result is cached as an array store under `data_dir()`.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np

from metagrad.data._store import (
    SPLITS,
    ClassDataset,
    data_dir,
    from_arrays,
    load_dataset,
    save_dataset,
)

__all__ = ["glyph_classes", "render_glyphs", "glyphs", "GLYPH_RANGES"]

#: Unicode ranges (inclusive) the classes are taken from, by script.
GLYPH_RANGES = {
    "latin": [(0x41, 0x5A), (0x61, 0x7A)],
    "greek": [(0x391, 0x3A9), (0x3B1, 0x3C9)],
    "cyrillic": [(0x410, 0x44F)],
    "armenian": [(0x531, 0x556), (0x561, 0x586)],
    "hebrew": [(0x5D0, 0x5EA)],
    "georgian": [(0x10D0, 0x10FA)],
    "math": [(0x2200, 0x22FF)],
    "arrows": [(0x2190, 0x21FF)],
}
_FACES = [
    f"{fam}{sty}.ttf"
    for fam, styles in (
        ("DejaVuSans", ("", "-Bold", "-Oblique", "-BoldOblique")),
        ("DejaVuSansMono", ("", "-Bold", "-Oblique", "-BoldOblique")),
        ("DejaVuSerif", ("", "-Bold", "-Italic", "-BoldItalic")),
        ("STIXGeneral", ("", "Bol", "Italic", "BolIta")),
    )
    for sty in styles
]
_VERSION = 1


def _font_dir() -> Path:
    import matplotlib

    return Path(matplotlib.get_data_path()) / "fonts" / "ttf"


@functools.lru_cache(maxsize=1)
def _coverage() -> dict[str, frozenset[int]]:
    from fontTools.ttLib import TTFont

    out = {}
    for face in _FACES:
        path = _font_dir() / face
        if path.is_file():
            out[face] = frozenset(TTFont(path, lazy=True).getBestCmap())
    return out


@functools.lru_cache(maxsize=64)
def _font(face: str, px: int):
    from PIL import ImageFont

    return ImageFont.truetype(str(_font_dir() / face), px)


def _draw(ch: str, face: str, res: int, stroke: int):
    """The glyph in `face`, cropped to its ink and scaled to fit 80% of a res x res canvas."""
    from PIL import Image, ImageDraw

    font = _font(face, int(res * 0.7))
    canvas = Image.new("L", (2 * res, 2 * res), 0)
    ImageDraw.Draw(canvas).text(
        (res, res), ch, font=font, fill=255, anchor="mm", stroke_width=stroke, stroke_fill=255
    )
    box = canvas.getbbox()
    if box is None:
        return None
    ink = canvas.crop(box)
    fit = 0.8 * res / max(ink.size)
    ink = ink.resize((max(1, round(ink.size[0] * fit)), max(1, round(ink.size[1] * fit))))
    out = Image.new("L", (res, res), 0)
    out.paste(ink, ((res - ink.size[0]) // 2, (res - ink.size[1]) // 2))
    return out


def glyph_classes(*, min_faces: int = 3, dedupe: float = 0.08) -> list[tuple[str, list[str]]]:
    """The glyph classes: `(character, faces that cover it)`, in Unicode order.

    Args:
        min_faces: keep characters covered by at least this many faces, >= 1.
        dedupe: drop a character whose 16x16 fit-to-box rendering differs from a kept one's
            by less than this mean absolute difference (in [0, 1]); 0 keeps all.
    """
    if min_faces < 1:
        raise ValueError(f"min_faces={min_faces} must be >= 1")
    cov = _coverage()
    kept, shapes = [], []
    for lo_hi in GLYPH_RANGES.values():
        for lo, hi in lo_hi:
            for cp in range(lo, hi + 1):
                faces = [f for f in _FACES if cp in cov.get(f, ())]
                if len(faces) < min_faces:
                    continue
                img = _draw(chr(cp), faces[0], 32, 0)
                if img is None:
                    continue
                v = np.asarray(img.resize((16, 16)), np.float32).ravel() / 255.0
                if v.sum() < 3:  # blank or a dot: not a character shape
                    continue
                if shapes and np.abs(np.stack(shapes) - v).mean(axis=1).min() < dedupe:
                    continue
                kept.append((chr(cp), faces))
                shapes.append(v)
    return kept


def _instance(ch: str, face: str, size: int, rng: np.random.Generator) -> np.ndarray:
    from PIL import Image

    res = max(64, 2 * size) if size < 64 else size
    img = _draw(ch, face, res, int(rng.integers(0, max(2, res // 24))))
    rot = np.deg2rad(rng.uniform(-15, 15))
    shear = rng.uniform(-0.25, 0.25)
    sx, sy = rng.uniform(0.8, 1.05, size=2)
    tx, ty = rng.uniform(-0.08, 0.08, size=2) * res
    a = np.array([[np.cos(rot), -np.sin(rot)], [np.sin(rot), np.cos(rot)]])
    a = a @ np.array([[1.0, shear], [0.0, 1.0]]) @ np.diag([sx, sy])
    inv = np.linalg.inv(a)  # PIL maps output coordinates to input coordinates
    c = res / 2
    off = np.array([c, c]) - inv @ np.array([c + tx, c + ty])
    data = (inv[0, 0], inv[0, 1], off[0], inv[1, 0], inv[1, 1], off[1])
    img = img.transform((res, res), Image.Transform.AFFINE, data, Image.Resampling.BILINEAR)
    if res != size:
        img = img.resize((size, size), Image.Resampling.BOX)
    x = np.asarray(img, np.float32) + rng.normal(0.0, 12.0, (size, size))
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def render_glyphs(
    *,
    seed: int,
    size: int = 28,
    n_instances: int = 20,
    max_classes: int | None = None,
    fractions: tuple[float, float, float] = (0.64, 0.16, 0.20),
    progress: bool = False,
) -> ClassDataset:
    """Render the glyph dataset in memory (no cache; see `glyphs`).

    Args:
        seed: integer seed; the same seed gives the same bytes.
        size: image side in pixels, >= 8 (28 like Omniglot, 84 like mini-ImageNet).
        n_instances: images per class, >= 1.
        max_classes: keep the first this many classes of the seeded shuffle (quick variants).
        fractions: train / val / test shares of the classes.
        progress: show a rich progress bar.

    Returns:
        A `ClassDataset` `[n_classes * n_instances, 1, size, size]`, splits disjoint in classes.
    """
    if size < 8 or n_instances < 1:
        raise ValueError(f"size={size} must be >= 8 and n_instances={n_instances} >= 1")
    if len(fractions) != 3 or min(fractions) <= 0:
        raise ValueError(f"fractions={fractions} must be three positive shares")
    classes = glyph_classes()
    order = np.random.default_rng([seed, 0]).permutation(len(classes))
    if max_classes is not None:
        if max_classes < 3:
            raise ValueError(f"max_classes={max_classes} must be >= 3 (one class per split)")
        order = order[:max_classes]
    k = len(order)
    cuts = np.cumsum(np.asarray(fractions) / sum(fractions) * k).round().astype(int)
    split_of = np.searchsorted(cuts, np.arange(k), side="right")
    per_class, names, splits = [], [], []
    with _progress(progress, k, f"rendering glyphs {size}x{size}") as tick:
        for j, ci in enumerate(order):
            ch, faces = classes[ci]
            rng = np.random.default_rng([seed, 1, int(ci)])
            pick = rng.permutation(np.resize(np.arange(len(faces)), n_instances))
            imgs = [_instance(ch, faces[f], size, rng) for f in pick]
            per_class.append(np.stack(imgs)[:, None])
            names.append(f"U+{ord(ch):04X} {ch}")
            splits.append(SPLITS[min(int(split_of[j]), 2)])
            tick()
    return from_arrays(per_class, names, splits, name=f"glyphs{size}")


def glyphs(
    *,
    seed: int = 0,
    size: int = 28,
    n_instances: int = 20,
    max_classes: int | None = None,
    data: str | os.PathLike | None = None,
    progress: bool = False,
) -> ClassDataset:
    """The glyph dataset, rendered once and then loaded (memory-mapped) from the cache.

    The cache entry is ``<data_dir>/glyphs-<size>px-s<seed>-i<n_instances>[-c<max_classes>]``;
    arguments as `render_glyphs`; `data` overrides ``$METAGRAD_DATA``.
    """
    tag = f"glyphs-v{_VERSION}-{size}px-s{seed}-i{n_instances}"
    tag += f"-c{max_classes}" if max_classes is not None else ""
    path = data_dir(data) / tag
    if (path / "meta.json").is_file():
        return load_dataset(path)
    ds = render_glyphs(
        seed=seed, size=size, n_instances=n_instances, max_classes=max_classes, progress=progress
    )
    extra = {"seed": seed, "size": size, "n_instances": n_instances, "max_classes": max_classes}
    save_dataset(ds, path, extra={"generator": "glyphs", **extra})
    return load_dataset(path)


class _progress:
    """A rich progress bar (or nothing) yielding a `tick()` callable."""

    def __init__(self, enabled: bool, total: int, label: str):
        self.enabled, self.total, self.label = enabled, total, label

    def __enter__(self):
        if not self.enabled:
            return lambda: None
        from rich.progress import Progress

        self.bar = Progress(transient=True)
        self.bar.__enter__()
        task = self.bar.add_task(self.label, total=self.total)
        return lambda: self.bar.advance(task)

    def __exit__(self, *exc):
        if self.enabled:
            self.bar.__exit__(*exc)
        return False
