"""Folder jobs: list the input images, plan the outputs, run the loop every folder command shares, pair files by name.

:class:`FolderJob` is that loop for ``degrade`` and ``sr``: outputs that exist are skipped (a rerun resumes), each
input is read with unreadable ones warned about and counted, progress is shown, and a summary comes back.
:func:`match_images` pairs two folders by file name for ``eval``, the noise sweep and the demo.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, NamedTuple, Optional, TypeVar, Union

from . import __version__
from .errors import ImageReadError, UserError
from .io import atomic_path, file_digest, list_images, read_image, remove_temporaries
from .progress import progress_bar

PathLike = Union[str, os.PathLike]
T = TypeVar("T")

LIST_LIMIT = 20
"""How many files a message lists before it says how many more there are."""


def resolved(path: PathLike, what: str = "folder") -> Path:
    """``path`` made absolute with its symbolic links followed.

    Raises:
        UserError: the links loop (``a -> b -> a``), naming ``path``.
    """
    try:
        return Path(path).resolve()
    except RuntimeError:  # Python 3.11-3.12 (3.13 raises OSError ELOOP)
        raise UserError(f"the {what} {str(path)!r} is a symbolic link loop: point it at a real folder") from None
    except OSError as err:
        raise UserError(f"the {what} {str(path)!r} cannot be resolved: {err.strerror or err}") from None


def is_within(path: Path, folder: Path) -> bool:
    """``path`` is ``folder`` or lies inside it (compare resolved paths)."""
    return path == folder or folder in path.parents


def require_folder(folder: Path, what: str = "input folder") -> None:
    """Raise FileNotFoundError / UserError unless ``folder`` is an existing folder."""
    if not folder.exists():
        resolved(folder, what)  # a symbolic link loop is named as one
        raise FileNotFoundError(f"{what} {str(folder)!r} does not exist")
    if not folder.is_dir():
        raise UserError(f"{what} {str(folder)!r} is not a folder")


def list_inputs(input_dir: PathLike, *, exclude: Optional[PathLike] = None, what: str = "input folder",
                ignored: Optional[list[tuple[Path, str]]] = None) -> list[Path]:
    """The images of ``input_dir`` and its sub-folders, leaving out everything inside the folder ``exclude``.

    An output (or other) folder nested inside the input folder holds no inputs, so a rerun never reads back what
    it wrote. Paths are compared resolved, so a symbolic link into ``exclude`` is left out too.

    Args:
        input_dir: the folder to list (see :func:`probdeg.io.list_images` for what counts as an image).
        exclude: a folder whose images are not inputs; ``None``: keep everything.
        what: how messages name ``input_dir``.
        ignored: when given, receives ``(path, reason)`` of what looks like an image but is not read (see
            :func:`probdeg.io.list_images`).

    Returns:
        The image files, sorted by their path inside ``input_dir``; may be empty when all are excluded.

    Raises:
        FileNotFoundError: ``input_dir`` does not exist.
        UserError: ``input_dir`` is not a folder, or holds no image at all.
    """
    input_dir = Path(input_dir)
    require_folder(input_dir, what)
    try:
        images = list_images(input_dir, recursive=True, ignored=ignored)
    except ValueError as err:
        raise UserError(f"{what}: {err}") from None
    if exclude is None:
        return images
    in_root, out_root = resolved(input_dir, what), resolved(exclude)
    return [path for path in images if not (is_within(in_root / path.relative_to(input_dir), out_root)
                                            or is_within(resolved(path, "image"), out_root))]


def output_names(relative: Path, samples: int, *, suffix: str = "", ext: str = ".png") -> list[Path]:
    """The output files of an input at ``relative`` (relative to the input folder), relative to the output folder:
    ``<dir>/<stem><suffix><ext>`` for one sample, ``<dir>/<stem><suffix>_s{k}<ext>`` for several; ``ext="auto"``
    keeps the input's extension."""
    ext = relative.suffix if ext == "auto" else ext
    if samples == 1:
        return [relative.with_name(f"{relative.stem}{suffix}{ext}")]
    return [relative.with_name(f"{relative.stem}{suffix}_s{k}{ext}") for k in range(samples)]


class PlannedImage(NamedTuple):
    """One input of a folder job: its file, its key (the relative path, posix) and its output files."""

    path: Path
    key: str
    outputs: list[Path]


@dataclass
class Plan:
    """The inputs of a folder job with their outputs, and the files that look like images but are left out.

    Attributes:
        items: the inputs, sorted by key.
        ignored: ``(path, reason)`` of hidden files, broken links and folders named like images.
    """

    items: list[PlannedImage]
    ignored: list[tuple[Path, str]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[PlannedImage]:
        return iter(self.items)


def plan_outputs(input_dir: PathLike, output_dir: PathLike, samples: int = 1, what: str = "LR images", *,
                 suffix: str = "", ext: str = ".png") -> Plan:
    """Every input image with its output files, refusing outputs that could land outside the output folder or on an
    input.

    Args:
        input_dir: the inputs (searched recursively; an output folder inside it is left out), or one image file.
        output_dir: where the outputs go; must not be, or contain, ``input_dir``.
        samples: outputs per input (see :func:`output_names`).
        what: names the outputs in the messages.
        suffix, ext: added to each output's stem, and its extension (see :func:`output_names`).

    Raises:
        FileNotFoundError: no input folder.
        UserError: no images, outputs that would collide, or outputs that resolve outside the output folder.
    """
    input_dir, output_dir = Path(input_dir), Path(output_dir)
    single = input_dir.is_file()
    if single:
        inputs, input_dir = [input_dir], input_dir.parent
    else:
        require_folder(input_dir)
    if output_dir.exists() and not output_dir.is_dir():
        raise UserError(f"the output folder {str(output_dir)!r} is a file; give a folder")
    out_root = resolved(output_dir, "output folder")
    if single and (output_dir / output_names(Path(inputs[0].name), samples, suffix=suffix, ext=ext)[0]).resolve() \
            == inputs[0].resolve():
        raise UserError(f"the output would overwrite the input {str(inputs[0])!r}: choose another output folder or "
                        "a --suffix")
    if not single and is_within(resolved(input_dir, "input folder"), out_root):
        raise UserError(f"the output folder {str(output_dir)!r} is or contains the input folder {str(input_dir)!r}: "
                        f"write the {what} to a folder of their own (inside the input folder is fine)")
    plan = []
    claimed: dict[Path, Path] = {}
    ignored: list[tuple[Path, str]] = []
    for path in inputs if single else list_inputs(input_dir, exclude=output_dir, ignored=ignored):
        relative = path.relative_to(input_dir)
        outputs = []
        for name in output_names(relative, samples, suffix=suffix, ext=ext):
            target = output_dir / name
            if not is_within(resolved(target.parent, "output folder") / target.name, out_root):
                raise UserError(f"refusing to write {str(target)!r}: it resolves outside the output folder "
                                f"{str(output_dir)!r} (a symbolic link?)")
            if target in claimed:
                raise UserError(f"inputs {str(claimed[target])!r} and {str(path)!r} would both be written to "
                                f"{str(target)!r}: rename one of them")
            claimed[target] = path
            outputs.append(target)
        plan.append(PlannedImage(path, relative.as_posix(), outputs))
    if not plan:
        raise UserError(f"no images found in {str(input_dir)!r} outside the output folder {str(output_dir)!r}")
    return Plan(plan, ignored)


MANIFEST = ".probdeg.json"
"""The file in an output folder that records the command and settings that made its images."""
LOCK = ".probdeg.lock"
"""The file a folder job holds locked while it writes, so that two jobs never write one folder at once."""


class FolderJob:
    """The loop of a folder command: lock the output, check what made it, skip what exists, read, count failures,
    show progress, summarise.

    Entering the job (a context manager) creates the output folder and takes its lock (:data:`LOCK`; another job
    writing there is refused), deletes the temporary files a killed run left, and compares the folder's manifest
    (:data:`MANIFEST`) with ``settings``: a folder made with other settings (another model, seed, tiling,
    probdeg version, ...) is refused with one line naming what differs, unless ``overwrite`` (then its outputs of
    these inputs are deleted first). A folder without a manifest that already holds some of the outputs is refused
    likewise. The manifest also records each input (its path, size, modification time and SHA-256): an output made
    from an input that has changed since (an edited image, another input folder with the same file names) is
    refused the same way, unless ``overwrite``. A file whose path, size and time are unchanged is not hashed again;
    a copied or touched file with the same content counts as unchanged. The manifest is written (atomically) before
    any output::

        with FolderJob(plan, output_dir, command="sr", settings={...}, progress=True) as job:
            for item, missing in job.pending():
                image = job.read(item, read_image)
                if image is None:
                    continue          # counted, warned about
                ...write the missing outputs...
                job.wrote(len(missing))
                job.advance()
        summary = job.summary(scale=4)

    Args:
        plan: the inputs and their outputs (:func:`plan_outputs`).
        output_dir: the output folder.
        command: what writes the outputs (``degrade``, ``sr``), for the manifest and the progress bar.
        settings: everything the outputs depend on, as plain JSON values.
        overwrite: replace the outputs of other settings instead of refusing.
        progress: show a progress bar (on a terminal).
    """

    def __init__(self, plan: Plan, output_dir: PathLike, *, command: str, settings: Mapping[str, Any],
                 overwrite: bool = False, progress: bool = True) -> None:
        self.plan = plan
        self.output_dir = Path(output_dir)
        self.command = command
        self.settings = json.loads(json.dumps(dict(settings), default=str))
        self.overwrite = overwrite
        self.progress = progress
        self.start = time.perf_counter()
        self.counts: dict[str, Any] = {
            "images": len(plan), "written": 0, "skipped": 0, "failed": 0, "failures": [], "output": self.output_dir,
            "ignored": [f"{p} ({why})" for p, why in plan.ignored], "removed_temporaries": 0}
        self._lock: Any = None
        self.bar: Any = None

    def __enter__(self) -> FolderJob:
        self.output_dir.mkdir(parents=True, exist_ok=True)
        self._lock = _lock_folder(self.output_dir, self.command)
        try:
            self.counts["removed_temporaries"] = len(remove_temporaries(self.output_dir))
            self._check_manifest()
        except BaseException:
            self._lock.close()
            raise
        if self.plan.ignored:
            warnings.warn(f"{len(self.plan.ignored)} file(s) named like images are not read: "
                          f"{listing(self.counts['ignored'])}", stacklevel=2)
        self.bar = progress_bar(total=len(self.plan), unit="img", desc=self.command, enabled=self.progress)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.bar is not None:
            self.bar.close()
        if self._lock is not None:
            self._lock.close()

    def _check_manifest(self) -> None:
        path = self.output_dir / MANIFEST
        wanted = {"command": self.command, "probdeg": __version__, **self.settings}
        try:
            found = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
        except (OSError, ValueError):
            found = {}  # unreadable: treated as other settings
        if not isinstance(found, (dict, type(None))):
            found = {}
        recorded = found.pop("inputs", {}) if found is not None else {}
        made = [t for item in self.plan for t in item.outputs if t.exists()]
        if found is None and made and not self.overwrite:
            raise UserError(f"{str(self.output_dir)!r} already holds {len(made)} of the images to write, but no "
                            f"{MANIFEST} says what made them: choose another output folder, or pass --overwrite to "
                            "replace them")
        if found is not None and found != wanted:
            differences = [f"{key}: {found.get(key)!r} there, {wanted.get(key)!r} now"
                           for key in sorted(set(found) | set(wanted)) if found.get(key) != wanted.get(key)]
            if not self.overwrite:
                raise UserError(f"{str(self.output_dir)!r} holds the output of other settings "
                                f"({'; '.join(differences)}): choose another output folder, or pass --overwrite to "
                                "replace it")
            recorded = {}
        inputs, changed = self._input_records(recorded if isinstance(recorded, dict) else {})
        if changed and not self.overwrite:
            raise UserError(f"{str(self.output_dir)!r} holds outputs of {len(changed)} input(s) that have changed "
                            f"since they were made: {listing(changed)}: choose another output folder, or pass "
                            "--overwrite to redo them")
        if self.overwrite:
            self._remove_outputs()
        wanted["inputs"] = inputs
        if found is None or {**found, "inputs": recorded} != wanted:
            with atomic_path(path) as tmp:
                tmp.write_text(json.dumps(wanted, indent=2) + "\n", encoding="utf-8")

    def _input_records(self, recorded: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
        """What identifies each input now (``recorded`` ones kept), and the inputs whose outputs exist but were made
        from another file (``'<key>' (was <path>, now <path>)``)."""
        inputs = dict(recorded)
        changed = []
        for item in self.plan:
            try:
                stat = item.path.stat()
            except OSError:
                continue  # reading it will say what is wrong
            now = {"path": str(item.path.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
            old = recorded.get(item.key)
            same_file = isinstance(old, dict) and all(old.get(k) == v for k, v in now.items())
            try:
                now["sha256"] = old["sha256"] if same_file else file_digest(item.path)
            except OSError:
                continue
            if isinstance(old, dict) and old.get("sha256") != now["sha256"] and any(t.exists() for t in item.outputs):
                changed.append(f"{item.key!r} (was {old.get('path')!r}, {old.get('size')} bytes; now {now['path']!r}, "
                               f"{now['size']} bytes)")
            inputs[item.key] = now
        return inputs, changed

    def _remove_outputs(self) -> None:
        """Delete what any earlier run wrote for these inputs: ``<stem>.png``, ``<stem>_s<k>.png`` and the outputs
        planned now (another suffix or extension)."""
        for item in self.plan:
            folder = item.outputs[0].parent
            stem = Path(item.key).stem
            planned = "|".join(re.escape(t.name) for t in item.outputs)
            pattern = re.compile(re.escape(stem) + r"(_s\d+)?\.png|" + planned)
            if folder.is_dir():
                for old in folder.iterdir():
                    if pattern.fullmatch(old.name) and old.is_file():
                        old.unlink()

    def pending(self) -> Iterator[tuple[PlannedImage, list[tuple[int, Path]]]]:
        """The inputs with outputs still to write, as ``(item, [(output index, file), ...])``; the others are counted
        as skipped."""
        for item in self.plan:
            missing = [(k, target) for k, target in enumerate(item.outputs) if not target.exists()]
            self.counts["skipped"] += len(item.outputs) - len(missing)
            if not missing:
                self.advance()
                continue
            yield item, missing

    def read(self, item: PlannedImage, reader: Callable[[Path], T]) -> Optional[T]:
        """``reader(item.path)``, or ``None`` after counting, warning about and advancing past an unreadable file."""
        try:
            return reader(item.path)
        except (ImageReadError, OSError) as err:
            self.fail(item.path, err.reason if isinstance(err, ImageReadError) else str(err), message=str(err))
            self.advance()
            return None

    def fail(self, path: Path, reason: str, *, message: Optional[str] = None) -> None:
        """Count the input ``path`` as failed (nothing written for it), with one warning ``skipped 'PATH': reason``."""
        self.counts["failed"] += 1
        self.counts["failures"].append(message or f"{path}: {reason}")
        warnings.warn(f"skipped {str(path)!r}: {reason}", stacklevel=3)

    def tiles(self, total: int) -> Optional[Callable[[], None]]:
        """A callback for the tiles of one large image: the bar shows ``tile k/total`` while it runs."""
        if total <= 1:
            return None
        done = [0]

        def on_tile() -> None:
            done[0] += 1
            # Refreshed now: the bar moves only between images, and one large image may take minutes.
            self.bar.set_postfix_str(f"tile {done[0]}/{total}" if done[0] < total else "", refresh=True)

        return on_tile

    def wrote(self, files: int) -> None:
        self.counts["written"] += files

    def advance(self, images: int = 1) -> None:
        self.bar.update(images)

    def summary(self, **extra: Any) -> dict[str, Any]:
        """``images`` (inputs found), ``written`` and ``skipped`` (output files), ``failed`` (inputs that could not be
        read) with ``failures`` (their messages), ``ignored`` (files named like images that were not read),
        ``removed_temporaries``, ``output``, ``seconds``, and ``extra``."""
        return {**self.counts, "seconds": time.perf_counter() - self.start, **extra}


def _lock_folder(folder: Path, command: str) -> Any:
    """An exclusive lock on ``folder/LOCK``: the open file, locked until it is closed (or its process dies)."""
    handle = open(folder / LOCK, "a+")  # noqa: SIM115 - held open for the job's duration
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock
        return handle
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise UserError(f"another probdeg command is writing to {str(folder)!r}; wait for it to end, or choose "
                        f"another output folder for this {command}") from None
    return handle


# ------------------------------------------------------------------------------------------------------------ pairing
@dataclass
class Matching:
    """Files of one folder paired with GT files by name.

    Attributes:
        pairs: ``(key, file, gt_file)``, the key being the GT's relative path without extension, sorted by key.
        missing: GT files with no candidate.
        extra: files that pair with no GT file.
        ambiguous: ``(gt_file, candidates)`` for GT files with several candidates (none of them is scored).
    """

    pairs: list[tuple[str, Path, Path]]
    missing: list[Path] = field(default_factory=list)
    extra: list[Path] = field(default_factory=list)
    ambiguous: list[tuple[Path, list[Path]]] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """Every GT file has exactly one partner (extra files aside)."""
        return not self.missing and not self.ambiguous

    def problems(self, what: str = "SR") -> list[str]:
        """Human-readable lines about missing, ambiguous and extra files (at most :data:`LIST_LIMIT` per kind)."""
        lines = []
        if self.missing:
            lines.append(f"{len(self.missing)} GT image(s) have no {what} image: {listing(self.missing)}")
        if self.ambiguous:
            items = [f"{gt} <- {' | '.join(str(c) for c in cands)}" for gt, cands in self.ambiguous]
            lines.append(f"{len(self.ambiguous)} GT image(s) have several {what} candidates and are left out: "
                         f"{listing(items)}")
        if self.extra:
            lines.append(f"{len(self.extra)} {what} image(s) match no GT image: {listing(self.extra)}")
        return lines


def listing(items: Sequence[Any]) -> str:
    """``a, b, c ... and N more``: at most :data:`LIST_LIMIT` items."""
    shown = [str(p) for p in items[:LIST_LIMIT]]
    more = f" ... and {len(items) - LIST_LIMIT} more" if len(items) > LIST_LIMIT else ""
    return ", ".join(shown) + more


def _key(path: Path, root: Path) -> str:
    return path.relative_to(root).with_suffix("").as_posix()


def _suffix_match(key: str, gt_keys: Mapping[str, Path]) -> Optional[str]:
    """The GT key ``<dir>/<stem>`` of ``<dir>/<stem>_<suffix>``, the longest such stem, or ``None``."""
    folder, _, stem = key.rpartition("/")
    prefix = f"{folder}/" if folder else ""
    for i in range(len(stem) - 1, 0, -1):
        if stem[i] == "_" and f"{prefix}{stem[:i]}" in gt_keys:
            return f"{prefix}{stem[:i]}"
    return None


def match_images(images_dir: PathLike, gt_dir: PathLike, *, what: str = "SR") -> Matching:
    """Pair the images of ``images_dir`` with those of ``gt_dir`` by relative path.

    A file pairs with the GT file of the same relative path without extension (``sub/a.png`` with ``sub/a.jpg``).
    Failing that, BasicSR's naming ``<stem>_<suffix>.png`` pairs with GT ``<stem>`` (the longest such stem in the
    same folder), when it is the only candidate. GT files without a file are *missing*, files without a GT file are
    *extra*, GT files with several candidates are *ambiguous*: all are reported, none stops the run. A folder nested
    in the other one is left out of the other's listing (SR results saved inside the GT folder are not GT images).

    Args:
        images_dir: the SR (or LR) images.
        gt_dir: the ground truth.
        what: how messages name ``images_dir``'s images.

    Raises:
        FileNotFoundError: a folder does not exist.
        UserError: a folder holds no image, both are the same folder, or two GT files differ by extension only.
    """
    images_dir, gt_dir = Path(images_dir), Path(gt_dir)
    if resolved(images_dir, f"{what} folder") == resolved(gt_dir, "GT folder") and gt_dir.exists():
        raise UserError(f"the {what} and GT folders are the same folder {str(gt_dir)!r}")
    gt_files = list_inputs(gt_dir, exclude=images_dir, what="GT folder")
    files = list_inputs(images_dir, exclude=gt_dir, what=f"{what} folder")
    if not gt_files:
        raise UserError(f"no GT images in {str(gt_dir)!r} outside {str(images_dir)!r}")
    if not files:
        raise UserError(f"no images in {str(images_dir)!r} outside {str(gt_dir)!r}")
    gt_keys: dict[str, Path] = {}
    for path in gt_files:
        key = _key(path, gt_dir)
        if key in gt_keys:
            raise UserError(f"GT files {str(gt_keys[key])!r} and {str(path)!r} differ by extension only: keep one")
        gt_keys[key] = path
    exact: dict[str, list[Path]] = {}
    suffixed: dict[str, list[Path]] = {}
    extra = []
    for path in files:
        key = _key(path, images_dir)
        if key in gt_keys:
            exact.setdefault(key, []).append(path)
        elif (stem := _suffix_match(key, gt_keys)) is not None:
            suffixed.setdefault(stem, []).append(path)
        else:
            extra.append(path)
    matching = Matching(pairs=[])
    for key, gt in sorted(gt_keys.items()):
        candidates = exact.get(key) or suffixed.get(key, [])
        if exact.get(key):
            extra.extend(suffixed.get(key, []))  # a.png is a's SR image; a_other.png is then something else
        if len(candidates) == 1:
            matching.pairs.append((key, candidates[0], gt))
        elif candidates:
            matching.ambiguous.append((gt, candidates))
        else:
            matching.missing.append(gt)
    matching.extra = sorted(extra)
    return matching


def distinct_images(paths: Sequence[Path], limit: int) -> list[int]:
    """The indices of the first ``limit`` images of ``paths`` whose pixels differ from every earlier one (several
    draws of one photo share their HR image: a figure shows each photo once). Unreadable images are passed over.

    Returns:
        Indices into ``paths``, in order.
    """
    seen, kept = set(), []
    for index, path in enumerate(paths):
        if len(kept) >= limit:
            break
        try:
            digest = hashlib.sha1(read_image(path).tobytes()).hexdigest()
        except (OSError, ValueError):
            continue
        if digest not in seen:
            seen.add(digest)
            kept.append(index)
    return kept
