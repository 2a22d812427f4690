"""Episode sampler: determinism, vmap = loop, valid and uniform draws, clear bad-input errors."""

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

from metagrad.data import EpisodeSampler, digits, episode_indices, from_arrays


@pytest.fixture(scope="module")
def train():
    return digits().split("train")


def test_same_key_same_episodes_and_vmap_equals_loop(train, getkey):
    s = EpisodeSampler(train, 3, 2, 3)
    key = getkey()
    rows, classes = s.indices(key, 6)
    rows2, classes2 = s.indices(key, 6)
    np.testing.assert_array_equal(rows, rows2)
    for i, k in enumerate(jr.split(key, 6)):
        r, c = episode_indices(
            key=k,
            counts=jnp.asarray(train.counts),
            offsets=jnp.asarray(train.offsets),
            n_way=3,
            n_per_class=5,
            max_count=int(train.counts.max()),
        )
        np.testing.assert_array_equal(r, rows[i])
        np.testing.assert_array_equal(c, classes[i])
    assert not np.array_equal(s.indices(getkey(), 6)[0], rows)


def test_rows_belong_to_their_class_and_are_distinct(train, getkey):
    s = EpisodeSampler(train, 4, 3, 2)
    rows, classes = map(np.asarray, s.indices(getkey(), 200))
    off, cnt = train.offsets, train.counts
    assert all(len(set(c)) == 4 for c in classes)
    assert all(len(set(r.ravel())) == r.size for r in rows)
    lo, hi = off[classes][..., None], (off + cnt)[classes][..., None]
    assert np.all((rows >= lo) & (rows < hi))


def test_task_layout_and_labels(train, getkey):
    s = EpisodeSampler(train, 3, 2, 4)
    t = s.sample(getkey(), 5)
    assert t.x_support.shape == (5, 6, 1, 8, 8) and t.x_query.shape == (5, 12, 1, 8, 8)
    np.testing.assert_array_equal(t.y_support[0], [0, 0, 1, 1, 2, 2])
    np.testing.assert_array_equal(t.y_query[2], np.repeat([0, 1, 2], 4))
    assert float(t.x_support.max()) <= 1.0 and float(t.x_support.min()) >= 0.0
    # every support image of way i is an image of class classes[i]
    x = np.rint(np.asarray(t.x_support[1]) * 255).astype(np.uint8)
    for i, c in enumerate(np.asarray(t.classes[1])):
        imgs = train.class_images(int(c)).reshape(-1, 64)
        for row in x[2 * i : 2 * i + 2].reshape(2, 64):
            assert (imgs == row).all(1).any()


def test_device_gather_equals_memmap_gather(train, getkey):
    key = getkey()
    a = EpisodeSampler(train, 3, 1, 2).sample(key, 4)
    b = EpisodeSampler(train, 3, 1, 2, device=True).sample(key, 4)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)


def test_uint8_episodes_are_the_stored_bytes(train, getkey):
    key = getkey()
    f = EpisodeSampler(train, 3, 2, 2).sample(key, 4)
    u = EpisodeSampler(train, 3, 2, 2, dtype=jnp.uint8).sample(key, 4)
    assert u.x_support.dtype == jnp.uint8 and u.x_query.shape == f.x_query.shape
    np.testing.assert_array_equal(u.x_query, np.rint(np.asarray(f.x_query) * 255))
    np.testing.assert_array_equal(u.y_support, f.y_support)
    with pytest.raises(ValueError, match="dtype=.*int32.*float dtype or uint8"):
        EpisodeSampler(train, 3, 2, 2, dtype=jnp.int32)


def test_classes_and_images_drawn_uniformly(getkey):
    # 6 classes of 10 images; 3-way 2-shot 1-query; P(class) = 1/2, P(image | class) = 3/10
    per = [np.full((10, 1, 2, 2), j, np.uint8) for j in range(6)]
    ds = from_arrays(per, [str(j) for j in range(6)], ["train"] * 6)
    n = 4000
    rows, classes = map(np.asarray, EpisodeSampler(ds, 3, 2, 1).indices(getkey(), n))
    f_class = np.bincount(classes.ravel(), minlength=6) / n
    assert np.all(np.abs(f_class - 0.5) <= 5 * np.sqrt(0.25 / n))
    hits = np.bincount(rows.ravel(), minlength=60).reshape(6, 10)
    p_img = hits / (n * f_class[:, None])
    n_cls = n * f_class[:, None]
    assert np.all(np.abs(p_img - 0.3) <= 5 * np.sqrt(0.21 / n_cls))


def test_bad_episode_shapes_are_named(train):
    with pytest.raises(ValueError, match=r"n_way=6 must be in \[2, 5\]"):
        EpisodeSampler(train, 6, 1, 1)
    with pytest.raises(ValueError, match="n_way=1"):
        EpisodeSampler(train, 1, 1, 1)
    with pytest.raises(ValueError, match=r"class 'digit \d' has \d+ images, fewer than"):
        EpisodeSampler(train, 2, 100, 100)
    with pytest.raises(ValueError, match="n_shot=0"):
        EpisodeSampler(train, 2, 0, 1)
    with pytest.raises(ValueError, match="n_tasks=0 must be an integer"):
        EpisodeSampler(train, 2, 1, 1).indices(jr.PRNGKey(0), 0)


def test_store_rejects_empty_class_and_mixed_sizes():
    with pytest.raises(ValueError, match="class 'b' is empty"):
        from_arrays(
            [np.zeros((2, 1, 4, 4), np.uint8), np.zeros((0, 1, 4, 4), np.uint8)],
            ["a", "b"],
            ["train"] * 2,
        )
    with pytest.raises(ValueError, match="class 'b' has images of shape"):
        from_arrays(
            [np.zeros((2, 1, 4, 4), np.uint8), np.zeros((2, 1, 5, 4), np.uint8)],
            ["a", "b"],
            ["train"] * 2,
        )


def test_indices_are_jittable_under_vmap(train, getkey):
    f = jax.jit(
        jax.vmap(
            lambda k: episode_indices(
                key=k,
                counts=jnp.asarray(train.counts),
                offsets=jnp.asarray(train.offsets),
                n_way=2,
                n_per_class=3,
                max_count=int(train.counts.max()),
            )[0]
        )
    )
    assert f(jr.split(getkey(), 3)).shape == (3, 2, 3)
