"""probdeg.folders: which images a figure shows."""

from __future__ import annotations

import numpy as np

from probdeg.folders import distinct_images
from probdeg.io import write_image


def test_distinct_images_shows_each_photo_once(tmp_path):
    rng = np.random.default_rng(0)
    photo, other = rng.random((8, 8, 3)).astype("float32"), rng.random((8, 8, 3)).astype("float32")
    names = ["a_d0.png", "a_d1.png", "b_d0.png", "a_d2.png", "broken.png", "c.png"]
    for name, image in zip(names, [photo, photo, other, photo, None, rng.random((8, 8, 3)).astype("float32")]):
        if image is None:
            (tmp_path / name).write_bytes(b"not a png")
        else:
            write_image(tmp_path / name, image)
    paths = [tmp_path / name for name in names]
    assert distinct_images(paths, 10) == [0, 2, 5]  # three draws of one photo count once; unreadable passed over
    assert distinct_images(paths, 2) == [0, 2]
