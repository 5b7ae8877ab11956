"""Every Python block of README.md is an excerpt of a program the suite runs.

The programs in ``docs/examples/`` (run on both backends by test_docs_examples.py)
and ``examples/`` (run by test_examples.py and the chat/fan-out tests) are the
source; the README shows pieces of them, so none of its code can rot unnoticed.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted((ROOT / "docs" / "examples").glob("*.py")) + sorted(
    (ROOT / "examples").rglob("*.py")
)
BLOCKS = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)


def lines_of(text: str) -> list[str]:
    return [line.rstrip() for line in text.strip("\n").split("\n")]


def contains(haystack: list[str], needle: list[str]) -> bool:
    """Whether ``needle`` is a run of lines of ``haystack``, indentation aside."""
    width = len(needle)
    for start in range(len(haystack) - width + 1):
        window = "\n".join(haystack[start : start + width])
        if lines_of(textwrap.dedent(window)) == needle:
            return True
    return False


def test_the_readme_has_python_blocks() -> None:
    assert len(BLOCKS) >= 5


@pytest.mark.parametrize("block", BLOCKS, ids=lambda block: block.split("\n", 1)[0][:40])
def test_block_is_an_excerpt_of_an_executed_program(block: str) -> None:
    needle = lines_of(block)
    where = [path for path in SOURCES if contains(lines_of(path.read_text()), needle)]
    assert where, f"this README block is in no example program:\n{block}"
