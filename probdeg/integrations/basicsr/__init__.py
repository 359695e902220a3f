"""probdeg inside BasicSR: the only package that imports basicsr.

Importing it applies the compatibility fixes and registers probdeg's archs, datasets and models (explicitly,
idempotently), so one line in a BasicSR train script is enough::

    import probdeg.integrations.basicsr  # noqa: F401
"""

from .compat import alias_functional_tensor, import_basicsr

import_basicsr()  # the fixes, then basicsr itself (its SciPy notice filtered), before any module here imports it

from .archs import ARCHS, build_network, resolve_arch  # noqa: E402
from .registration import register  # noqa: E402

REGISTERED = register()

__all__ = ["ARCHS", "REGISTERED", "alias_functional_tensor", "build_network", "import_basicsr", "register",
           "resolve_arch"]
