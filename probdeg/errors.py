"""probdeg's own errors. The command line prints a :class:`UserError` (and an ``OSError``) as one line with exit code
2; anything else is a bug and keeps its traceback.

Every user error is also a ``ValueError``, so code written against the built-in type keeps working.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Union


class ProbdegError(Exception):
    """Base class of probdeg's errors."""


class UserError(ProbdegError, ValueError):
    """A bad input, setting or file that the user can fix; the message says which and what was expected."""


class OptionError(UserError):
    """An option file (or ``--set`` override) that cannot be used; the message names the file and the key."""


class ImageReadError(UserError):
    """An image file that cannot be used: empty, corrupt or truncated, not an image, or of an unsupported layout.

    Attributes:
        path: the file.
        reason: what is wrong with it.
    """

    def __init__(self, path: Union[str, os.PathLike], reason: str) -> None:
        super().__init__(path, reason)  # both in args, so the error survives pickling (e.g. from a worker process)
        self.path = Path(path)
        self.reason = reason

    def __str__(self) -> str:
        return f"cannot read image {str(self.path)!r}: {self.reason}"


class DiskFullError(UserError):
    """A write that found no space left (or the user's quota spent); the file it was to replace is kept.

    Attributes:
        path: the file that could not be written.
    """

    def __init__(self, path: Union[str, os.PathLike]) -> None:
        super().__init__(path)
        self.path = Path(path)

    def __str__(self) -> str:
        return (f"no space left on {str(self.path.parent)!r} to write {self.path.name!r}: free some space and run the "
                "command again (an earlier file of that name, if any, is kept)")


class NonFiniteLossError(ProbdegError, RuntimeError):
    """Too many consecutive training steps had a NaN or Inf loss."""
