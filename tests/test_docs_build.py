"""The documentation builds with Sphinx, warnings as errors, and documents the public API."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest
from subprocesses import ROOT, run_python

import anyio_ws

needs_sphinx = pytest.mark.skipif(
    importlib.util.find_spec("sphinx") is None,
    reason="needs sphinx: pip install -e '.[docs]' to build the docs",
)


@needs_sphinx
def test_docs_build_without_warnings(tmp_path: Path) -> None:
    """``sphinx -W`` succeeds, and every name of anyio_ws.__all__ has an API entry."""
    html = tmp_path / "html"
    result = run_python(
        "-m",
        "sphinx",
        "-W",
        "--keep-going",
        "-q",
        "-b",
        "html",
        "-d",
        str(tmp_path / "doctrees"),
        "docs",
        str(html),
    )
    assert result.returncode == 0, result.stderr
    api = (html / "api.html").read_text(encoding="utf-8")
    documented = set(re.findall(r'id="anyio_ws\.(\w+)"', api))
    assert set(anyio_ws.__all__) <= documented, set(anyio_ws.__all__) - documented
    for page in ["getting-started", "lifecycle", "timeouts", "backpressure", "deployment"]:
        assert (html / f"{page}.html").is_file(), page


def test_every_page_is_in_the_toctree() -> None:
    """A page left out of index.rst would be built but unreachable."""
    index = (ROOT / "docs" / "index.rst").read_text(encoding="utf-8")
    for page in (ROOT / "docs").glob("*.rst"):
        if page.stem != "index":
            assert re.search(rf"^   {re.escape(page.stem)}$", index, re.MULTILINE), page.name
