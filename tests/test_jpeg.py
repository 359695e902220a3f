"""JPEG blocking: measured on whole images, matched by a quality range, reproduced by compression."""

import numpy as np
import pytest

from probdeg.jpeg import block_edge_ratio, compress, estimate_quality_range


def _photo_like(seed: int, size: int = 96) -> np.ndarray:
    """Smooth shapes plus mild noise: an LR image with detail at every position, and no grid of its own."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / size
    image = np.stack([np.sin(6 * x + c + rng.uniform(0, 3)) * np.cos(5 * y + 2 * c) for c in range(3)], -1)
    image = 0.5 + 0.3 * image + rng.normal(0, 0.02, image.shape)
    return np.clip(image, 0, 1).astype(np.float32)


def test_compression_raises_the_ratio_at_the_grid_and_lower_quality_raises_it_more():
    image = _photo_like(0)
    clean, q80, q30 = (block_edge_ratio(x) for x in (image, compress(image, 80), compress(image, 30)))
    assert abs(clean - 1) < 0.05
    assert 1.05 < q80 < q30


def test_the_grid_is_the_images_own_a_shifted_crop_loses_it():
    blocky = compress(_photo_like(1, 128), 30)
    shifted = blocky[4:, 4:]  # the grid's edges now sit at 3, 11, ...: position 7 is inside a block
    assert block_edge_ratio(blocky) > 1.2 and block_edge_ratio(shifted) < block_edge_ratio(blocky) - 0.5


def test_uncompressed_real_lr_gives_no_range():
    real = [_photo_like(s) for s in range(4)]
    assert estimate_quality_range(real, [_photo_like(10 + s) for s in range(2)]) is None


def test_the_range_brackets_the_quality_the_real_lr_was_compressed_at():
    real = [compress(_photo_like(s), 40) for s in range(4)]
    low, high = estimate_quality_range(real, [_photo_like(10 + s) for s in range(3)])
    assert 25 <= low <= 40 <= high <= 55


def test_bad_inputs_are_refused_by_what_is_wrong():
    with pytest.raises(ValueError, match="at least 16x16"):
        block_edge_ratio(np.zeros((8, 64, 3)))
    with pytest.raises(ValueError, match="quality must lie in 1..100"):
        compress(np.zeros((16, 16, 3)), 0)
    with pytest.raises(ValueError, match="needs real and generated LR images of at least 16x16"):
        estimate_quality_range([_photo_like(0)], [np.zeros((12, 40, 3))])  # too small: left out


def test_an_estimate_at_the_lowest_candidate_warns_in_one_line():
    real = [compress(_photo_like(s), 5) for s in range(3)]  # blockier than any candidate makes the generated LR
    with pytest.warns(UserWarning, match="sits at its lowest candidate, quality 10") as caught:
        low, _ = estimate_quality_range(real, [_photo_like(10 + s) for s in range(2)])
    assert low == 10 and len(caught) == 1 and "\n" not in str(caught[0].message)


def test_an_estimate_inside_the_candidates_does_not_warn(recwarn):
    estimate_quality_range([compress(_photo_like(s), 40) for s in range(3)], [_photo_like(10 + s) for s in range(2)])
    assert not [w for w in recwarn if "JPEG range estimate" in str(w.message)]
