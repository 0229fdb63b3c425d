"""The ``pyqwest`` command: a small curl-like client (and load tool) on the public async API.

``pyqwest URL`` (console script) and ``python -m pyqwest`` both run :func:`main`.
"""

from .main import main

__all__ = ["main"]
