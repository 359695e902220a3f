"""probdeg.integrations.basicsr.schema: a section reads its keys with their checks and conversions, and every mistake
is one OptionError naming the key path and what was expected."""

from __future__ import annotations

import pytest

from probdeg.errors import OptionError
from probdeg.integrations.basicsr.schema import CollabOptions, HandmadeOptions, check_keys, integer, shorten
from probdeg.integrations.basicsr.sources import handmade_preset


def test_a_section_reads_defaults_and_converts_values():
    assert CollabOptions.read(None, "collab") == CollabOptions()
    read = CollabOptions.read({"lambda_ada": 1, "lambda_col": "1e-3", "total_progress": 40}, "collab")
    assert read.lambda_ada == 1.0 and isinstance(read.lambda_ada, float)
    assert read.lambda_col == pytest.approx(1e-3) and read.total_progress == 40
    assert "lambda_ada" in CollabOptions.describe() and "Eq. 6" in CollabOptions.describe()


@pytest.mark.parametrize("values, message", [
    ({"lambda_adaa": 1}, r"collab:lambda_adaa: unknown key 'lambda_adaa'; did you mean 'lambda_ada'\?"),
    ({"lambda_ada": -1}, r"collab:lambda_ada: expected .*>= 0.*got -1"),
    ({"clamp": "yes"}, r"collab:clamp: expected true or false, got 'yes'"),
    ([1, 2], r"collab: expected a mapping of keys"),
])
def test_each_mistake_names_the_key_and_what_was_expected(values, message):
    with pytest.raises(OptionError, match=message):
        CollabOptions.read(values, "collab")


def test_check_keys_accepts_families_and_lenient_sections():
    accepted = {"total_iter": integer(1)}
    check_keys({"total_iter": 5, "pretrain_network_sr0": "x.pth"}, "path", accepted,
               families={"pretrain_network_sr": lambda v: None})
    check_keys({"something_basicsr_reads": 1}, "train", accepted, strict=False)
    with pytest.raises(OptionError, match="train:total_iter: expected"):
        check_keys({"total_iter": 0}, "train", accepted, strict=False)  # known keys are checked all the same


def test_long_values_are_cut_in_messages():
    assert shorten("x" * 10) == repr("x" * 10)
    assert shorten(list(range(1000))).endswith("characters)") and len(shorten(list(range(1000)))) < 160


def test_the_hand_made_section_needs_every_parameter_and_checks_each():
    preset = handmade_preset("realesrgan", "degradations[0]")
    options = HandmadeOptions.read({**preset, "jpeg_range": [60, 95]}, "degradations[0]")
    assert options.jpeg_range == (60.0, 95.0) and options.kernel_list == tuple(preset["kernel_list"])
    with pytest.raises(OptionError, match="degradations\\[0\\]:jpeg_range: expected"):
        HandmadeOptions.read({**preset, "jpeg_range": [95, 60]}, "degradations[0]")
    with pytest.raises(OptionError, match="degradations\\[0\\]:usm_sharpen: missing"):
        HandmadeOptions.read({"jpeg_range": [60, 95]}, "degradations[0]")
