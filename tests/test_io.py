"""probdeg.io: reading every layout to float RGB, PNG round trips, atomic writes, listing folders, clear errors."""

import os
import pickle
import stat
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from probdeg.errors import UserError
from probdeg.io import (
    IMAGE_EXTENSIONS,
    ImageReadError,
    atomic_path,
    image_to_tensor,
    list_images,
    read_image,
    read_stored_image,
    tensor_to_image,
    write_image,
    write_image_array,
)


def _encode(path: Path, array: np.ndarray) -> Path:
    """Write an array (OpenCV channel order) in the format of ``path``'s extension."""
    ok, data = cv2.imencode(path.suffix, array)
    assert ok
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.tobytes())
    return path


def _quantised(image: np.ndarray) -> np.ndarray:
    return np.rint(np.clip(image, 0, 1) * 255).astype(np.uint8).astype(np.float32) / 255


@pytest.fixture
def image() -> np.ndarray:
    return np.random.default_rng(0).random((13, 17, 3), dtype=np.float32)


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


class TestReadImage:
    def test_8bit_rgb_is_scaled_by_255_in_rgb_order(self, tmp_path):
        rgb = np.random.default_rng(1).integers(0, 256, (9, 11, 3), dtype=np.uint8)
        path = _encode(tmp_path / "a.png", rgb[:, :, ::-1])
        out = read_image(path)
        assert out.dtype == np.float32 and out.shape == (9, 11, 3) and out.flags.c_contiguous
        np.testing.assert_array_equal(out, rgb.astype(np.float32) / 255)

    def test_pure_red_reads_as_red(self, tmp_path):
        bgr = np.zeros((4, 4, 3), np.uint8)
        bgr[..., 2] = 255
        out = read_image(_encode(tmp_path / "red.png", bgr))
        np.testing.assert_array_equal(out[0, 0], [1, 0, 0])

    @pytest.mark.parametrize("suffix", [".png", ".tif"])
    def test_16bit_is_scaled_by_65535(self, tmp_path, suffix):
        values = np.array([[0, 1, 257, 1000], [32768, 40000, 65534, 65535]], np.uint16)
        rgb = np.stack([values, values[::-1], values[:, ::-1]], axis=2)
        out = read_image(_encode(tmp_path / f"deep{suffix}", rgb[:, :, ::-1]))
        np.testing.assert_array_equal(out, rgb.astype(np.float32) / 65535)
        assert out[0, 1, 0] > 0  # 1/65535: not truncated to 8 bits
        assert out.max() == 1.0

    def test_gray_becomes_three_equal_channels(self, tmp_path):
        gray = np.arange(30, dtype=np.uint8).reshape(5, 6) * 8
        out = read_image(_encode(tmp_path / "g.png", gray))
        assert out.shape == (5, 6, 3)
        for c in range(3):
            np.testing.assert_array_equal(out[..., c], gray / np.float32(255))

    def test_16bit_gray(self, tmp_path):
        gray = np.array([[0, 300], [65535, 12345]], np.uint16)
        out = read_image(_encode(tmp_path / "g16.png", gray))
        np.testing.assert_array_equal(out[..., 1], gray.astype(np.float32) / 65535)

    def test_rgba_drops_alpha_and_keeps_the_stored_colour(self, tmp_path):
        rgb = np.random.default_rng(2).integers(0, 256, (6, 7, 3), dtype=np.uint8)
        alpha = np.zeros((6, 7), np.uint8)
        alpha[:, :3] = 255  # half transparent, half opaque: colour kept either way
        out = read_image(_encode(tmp_path / "rgba.png", np.dstack([rgb[:, :, ::-1], alpha])))
        assert out.shape == (6, 7, 3)
        np.testing.assert_array_equal(out, rgb / np.float32(255))

    def test_jpeg_and_odd_size(self, tmp_path):
        flat = np.full((31, 45, 3), (30, 120, 220), np.uint8)  # RGB
        out = read_image(_encode(tmp_path / "p.JPG", flat[:, :, ::-1]))
        assert out.shape == (31, 45, 3)
        np.testing.assert_allclose(out.mean(axis=(0, 1)), np.array([30, 120, 220]) / 255, atol=3 / 255)

    def test_a_float_tiff_is_clipped_and_one_with_nan_pixels_refused(self, tmp_path):
        values = np.linspace(-0.5, 1.5, 4 * 5 * 3, dtype=np.float32).reshape(4, 5, 3)
        np.testing.assert_array_equal(read_image(_encode(tmp_path / "f.tif", values[:, :, ::-1])), values.clip(0, 1))
        values[1, 2] = np.nan
        values[3, 4, 0] = np.inf
        with pytest.raises(ImageReadError, match=r"nan\.tif.*4 of its 60 values are NaN or infinite"):
            read_image(_encode(tmp_path / "nan.tif", values))

    def test_unicode_and_space_in_path(self, tmp_path, image):
        path = tmp_path / "dossier été" / "图像 ünï cødé.png"
        write_image(path, image)
        assert path.exists()
        np.testing.assert_array_equal(read_image(path), _quantised(image))
        assert list_images(tmp_path) == [path]

    def test_zero_byte_file(self, tmp_path):
        path = tmp_path / "empty.png"
        path.touch()
        with pytest.raises(ImageReadError, match=r"empty\.png.*empty \(0 bytes\)") as info:
            read_image(path)
        assert info.value.path == path

    @pytest.mark.parametrize("suffix", [".png", ".jpg", ".tif"])
    def test_truncated_file(self, tmp_path, image, suffix):
        path = _encode(tmp_path / f"cut{suffix}", np.rint(image * 255).astype(np.uint8))
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
        with pytest.raises(ImageReadError, match=f"cut\\{suffix}.*corrupt or truncated"):
            read_image(path)

    def test_text_file_with_image_extension(self, tmp_path):
        path = tmp_path / "notes.png"
        path.write_text("these are not pixels")
        with pytest.raises(ImageReadError, match="notes.png.*not an image"):
            read_image(path)

    def test_error_is_a_value_error_and_pickles(self):
        error = pickle.loads(pickle.dumps(ImageReadError(Path("a b.png"), "broken")))
        assert isinstance(error, ValueError) and error.path == Path("a b.png") and error.reason == "broken"
        assert str(error) == "cannot read image 'a b.png': broken"

    def test_missing_file(self, tmp_path):
        with pytest.raises(FileNotFoundError, match="ghost.png"):
            read_image(tmp_path / "ghost.png")

    def test_folder(self, tmp_path):
        with pytest.raises(IsADirectoryError, match="is a folder"):
            read_image(tmp_path)


class TestWriteImage:
    def test_round_trip_equals_the_quantised_image(self, tmp_path, image):
        write_image(tmp_path / "x.png", image)
        np.testing.assert_array_equal(read_image(tmp_path / "x.png"), _quantised(image))

    def test_tensors_write_the_same_file_as_arrays(self, tmp_path, image):
        chw = torch.from_numpy(image).permute(2, 0, 1)
        write_image(tmp_path / "a.png", image)
        write_image(tmp_path / "b.png", chw)
        write_image(tmp_path / "c.png", chw[None].double().requires_grad_())
        data = (tmp_path / "a.png").read_bytes()
        assert (tmp_path / "b.png").read_bytes() == data == (tmp_path / "c.png").read_bytes()

    def test_clamps_and_rounds(self, tmp_path):
        values = np.array([[-0.5, 0.0, 0.5 / 255, 0.7 / 255, 1.0, 1.7]], np.float32)
        write_image(tmp_path / "c.png", np.repeat(values[..., None], 3, axis=2))
        stored = cv2.imdecode(np.fromfile(tmp_path / "c.png", np.uint8), cv2.IMREAD_UNCHANGED)
        assert stored.dtype == np.uint8
        np.testing.assert_array_equal(stored[0, :, 0], [0, 0, 0, 1, 255, 255])  # rint rounds half to even

    def test_writes_standard_bgr_png(self, tmp_path):
        red = np.zeros((2, 2, 3), np.float32)
        red[..., 0] = 1
        write_image(tmp_path / "r.png", red)
        stored = cv2.imdecode(np.fromfile(tmp_path / "r.png", np.uint8), cv2.IMREAD_UNCHANGED)
        np.testing.assert_array_equal(stored[0, 0], [0, 0, 255])

    def test_gray_array_and_one_channel_tensor(self, tmp_path):
        gray = np.linspace(0, 1, 12, dtype=np.float32).reshape(3, 4)
        write_image(tmp_path / "g.png", gray)
        write_image(tmp_path / "t.png", torch.from_numpy(gray)[None])
        for name in ("g.png", "t.png"):
            np.testing.assert_array_equal(read_image(tmp_path / name)[..., 2], _quantised(gray))

    def test_creates_parent_folders(self, tmp_path, image):
        path = tmp_path / "a" / "b" / "c.PNG"
        write_image(path, image)
        assert path.is_file()

    @pytest.mark.parametrize(
        "name, bad, message",
        [
            ("x.jpg", np.zeros((2, 2, 3), np.float32), "PNG only"),
            ("noext", np.zeros((2, 2, 3), np.float32), "should end in '.png'"),
            ("x.png", np.zeros((2, 2, 3), np.uint8), "float array"),
            ("x.png", np.zeros((2, 2, 4), np.float32), "1 or 3 channels"),
            ("x.png", np.full((2, 2, 3), np.nan, np.float32), "NaN"),
            ("x.png", torch.zeros(2, 3, 4, 4), "batch"),
            ("x.png", torch.zeros(3, 4, 4, dtype=torch.uint8), "float tensor"),
            ("x.png", np.zeros((0, 2, 3), np.float32), "empty"),
        ],
    )
    def test_bad_input_is_refused_and_nothing_is_written(self, tmp_path, name, bad, message):
        with pytest.raises(ValueError, match=message):
            write_image(tmp_path / name, bad)
        assert _files(tmp_path) == []

    def test_encoder_failure_keeps_the_old_file_and_leaves_no_temp(self, tmp_path, image, monkeypatch):
        path = tmp_path / "out.png"
        write_image(path, image)
        old = path.read_bytes()

        def broken(*args, **kwargs):
            raise cv2.error("encoder exploded")

        monkeypatch.setattr(cv2, "imencode", broken)
        with pytest.raises(cv2.error, match="exploded"):
            write_image(path, 1 - image)
        assert path.read_bytes() == old and _files(tmp_path) == ["out.png"]

    def test_failure_mid_write_keeps_the_old_file_and_leaves_no_temp(self, tmp_path, image, monkeypatch):
        path = tmp_path / "out.png"
        write_image(path, image)
        old = path.read_bytes()
        real_write_bytes = Path.write_bytes

        def half_then_fail(self, data):
            real_write_bytes(self, data[: len(data) // 2])
            raise OSError("disk full")

        monkeypatch.setattr(Path, "write_bytes", half_then_fail)
        with pytest.raises(OSError, match="disk full"):
            write_image(path, 1 - image)
        monkeypatch.undo()
        assert path.read_bytes() == old and _files(tmp_path) == ["out.png"]
        np.testing.assert_array_equal(read_image(path), _quantised(image))


class TestAtomicPath:
    def test_temp_is_hidden_next_to_the_target_with_its_suffix(self, tmp_path):
        target = tmp_path / "sub" / "model.pth"
        with atomic_path(target) as temp:
            assert temp.parent == target.parent and temp.suffix == ".pth" and temp.name.startswith(".")
            assert temp.exists() and not target.exists()
            temp.write_text("new")
        assert target.read_text() == "new" and _files(target.parent) == ["model.pth"]

    def test_replaces_an_existing_file(self, tmp_path):
        target = tmp_path / "f.txt"
        target.write_text("old")
        with atomic_path(target, fsync=True) as temp:
            temp.write_text("new")
        assert target.read_text() == "new" and _files(tmp_path) == ["f.txt"]

    @pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
    def test_exception_removes_the_temp_and_keeps_the_old_file(self, tmp_path, error):
        target = tmp_path / "f.txt"
        target.write_text("old")
        with pytest.raises(error):
            with atomic_path(target) as temp:
                temp.write_text("partial")
                raise error()
        assert target.read_text() == "old" and _files(tmp_path) == ["f.txt"]

    def test_torch_save_through_it(self, tmp_path):
        target = tmp_path / "ckpt.pth"
        with atomic_path(target) as temp:
            torch.save({"w": torch.arange(3)}, temp)
        assert torch.equal(torch.load(target, weights_only=True)["w"], torch.arange(3))

    def test_final_file_has_the_usual_permissions(self, tmp_path):
        reference = tmp_path / "plain.txt"
        reference.write_text("x")
        with atomic_path(tmp_path / "atomic.txt") as temp:
            temp.write_text("x")
        mode = stat.S_IMODE(os.stat(tmp_path / "atomic.txt").st_mode)
        assert mode == stat.S_IMODE(reference.stat().st_mode)


class TestListImages:
    @pytest.fixture
    def tree(self, tmp_path):
        for name in ["b.png", "a.JPG", "c.webp", "sub/d.tif", "sub/deeper/e.bmp", "notes.txt", "model.pth",
                     ".hidden.png", ".cache/f.png", "sub/.g.jpeg"]:
            path = tmp_path / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"x")
        (tmp_path / "folder.png").mkdir()
        return tmp_path

    def test_recursive_sorted_skips_hidden_and_other_extensions(self, tree):
        found = list_images(tree)
        assert [p.relative_to(tree).as_posix() for p in found] == [
            "a.JPG", "b.png", "c.webp", "sub/d.tif", "sub/deeper/e.bmp"]
        assert list_images(str(tree)) == found

    def test_not_recursive(self, tree):
        assert [p.name for p in list_images(tree, recursive=False)] == ["a.JPG", "b.png", "c.webp"]

    def test_several_folders_in_the_order_given_without_duplicates(self, tree):
        found = list_images([tree / "sub", tree / "sub" / "deeper", tree], recursive=False)
        assert [p.name for p in found] == ["d.tif", "e.bmp", "a.JPG", "b.png", "c.webp"]
        assert [p.name for p in list_images([tree / "sub", tree])] == [
            "d.tif", "e.bmp", "a.JPG", "b.png", "c.webp"]

    def test_every_extension_matches_in_any_case(self, tmp_path):
        for ext in IMAGE_EXTENSIONS:
            (tmp_path / f"low{ext}").write_bytes(b"x")
            (tmp_path / f"up{ext.upper()}").write_bytes(b"x")
        assert len(list_images(tmp_path)) == 2 * len(IMAGE_EXTENSIONS)

    def test_missing_folder(self, tmp_path):
        with pytest.raises(FileNotFoundError, match="nowhere"):
            list_images([tmp_path, tmp_path / "nowhere"])

    def test_file_instead_of_folder(self, tmp_path):
        (tmp_path / "a.png").write_bytes(b"x")
        with pytest.raises(NotADirectoryError, match="a.png"):
            list_images(tmp_path / "a.png")

    def test_no_images(self, tmp_path):
        (tmp_path / "one").mkdir()
        (tmp_path / "two").mkdir()
        (tmp_path / "two" / "readme.txt").write_text("no pictures here")
        with pytest.raises(ValueError, match=r"no images \(\.png, \.jpg, .*\) found in .*one.*two"):
            list_images([tmp_path / "one", tmp_path / "two"])

    def test_no_folders(self):
        with pytest.raises(ValueError, match="at least one folder"):
            list_images([])


class TestTensorHelpers:
    def test_round_trip(self, image):
        t = image_to_tensor(image)
        assert t.shape == (3, 13, 17) and t.dtype == torch.float32 and t.is_contiguous()
        assert torch.equal(t[:, 2, 5], torch.from_numpy(image[2, 5]))
        back = tensor_to_image(t[None].requires_grad_())
        assert back.shape == (13, 17, 3) and back.dtype == np.float32
        np.testing.assert_array_equal(back, image)

    def test_gray_and_copy(self, image):
        gray = image[..., 0]
        t = image_to_tensor(gray)
        assert t.shape == (1, 13, 17)
        t.zero_()
        assert gray.any()  # a copy, not a view of the array

    def test_bad_shapes(self):
        with pytest.raises(ValueError, match="shape"):
            image_to_tensor(np.zeros(3))
        with pytest.raises(ValueError, match="shape"):
            tensor_to_image(torch.zeros(2, 3, 4, 4))


def test_importing_io_and_unpaired_data_does_not_import_cv2(tmp_path):
    code = "import sys, probdeg, probdeg.io, probdeg.unpaired_data; print('cv2' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


# ------------------------------------------------------------------------------------------ layouts kept (probdeg sr)
def test_stored_images_keep_their_alpha_depth_and_gray(tmp_path):
    rng = np.random.default_rng(0)
    rgba16 = rng.integers(0, 65536, (5, 7, 4)).astype(np.uint16)
    write_image_array(tmp_path / "rgba16.png", rgba16)
    image = read_stored_image(tmp_path / "rgba16.png")
    assert image.bits == 16 and not image.gray
    assert np.array_equal(np.rint(image.rgb * 65535).astype(np.uint16), rgba16[:, :, :3])
    assert np.array_equal(np.rint(image.alpha * 65535).astype(np.uint16), rgba16[:, :, 3])

    gray_alpha = rng.integers(0, 256, (4, 6, 2)).astype(np.uint8)
    Image.fromarray(gray_alpha, "LA").save(tmp_path / "la.png")
    image = read_stored_image(tmp_path / "la.png")
    assert image.gray and image.bits == 8 and np.array_equal(np.rint(image.alpha * 255), gray_alpha[:, :, 1])

    write_image_array(tmp_path / "gray.png", gray_alpha[:, :, 0])
    image = read_stored_image(tmp_path / "gray.png")
    assert image.gray and image.alpha is None and image.rgb.shape == (4, 6, 3)

    Image.fromarray(rgba16[:, :, :3].astype(np.uint8)).convert("P").save(tmp_path / "p.png", transparency=0)
    assert read_stored_image(tmp_path / "p.png").alpha is not None  # palette transparency counts as alpha


def test_the_any_format_writer_refuses_what_a_format_cannot_hold(tmp_path):
    with pytest.raises(ValueError, match="8 bits"):
        write_image_array(tmp_path / "a.jpg", np.zeros((2, 2, 3), np.uint16))
    with pytest.raises(ValueError, match="no alpha"):
        write_image_array(tmp_path / "a.bmp", np.zeros((2, 2, 4), np.uint8))
    with pytest.raises(UserError, match="expected one of"):
        write_image_array(tmp_path / "a.gif", np.zeros((2, 2, 3), np.uint8))
    assert not list(tmp_path.iterdir())
