"""A pool waits at start for a backend that is not up yet, within a budget, hearing a stop."""

from __future__ import annotations

import logging

import pytest

from maas.engine.waiting import until_available
from maas.errors import PermanentError, StoreUnavailable, TransientError

pytestmark = pytest.mark.unit


def test_waits_through_unavailable_and_says_what_it_waits_for(caplog: pytest.LogCaptureFixture) -> None:
    failures = iter([StoreUnavailable("refused"), StoreUnavailable("refused")])

    def setup() -> None:
        failure = next(failures, None)
        if failure:
            raise failure

    caplog.set_level(logging.WARNING)
    assert until_available("the store", setup, 60, lambda: False)
    assert [r.getMessage().split(";")[0] for r in caplog.records] == ["waiting for the store: refused"] * 2


def test_the_last_error_escapes_after_the_budget_saying_so() -> None:
    def down() -> None:
        raise StoreUnavailable("refused")

    with pytest.raises(TransientError, match=r"^refused; gave up after 0.3 s$"):
        until_available("the store", down, 0.3, lambda: False)


def test_a_stop_ends_the_wait() -> None:
    def down() -> None:
        raise StoreUnavailable("refused")

    assert not until_available("the store", down, 300, lambda: True)


def test_a_permanent_error_is_not_waited_for() -> None:
    def refused() -> None:
        raise PermanentError("bad credentials")

    with pytest.raises(PermanentError):
        until_available("the store", refused, 300, lambda: False)
