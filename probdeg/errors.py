"""Errors a user can act on, raised by training and shown by the command line as one line (no traceback).

Reading errors live with what they read: :class:`probdeg.io.ImageReadError` and
:class:`probdeg.integrations.basicsr.options.OptionError` (both ValueErrors).
"""

from __future__ import annotations


class NonFiniteLossError(RuntimeError):
    """Too many consecutive training steps had a NaN or Inf loss."""
