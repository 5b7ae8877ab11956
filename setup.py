"""Build the optional C speed-up; all other metadata lives in pyproject.toml.

``optional=True``: when the extension fails to build (no compiler, no Python headers),
setuptools warns and installs the package without it, and anyio_ws uses pure Python.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "anyio_ws.core._speedups",
            sources=["anyio_ws/core/_speedups.c"],
            optional=True,
        )
    ]
)
