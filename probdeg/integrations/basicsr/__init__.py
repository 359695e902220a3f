"""probdeg inside BasicSR: the only package that imports basicsr.

Importing it applies the compatibility fixes and registers probdeg's archs (explicitly, idempotently), so one line
in a BasicSR train script is enough::

    import probdeg.integrations.basicsr  # noqa: F401
"""

from .compat import alias_functional_tensor, import_basicsr
from .registration import ARCHS, build_network, register

REGISTERED = register()

__all__ = ["ARCHS", "REGISTERED", "alias_functional_tensor", "build_network", "import_basicsr", "register"]
