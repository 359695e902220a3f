"""probdeg.data.UnpairedImageDataset: which images the crops come from, augmentation, skipping, randomness."""

import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from probdeg.io import ImageReadError, tensor_to_image, write_image
from probdeg.unpaired_data import UnpairedImageDataset

CROP, SCALE = 16, 4


def _flat(folder: Path, name: str, level: int, size: tuple[int, int] = (40, 48)) -> Path:
    """A constant image whose red channel ``level / 255`` identifies it."""
    path = folder / name
    write_image(path, np.full((*size, 3), (level / 255, 0.5, 0.25), np.float32))
    return path


def _coords(folder: Path, name: str, size: int) -> Path:
    """An image whose red channel is 4 * column and green channel 4 * row (8-bit), so a crop tells where it was cut
    and how it was flipped or turned."""
    y, x = np.mgrid[:size, :size].astype(np.float32)
    path = folder / name
    write_image(path, np.stack([4 * x, 4 * y, np.zeros_like(x)], axis=2) / 255)
    return path


def _level(t: torch.Tensor) -> int:
    values = torch.unique(torch.round(t[0] * 255))
    assert len(values) == 1, "the crop mixes images"
    return int(values[0])


def _pose(t: torch.Tensor) -> tuple[int, int, int, int]:
    """(flipped, quarter turns, top, left) of a crop of a `_coords` image."""
    crop = np.rint(tensor_to_image(t) * 255 / 4).astype(int)
    for flip in (0, 1):
        for turns in range(4):
            # undo: the dataset flips (maybe) then turns, so turn back then flip back
            u = np.rot90(crop, -turns)
            u = u[:, ::-1] if flip else u
            if (np.diff(u[..., 0], axis=1) == 1).all() and (np.diff(u[..., 1], axis=0) == 1).all():
                return flip, turns, int(u[0, 0, 1]), int(u[0, 0, 0])
    raise AssertionError("the crop is not a flipped/turned window of the source")


@pytest.fixture(autouse=True)
def _seeded():
    # The statistical checks below would fail about once in 10^5 runs; a fixed seed makes them deterministic.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        yield


@pytest.fixture
def flat_folders(tmp_path):
    hr, lr = tmp_path / "hr", tmp_path / "lr"
    for k in range(3):
        _flat(hr, f"hr{k}.png", 10 + k)
    for k in range(4):
        _flat(lr, f"lr{k}.png", 100 + k, size=(20 + k, 9 + k))  # odd sizes
    return hr, lr


@pytest.fixture
def coord_folders(tmp_path):
    hr, lr = tmp_path / "hr", tmp_path / "lr"
    _coords(hr, "hr.png", 48)
    _coords(lr, "lr.png", 24)
    return hr, lr


def _items(dataset, count=None):
    return [dataset[i] for i in range(count if count is not None else len(dataset))]


class TestItems:
    def test_shapes_types_and_range(self, flat_folders):
        item = UnpairedImageDataset(*flat_folders, crop_size=CROP, scale=SCALE)[0]
        assert set(item) == {"hr", "real_lr", "hr_path", "lr_path"}
        assert item["hr"].shape == (3, CROP, CROP) and item["real_lr"].shape == (3, CROP // SCALE, CROP // SCALE)
        for key in ("hr", "real_lr"):
            assert item[key].dtype == torch.float32 and 0 <= item[key].min() and item[key].max() <= 1
        assert isinstance(item["hr_path"], str) and isinstance(item["lr_path"], str)

    def test_crops_come_from_the_named_images(self, flat_folders):
        dataset = UnpairedImageDataset(*flat_folders, crop_size=CROP, scale=SCALE, length=30)
        for i, item in enumerate(_items(dataset)):
            assert item["hr_path"].endswith(f"hr{i % 3}.png")
            assert _level(item["hr"]) == 10 + i % 3
            assert _level(item["real_lr"]) == 100 + int(Path(item["lr_path"]).stem[2:])

    def test_lr_partner_is_random_over_all_lr_images(self, flat_folders):
        dataset = UnpairedImageDataset(*flat_folders, crop_size=CROP, scale=SCALE, length=60, augment=False)
        partners = {Path(item["lr_path"]).name for item in _items(dataset)}
        assert partners == {f"lr{k}.png" for k in range(4)}

    def test_same_folder_never_pairs_an_image_with_itself(self, tmp_path):
        for k in range(3):
            _flat(tmp_path, f"img{k}.png", 10 + k)
        dataset = UnpairedImageDataset(tmp_path, [tmp_path], crop_size=CROP, scale=SCALE, length=90)
        pairs = set()
        for item in _items(dataset):
            assert item["lr_path"] != item["hr_path"] and _level(item["hr"]) != _level(item["real_lr"])
            pairs.add((Path(item["hr_path"]).name, Path(item["lr_path"]).name))
        assert len(pairs) == 6  # every other image is used

    def test_paired_folders_never_pair_same_names(self, tmp_path):
        for k in range(3):
            _flat(tmp_path / "clean", f"{k:04d}.png", 10 + k)
            _flat(tmp_path / "noisy", f"{k:04d}.png", 100 + k)
        dataset = UnpairedImageDataset(tmp_path / "clean", tmp_path / "noisy", crop_size=CROP, scale=SCALE,
                                       length=60)
        for item in _items(dataset):
            assert Path(item["lr_path"]).name != Path(item["hr_path"]).name

    def test_a_single_image_for_both_pairs_with_itself_with_a_warning(self, tmp_path):
        _flat(tmp_path, "only.png", 10)
        with pytest.warns(UserWarning, match="only.png.*paired with themselves"):
            dataset = UnpairedImageDataset(tmp_path, tmp_path, crop_size=CROP, scale=SCALE)
        assert dataset[0]["lr_path"] == dataset[0]["hr_path"]

    def test_cached_images_give_the_same_items_without_reading_the_files_again(self, flat_folders, monkeypatch):
        hr, lr = flat_folders
        plain = UnpairedImageDataset(hr, lr, crop_size=16, scale=4)
        cached = UnpairedImageDataset(hr, lr, crop_size=16, scale=4, cache_images=True)
        first = [cached[(0, i)] for i in range(len(cached))]
        reads = []
        monkeypatch.setattr("probdeg.unpaired_data.decode_image", lambda path: reads.append(path))
        again = [cached[(0, i)] for i in range(len(cached))]
        assert reads == []  # every image came from the cache
        for a, b in zip(first, again):
            assert torch.equal(a["hr"], b["hr"]) and torch.equal(a["real_lr"], b["real_lr"])
        monkeypatch.undo()
        assert all(torch.equal(plain[(0, i)]["hr"], first[i]["hr"]) for i in range(len(plain)))

    def test_default_length_and_index_wrapping(self, flat_folders):
        dataset = UnpairedImageDataset(*flat_folders, crop_size=CROP, scale=SCALE)
        assert len(dataset) == 4  # max(3 HR, 4 LR)
        assert dataset[3]["hr_path"] == dataset[0]["hr_path"]
        assert len(UnpairedImageDataset(*flat_folders, crop_size=CROP, scale=SCALE, length=7)) == 7
        with pytest.raises(IndexError, match="out of range"):
            dataset[4]
        assert "hr=3 images, lr=4 images" in repr(dataset)

    def test_reference_gives_hr_bicubic_of_the_augmented_hr_crop(self, coord_folders):
        seen = []

        def area(hr: np.ndarray, scale: int) -> np.ndarray:
            assert hr.dtype == np.float32 and hr.shape == (CROP, CROP, 3)
            seen.append(hr)
            return cv2.resize(hr, None, fx=1 / scale, fy=1 / scale, interpolation=cv2.INTER_AREA)

        dataset = UnpairedImageDataset(*coord_folders, crop_size=CROP, scale=SCALE, reference=area, length=8)
        for i in range(len(dataset)):
            item = dataset[i]
            assert item["hr_bicubic"].shape == (3, CROP // SCALE, CROP // SCALE)
            np.testing.assert_array_equal(seen[-1], tensor_to_image(item["hr"]))  # the augmented crop
            expected = area(tensor_to_image(item["hr"]), SCALE)
            np.testing.assert_allclose(tensor_to_image(item["hr_bicubic"]), expected)

    def test_reference_of_the_wrong_shape(self, flat_folders):
        dataset = UnpairedImageDataset(*flat_folders, crop_size=CROP, scale=SCALE, reference=lambda hr, s: hr)
        with pytest.raises(ValueError, match=r"reference\(hr_crop, 4\) returned shape \(16, 16, 3\)"):
            dataset[0]


class TestAugmentation:
    def test_without_augment_crops_are_plain_windows_at_random_places(self, coord_folders):
        dataset = UnpairedImageDataset(*coord_folders, crop_size=CROP, scale=SCALE, augment=False, length=40)
        hr_places, lr_places = set(), set()
        for item in _items(dataset):
            flip, turns, top, left = _pose(item["hr"])
            assert (flip, turns) == (0, 0) and 0 <= top <= 48 - CROP and 0 <= left <= 48 - CROP
            hr_places.add((top, left))
            flip, turns, top, left = _pose(item["real_lr"])
            assert (flip, turns) == (0, 0) and 0 <= top <= 24 - CROP // SCALE
            lr_places.add((top, left))
        assert len(hr_places) > 30 and len(lr_places) > 20

    def test_augment_uses_all_eight_poses_independently_for_hr_and_lr(self, coord_folders):
        dataset = UnpairedImageDataset(*coord_folders, crop_size=CROP, scale=SCALE, length=200)
        hr_poses, lr_poses, joint = [], [], set()
        for item in _items(dataset):
            hr_poses.append(_pose(item["hr"])[:2])
            lr_poses.append(_pose(item["real_lr"])[:2])
            joint.add((hr_poses[-1], lr_poses[-1]))
        for poses in (hr_poses, lr_poses):
            counts = np.unique(poses, axis=0, return_counts=True)[1]
            assert len(counts) == 8 and counts.min() >= 8  # expected 25 each
        assert len(joint) > 40  # independent: 64 combinations possible; tied ones would give 8

    def test_crop_size_must_be_a_multiple_of_scale(self, flat_folders):
        with pytest.raises(ValueError, match="crop_size 18 is not a multiple of scale 4"):
            UnpairedImageDataset(*flat_folders, crop_size=18, scale=4)

    @pytest.mark.parametrize("kwargs, message", [({"small_images": "drop"}, "small_images"),
                                                 ({"length": 0}, "length"), ({"seed": -1}, "seed"),
                                                 ({"scale": 0}, "scale")])
    def test_bad_options(self, flat_folders, kwargs, message):
        with pytest.raises(ValueError, match=message):
            UnpairedImageDataset(*flat_folders, crop_size=CROP, **kwargs)


class TestSkipping:
    @pytest.fixture
    def folders_with_small_images(self, flat_folders):
        hr, lr = flat_folders
        _flat(hr, "tiny_hr.png", 50, size=(12, 30))
        _flat(lr, "tiny_lr.png", 150, size=(3, 3))
        return hr, lr

    def test_skip_drops_small_images_with_one_warning(self, folders_with_small_images):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            dataset = UnpairedImageDataset(*folders_with_small_images, crop_size=CROP, scale=SCALE)
        assert len(caught) == 1
        message = str(caught[0].message)
        assert "skipped 2 of 9 images" in message and "tiny_hr.png (HR, 30x12 < 16x16)" in message
        assert "tiny_lr.png (LR, 3x3 < 4x4)" in message
        assert caught[0].filename == __file__  # points at the caller
        assert len(dataset.hr_paths) == 3 and len(dataset.lr_paths) == 4
        assert not any("tiny" in item["hr_path"] + item["lr_path"] for item in _items(dataset))

    def test_warning_lists_only_the_first_few(self, tmp_path):
        _flat(tmp_path / "lr", "lr.png", 100)
        for k in range(8):
            _flat(tmp_path / "hr", f"small{k}.png", 10, size=(8, 8))
        _flat(tmp_path / "hr", "big.png", 10)
        with pytest.warns(UserWarning, match=r"skipped 8 of 10 .*small4\.png.*\.\.\. \(3 more\)"):
            UnpairedImageDataset(tmp_path / "hr", tmp_path / "lr", crop_size=CROP, scale=SCALE)

    def test_error_names_the_first_small_file_and_its_size(self, folders_with_small_images):
        with pytest.raises(ValueError, match=r"HR image .*tiny_hr\.png' is 30x12, smaller than the 16x16 HR crop"):
            UnpairedImageDataset(*folders_with_small_images, crop_size=CROP, scale=SCALE, small_images="error")

    def test_unreadable_files_skip_with_a_warning_or_raise(self, flat_folders):
        hr, lr = flat_folders
        (hr / "empty.png").touch()
        (lr / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
        with pytest.warns(UserWarning, match=r"empty\.png \(HR, unreadable: the file is empty.*broken\.jpg"):
            dataset = UnpairedImageDataset(hr, lr, crop_size=CROP, scale=SCALE)
        assert len(dataset.hr_paths) == 3 and len(dataset.lr_paths) == 4
        with pytest.raises(ImageReadError, match="empty.png"):
            UnpairedImageDataset(hr, lr, crop_size=CROP, scale=SCALE, small_images="error")

    def test_nothing_usable_names_the_folders(self, flat_folders):
        hr, lr = flat_folders
        with pytest.warns(UserWarning), pytest.raises(ValueError, match=r"no usable HR images in .*hr'.*64x64"):
            UnpairedImageDataset(hr, lr, crop_size=64, scale=16)
        with pytest.warns(UserWarning), pytest.raises(ValueError, match=r"no usable LR images in .*lr'.*"):
            UnpairedImageDataset(hr, lr, crop_size=40, scale=2)

    def test_missing_and_empty_folders(self, tmp_path, flat_folders):
        hr, _ = flat_folders
        with pytest.raises(FileNotFoundError, match="nowhere"):
            UnpairedImageDataset(hr, tmp_path / "nowhere", crop_size=CROP, scale=SCALE)
        (tmp_path / "void").mkdir()
        with pytest.raises(ValueError, match="no images .* found in .*void"):
            UnpairedImageDataset(tmp_path / "void", hr, crop_size=CROP, scale=SCALE)


def test_gray_rgba_16bit_and_odd_sized_images(tmp_path):
    def put(name, array):
        ok, data = cv2.imencode(Path(name).suffix, array)
        (tmp_path / name).write_bytes(data.tobytes())

    put("gray.png", np.full((19, 23), 60, np.uint8))
    put("rgba.png", np.dstack([np.full((21, 17, 3), (10, 20, 30), np.uint8), np.zeros((21, 17), np.uint8)]))
    put("deep.tif", np.full((17, 25, 3), (0, 65535, 32896), np.uint16))  # BGR
    dataset = UnpairedImageDataset(tmp_path, tmp_path, crop_size=16, scale=SCALE, length=60)
    expected = {"gray.png": [60 / 255] * 3, "rgba.png": [30 / 255, 20 / 255, 10 / 255],
                "deep.tif": [32896 / 65535, 1, 0]}
    for item in _items(dataset):
        for key, path in (("hr", "hr_path"), ("real_lr", "lr_path")):
            colour = item[key].mean(dim=(1, 2)).numpy()
            np.testing.assert_allclose(colour, expected[Path(item[path]).name], atol=1e-6)


class TestRandomness:
    def test_fixed_torch_seed_reproduces_and_epochs_differ(self, coord_folders):
        dataset = UnpairedImageDataset(*coord_folders, crop_size=CROP, scale=SCALE, length=6)

        def epoch(loader):
            return torch.cat([batch["hr"] for batch in loader])

        loader = DataLoader(dataset, batch_size=2, shuffle=True, num_workers=0)
        torch.manual_seed(7)
        first, second = epoch(loader), epoch(loader)
        torch.manual_seed(7)
        assert torch.equal(epoch(loader), first)
        assert not torch.equal(first, second)

    def test_seed_argument_changes_the_crops(self, coord_folders):
        torch.manual_seed(0)
        a = UnpairedImageDataset(*coord_folders, crop_size=CROP, scale=SCALE, seed=1)[0]["hr"]
        torch.manual_seed(0)
        b = UnpairedImageDataset(*coord_folders, crop_size=CROP, scale=SCALE, seed=2)[0]["hr"]
        assert not torch.equal(a, b)

    def test_two_workers_give_distinct_crops_and_reproduce_under_a_seed(self, coord_folders):
        dataset = UnpairedImageDataset(*coord_folders, crop_size=CROP, scale=SCALE, length=12)
        loader = DataLoader(dataset, batch_size=1, num_workers=2)  # item i is made by worker i % 2

        def poses():
            return [(_pose(b["hr"][0]), _pose(b["real_lr"][0])) for b in loader]

        torch.manual_seed(3)
        first = poses()
        # One generator made in __init__ and copied into both workers would give items 2k and 2k+1 the same
        # crops (6 distinct); here all 12 differ.
        assert len(set(first)) == 12
        torch.manual_seed(3)
        assert poses() == first


@pytest.mark.parametrize("augment", [False, True])
def test_offline_synthetic_lr_crops_are_aligned_with_the_hr_crop(tmp_path, augment):
    rng = np.random.default_rng(0)
    hr_dir, lr_dir, deg_dir = tmp_path / "hr", tmp_path / "lr", tmp_path / "deg"
    for name in ("a", "b"):
        hr = rng.random((72, 88, 3)).astype(np.float32)
        write_image(hr_dir / f"{name}.png", hr)
        hr = cv2.imread(str(hr_dir / f"{name}.png"))[..., ::-1].astype(np.float32) / 255
        for k in range(2):  # two samples per image, as `probdeg degrade --samples 2` writes them
            write_image(deg_dir / f"{name}_s{k}.png", cv2.resize(hr, (22, 18), interpolation=cv2.INTER_AREA) + k * 0.01)
        write_image(lr_dir / f"real_{name}.png", rng.random((30, 30, 3)).astype(np.float32))
    dataset = UnpairedImageDataset(hr_dir, lr_dir, crop_size=32, scale=4, augment=augment,
                                   synthetic_lr={"deg": deg_dir}, length=8)
    for item in _items(dataset):
        expected = cv2.resize(tensor_to_image(item["hr"]), (8, 8), interpolation=cv2.INTER_AREA)
        offset = np.abs(tensor_to_image(item["lr_deg"]) - expected).mean()
        assert offset < 0.02, offset  # the same region (and orientation), up to 8-bit rounding and the sample shift
    with pytest.raises(ValueError, match="no LR sample"):
        UnpairedImageDataset(hr_dir, lr_dir, crop_size=32, scale=4, synthetic_lr={"deg": lr_dir})
