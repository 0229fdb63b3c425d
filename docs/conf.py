"""Sphinx configuration of the pyqwest (cpqwest) docs site; `make docs` builds it strictly."""

from __future__ import annotations

from importlib import metadata

project = "pyqwest (cpqwest)"
author = "the cpqwest authors"
release = metadata.version("cpqwest")
version = release
copyright = "the cpqwest authors, MIT licence"

extensions = ["sphinx.ext.autodoc", "myst_parser"]
source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "requirements.txt"]
myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence"]

html_theme = "furo"
html_title = f"pyqwest {release}"
html_static_path = ["_static"]
html_css_files = ["side-by-side.css"]

autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_default_options = {"members": True, "undoc-members": False, "show-inheritance": True}

# Strict: every reference must resolve (make docs runs with -W -n). The build is offline, so
# the standard library is not linked (no intersphinx inventory); its names are allowed bare.
nitpicky = True
nitpick_ignore_regex = [
    (r"py:.*", r"(collections\.abc|typing|types|asyncio|ssl|datetime|enum|concurrent|io)\..*"),
    (r"py:.*", r"httpx\..*"),  # the httpx adapter's base classes: a third party's names
    (r"py:class", r"(Awaitable|AsyncIterator|Iterable|Iterator|Mapping|Sequence|Generator|Any)"),
    (r"py:class", r"(bytes|bytearray|memoryview|str|int|float|bool|object|dict|list|tuple)"),
    (r"py:class", r"(Exception|ConnectionError|TimeoutError|IntEnum|Enum|Protocol|None)"),
    (r"py:class", r"(ExceptionGroup|BaseException|TracebackType|Buffer|NoneType)"),
    (r"py:(class|obj)", r".*\._\w+.*"),  # private modules' names in signatures
    (r"py:(class|obj)", r"(HeadersArg|ParamsArg|Content|StreamContext|Self|_\w+)"),
]
