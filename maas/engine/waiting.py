"""Waiting at start for a backend that is not up yet (the store after a reboot).

A pool is a service: started by systemd or Kubernetes alongside the backends, it must ride out
one that answers later than it starts, as the bus does for the broker, instead of exiting and
using up its supervisor's restart budget. It still hears a stop while it waits.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_delay, wait_exponential

from maas.errors import TransientError

log = logging.getLogger(__name__)
_STOP_POLL_S = 0.2


class _Stopped(Exception):
    """A stop was requested during the backoff (internal: the caller gets False)."""


def until_available(
    what: str, action: Callable[[], object], budget_s: float, should_stop: Callable[[], bool]
) -> bool:
    """True once ``action`` (idempotent) ran without a transient error; False if a stop is
    requested first. Tried for ``budget_s`` with the bus's backoff (0.2 s doubling to 5 s); the
    last error then escapes, saying how long it was tried (the unit restarts the process)."""

    def before_sleep(state: RetryCallState) -> None:
        wait = state.next_action.sleep if state.next_action else 0.0
        failure = state.outcome.exception() if state.outcome else None
        log.warning(
            "waiting for %s: %s; trying again in %.1f s (giving up after %g s)", what, failure, wait, budget_s
        )

    def sleep(seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if should_stop():
                raise _Stopped
            time.sleep(min(_STOP_POLL_S, max(0.0, deadline - time.monotonic())))

    retrying = Retrying(
        stop=stop_after_delay(budget_s),
        wait=wait_exponential(multiplier=0.2, max=5.0),
        retry=retry_if_exception_type(TransientError),
        before_sleep=before_sleep,
        sleep=sleep,
        reraise=True,
    )
    try:
        retrying(action)
    except _Stopped:
        log.info("stop requested while waiting for %s", what)
        return False
    except TransientError as exc:
        raise TransientError(f"{exc}; gave up after {budget_s:g} s") from exc
    return True
