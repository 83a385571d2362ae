"""Pacing Python's cycle collector for batch work (engine pools, collectors, replay)."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

GC_YOUNG_THRESHOLD = 50_000  # allocations between collections of the youngest generation


@contextlib.contextmanager
def batch_gc() -> Iterator[None]:
    """Python's cycle collector paced for batches while they are processed (engine pools,
    collectors, replay), as it was afterwards.

    Engines allocate thousands of documents per batch and free them by reference counting. At
    the default pace (a collection every 700 allocations, the whole heap every hundred) the
    collector ran thousands of times per 100,000 products and walked the heap (the store's
    recent documents included) every two thousand: 15-20 % of the CPU of the CDS chain
    (bench/cds_chain.py). Cycles are still collected, just less often.
    """
    before = gc.get_threshold()
    if before[0] >= GC_YOUNG_THRESHOLD:  # already paced (an outer batch loop of this process)
        yield
        return
    gc.set_threshold(GC_YOUNG_THRESHOLD, max(before[1], 20), max(before[2], 100))
    try:
        yield
    finally:
        gc.set_threshold(*before)
