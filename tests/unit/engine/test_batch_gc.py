"""Pools pace Python's cycle collector for batches while they work, and put it back."""

from __future__ import annotations

import gc

import pytest

from maas.gc_pacing import GC_YOUNG_THRESHOLD, batch_gc

pytestmark = pytest.mark.unit


def test_the_collector_is_paced_inside_and_restored_after_even_on_error() -> None:
    before = gc.get_threshold()
    with pytest.raises(RuntimeError), batch_gc():
        assert gc.get_threshold()[0] == GC_YOUNG_THRESHOLD
        with batch_gc():  # nested (two pools of one process): left as it is
            assert gc.get_threshold()[0] == GC_YOUNG_THRESHOLD
        assert gc.get_threshold()[0] == GC_YOUNG_THRESHOLD
        raise RuntimeError("engine bug")
    assert gc.get_threshold() == before
