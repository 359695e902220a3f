import pytest
import torch
from torch import nn

from probdeg.archs import FSDiscriminator
from probdeg.filters import FILTER_KINDS, HighPass

EXPECTED_PARAMS = {"wavelet": 1_039_105, "avg_pool": 1_029_505, "gau": 1_029_505}


def _num_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("kind", FILTER_KINDS)
def test_per_pixel_logit_map(kind):
    torch.manual_seed(0)
    model = FSDiscriminator(num_feat=8, filter=kind)
    y = model(torch.rand(2, 3, 16, 12))
    expected = (8, 6) if kind == "wavelet" else (16, 12)
    assert y.shape == (2, 1, *expected)
    assert torch.isfinite(y).all()
    assert (y < 0).any() and (y > 0).any()  # raw logits, no sigmoid


@pytest.mark.parametrize("kind", FILTER_KINDS)
def test_gradient_reaches_input_and_every_parameter(kind):
    torch.manual_seed(0)
    model = FSDiscriminator(num_feat=8, filter=kind)
    x = torch.rand(2, 3, 16, 16, requires_grad=True)
    model(x).mean().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name


@pytest.mark.parametrize("kind", FILTER_KINDS)
def test_blind_to_a_brightness_offset(kind):
    # Only high frequencies reach the body, so adding a constant changes nothing.
    torch.manual_seed(0)
    model = FSDiscriminator(num_feat=8, filter=kind).double()
    x = torch.rand(1, 3, 16, 16, dtype=torch.float64)
    torch.testing.assert_close(model(x), model(x + 0.25))


@pytest.mark.parametrize("kind", FILTER_KINDS)
def test_filter_is_exposed_and_sets_input_channels(kind):
    model = FSDiscriminator(in_channels=1, filter=kind, kernel_size=3)
    assert isinstance(model.filter, HighPass)
    assert model.filter.kind == kind
    assert model.body[0].in_channels == (3 if kind == "wavelet" else 1)


@pytest.mark.parametrize("kind", FILTER_KINDS)
def test_parameter_counts(kind):
    with torch.device("meta"):
        assert _num_params(FSDiscriminator(filter=kind)) == EXPECTED_PARAMS[kind]


@pytest.mark.parametrize("kwargs", [{"filter": "sobel"}, {"kernel_size": 4}, {"num_feat": 0}, {"in_channels": 0}])
def test_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        FSDiscriminator(**kwargs)
