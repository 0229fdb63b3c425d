"""The certificate maker of the test-suite: ``trustme``, or None where it cannot be installed.

On free-threaded CPython 3.13 (``make test-ft``) cryptography, which trustme needs, has no
wheel and cannot be built offline; there the ``ca`` fixture skips the tests that need
certificates, and every other test runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import trustme
else:
    try:
        import trustme
    except ImportError:
        trustme = None

__all__ = ["trustme"]
