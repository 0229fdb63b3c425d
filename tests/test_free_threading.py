"""Free-threaded CPython (3.13t/3.14t): the compiled core declares it runs without the GIL.

`make test-ft` runs the whole suite on 3.13t with ``PYTHON_GIL=0``; this test pins that our
modules do not switch the GIL back on when imported without that override.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig

import pytest

CORE_MODULES = ["cpqwest._parser", "cpqwest._pool", "cpqwest._protocol", "cpqwest._exchange",
                "cpqwest._hpack"]


@pytest.mark.skipif(not sysconfig.get_config_var("Py_GIL_DISABLED"),
                    reason="needs a free-threaded CPython")
def test_importing_the_compiled_core_keeps_the_gil_off() -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYTHON_GIL"}
    code = f"import sys, {', '.join(CORE_MODULES)}; print(sys._is_gil_enabled())"
    proc = subprocess.run([sys.executable, "-W", "error::RuntimeWarning", "-c", code], env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert (proc.returncode, proc.stdout.strip()) == (0, "False"), proc.stderr
