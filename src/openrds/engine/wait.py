"""Bounded polling: the one way engine code waits for something to become true.

There is no bare ``sleep`` in engine logic: every wait names what it awaits and has a deadline, so a
stuck server turns into an `EngineError` that says what never happened instead of a hung job.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from openrds.engine.driver import EngineError

T = TypeVar("T")


class WaitTimeout(EngineError):
    """A `wait_until` deadline passed. Transient: the same call may succeed later."""


def wait_until(
    predicate: Callable[[], T | None],
    *,
    timeout: float,
    what: str,
    interval: float = 0.05,
    step: str = "wait",
    retry_on: tuple[type[BaseException], ...] = (),
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Call ``predicate`` until it returns a truthy value, and return that value.

    :param predicate: returns a falsy value to keep waiting, a truthy value when done; an exception
        ends the wait (terminal failure) unless its type is listed in ``retry_on``.
    :param timeout: seconds from now after which `WaitTimeout` is raised.
    :param what: what is awaited, for the error message ("replica r1 streaming from p1").
    :param interval: seconds between two calls; the predicate is always called at least once and
        once more right at the deadline, so a short timeout cannot miss a state reached just in time.
    :param step: the ``EngineError.step`` of the timeout.
    :param retry_on: exception types that mean "not yet" (e.g. connection refused while starting);
        the last one is quoted in the timeout message.
    :raises WaitTimeout: the deadline passed.
    """
    deadline = clock() + timeout
    last_error: BaseException | None = None
    while True:
        final = clock() >= deadline
        try:
            result = predicate()
        except retry_on as exc:
            last_error = exc
        else:
            if result:
                return result
        if final:
            because = f" (last error: {_first_line(last_error)})" if last_error else ""
            raise WaitTimeout(step, f"timed out after {timeout:g}s waiting for {what}{because}", transient=True)
        sleep(max(0.0, min(interval, deadline - clock())))


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
