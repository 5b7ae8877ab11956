"""``task_group.start(serve, handler, host, port)``: trio's way, for our classes.

anyio's and trio's ``start(func, *args)`` call ``func(*args, task_status=...)`` and
need a coroutine back. ``serve`` and ``connect`` are classes (async context managers
too), so a ``__new__`` that sees ``task_status`` builds the object from the other
arguments, checked as at any call, and returns the coroutine that runs it.
"""

from __future__ import annotations

import inspect
from collections.abc import Coroutine
from typing import Any


class _InitSignature:
    """``inspect.signature(cls)`` gives ``__init__``'s parameters, not ``__new__``'s.

    ``inspect`` and Sphinx prefer a class's own ``__new__``, whose ``*args, **kwargs``
    say nothing. Instances have no ``__signature__``: theirs is ``__call__``'s.
    """

    def __get__(self, instance: object, owner: type) -> inspect.Signature:
        if instance is not None:
            raise AttributeError("__signature__")
        signature = inspect.signature(owner.__init__)  # type: ignore[misc]  # the class given
        return signature.replace(parameters=list(signature.parameters.values())[1:])


class Startable:
    """A class that ``task_group.start(cls, *args)`` runs: see ``_run_started``."""

    __signature__ = _InitSignature()

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        """An instance; with ``task_status=``, the coroutine ``task_group.start`` needs."""
        if "task_status" not in kwargs:
            return super().__new__(cls)
        task_status = kwargs.pop("task_status")
        return cls(*args, **kwargs)._run_started(task_status)

    def _run_started(self, task_status: Any) -> Coroutine[Any, Any, None]:
        """The coroutine to run in the started task; it calls ``task_status.started()``."""
        raise NotImplementedError
