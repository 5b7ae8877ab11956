"""Shared pieces of the property tests: a reproducible budget, and cutting bytes up."""

from __future__ import annotations

import itertools

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st

FUZZ = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,  # the same examples on every run: CI failures reproduce
    database=None,  # and nothing written to .hypothesis/
    suppress_health_check=[HealthCheck.too_slow],
    phases=[Phase.explicit, Phase.generate, Phase.shrink],  # no slow "explain" phase
)
"""Settings of every fuzz test: a fixed, small budget, the same on every run."""


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    """``data`` cut at the given offsets (taken modulo its length, any order).

    Empty pieces are left out: to h11, and so to the handshakes, ``receive_data(b"")``
    means end of file.
    """
    bounds = [0, *sorted(cut % (len(data) + 1) for cut in cuts), len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds) if a < b]


CUTS = st.lists(st.integers(0, 2**16), max_size=12)
"""Offsets to cut a byte string at (see ``split``)."""


def feedings(data: bytes, cuts: list[int]) -> dict[str, list[bytes]]:
    """The three ways a test feeds a parser: whole, byte by byte, in random pieces."""
    return {
        "whole": [data],
        "bytewise": [data[i : i + 1] for i in range(len(data))],
        "split": split(data, cuts),
    }
