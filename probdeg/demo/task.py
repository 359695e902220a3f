"""The demo's data: scikit-image's photos made into an unpaired task, or the user's own folders."""

from __future__ import annotations

import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from ..errors import ImageReadError, UserError
from ..folders import match_images
from ..io import list_images, read_image, write_image
from ..sample_task import VAL_DRAWS, TrueDegradation, apply_true_degradation, make_sample_data

SCALE = 4  # the tiny presets are x4
VAL_CROP = 256  # held-out HR images are centre-cropped to at most this side, to keep scoring quick on a CPU


@dataclass(frozen=True)
class DemoData:
    """The four folders the demo trains and scores on.

    Attributes:
        train_hr: clean HR images.
        train_lr: real LR images (unpaired with ``train_hr``).
        val_hr: ground truth of the validation pairs.
        val_lr: their LR images.
        source: where the images come from, in words.
        val_source: how the validation pairs were made, in words.
    """

    train_hr: Path
    train_lr: Path
    val_hr: Path
    val_lr: Path
    source: str
    val_source: str

    def as_record(self) -> dict[str, str]:
        return {k: str(v) for k, v in vars(self).items()}

    @classmethod
    def from_record(cls, record: dict[str, str]) -> DemoData:
        """The inverse of :meth:`as_record` (a stage record's ``folders``)."""
        return cls(**{k: v if k in ("source", "val_source") else Path(v) for k, v in record.items()})


def _image_folder(path: Optional[Path], flag: str) -> Path:
    if path is None:
        raise UserError(f"{flag} is missing")
    path = Path(path).expanduser().resolve()
    if not path.is_dir():
        raise FileNotFoundError(f"{flag} folder not found: {str(path)!r}")
    try:
        list_images(path)
    except ValueError as err:
        raise UserError(f"{flag}: {err}") from None
    return path


@dataclass(frozen=True)
class UserFolders:
    """The user's folders (``--hr / --lr [--val-hr --val-lr]``), resolved and checked; all ``None``: the built-in
    sample task."""

    hr: Optional[Path] = None
    lr: Optional[Path] = None
    val_hr: Optional[Path] = None
    val_lr: Optional[Path] = None

    FLAGS = {"hr": "--hr", "lr": "--lr", "val_hr": "--val-hr", "val_lr": "--val-lr"}

    @property
    def given(self) -> bool:
        """The user gave folders (else: the built-in task, whose true degradation is known)."""
        return self.hr is not None

    def as_record(self) -> dict[str, Optional[str]]:
        """For the data stage's settings, keyed by flag (the records earlier versions wrote stay valid)."""
        return {flag: str(getattr(self, name)) if getattr(self, name) else None for name, flag in self.FLAGS.items()}


def check_user_folders(out: Path, hr: Optional[Path], lr: Optional[Path], val_hr: Optional[Path],
                       val_lr: Optional[Path]) -> UserFolders:
    """Check ``--hr / --lr [--val-hr --val-lr]``: both of a pair or neither, folders that exist and hold images, and
    an output folder outside all of them (the demo would otherwise read its own outputs as inputs).

    Returns:
        The resolved folders.
    """
    if (hr is None) != (lr is None):
        raise UserError("--hr and --lr go together: give both folders, or neither for the built-in sample task")
    if (val_hr is None) != (val_lr is None):
        raise UserError("--val-hr and --val-lr go together: give both folders (paired by file name), or neither")
    if hr is None and val_hr is not None:
        raise UserError("--val-hr / --val-lr need --hr and --lr as well")
    given = {"hr": hr, "lr": lr, "val_hr": val_hr, "val_lr": val_lr}
    resolved = {name: _image_folder(path, UserFolders.FLAGS[name]) if path is not None else None
                for name, path in given.items()}
    out = Path(out).expanduser().resolve()
    for name, folder in resolved.items():
        if folder is not None and (out == folder or folder in out.parents):
            raise UserError(f"--out {str(out)!r} is inside the {UserFolders.FLAGS[name]} folder {str(folder)!r}; "
                            "choose an output folder outside the inputs (its files would be read as inputs)")
    return UserFolders(**resolved)


def _centre_crop(image: np.ndarray, side: int, multiple: int) -> np.ndarray:
    h, w = image.shape[:2]
    ch, cw = min(h, side), min(w, side)
    ch, cw = ch - ch % multiple, cw - cw % multiple
    top, left = (h - ch) // 2, (w - cw) // 2
    return image[top:top + ch, left:left + cw]


def _link_or_copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists() or target.is_symlink():
        target.unlink()
    try:
        target.symlink_to(source)
    except OSError:  # file systems without symlinks
        shutil.copy2(source, target)


def hold_out(hr: Path, folder: Path, degradation: TrueDegradation, *, seed: int) -> tuple[Path, Path, Path]:
    """Split the user's HR images: every fifth (at least one) becomes a validation pair, its LR made by the demo's
    degradation; the rest are linked into ``folder/train_hr``. A held-out image that cannot be read, or is smaller
    than 16 px, is left to the training set (whose loader skips it, naming it) with a warning.

    Returns:
        (train_hr, val_hr, val_lr) folders under ``folder``.

    Raises:
        ValueError: fewer than 2 images, no usable held-out image, or a degradation whose output is wrong.
    """
    images = list_images(hr)
    if len(images) < 2:
        raise UserError(f"--hr {str(hr)!r} holds {len(images)} image; hold-out validation needs at least 2 "
                         "(or give --val-hr and --val-lr)")
    train_hr, val_hr, val_lr = folder / "train_hr", folder / "val_hr", folder / "val_lr"
    for path in (train_hr, val_hr, val_lr):
        if path.exists():
            shutil.rmtree(path)
    rng = np.random.default_rng(seed)
    held = set()
    for path in images[4::5] or images[-1:]:
        try:
            image = _centre_crop(read_image(path), VAL_CROP, SCALE)
        except ImageReadError as err:
            warnings.warn(f"not held out for validation: {err}", stacklevel=2)
            continue
        if min(image.shape[:2]) < 4 * SCALE:
            warnings.warn(f"not held out for validation: {str(path)!r} is {image.shape[1]}x{image.shape[0]}, "
                          f"smaller than {4 * SCALE} px", stacklevel=2)
            continue
        name = path.relative_to(hr).with_suffix(".png")
        write_image(val_hr / name, image)
        write_image(val_lr / name, apply_true_degradation(degradation, image, SCALE, rng, str(path)))
        held.add(path)
    if not held:
        raise UserError(f"--hr {str(hr)!r}: none of the images picked for validation could be used (see the "
                         "warnings); give --val-hr and --val-lr")
    for path in images:
        if path not in held:
            _link_or_copy(path, train_hr / path.relative_to(hr))
    return train_hr, val_hr, val_lr


def read_pairs(val_hr: Path, val_lr: Path) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """Read the validation pairs: ``(key, HR cropped to SCALE x its LR, LR)``, HWC float RGB.

    Raises:
        ValueError: no pair, an unreadable file, or an HR smaller than ``SCALE`` x its LR, naming the file(s).
    """
    pairs = []
    for key, lr_path, hr_path in match_images(val_lr, val_hr).pairs:
        lr, hr = read_image(lr_path), read_image(hr_path)
        h, w = lr.shape[0] * SCALE, lr.shape[1] * SCALE
        if hr.shape[0] < h or hr.shape[1] < w:
            raise UserError(f"validation pair: HR {str(hr_path)!r} ({hr.shape[1]}x{hr.shape[0]}) is not {SCALE}x "
                             f"its LR {str(lr_path)!r} ({lr.shape[1]}x{lr.shape[0]})")
        pairs.append((key, hr[:h, :w], lr))
    if not pairs:
        raise UserError(f"--val-lr {str(val_lr)!r} and --val-hr {str(val_hr)!r}: no image pairs by file name")
    return pairs


def check_pairs(val_hr: Path, val_lr: Path) -> None:
    """Check the user's validation pairs before any training: every LR image pairs with an HR image by name, both
    read, and the HR is ``SCALE`` times the LR (BasicSR's validation would otherwise fail mid-run).

    Raises:
        ValueError: naming the file(s) and what was expected.
    """
    problems = match_images(val_lr, val_hr).problems("--val-lr")
    if problems:
        raise UserError(f"validation pairs: {' '.join(problems)}")
    read_pairs(val_hr, val_lr)


def prepare_data(folder: Path, user: UserFolders, degradation: TrueDegradation, *, seed: int,
                 degradation_name: str) -> DemoData:
    """Make (or point at) the demo's folders under ``folder``.

    Args:
        folder: where made images go (``out/data``).
        user: :func:`check_user_folders`'s result.
        degradation: the "real" camera degradation: of the sample task's LR images, and of held-out validation.
        seed: seed of the degradation's random amounts.
        degradation_name: how the report names the degradation.
    """
    if not user.given:
        folders = make_sample_data(folder, scale=SCALE, seed=seed, degradation=degradation)
        return DemoData(folders["train_hr"], folders["train_lr"], folders["val_hr"], folders["val_lr"],
                        source="scikit-image's bundled photos: HR from 4 photos (left three quarters), real LR from 5 "
                               f"other photos degraded by {degradation_name}",
                        val_source=f"the held-out right quarters of the HR photos, each degraded by {VAL_DRAWS} "
                                   f"draws of {degradation_name}")
    assert user.hr is not None and user.lr is not None
    if user.val_hr is not None and user.val_lr is not None:
        check_pairs(user.val_hr, user.val_lr)
        return DemoData(user.hr, user.lr, user.val_hr, user.val_lr,
                        source=f"your folders --hr {user.hr} and --lr {user.lr}",
                        val_source=f"your pairs --val-hr {user.val_hr} and --val-lr {user.val_lr}")
    train_hr, val_hr, val_lr = hold_out(user.hr, folder, degradation, seed=seed)
    return DemoData(train_hr, user.lr, val_hr, val_lr,
                    source=f"your folders --hr {user.hr} (every fifth image held out) and --lr {user.lr}",
                    val_source=f"held-out --hr images, centre crops of at most {VAL_CROP} px, degraded by "
                               f"{degradation_name}: a stand-in for your real LR (give --val-hr / --val-lr for real "
                               "pairs)")
