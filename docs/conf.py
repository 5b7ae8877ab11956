"""Sphinx configuration: the API reference comes from the docstrings (Google style)."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # document this tree's anyio_ws, installed or not

import anyio_ws  # noqa: E402

project = "anyio_ws"
author = "anyio_ws contributors"
copyright = "2026, anyio_ws contributors"
release = version = anyio_ws.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
]

exclude_patterns = ["_build"]
nitpicky = False

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_format = "short"
autodoc_preserve_defaults = True
autodoc_default_options = {"members": True}
napoleon_google_docstring = True
napoleon_numpy_docstring = False

html_theme = "furo" if importlib.util.find_spec("furo") else "alabaster"
html_title = f"anyio_ws {release}"


def _document_unlisted_names(app: object, docname: str, source: list[str]) -> None:
    """Append to the API page an entry for each public name it does not list yet.

    So that a name added to ``anyio_ws.__all__`` is documented at once (under "Other
    names") until someone gives it its place in api.rst.
    """
    if docname != "api":
        return
    text = source[0]
    missing = [
        name
        for name in anyio_ws.__all__
        if not re.search(rf"^\.\. auto\w+:: {re.escape(name)}$", text, re.MULTILINE)
    ]
    if not missing:
        return
    lines = ["", "Other names", "-----------", "", ".. currentmodule:: anyio_ws", ""]
    for name in missing:
        obj = getattr(anyio_ws, name)
        if isinstance(obj, type) and issubclass(obj, BaseException):
            lines += [f".. autoexception:: {name}", "   :show-inheritance:", ""]
        elif isinstance(obj, type):
            lines += [f".. autoclass:: {name}", ""]
        elif callable(obj):
            lines += [f".. autofunction:: {name}", ""]
        else:
            lines += [f".. autodata:: {name}", ""]
    source[0] = text + "\n".join(lines)


def setup(app: object) -> None:
    app.connect("source-read", _document_unlisted_names)  # type: ignore[attr-defined]
