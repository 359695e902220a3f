"""probdeg.runtime: the allocator setting and the autocast choice."""

import pytest
import torch

from probdeg.runtime import autocast_dtype, bf16_is_native, in_precision


def test_autocast_choices_off_bf16_and_auto_follow_the_hardware():
    cpu = torch.device("cpu")
    assert autocast_dtype("off", cpu) is None
    assert autocast_dtype("bf16", cpu) is torch.bfloat16
    assert autocast_dtype("auto", cpu) is (torch.bfloat16 if bf16_is_native(cpu) else None)
    assert bf16_is_native(cpu) == (torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
    assert not bf16_is_native(torch.device("meta"))


def test_a_bad_autocast_choice_names_the_key_and_the_choices():
    with pytest.raises(ValueError, match=r"train:autocast: expected one of auto, bf16, off, got 'fp16'"):
        autocast_dtype("fp16", torch.device("cpu"))


def test_in_precision_runs_the_forward_in_that_dtype_and_returns_float32():
    conv = torch.nn.Conv2d(3, 4, 3, padding=1)
    seen = []
    conv.register_forward_hook(lambda mod, inp, out: seen.append(out.dtype))
    x = torch.rand(1, 3, 8, 8)
    assert in_precision(conv, None) is conv
    out = in_precision(conv, torch.bfloat16)(x)
    assert seen == [torch.bfloat16] and out.dtype == torch.float32
    torch.testing.assert_close(out, conv(x), rtol=2e-2, atol=2e-2)
    assert not torch.is_autocast_enabled("cpu")  # the context ends with the call
