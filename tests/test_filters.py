import pytest
import torch
import torch.nn.functional as F

from probdeg.filters import FILTER_KINDS, HighPass, LowPass, gaussian_kernel2d, haar_dwt

SPATIAL_KINDS = ("avg_pool", "gau")


def _inverse_haar(ll, lh, hl, hh):
    a = (ll + lh + hl + hh) * 0.5
    b = (ll + lh - hl - hh) * 0.5
    c = (ll - lh + hl - hh) * 0.5
    d = (ll - lh - hl + hh) * 0.5
    top = torch.stack((a, b), dim=-1).flatten(-2)
    bottom = torch.stack((c, d), dim=-1).flatten(-2)
    return torch.stack((top, bottom), dim=-2).flatten(-3, -2)


class TestHaarDWT:
    def test_known_block(self):
        x = torch.tensor([[1.0, 2.0], [3.0, 5.0]]).view(1, 1, 2, 2)
        ll, lh, hl, hh = (band.item() for band in haar_dwt(x))
        assert (ll, lh, hl, hh) == (5.5, -2.5, -1.5, 0.5)

    def test_shapes(self):
        bands = haar_dwt(torch.randn(2, 3, 8, 6))
        assert [b.shape for b in bands] == [torch.Size([2, 3, 4, 3])] * 4

    def test_energy_preserved(self):
        x = torch.randn(2, 3, 16, 12, dtype=torch.float64)
        energy = sum(band.pow(2).sum() for band in haar_dwt(x))
        torch.testing.assert_close(energy, x.pow(2).sum())

    def test_invertible(self):
        x = torch.randn(2, 3, 8, 10, dtype=torch.float64)
        torch.testing.assert_close(_inverse_haar(*haar_dwt(x)), x)

    def test_ll_half_is_2x2_mean(self):
        x = torch.rand(2, 3, 8, 8)
        torch.testing.assert_close(haar_dwt(x)[0] * 0.5, F.avg_pool2d(x, 2))

    @pytest.mark.parametrize("size", [(7, 8), (8, 7), (13, 17), (39, 64), (2, 3)])
    def test_an_odd_side_loses_its_last_row_or_column(self, size):
        x = torch.randn(1, 2, *size, dtype=torch.float64)
        h, w = size[0] // 2 * 2, size[1] // 2 * 2
        for band, expected in zip(haar_dwt(x), haar_dwt(x[..., :h, :w].contiguous())):
            assert band.shape[-2:] == (size[0] // 2, size[1] // 2)
            torch.testing.assert_close(band, expected, rtol=0, atol=0)
        torch.testing.assert_close(_inverse_haar(*haar_dwt(x)), x[..., :h, :w])

    @pytest.mark.parametrize("size", [(1, 8), (8, 1)])
    def test_an_image_without_one_2x2_block_is_refused(self, size):
        with pytest.raises(ValueError, match="at least 2x2"):
            haar_dwt(torch.zeros(1, 1, *size))

    @pytest.mark.parametrize("size", [(13, 17), (31, 7)])
    def test_the_wavelet_filters_take_prime_sizes(self, size):
        x = torch.rand(2, 3, *size)
        assert LowPass("wavelet")(x).shape == (2, 3, size[0] // 2, size[1] // 2)
        assert HighPass("wavelet")(x).shape == (2, 9, size[0] // 2, size[1] // 2)
        torch.testing.assert_close(LowPass("wavelet")(x), F.avg_pool2d(x, 2))  # avg_pool2d drops the odd edge too


class TestGaussianKernel:
    def test_sigma_and_normalisation(self):
        k = gaussian_kernel2d(5, dtype=torch.float64)
        assert k.sum().item() == pytest.approx(1.0)
        sigma = 5 / 6
        # Ratio centre / one pixel off-centre along an axis is exp(1 / (2 sigma^2)).
        assert (k[2, 2] / k[2, 3]).item() == pytest.approx(torch.exp(torch.tensor(1 / (2 * sigma**2))).item())
        torch.testing.assert_close(k, k.T)


class TestHighLowPass:
    def test_a_valid_filter_wider_than_the_image_says_what_it_needs(self):
        with pytest.raises(ValueError, match=r"9x9 'gau' filter .* at least 9 px a side, got \(8, 8\)"):
            LowPass("gau", kernel_size=9, padding="valid")(torch.rand(1, 3, 8, 8))
        assert LowPass("gau", kernel_size=9, padding="valid")(torch.rand(1, 3, 9, 10)).shape[-2:] == (1, 2)
        assert LowPass("gau", kernel_size=9)(torch.rand(1, 3, 8, 8)).shape[-2:] == (8, 8)  # "same" pads instead

    @pytest.mark.parametrize("kind", FILTER_KINDS)
    def test_constant_image(self, kind):
        x = torch.full((2, 3, 12, 12), 0.3)
        torch.testing.assert_close(HighPass(kind)(x), torch.full_like(HighPass(kind)(x), 0.5), rtol=0, atol=1e-6)
        low = LowPass(kind)(x)
        torch.testing.assert_close(low, torch.full_like(low, 0.3), rtol=0, atol=1e-6)

    def test_wavelet_constant_is_exact(self):
        x = torch.full((1, 3, 8, 8), 0.3)
        assert torch.equal(HighPass("wavelet")(x), torch.full((1, 9, 4, 4), 0.5))

    @pytest.mark.parametrize("kind", FILTER_KINDS)
    def test_shapes(self, kind):
        x = torch.rand(2, 3, 16, 12)
        high, low = HighPass(kind), LowPass(kind)
        half = kind == "wavelet"
        expected = (8, 6) if half else (16, 12)
        assert high(x).shape == (2, high.out_channels(3), *expected)
        assert low(x).shape == (2, 3, *expected)
        assert high.out_channels(3) == (9 if half else 3)

    @pytest.mark.parametrize("kind", SPATIAL_KINDS)
    def test_high_plus_low_reconstructs(self, kind):
        x = torch.rand(2, 3, 16, 16, dtype=torch.float64)
        high, low = HighPass(kind), LowPass(kind)
        torch.testing.assert_close(2 * (high(x) - 0.5) + low(x), x)

    @pytest.mark.parametrize("kind", SPATIAL_KINDS)
    def test_valid_padding_crops(self, kind):
        x = torch.rand(1, 2, 16, 16, dtype=torch.float64)
        high, low = HighPass(kind, 5, padding="valid"), LowPass(kind, 5, padding="valid")
        assert low(x).shape == (1, 2, 12, 12)
        torch.testing.assert_close(2 * (high(x) - 0.5) + low(x), x[..., 2:-2, 2:-2])
        # Away from the border, "valid" and "same" agree.
        torch.testing.assert_close(low(x), LowPass(kind, 5)(x)[..., 2:-2, 2:-2])

    def test_avg_pool_border_averages_inside_pixels_only(self):
        x = torch.arange(36, dtype=torch.float64).view(1, 1, 6, 6)
        corner = LowPass("avg_pool", 5)(x)[0, 0, 0, 0]
        assert corner.item() == pytest.approx(x[0, 0, :3, :3].mean().item())

    def test_gau_interior_matches_plain_convolution(self):
        x = torch.rand(1, 1, 10, 10, dtype=torch.float64)
        plain = F.conv2d(x, gaussian_kernel2d(5, dtype=torch.float64)[None, None])
        torch.testing.assert_close(LowPass("gau")(x)[..., 2:-2, 2:-2], plain)

    def test_wavelet_high_is_mapped_detail_bands(self):
        x = torch.rand(1, 2, 8, 8)
        _, lh, hl, hh = haar_dwt(x)
        torch.testing.assert_close(HighPass("wavelet")(x), torch.cat((lh, hl, hh), 1) * 0.5 + 0.5)

    @pytest.mark.parametrize("kind", FILTER_KINDS)
    def test_dtype_and_device_follow_input(self, kind):
        x = torch.rand(1, 3, 8, 8, dtype=torch.float64)
        for module in (HighPass(kind), LowPass(kind)):
            assert module(x).dtype == torch.float64
            assert module.to(torch.float64)(x).dtype == torch.float64
            assert module(torch.empty(1, 3, 8, 8, device="meta")).device.type == "meta"

    @pytest.mark.parametrize("cls", [HighPass, LowPass])
    @pytest.mark.parametrize("kind", FILTER_KINDS)
    def test_fixed_filters(self, cls, kind):
        module = cls(kind)
        assert list(module.parameters()) == []
        assert module.state_dict() == {}

    def test_gradcheck(self):
        x = torch.rand(1, 2, 4, 4, dtype=torch.float64, requires_grad=True)
        for kind in FILTER_KINDS:
            assert torch.autograd.gradcheck(HighPass(kind, 3), (x,), fast_mode=True)
            assert torch.autograd.gradcheck(LowPass(kind, 3), (x,), fast_mode=True)

    @pytest.mark.parametrize("cls", [HighPass, LowPass])
    def test_unknown_kind_lists_valid_kinds(self, cls):
        with pytest.raises(ValueError, match="wavelet, avg_pool, gau"):
            cls("median")

    @pytest.mark.parametrize("kwargs", [{"kernel_size": 4}, {"kernel_size": 0}, {"padding": "reflect"}])
    def test_bad_arguments(self, kwargs):
        with pytest.raises(ValueError):
            HighPass("gau", **kwargs)
