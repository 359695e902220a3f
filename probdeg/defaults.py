"""Defaults shared by the library and the command line, in a module without heavy imports (``probdeg --help`` reads
them without loading torch)."""

TILE_PAD = 16
"""LR pixels of context around each tile of ``probdeg sr`` and the noise sweep."""

TILE_OVERLAP = 32
"""HR pixels of context around each tile of ``probdeg degrade`` (covers DeResnet's receptive field)."""

EXIT_OK, EXIT_PARTIAL, EXIT_USER_ERROR, EXIT_CRASH, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
"""Exit codes of every ``probdeg`` command: success; some inputs could not be read (the rest were done); a user error
(one line); a crash, with its traceback (a bug: please report it); interrupted by Ctrl-C."""
