"""``python -m pyqwest``: the same command as the ``pyqwest`` console script."""

from ._cli import main

raise SystemExit(main())
