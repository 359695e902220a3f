"""The degradation sources of ``degradations:``: one class per kind, read, written back, paths resolved, checked by
the validator with the option file named, and the mixed entries."""

from pathlib import Path

import pytest

pytest.importorskip("probdeg.integrations.basicsr")
from probdeg.errors import OptionError  # noqa: E402
from probdeg.integrations.basicsr.options import resolve_paths  # noqa: E402
from probdeg.integrations.basicsr.sources import (  # noqa: E402
    SOURCES,
    BicubicSource,
    GeneratorSource,
    HandmadeSource,
    OfflineSource,
    read_degradations,
    write_entry,
)
from probdeg.integrations.basicsr.validation import validate_options  # noqa: E402

ENTRIES = [{"generator": "G.pth", "jpeg": [40, 70]}, {"bicubic": True}, [{"offline": "a"}, {"generator": "G.pth"}],
           {"handmade": "realesrgan", "jpeg_range": [60, 95], "second_blur_prob": 0}]


def test_every_kind_reads_into_its_class_and_writes_back_to_what_reads_the_same():
    entries = read_degradations(ENTRIES)
    assert [type(s) for entry in entries for s in entry] == [GeneratorSource, BicubicSource, OfflineSource,
                                                             GeneratorSource, HandmadeSource]
    assert set(SOURCES) == {"generator", "bicubic", "offline", "handmade"}
    written = [write_entry(entry) for entry in entries]
    assert written[:3] == ENTRIES[:3]
    assert written[3]["jpeg_range"] == [60.0, 95.0] and written[3]["second_blur_prob"] == 0
    assert read_degradations(written) == entries
    handmade = entries[3][0].options
    assert handmade.jpeg_range == (60, 95) and handmade.jpeg_range2 == (30, 95)  # the rest from the preset


def test_paths_are_resolved_for_generators_only(tmp_path):
    opt = {"path": {}, "degradations": [dict(e) if isinstance(e, dict) else e for e in ENTRIES]}
    resolve_paths(opt, tmp_path)
    assert opt["degradations"][0]["generator"] == str(tmp_path / "G.pth")
    assert opt["degradations"][2] == [{"offline": "a"}, {"generator": str(tmp_path / "G.pth")}]
    assert opt["degradations"][3]["handmade"] == "realesrgan"


@pytest.mark.parametrize("entries, message", [
    ([{"generator": "G.pth", "bicubic": True}], "degradations[0]: expected exactly one of generator: PATH, "),
    ([{"bicubic": False}], "degradations[0]:bicubic: expected true"),
    ([{"handmade": "realesrgan", "kernel_prob": [1, 0, 0, 0, 0, 0.5]}], "degradations[0]:kernel_prob: expected a "
     "list of probabilities >= 0 that sum to 1, got a sum of 1.5"),
    ([[]], "degradations[0]: expected a source or a non-empty list of sources"),
    ([{"generator": "missing.pth"}], "degradations[0]:generator: file not found: missing.pth"),
])
def test_the_validator_names_the_file_and_the_entry(tmp_path, entries, message):
    opt = {"name": "x", "model_type": "CollaborativeSRModel", "datasets": {}, "path": {}, "degradations": entries,
           "network_sr": {"type": "SRVGGNetCompact", "upscale": 4}}
    with pytest.raises(OptionError) as error:
        validate_options(opt, source="opt.yml", root=Path(tmp_path), is_train=False)
    assert str(error.value).startswith(f"opt.yml: {message}")
