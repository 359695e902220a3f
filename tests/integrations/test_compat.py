"""`probdeg.integrations.basicsr.compat`: BasicSR imports on current torchvision, without SciPy's notice about
BasicSR's own import of `scipy.ndimage.filters` (a user cannot act on it)."""

from __future__ import annotations

import subprocess
import sys


def test_importing_the_glue_shows_no_scipy_notice_from_inside_basicsr():
    script = "import warnings; warnings.simplefilter('always'); import probdeg.integrations.basicsr; import basicsr"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "scipy.ndimage.filters" not in result.stderr


def test_the_notice_is_filtered_for_that_import_only():
    script = ("import warnings; import probdeg.integrations.basicsr\n"
              "with warnings.catch_warnings(record=True) as caught:\n"
              "    warnings.simplefilter('always')\n"
              "    warnings.warn('Please import `convolve` from the `scipy.ndimage` namespace; the "
              "`scipy.ndimage.filters` namespace is deprecated', DeprecationWarning)\n"
              "print(len(caught))")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.stdout.strip() == "1", result.stderr
