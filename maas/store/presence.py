"""Which ids a table may hold: a Bloom filter that tells ids surely not stored without DuckDB
(or, as well, lookup values).

Engines ask for documents that do not exist yet as often as for ones that do (the stored
product of every new publication): DuckDB answers an absent id through the primary key for
7-10 us, growing with the table, and the memory of recent writes cannot say "not stored" about
an id it never saw. A filter of every id ever stored can, in well under a microsecond.

Built from one scan of the table's ids and then told every id committed (``RecentDocuments``
does, under the lock held across COMMIT), it never misses a stored id: "no" is exact, "maybe"
goes to DuckDB. Deleted ids stay in it (a "maybe" that DuckDB answers).

Probes come from Python's string hash (stable within a process, which is as long as the filter
lives). The hashes are kept (8 bytes an id, repeats dropped when they fill it) so that the
filter grows without reading the table again: with its 4 to 8 bytes of bits, 12 to 24 bytes
per distinct id in all.
"""

from __future__ import annotations

from array import array
from collections.abc import Hashable, Iterable, Sequence
from typing import TypeVar

# With four probes: 0.02 % of absent ids go to DuckDB at capacity, 0.0015 % at half of it. Low,
# because a search asks for a thousand values at once, and any "maybe" among them costs a query.
BITS_PER_ID = 32
MIN_CAPACITY = 1 << 16  # ids: 256 KiB of bits
T = TypeVar("T", bound=Hashable)


class Presence:
    """The ids a table may hold."""

    def __init__(self, expected: int = 0) -> None:
        self._hashes = array("q")
        self._size(max(MIN_CAPACITY, 2 * expected))

    def _size(self, capacity: int) -> None:
        bits = 1 << (capacity * BITS_PER_ID - 1).bit_length()  # a power of two
        self.capacity = capacity
        self._bits = bytearray(bits // 8)
        self._mask = bits - 1
        self._set(self._hashes)

    def add(self, ids: Iterable[Hashable]) -> None:
        start = len(self._hashes)
        self._hashes.extend(map(hash, ids))
        self._set(self._hashes[start:])
        if len(self._hashes) > self.capacity:
            self._grow()

    def _grow(self) -> None:
        """Full of hashes: drop the repeats (every rewrite of a document adds its id again),
        and double the bits only if the distinct ones need it."""
        self._hashes = array("q", set(self._hashes))
        if len(self._hashes) > self.capacity // 2:
            self._size(2 * len(self._hashes))

    def _set(self, hashes: Iterable[int]) -> None:
        bits, mask = self._bits, self._mask
        for h in hashes:
            step = (h >> 32) | 1
            p = h & mask
            bits[p >> 3] |= 1 << (p & 7)
            p = (h + step) & mask
            bits[p >> 3] |= 1 << (p & 7)
            p = (h + 2 * step) & mask
            bits[p >> 3] |= 1 << (p & 7)
            p = (h + 3 * step) & mask
            bits[p >> 3] |= 1 << (p & 7)

    def possible(self, ids: Sequence[T]) -> list[T]:
        """The ids that may be stored; the others surely are not."""
        bits, mask = self._bits, self._mask
        found = []
        for doc_id in ids:
            h = hash(doc_id)
            p = h & mask
            if not bits[p >> 3] >> (p & 7) & 1:
                continue
            step = (h >> 32) | 1
            p = (h + step) & mask
            if not bits[p >> 3] >> (p & 7) & 1:
                continue
            p = (h + 2 * step) & mask
            if not bits[p >> 3] >> (p & 7) & 1:
                continue
            p = (h + 3 * step) & mask
            if bits[p >> 3] >> (p & 7) & 1:
                found.append(doc_id)
        return found

    @property
    def size(self) -> int:
        """Bytes held by the filter and the hashes it grows from."""
        return len(self._bits) + self._hashes.itemsize * len(self._hashes)
