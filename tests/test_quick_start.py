"""The README's quick start works as written, trio included.

It has two set-up commands: one runs the main example (whose ``--backend trio`` needs
trio, so that command installs it), one runs the suite (``tests/run.py``, which CI runs
too: the fast tier in parallel, then the slow tier alone). Without trio,
``examples/echo.py --backend trio`` says what to install instead of a traceback.
"""

from __future__ import annotations

import re
from pathlib import Path

from subprocesses import run_python

ROOT = Path(__file__).resolve().parent.parent


def quick_start_commands() -> list[str]:
    """The ``sh`` blocks of the README's "Quick start" section."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return [block.strip() for block in re.findall(r"```sh\n(.*?)```", section, re.S)]


def test_the_quick_start_has_two_commands() -> None:
    """One command runs the main example, the other the whole suite."""
    example, suite = quick_start_commands()
    assert example.endswith(".venv/bin/python examples/echo.py")
    assert suite.endswith(".venv/bin/python tests/run.py")


def test_ci_runs_the_readme_test_command() -> None:
    """``.ci/run`` runs the suite with the quick start's very command, not a variant."""
    _, suite = quick_start_commands()
    command = suite.rsplit(" && ", 1)[1]
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(rf"^{re.escape(command)}$", ci, re.MULTILINE)


def test_the_example_command_installs_trio_for_backend_trio() -> None:
    """The README offers ``--backend trio``: the example's command installs trio."""
    readme = (ROOT / "README.md").read_text()
    assert "--backend trio" in readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    example, _ = quick_start_commands()
    assert "pip install -e '.[trio]'" in example


WITHOUT_TRIO = (
    "import runpy, sys\n"
    "sys.modules['trio'] = None  # as if trio were not installed\n"
    "sys.argv = ['examples/echo.py', *sys.argv[1:]]\n"
    "runpy.run_path('examples/echo.py', run_name='__main__')\n"
)


def test_echo_without_trio_says_what_to_install() -> None:
    """``--backend trio`` without trio: exit 1, a one-line message naming the install."""
    result = run_python("-c", WITHOUT_TRIO, "--backend", "trio")
    assert result.returncode == 1
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert "pip install -e '.[trio]'" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_echo_without_trio_still_runs_on_asyncio() -> None:
    """The default backend needs no trio (CI runs it in a venv without trio)."""
    result = run_python("-c", WITHOUT_TRIO)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "client closed with code 1000"
