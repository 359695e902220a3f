"""The datasets' bicubic reference: BasicSR's MATLAB-style imresize, computed as two cached matrix products."""

import numpy as np
import pytest

pytest.importorskip("probdeg.integrations.basicsr")
import torch  # noqa: E402
from basicsr.utils.matlab_functions import imresize  # noqa: E402

from probdeg.integrations.basicsr.datasets import matlab_bicubic, matlab_bicubic_tensor  # noqa: E402


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


def test_a_batch_of_tensors_gives_each_image_its_own_downscale():
    batch = torch.rand(3, 3, 40, 24, generator=torch.Generator().manual_seed(0))
    result = matlab_bicubic_tensor(batch, 4)
    assert result.shape == (3, 3, 10, 6)
    for image, small in zip(batch, result):
        expected = imresize(image.permute(1, 2, 0).numpy(), 1 / 4)
        np.testing.assert_allclose(small.permute(1, 2, 0).numpy(), expected, atol=1e-6)


def test_an_image_too_small_for_the_kernel_is_refused_by_name():
    with pytest.raises(ValueError, match="5 pixels are too few"):
        matlab_bicubic(np.zeros((5, 64, 3), dtype=np.float32), 4)


def test_the_plain_pytorch_reference_equals_it_inside_the_border():
    """``probdeg.filters.bicubic_downscale`` (the plain-PyTorch stage 1's reference) differs only at the border."""
    from probdeg.filters import bicubic_downscale

    batch = torch.rand(2, 3, 96, 128, generator=torch.Generator().manual_seed(1))
    plain, reference = bicubic_downscale(batch, 4), matlab_bicubic_tensor(batch, 4).clamp(0, 1)
    inner = (plain - reference)[..., 2:-2, 2:-2].abs().max().item()
    border = (plain - reference).abs().max().item()
    assert inner < 1e-5 and border > 1e-3  # equal inside; the border weights really differ
