"""Sphinx configuration: the API reference comes from the docstrings (Google style)."""

from __future__ import annotations

import importlib.util
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
