"""Fuzzing with a fixed seed: mutated option files and image files fail with clean, typed errors that name what is
wrong (OptionError, ImageReadError, ...), never a bare KeyError, AttributeError, IndexError, TypeError or cv2.error."""

import random
import shutil
import warnings
from pathlib import Path

import pytest
import yaml

pytest.importorskip("probdeg.integrations.basicsr")
from probdeg.errors import OptionError
from probdeg.integrations.basicsr.options import load_options  # noqa: E402
from probdeg.io import ImageReadError, list_images, read_image  # noqa: E402
from probdeg.sample_task import make_sample_data  # noqa: E402
from probdeg.unpaired_data import UnpairedImageDataset  # noqa: E402

TINY = Path(__file__).resolve().parents[2] / "integrations" / "basicsr" / "options" / "tiny"
PRESETS = ("deg_deresnet_det.yml", "deg_deresnet_prob.yml", "sr_bicubic.yml", "mssr.yml", "test_mssr.yml")
ODD_VALUES = [None, "abc", -3, 0, 1.5, [], {}, True, "1e-4", [1, "x"], {"x": {"y": 1}}, float("nan"), "", 10**30]


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("fuzz")
    make_sample_data(root / "datasets" / "sample", seed=0)
    return root


def _nodes(node, path=()):
    """Every (container, key, path) in a nested option dict."""
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else []
    for key, value in list(items):
        yield node, key, (*path, key)
        yield from _nodes(value, (*path, key))


def _mutate_options(rng: random.Random, text: str) -> tuple[bytes, str]:
    """A mutated option file (bytes: it may not be UTF-8) and what was done to it."""
    kind = rng.choice(["delete", "rename", "retype", "garbage", "truncate", "not_a_mapping"])
    if kind in ("garbage", "truncate"):
        data = bytearray(text.encode())
        if kind == "truncate":
            cut = rng.randrange(len(data))
            return bytes(data[:cut]), f"truncated at byte {cut}"
        for _ in range(rng.randint(1, 5)):
            data.insert(rng.randrange(len(data)), rng.choice(b":{}[]-\t&*!|>%@`'\"\n #\xff\x00\xc3"))
        return bytes(data), "garbage bytes inserted"
    if kind == "not_a_mapping":
        return yaml.safe_dump(rng.choice([[1, 2], "text", 3, None])).encode(), kind
    opt = yaml.safe_load(text)
    container, key, path = rng.choice(list(_nodes(opt)))
    where = ":".join(map(str, path))
    if kind == "delete":
        del container[key]
    elif kind == "rename" and isinstance(container, dict):
        container[str(key)[:-1] + rng.choice("xs_")] = container.pop(key)
    else:
        container[key] = rng.choice(ODD_VALUES)
        kind = "retype"
    return yaml.safe_dump(opt).encode(), f"{kind} {where}"


def test_mutated_option_files_fail_only_with_option_errors(root):
    rng = random.Random(0)
    texts = {name: (TINY / name).read_text() for name in PRESETS}
    outcomes = {"loaded": 0, "OptionError": 0}
    dataset_errors = 0
    for case in range(300):
        preset = rng.choice(PRESETS)
        text, what = _mutate_options(rng, texts[preset])
        path = root / "fuzz.yml"
        path.write_bytes(text)
        try:
            opt = load_options(path, root=root, is_train="test" not in preset, check_files="sr_" not in preset)
        except OptionError as error:
            assert str(path) in str(error), (case, what, error)
            outcomes["OptionError"] += 1
            continue
        except Exception as error:  # noqa: BLE001 - the point: any other type is a bug
            pytest.fail(f"case {case} ({preset}, {what}): {type(error).__name__}: {error}")
        outcomes["loaded"] += 1
        train = opt["datasets"].get("train")
        if train and train.get("type") == "UnpairedImageDataset" and "sr_" not in preset:
            dataset_errors += _build_dataset(root, train, f"case {case} ({preset}, {what})")
    assert outcomes["OptionError"] > 100 and outcomes["loaded"] > 30, outcomes  # both paths were exercised


def _build_dataset(root: Path, options: dict, case: str) -> int:
    """Build the training set a loaded option file describes and read an item: clean ValueErrors at most."""
    from probdeg.integrations.basicsr.datasets import BasicSRUnpairedDataset

    options = {**options, **{k: str(root / options[k]) for k in ("dataroot_hr", "dataroot_lr") if k in options}}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            BasicSRUnpairedDataset(options)[0]
    except (ValueError, OSError):
        return 1
    except Exception as error:  # noqa: BLE001
        pytest.fail(f"{case}: the dataset raised {type(error).__name__}: {error}")
    return 0


def _mutate_image(rng: random.Random, data: bytes) -> tuple[bytes, str, str]:
    """Mutated image bytes, the file suffix to write them under and what was done."""
    kind = rng.choice(["truncate", "flip", "empty", "wrong_extension", "random", "header_only", "text"])
    suffix = ".png"
    if kind == "truncate":
        data = data[:rng.randrange(1, len(data))]
    elif kind == "flip":
        data = bytearray(data)
        for _ in range(rng.randint(1, 20)):
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        data = bytes(data)
    elif kind == "empty":
        data = b""
    elif kind == "wrong_extension":
        suffix = rng.choice([".jpg", ".tif", ".bmp", ".webp"])
    elif kind == "random":
        data = bytes(rng.randrange(256) for _ in range(rng.randint(1, 2000)))
    elif kind == "header_only":
        data = data[:rng.randint(8, 64)]
    else:
        data = "not an image, ünïcödé".encode()
    return data, suffix, kind


def test_mutated_image_files_fail_only_with_image_read_errors(root, tmp_path):
    rng = random.Random(1)
    sources = [p.read_bytes() for p in list_images(root / "datasets" / "sample" / "train_lr")[:4]]
    folder = tmp_path / "fuzzed images"
    folder.mkdir()
    read, refused = 0, 0
    for case in range(250):
        data, suffix, kind = _mutate_image(rng, rng.choice(sources))
        path = folder / f"case {case:03d} é{suffix}"
        path.write_bytes(data)
        try:
            image = read_image(path)
            assert image.ndim == 3 and image.shape[2] == 3
            read += 1
        except ImageReadError as error:
            assert error.path == path and str(path) in str(error)
            refused += 1
        except Exception as error:  # noqa: BLE001
            pytest.fail(f"case {case} ({kind}): {type(error).__name__}: {error}")
    assert refused > 100 and read > 10, (read, refused)
    assert len(list_images(folder)) == 250

    # The whole fuzzed folder as real LR, with two good HR images: built with unreadable files skipped, every
    # item readable.
    hr = tmp_path / "hr"
    shutil.copytree(root / "datasets" / "sample" / "train_hr", hr)
    with pytest.warns(UserWarning, match="skipped"):
        dataset = UnpairedImageDataset(hr, folder, crop_size=16, scale=4, length=20, small_images="skip")
    for index in range(len(dataset)):
        assert dataset[(0, index)]["real_lr"].shape == (3, 4, 4)
