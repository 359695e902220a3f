"""Image reading and writing: gray, RGBA, 16-bit, unicode paths, atomic writes and errors that name the file.

Images live in memory as float32 RGB in [0, 1]: ``(H, W, 3)`` numpy arrays, or ``(3, H, W)`` tensors for
networks. OpenCV does the decoding; it is imported inside the functions, so ``import probdeg`` does not load it.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import secrets
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import NamedTuple, Optional, Union

import numpy as np
import torch
from torch import Tensor

from .errors import DiskFullError, ImageReadError, UserError

__all__ = [
    "IMAGE_EXTENSIONS", "ImageReadError", "StoredImage", "atomic_path", "decode_image", "file_digest",
    "image_to_tensor", "is_temporary", "list_images", "read_image", "read_stored_image", "remove_temporaries",
    "tensor_to_image", "to_unit_float", "WRITE_FORMATS", "write_image", "write_image_array", "write_image_uint8",
]

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")

PathLike = Union[str, os.PathLike]

DISK_FULL = (errno.ENOSPC, errno.EDQUOT)
"""The errors of a write that found no space (or no quota) left."""


_TEMPORARY = re.compile(r"^\..+\.[0-9a-f]{8}\.tmp(\.[^.]*)?$")


def is_temporary(path: PathLike) -> bool:
    """Whether ``path`` is named like a temporary file of :func:`atomic_path` (``.<name>.<hex>.tmp<suffix>``)."""
    return _TEMPORARY.match(Path(path).name) is not None


def remove_temporaries(folder: PathLike) -> list[Path]:
    """Delete the temporary files of :func:`atomic_path` left in ``folder`` (and below) by a killed process.

    Only call it while no other process writes there (probdeg's folder commands hold a lock on their output).

    Returns:
        The files deleted.
    """
    removed = []
    for path in Path(folder).rglob(".*.tmp*"):
        if is_temporary(path) and path.is_file():
            with contextlib.suppress(OSError):
                path.unlink()
                removed.append(path)
    return removed


def _ignored_reason(path: Path) -> Optional[str]:
    """Why a path that looks like an image is not one to read, or None when it is."""
    if path.name.startswith("."):
        return None if is_temporary(path) else "a hidden file"
    if path.is_symlink() and not path.exists():
        return "a broken symbolic link"
    if path.is_dir():
        return "a folder"
    if not path.is_file():
        return "not a regular file"
    return None


def list_images(folders: PathLike | Sequence[PathLike], *, recursive: bool = True,
                ignored: Optional[list[tuple[Path, str]]] = None) -> list[Path]:
    """The image files in one or several folders.

    Files are matched on :data:`IMAGE_EXTENSIONS` (any case). Hidden files and everything inside hidden folders
    (names starting with ``.``, such as the temporaries of :func:`atomic_path`) are skipped, and so are broken links
    and folders named like images.

    Args:
        folders: a folder or a sequence of folders.
        recursive: also look in subfolders.
        ignored: when given, receives ``(path, reason)`` for every path that looks like an image but is left out
            (hidden, a broken link, a folder), the temporaries of :func:`atomic_path` aside.

    Returns:
        The paths, folder by folder in the order given, sorted by their path inside each folder; a file reached
        through two of the folders is listed once.

    Raises:
        FileNotFoundError: a folder does not exist.
        NotADirectoryError: a "folder" is a file.
        ValueError: no image at all was found.
    """
    roots = [Path(folders)] if isinstance(folders, (str, os.PathLike)) else [Path(f) for f in folders]
    if not roots:
        raise ValueError("list_images needs at least one folder")
    found: list[Path] = []
    seen: set[Path] = set()
    for root in roots:
        if not root.exists():
            raise FileNotFoundError(f"image folder {str(root)!r} does not exist")
        if not root.is_dir():
            raise NotADirectoryError(f"image folder {str(root)!r} is not a folder")
        candidates = root.rglob("*") if recursive else root.iterdir()
        images = []
        for path in candidates:
            relative = path.relative_to(root)
            if any(part.startswith(".") for part in relative.parts[:-1]) or \
                    path.suffix.lower() not in IMAGE_EXTENSIONS:
                continue
            reason = _ignored_reason(path) if path.name.startswith(".") or not path.is_file() else None
            if reason is None and not path.name.startswith("."):
                images.append((relative.as_posix(), path))
            elif reason is not None and ignored is not None:
                ignored.append((path, reason))
        for _, path in sorted(images):
            key = path.resolve()
            if key not in seen:
                seen.add(key)
                found.append(path)
    if not found:
        names = ", ".join(repr(str(r)) for r in roots)
        raise ValueError(f"no images ({', '.join(IMAGE_EXTENSIONS)}) found in {names}"
                         f"{' or their subfolders' if recursive else ''}")
    return found


def _decode_stored(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """The file's bytes and its pixels as stored (BGR or one channel, any depth), EXIF orientation applied.

    Shape:
        Output: (N,) bytes and (H, W, C) pixels, C = 1, 3 or 4.
    """
    import cv2

    if path.is_dir():
        raise IsADirectoryError(f"cannot read image {str(path)!r}: it is a folder")
    if not path.exists():
        raise FileNotFoundError(f"image file {str(path)!r} does not exist")
    # np.fromfile + imdecode instead of cv2.imread: imread cannot open non-ASCII paths on every platform.
    data = np.fromfile(path, dtype=np.uint8)
    if data.size == 0:
        raise ImageReadError(path, "the file is empty (0 bytes)")
    truncated = _truncation(data)
    if truncated:  # refused here: libpng would print its own "libpng error" line on the way to the same verdict
        raise ImageReadError(path, truncated)
    _quiet_opencv()
    try:
        # ANYDEPTH keeps 16 bits; ANYCOLOR keeps gray as one channel and drops alpha; EXIF orientation is applied.
        image = cv2.imdecode(data, cv2.IMREAD_ANYDEPTH | cv2.IMREAD_ANYCOLOR)
    except cv2.error as error:
        raise ImageReadError(path, f"OpenCV could not decode it ({error})") from None
    if image is None:
        raise ImageReadError(path, f"not an image, or corrupt or truncated ({data.size} bytes that OpenCV "
                                   "could not decode)")
    if image.ndim == 2:
        image = image[:, :, None]
    if image.shape[2] not in (1, 3, 4):
        raise ImageReadError(path, f"unsupported channel count {image.shape[2]} (expected 1, 3 or 4)")
    if image.dtype not in (np.uint8, np.uint16, np.float32, np.float64):
        raise ImageReadError(path, f"unsupported pixel type {image.dtype} (expected 8 or 16-bit integers or floats)")
    return data, image


def _to_rgb(image: np.ndarray) -> np.ndarray:
    """Stored pixels (one channel, BGR or BGRA) to RGB; gray repeated, alpha dropped."""
    if image.shape[2] == 1:
        return np.repeat(image, 3, axis=2)
    return image[:, :, 2::-1]


def decode_image(path: PathLike) -> np.ndarray:
    """Decode an image file to RGB in its stored depth (uint8, uint16 or float32), without scaling.

    Shape:
        Output: (H, W, 3).
    """
    return _to_rgb(_decode_stored(Path(path))[1])


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _truncation(data: np.ndarray) -> Optional[str]:
    """Why a PNG or JPEG file is cut short (its end marker is missing), or None."""
    head, tail = data[:8].tobytes(), data[-2048:].tobytes()
    if head == _PNG_SIGNATURE and tail[-8:-4] != b"IEND":
        return f"corrupt or truncated ({data.size} bytes): the PNG ends before its IEND chunk"
    if head[:2] == b"\xff\xd8" and b"\xff\xd9" not in tail:
        return f"corrupt or truncated ({data.size} bytes): the JPEG ends before its end-of-image marker"
    return None


def _quiet_opencv() -> None:
    """OpenCV's own warnings go to the console beside probdeg's messages: keep only its errors."""
    import cv2

    logging = getattr(getattr(cv2, "utils", None), "logging", None)
    if logging is not None:
        logging.setLogLevel(logging.LOG_LEVEL_ERROR)


def to_unit_float(image: np.ndarray) -> np.ndarray:
    """Scale a decoded image to float32 in [0, 1]: 8-bit by 255, 16-bit by 65535, floats clipped."""
    if image.dtype == np.uint8:
        return image.astype(np.float32) / 255.0
    if image.dtype == np.uint16:
        return image.astype(np.float32) / 65535.0
    return np.clip(image, 0.0, 1.0).astype(np.float32)


def read_image(path: PathLike) -> np.ndarray:
    """Read an image as float32 RGB in [0, 1].

    Grayscale is repeated to three channels; alpha is dropped (the stored colour is kept as is, not composited);
    16-bit images are divided by 65535 and 8-bit ones by 255; float TIFFs are clipped to [0, 1], and refused when a
    pixel is NaN or infinite (a net would spread it over its receptive field). EXIF orientation is applied. Paths may
    hold any unicode character or spaces.

    Args:
        path: the image file.

    Returns:
        The image, C-contiguous.

    Raises:
        FileNotFoundError: the file does not exist.
        ImageReadError: the file is empty, corrupt or truncated, not an image, has an unsupported layout, or holds
            NaN or infinite values.

    Shape:
        Output: (H, W, 3).
    """
    return np.ascontiguousarray(to_unit_float(_finite(decode_image(path), path)))


def _finite(image: np.ndarray, path: PathLike) -> np.ndarray:
    """``image``, or :class:`ImageReadError` when a float image holds NaN or infinite values."""
    if np.issubdtype(image.dtype, np.floating):
        bad = int(image.size - np.isfinite(image).sum())
        if bad:
            raise ImageReadError(path, f"{bad} of its {image.size} values are NaN or infinite")
    return image


def file_digest(path: PathLike) -> str:
    """The SHA-256 of a file (hex): what a folder's manifest records of the checkpoints and the inputs that made it."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class StoredImage(NamedTuple):
    """An image as read for a round trip: RGB and alpha in [0, 1], with what the file stored.

    Attributes:
        rgb: float32 RGB in [0, 1] (a gray file repeated to three channels).
        alpha: float32 alpha in [0, 1], or ``None`` when the file has none.
        bits: 8 or 16 (floats read as 16).
        gray: the file holds one colour channel.

    Shape:
        rgb: (H, W, 3); alpha: (H, W).
    """

    rgb: np.ndarray
    alpha: Optional[np.ndarray]
    bits: int
    gray: bool


_ALPHA_FORMATS = (".png", ".webp", ".tif", ".tiff")


def _png_color_type(data: np.ndarray) -> int:
    """The colour type of a PNG's header (0 gray, 2 RGB, 3 palette, 4 gray + alpha, 6 RGBA)."""
    return int(data[25]) if data.size > 25 and data[:8].tobytes() == _PNG_SIGNATURE else -1


def _png_has_alpha(data: np.ndarray) -> bool:
    """A PNG whose colour type holds alpha (gray + alpha, RGBA) or which has a transparency chunk."""
    return _png_color_type(data) in (4, 6) or b"tRNS" in data[:1 << 16].tobytes()


def read_stored_image(path: PathLike) -> StoredImage:
    """Read an image keeping what :func:`read_image` drops: its alpha, its depth, whether it is gray.

    Args:
        path: the image file.

    Returns:
        The image with its layout (see :class:`StoredImage`).

    Raises:
        FileNotFoundError: the file does not exist.
        ImageReadError: as :func:`read_image`.
    """
    import cv2

    path = Path(path)
    data, stored = _decode_stored(path)
    stored = _finite(stored, path)
    alpha = None
    if path.suffix.lower() in _ALPHA_FORMATS and (path.suffix.lower() != ".png" or _png_has_alpha(data)):
        # A second decode for the alpha alone (IMREAD_UNCHANGED ignores EXIF orientation, so it is not used for colour)
        whole = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
        if whole is not None and whole.ndim == 3 and whole.shape[2] == 4 and whole.shape[:2] == stored.shape[:2]:
            alpha = to_unit_float(whole[:, :, 3])
    bits = 8 if stored.dtype == np.uint8 else 16
    gray = stored.shape[2] == 1 or (path.suffix.lower() == ".png" and _png_color_type(data) == 4)  # gray + alpha
    return StoredImage(np.ascontiguousarray(to_unit_float(_to_rgb(stored))), alpha, bits, gray)


@contextlib.contextmanager
def atomic_path(path: PathLike, *, fsync: bool = False) -> Iterator[Path]:
    """A temporary path to write to, moved onto ``path`` only when the block succeeds.

    The temporary file is created (empty) next to ``path``, so the final ``os.replace`` is atomic: readers see
    either the old file or the complete new one, never a partial file. It is hidden (its name starts with ``.``)
    and keeps ``path``'s suffix, so writers that look at the extension still work. On any exception it is deleted
    and ``path`` is left untouched. Missing parent folders are created.

    Args:
        path: the final file.
        fsync: flush the written file to disk before the rename, so it also survives a power loss.

    Yields:
        The temporary path.

    Raises:
        DiskFullError: the disk (or the quota) was full, naming ``path``.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise NotADirectoryError(f"cannot write {str(path)!r}: {str(path.parent)!r} is a file, not a folder") from None
    while True:
        temp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp{path.suffix}")
        try:
            # os.open rather than tempfile.mkstemp: mkstemp's 0o600 mode would stick to the final file.
            os.close(os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            break
        except FileExistsError:
            continue
        except OSError as err:  # name the file the user asked for, not the hidden temporary
            raise type(err)(err.errno, f"cannot write {str(path)!r}: {err.strerror}") from None
    try:
        yield temp
        if fsync:
            with open(temp, "rb+") as file:
                os.fsync(file.fileno())
        if path.is_dir():
            raise IsADirectoryError(f"cannot write {str(path)!r}: a folder of that name is in the way")
        os.replace(temp, path)
    except BaseException as err:
        with contextlib.suppress(OSError):
            temp.unlink()
        if isinstance(err, OSError) and err.errno in DISK_FULL:
            raise DiskFullError(path) from None  # names the file asked for, not the hidden temporary
        raise


def _as_hwc(path: Path, image: np.ndarray | Tensor) -> np.ndarray:
    _check_png(path)
    if isinstance(image, Tensor):
        if image.dim() == 4:
            if image.shape[0] != 1:
                raise ValueError(f"write_image takes one image; got a batch of shape {tuple(image.shape)}")
            image = image[0]
        if image.dim() != 3:
            raise ValueError(f"expected a (C, H, W) or (1, C, H, W) tensor, got shape {tuple(image.shape)}")
        if not image.is_floating_point():
            raise ValueError(f"expected a float tensor in [0, 1], got {image.dtype}")
        image = image.detach().to("cpu", torch.float32).permute(1, 2, 0).numpy()
    else:
        image = np.asarray(image)
        if image.ndim == 2:
            image = image[:, :, None]
        if image.ndim != 3:
            raise ValueError(f"expected an (H, W, C) or (H, W) array, got shape {image.shape}")
        if not np.issubdtype(image.dtype, np.floating):
            # An 8-bit array would otherwise be clamped to [0, 1] and written almost black.
            raise ValueError(f"expected a float array in [0, 1], got {image.dtype} (divide 8-bit images by 255)")
    if image.shape[2] not in (1, 3):
        raise ValueError(f"expected 1 or 3 channels, got {image.shape[2]} (shape {image.shape})")
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise ValueError(f"cannot write an empty image of shape {image.shape}")
    if not np.isfinite(image).all():
        raise ValueError(f"the image for {str(path)!r} holds NaN or infinite values")
    return image


def write_image(path: PathLike, image: np.ndarray | Tensor) -> None:
    """Write an image in [0, 1] as an 8-bit PNG, atomically.

    Values are clamped to [0, 1], scaled by 255 and rounded, so :func:`read_image` returns ``round(x * 255) / 255``.
    The file appears complete or not at all (see :func:`atomic_path`); parent folders are created.

    Args:
        path: the file; must end in ``.png`` (any case).
        image: float RGB (or gray) numpy array, HWC, or a (C, H, W) / (1, C, H, W) tensor.

    Raises:
        ValueError: another extension, a batch of several images, a bad shape, an integer dtype, or NaN.
        OSError: the PNG could not be encoded or written.

    Shape:
        image: (H, W, C), (H, W), (C, H, W) or (1, C, H, W) with C = 1 or 3.
    """
    hwc = _as_hwc(Path(path), image)
    write_image_uint8(path, np.rint(np.clip(hwc, 0.0, 1.0) * 255.0).astype(np.uint8))


def write_image_uint8(path: PathLike, image: np.ndarray | Tensor) -> None:
    """Write an 8-bit RGB (or gray) image as PNG, atomically, without any float copy of it.

    Args:
        path: the file; must end in ``.png`` (any case).
        image: uint8, (H, W, C) numpy or (C, H, W) tensor, C = 1 or 3.

    Raises:
        ValueError: another extension, dtype or shape.
        OSError: the PNG could not be encoded or written.
    """
    import cv2

    path = Path(path)
    _check_png(path)
    if isinstance(image, Tensor):
        if image.dim() != 3:
            raise ValueError(f"expected a (C, H, W) uint8 tensor, got shape {tuple(image.shape)}")
        image = image.detach().cpu().permute(1, 2, 0).numpy()
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] not in (1, 3):
        raise ValueError(f"expected an (H, W, 1 or 3) uint8 image, got {image.dtype} of shape {image.shape}")
    if image.shape[2] == 3:
        image = image[:, :, ::-1]  # RGB -> BGR for OpenCV
    # imencode + plain file write instead of cv2.imwrite, which cannot open non-ASCII paths on every platform.
    ok, encoded = cv2.imencode(".png", np.ascontiguousarray(image))
    if not ok:
        raise OSError(f"OpenCV could not encode {str(path)!r} as PNG")
    with atomic_path(path) as temp:
        temp.write_bytes(encoded.reshape(-1).data)  # the buffer itself: no bytes copy of the encoded image


class FormatCapacity(NamedTuple):
    """What an output format can hold."""

    sixteen_bits: bool
    alpha: bool


WRITE_FORMATS = {".png": FormatCapacity(True, True), ".tif": FormatCapacity(True, True),
                 ".tiff": FormatCapacity(True, True), ".webp": FormatCapacity(False, True),
                 ".jpg": FormatCapacity(False, False), ".jpeg": FormatCapacity(False, False),
                 ".bmp": FormatCapacity(False, False)}
"""The formats :func:`write_image_array` writes, by suffix, with what each holds."""


def write_image_array(path: PathLike, image: np.ndarray, *, jpeg_quality: int = 95) -> None:
    """Write an 8- or 16-bit gray, RGB or RGBA image in the format its suffix names, atomically.

    Args:
        path: the file; its suffix is one of :data:`WRITE_FORMATS`.
        image: uint8 or uint16 pixels, RGB(A) order.
        jpeg_quality: quality of a JPEG or WebP file.

    Raises:
        UserError: an unknown suffix.
        ValueError: a dtype, shape or layout the format cannot hold (16 bits in a JPEG, alpha in a BMP).
        OSError: the image could not be encoded or written.

    Shape:
        image: (H, W), (H, W, 1), (H, W, 3) or (H, W, 4).
    """
    import cv2

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in WRITE_FORMATS:
        raise UserError(f"cannot write {str(path)!r}: expected one of {', '.join(WRITE_FORMATS)}")
    capacity = WRITE_FORMATS[suffix]
    image = np.asarray(image)
    if image.ndim == 2:
        image = image[:, :, None]
    if image.ndim != 3 or image.shape[2] not in (1, 3, 4) or image.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"expected an (H, W, 1, 3 or 4) uint8 or uint16 image, got {image.dtype} of shape "
                         f"{image.shape}")
    if image.dtype == np.uint16 and not capacity.sixteen_bits:
        raise ValueError(f"{suffix} holds 8 bits per channel, got a 16-bit image for {str(path)!r}")
    if image.shape[2] == 4 and not capacity.alpha:
        raise ValueError(f"{suffix} holds no alpha channel, got an RGBA image for {str(path)!r}")
    if image.shape[2] == 3:
        image = image[:, :, ::-1]
    elif image.shape[2] == 4:
        image = image[:, :, [2, 1, 0, 3]]
    params = {".jpg": [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality], ".jpeg": [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality],
              ".webp": [cv2.IMWRITE_WEBP_QUALITY, jpeg_quality]}.get(suffix, [])
    ok, encoded = cv2.imencode(suffix, np.ascontiguousarray(image), params)
    if not ok:
        raise OSError(f"OpenCV could not encode {str(path)!r}")
    with atomic_path(path) as temp:
        temp.write_bytes(encoded.reshape(-1).data)


def _check_png(path: Path) -> None:
    if path.suffix.lower() != ".png":
        raise UserError(f"probdeg writes 8-bit PNG only; {str(path)!r} should end in '.png'")


def image_to_tensor(img: np.ndarray) -> Tensor:
    """HWC numpy image to a (C, H, W) float32 tensor (a copy; no scaling).

    Shape:
        img: (H, W, C) or (H, W). Output: (C, H, W), with C = 1 for a 2-D input.
    """
    img = np.asarray(img)
    if img.ndim == 2:
        img = img[:, :, None]
    if img.ndim != 3:
        raise ValueError(f"expected an (H, W, C) or (H, W) array, got shape {img.shape}")
    return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1), dtype=np.float32))


def tensor_to_image(t: Tensor) -> np.ndarray:
    """(C, H, W) or (1, C, H, W) tensor to an HWC float32 numpy image (detached, on the CPU; no scaling or clamping).

    Shape:
        t: (C, H, W) or (1, C, H, W). Output: (H, W, C).
    """
    if t.dim() == 4 and t.shape[0] == 1:
        t = t[0]
    if t.dim() != 3:
        raise ValueError(f"expected a (C, H, W) or (1, C, H, W) tensor, got shape {tuple(t.shape)}")
    return np.ascontiguousarray(t.detach().to("cpu", torch.float32).permute(1, 2, 0).numpy())
