"""The datasets' bicubic reference: BasicSR's MATLAB-style imresize, computed as two cached matrix products."""

import numpy as np
import pytest

pytest.importorskip("probdeg.integrations.basicsr")
from basicsr.utils.matlab_functions import imresize  # noqa: E402

from probdeg.integrations.basicsr.datasets import matlab_bicubic  # noqa: E402


@pytest.mark.parametrize("shape", [(128, 128, 3), (64, 64, 3), (37, 53, 3), (130, 90, 1), (8, 12, 3)])
@pytest.mark.parametrize("scale", [2, 3, 4])
def test_matches_basicsr_imresize_to_float_rounding(shape, scale):
    image = np.random.default_rng(shape[0] * scale).random(shape, dtype=np.float32)
    expected = imresize(image, 1 / scale)
    result = matlab_bicubic(image, scale)
    assert result.shape == expected.shape and result.dtype == np.float32
    np.testing.assert_allclose(result, expected, atol=1e-6)


def test_a_flat_image_stays_flat_and_a_ramp_keeps_its_mean():
    flat = np.full((32, 48, 3), 0.3, dtype=np.float32)
    np.testing.assert_allclose(matlab_bicubic(flat, 4), 0.3, atol=1e-6)
    ramp = np.tile(np.linspace(0, 1, 64, dtype=np.float32)[None, :, None], (16, 1, 3))
    assert abs(matlab_bicubic(ramp, 4).mean() - ramp.mean()) < 1e-3
