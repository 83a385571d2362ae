"""OpenSearchStore: the distributed store (``http(s)://host:9200``).

Layout: one composable index template per family (mapping with ``dynamic: strict``, the family
alias); concrete indices ``<family>-<partition>`` are created by the template on first write.

Writes are change-detecting and conditional. One realtime ``_mget`` per batch reads only the
stored content hash, ``_seq_no`` and ``_primary_term``; new documents are sent with
``op_type=create`` and changed ones with ``if_seq_no``/``if_primary_term``, so two writers can
never silently overwrite each other: a 409 makes the store re-read that one document and decide
again. Unchanged documents are not sent at all. While a family's batches keep coming out all
new, the read is skipped (plain ``create``s; the 409 path catches any document that exists).

Reads by id are realtime ``_mget`` whenever the concrete index is known (always for unpartitioned
families, and whenever the caller passes the indices a message carries). Otherwise they go
through the family alias with an ``ids`` query, which, like every search, sees a write only after
the next refresh (``capabilities.needs_refresh``).

Scans sort on ``maas_id``, a keyword copy of ``_id`` with doc values, inside a point in time:
the order is the id order the protocol promises, the tiebreaker is unique, so ``search_after``
pages never skip or repeat a document, and memory stays bounded by one page. (Sorting on ``_id``
itself needs fielddata on the heap; ``_doc`` order would not be id order.)
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from itertools import islice
from typing import Any

from opensearchpy import OpenSearch

from maas.config import Settings
from maas.errors import ValidationError
from maas.model import Document, DocumentClass, FieldError, NoPartition
from maas.model.document import RESERVED_PREFIX
from maas.model.ids import content_bytes, hash_encoded
from maas.model.schema import HASH_FIELD, opensearch_template
from maas.store._bulk import (
    BulkOp,
    BulkSender,
    ItemReply,
    OpenSearchError,
    OpenSearchUnavailable,
    RetryPolicy,
    Verdict,
    batched,
    describe,
    endpoint,
    translate_errors,
    user_of,
)
from maas.store._opensearch_query import ID_FIELD, query, sort_clause
from maas.store.base import (
    NOTHING_EXPECTED,
    Expected,
    Filter,
    ItemResult,
    Modify,
    Outcome,
    SortKey,
    StoreCapabilities,
    WriteReport,
    unexpected,
)

log = logging.getLogger(__name__)

MAX_RESULT_WINDOW = 10_000  # OpenSearch's index.max_result_window: beyond it, search_after + PIT
FINGERPRINT = "maas_fingerprint"
_HIT_FIELDS = ("_index", "_id", "_seq_no", "_primary_term", "_source", "found", "sort", "error")
_MGET_FILTER = ",".join(f"docs.{name}" for name in _HIT_FIELDS)
_SEARCH_FILTER = ",".join(f"hits.hits.{name}" for name in _HIT_FIELDS) + ",pit_id"


def index_template(doc_class: DocumentClass, shards: int = 1, replicas: int = 0) -> dict[str, Any]:
    """The model's template plus what this backend needs, fingerprinted for idempotent setup.

    ``priority`` grows with the family name so that a more specific family (``raw-prip-product``)
    wins over a shorter one whose pattern also matches (``raw-prip-*``); equal priorities on
    overlapping patterns are refused by OpenSearch.
    """
    body = opensearch_template(doc_class, shards, replicas)
    body["template"]["mappings"]["properties"][ID_FIELD] = {"type": "keyword"}
    body["priority"] = len(doc_class.family)
    canonical = json.dumps(body, sort_keys=True).encode()
    body["_meta"][FINGERPRINT] = hashlib.sha256(canonical).hexdigest()[:32]
    return body


def home_index(doc_class: DocumentClass) -> str | None:
    """The one concrete index of an unpartitioned family (None when it depends on the data)."""
    return f"{doc_class.family}-all" if isinstance(doc_class.partition, NoPartition) else None


def may_move(doc_class: DocumentClass) -> bool:
    """Whether a document can change partition: its partition field is not part of its key."""
    field = doc_class.partition.field
    return field is not None and field not in doc_class.key


@dataclass(frozen=True, slots=True)
class _Stored:
    """The current copy of a document as OpenSearch holds it."""

    index: str
    seq_no: int
    primary_term: int
    source: Mapping[str, Any]

    @classmethod
    def from_hit(cls, hit: Mapping[str, Any]) -> _Stored:
        source = hit.get("_source") or {}
        return cls(hit["_index"], hit.get("_seq_no", -1), hit.get("_primary_term", -1), source)

    @property
    def digest(self) -> str | None:
        value = self.source.get(HASH_FIELD)
        return str(value) if value is not None else None


@dataclass(frozen=True, slots=True)
class _Target:
    """A document the store is asked to hold, hashed and encoded once."""

    doc: Document
    digest: str
    body: bytes

    @classmethod
    def of(cls, doc: Document) -> _Target:
        """The hashed canonical JSON is also the body: one encoding per document, not two."""
        canonical = content_bytes(doc.data)
        digest = hash_encoded(canonical)
        extra = f'"{HASH_FIELD}":"{digest}","{ID_FIELD}":{json.dumps(doc.id)}}}'.encode()
        return cls(doc, digest, canonical[:-1] + (b"," if len(canonical) > 2 else b"") + extra)

    def ops(self, stored: _Stored | None) -> list[BulkOp]:
        """Conditional operations that turn ``stored`` into this document (first one decides)."""
        doc = self.doc
        if stored is None:
            return [BulkOp("create", doc.index, doc.id, self.body)]
        if stored.index == doc.index:
            return [BulkOp("index", doc.index, doc.id, self.body, stored.seq_no, stored.primary_term)]
        move = BulkOp("delete", stored.index, doc.id, None, stored.seq_no, stored.primary_term)
        return [BulkOp("create", doc.index, doc.id, self.body), move]


class _Refused(Exception):
    """A wanted document cannot be written (reported with this outcome and reason)."""

    def __init__(self, reason: str, outcome: Outcome = Outcome.PERMANENT) -> None:
        super().__init__(reason)
        self.outcome = outcome


# Given an id and its stored copy (None: absent), the document wanted there (None: leave as is).
_Want = Callable[[str, _Stored | None], _Target | None]


class OpenSearchStore:
    """The Store protocol on OpenSearch; see the module docstring for the design."""

    def __init__(
        self,
        client: OpenSearch,
        *,
        bulk_max_docs: int = 2000,
        bulk_max_bytes: int = 8 * 1024 * 1024,
        retry: RetryPolicy | None = None,
        conflict_rounds: int = 10,
        shards: int = 1,
        replicas: int = 0,
        pit_keep_alive: str = "2m",
    ) -> None:
        self._client = client
        self._url, self._user = endpoint(client), user_of(client)
        self._read_chunk = min(bulk_max_docs, MAX_RESULT_WINDOW)
        self._sender = BulkSender(client, bulk_max_docs, bulk_max_bytes, retry or RetryPolicy())
        self._conflict_rounds, self._shards, self._replicas = conflict_rounds, shards, replicas
        self._keep_alive = pit_keep_alive
        self._families: set[str] = set()  # every family this store touched (for refresh())
        self._installed: set[str] = set()  # families whose template is known to be current
        # Families whose last batch was all new: their next batch skips the read and sends plain
        # ``create``s. Existing documents answer 409 and take the normal re-read path, which also
        # puts the family back to reading first. Never for families whose documents may move.
        self._optimistic: set[str] = set()
        self.capabilities = StoreCapabilities(
            name="opensearch", distributed=True, needs_refresh=True, max_bulk_docs=bulk_max_docs, sql=False
        )

    @classmethod
    def from_settings(cls, settings: Settings, *, read_only: bool = False, **options: Any) -> OpenSearchStore:
        """A store on the configured cluster.

        ``read_only`` changes nothing here (it lets the embedded store skip its writer lock).
        The client's own whole-request retries are switched off: a resent bulk whose items were
        already applied would come back as conflicts and be reported unchanged, and the store
        retries exactly the items that failed anyway.
        """
        from maas.store.factory import opensearch_client

        client = opensearch_client(settings)
        client.transport.max_retries = 0
        store = settings.store
        return cls(client, bulk_max_docs=store.bulk_max_docs, bulk_max_bytes=store.bulk_max_bytes, **options)

    def _errors(self, what: str) -> AbstractContextManager[None]:
        """The client's errors as ours, naming the operation and the server's URL."""
        return translate_errors(what, self._url, self._user)

    # --- setup ------------------------------------------------------------------------------

    def setup(self, classes: Iterable[DocumentClass]) -> None:
        for doc_class in classes:
            self._install(doc_class)

    def _ensure(self, doc_class: DocumentClass) -> None:
        """First use of a family by this store installs its template, before an index exists."""
        if doc_class.family not in self._installed:
            self._install(doc_class)

    def _install(self, doc_class: DocumentClass) -> None:
        """Put the template only if it differs, and extend the mapping of existing indices."""
        self._families.add(doc_class.family)
        body = index_template(doc_class, self._shards, self._replicas)
        if self._installed_fingerprint(doc_class.family) != body["_meta"][FINGERPRINT]:
            self._put_template(doc_class, body)
        self._installed.add(doc_class.family)

    def _put_template(self, doc_class: DocumentClass, body: dict[str, Any]) -> None:
        with self._errors(f"installing the index template {doc_class.family!r}"):
            self._client.indices.put_index_template(name=doc_class.family, body=body)
            self._client.indices.put_mapping(
                index=doc_class.family,
                body=body["template"]["mappings"],
                ignore_unavailable=True,
                allow_no_indices=True,
            )
        log.info("installed the index template %s", doc_class.family)

    def _installed_fingerprint(self, name: str) -> str | None:
        try:
            with self._errors(f"reading the index template {name!r}"):
                found = self._client.indices.get_index_template(
                    name=name, filter_path="index_templates.index_template._meta"
                )
        except OpenSearchError as exc:
            if exc.status == 404:
                return None
            raise
        templates = found.get("index_templates") or [{}]
        meta = templates[0].get("index_template", {}).get("_meta", {})
        return str(meta.get(FINGERPRINT)) if FINGERPRINT in meta else None

    # --- writes -----------------------------------------------------------------------------

    def write(self, docs: Iterable[Document], *, expected: Expected = NOTHING_EXPECTED) -> WriteReport:
        """``expected`` is checked against the store's own read, which the conditional write
        makes atomic: a document written since that read answers 409, is read again and then
        seen changed."""
        report = WriteReport()
        for batch in batched(docs, self._read_chunk):
            for targets in _by_family(batch).values():
                self._write_family(targets, report, expected)
        return report

    def _write_family(self, targets: dict[str, _Target], report: WriteReport, expected: Expected) -> None:
        """Read first, unless the family's previous batch was all new (see ``_optimistic``) and
        nothing is expected (an expected document must be seen as it is)."""
        doc_class = next(iter(targets.values())).doc.doc_class
        family = doc_class.family
        self._ensure(doc_class)
        where: dict[str, str | None] = {doc_id: t.doc.index for doc_id, t in targets.items()}
        read_first = family not in self._optimistic or may_move(doc_class) or bool(expected)

        def want(doc_id: str, stored: _Stored | None) -> _Target:
            target = targets[doc_id]
            reason = unexpected(expected, doc_id, stored.digest if stored else None, target.digest)
            if reason is not None:
                raise _Refused(reason, Outcome.CONFLICT)
            return target

        existed = self._converge(doc_class, where, want, [HASH_FIELD], report, read_first)
        (self._optimistic.discard if existed else self._optimistic.add)(family)

    def hashes(
        self, doc_class: DocumentClass, ids: Sequence[str], indices: Sequence[str] | None = None
    ) -> dict[str, str]:
        """Realtime where the index is known (``get``'s rules); documents that may have moved
        partition are also looked for elsewhere, as the write's own read does."""
        unique = list(dict.fromkeys(ids))
        stored = self._where(doc_class, unique, ids, indices, [HASH_FIELD])
        return _digests(stored | self._moved(doc_class, unique, indices, stored))

    def get_with_hashes(
        self, doc_class: DocumentClass, ids: Sequence[str], indices: Sequence[str] | None = None
    ) -> tuple[dict[str, Document], dict[str, str]]:
        """One read for both: the ``_source`` of each document holds its hash, so the two are
        of one version. A copy that moved partition gives its hash only, as ``hashes`` does."""
        unique = list(dict.fromkeys(ids))
        stored = self._where(doc_class, unique, ids, indices, None)
        found = {doc_id: self._decode(doc_class, doc_id, s) for doc_id, s in stored.items()}
        return found, _digests(stored | self._moved(doc_class, unique, indices, stored))

    def _moved(
        self,
        doc_class: DocumentClass,
        unique: Sequence[str],
        indices: Sequence[str] | None,
        stored: Mapping[str, _Stored],
    ) -> dict[str, _Stored]:
        """The hashes of documents not where ``indices`` say, if they may have moved partition."""
        if indices is None or not may_move(doc_class):
            return {}
        lost = [doc_id for doc_id in unique if doc_id not in stored]
        return self._search_ids(doc_class, lost, [HASH_FIELD]) if lost else {}

    def update(self, doc_class: DocumentClass, ids: Sequence[str], modify: Modify) -> WriteReport:
        report = WriteReport()
        home = home_index(doc_class)
        self._ensure(doc_class)

        def want(doc_id: str, stored: _Stored | None) -> _Target | None:
            current = self._decode(doc_class, doc_id, stored) if stored else None
            changed = modify(current)
            if changed is not None and changed.id != doc_id:
                raise _Refused(f"modify changed the id to {changed.id}")
            return _Target.of(changed) if changed is not None else None

        for chunk in batched(dict.fromkeys(ids), self._read_chunk):
            self._converge(doc_class, dict.fromkeys(chunk, home), want, None, report)
        return report

    def _converge(
        self,
        doc_class: DocumentClass,
        where: dict[str, str | None],
        want: _Want,
        fields: Sequence[str] | None,
        report: WriteReport,
        read_first: bool = True,
    ) -> int:
        """Read, decide, write conditionally; ids that lost a race are re-read and decided again.

        Returns how many documents existed already (found by the first read, or refused as
        already existing by an unread ``create``). Ids still losing after the last round are
        RETRYABLE, not a CONFLICT: each round decided on a fresh read, so what was lost is the
        store's race, not the caller's (DuckDB's transactions give up the same way).
        """
        existed = 0
        for round_ in range(self._conflict_rounds):
            stored = self._read(doc_class, where, fields, may_move(doc_class)) if round_ or read_first else {}
            where = self._decide(where, stored, want, report)
            if round_ == 0:
                existed = len(stored) + len(where)
            if not where:
                return existed
        for doc_id, index in where.items():
            reason = f"version conflict persisted after {self._conflict_rounds} re-reads"
            report.items.append(ItemResult(doc_id, index or "", Outcome.RETRYABLE, reason))
        return existed

    def _decide(
        self,
        where: Mapping[str, str | None],
        stored: Mapping[str, _Stored],
        want: _Want,
        report: WriteReport,
    ) -> dict[str, str | None]:
        """Send what must change; report the rest; return the conflicting ids and their index."""
        ops: list[BulkOp] = []
        firsts: dict[int, _Stored | None] = {}  # position of each document's deciding op
        for doc_id in where:
            current = stored.get(doc_id)
            index = current.index if current else ""
            try:
                target = want(doc_id, current)
            except _Refused as exc:
                report.items.append(ItemResult(doc_id, index, exc.outcome, str(exc)))
                continue
            if target is None or current is not None and current.digest == target.digest:
                report.items.append(ItemResult(doc_id, index, Outcome.UNCHANGED))
                continue
            firsts[len(ops)] = current
            ops.extend(target.ops(current))
        replies = self._sender.send(ops) if ops else []
        return self._record(ops, replies, firsts, report)

    def _record(
        self,
        ops: Sequence[BulkOp],
        replies: Sequence[ItemReply],
        firsts: Mapping[int, _Stored | None],
        report: WriteReport,
    ) -> dict[str, str | None]:
        conflicts: dict[str, str | None] = {}
        for position, (op, reply) in enumerate(zip(ops, replies, strict=True)):
            if position not in firsts:
                _check_move(op, reply)
            elif reply.verdict is Verdict.CONFLICT:
                conflicts[op.id] = op.index
            else:
                report.items.append(ItemResult(op.id, op.index, *_outcome(reply, firsts[position])))
        return conflicts

    # --- reads ------------------------------------------------------------------------------

    def get(
        self, doc_class: DocumentClass, ids: Sequence[str], indices: Sequence[str] | None = None
    ) -> dict[str, Document]:
        """``indices`` says where to look: the concrete index of each id (parallel to ``ids``, as
        messages carry them) or any list of candidate indices; None means the whole family."""
        unique = list(dict.fromkeys(ids))
        stored = self._where(doc_class, unique, ids, indices, None)
        return {doc_id: self._decode(doc_class, doc_id, s) for doc_id, s in stored.items()}

    def _where(
        self,
        doc_class: DocumentClass,
        unique: Sequence[str],
        ids: Sequence[str],
        indices: Sequence[str] | None,
        fields: Sequence[str] | None,
    ) -> dict[str, _Stored]:
        """The copies ``get`` finds: in ``indices``, or anywhere in the family without them."""
        if indices is None:
            return self._read(doc_class, dict.fromkeys(unique, home_index(doc_class)), fields)
        return self._mget_in(unique, ids, indices, fields)

    def _mget_in(
        self,
        unique: Sequence[str],
        ids: Sequence[str],
        indices: Sequence[str],
        fields: Sequence[str] | None = None,
    ) -> dict[str, _Stored]:
        """Parallel pairs first; an id not found there is then tried in each other candidate."""
        tried = set(zip(indices, ids, strict=True)) if len(indices) == len(ids) else set()
        found = self._mget(list(tried), fields)
        for index in dict.fromkeys(indices):
            pairs = [(index, i) for i in unique if i not in found and (index, i) not in tried]
            found |= self._mget(pairs, fields)
        return found

    def _read(
        self,
        doc_class: DocumentClass,
        where: Mapping[str, str | None],
        fields: Sequence[str] | None,
        elsewhere: bool = False,
    ) -> dict[str, _Stored]:
        """Current copies: realtime ``_mget`` where the index is known, the alias otherwise and,
        with ``elsewhere``, for ids missing from their expected index (a partition move)."""
        known = [(index, doc_id) for doc_id, index in where.items() if index is not None]
        stored = self._mget(known, fields)
        lost = [i for i, index in where.items() if index is None or elsewhere and i not in stored]
        return stored | self._search_ids(doc_class, lost, fields) if lost else stored

    def _mget(self, pairs: Sequence[tuple[str, str]], fields: Sequence[str] | None) -> dict[str, _Stored]:
        found: dict[str, _Stored] = {}
        for chunk in batched(pairs, self._read_chunk):
            docs = [{"_index": index, "_id": doc_id} for index, doc_id in chunk]
            with self._errors("reading documents by id"):
                answer = self._client.mget(body={"docs": docs}, filter_path=_MGET_FILTER, **_source(fields))
            found.update(_found(answer.get("docs", [])))
        return found

    def _search_ids(
        self, doc_class: DocumentClass, ids: Sequence[str], fields: Sequence[str] | None
    ) -> dict[str, _Stored]:
        found: dict[str, _Stored] = {}
        for chunk in batched(ids, self._read_chunk):
            body = {
                "query": {"ids": {"values": list(chunk)}},
                "size": len(chunk),
                "seq_no_primary_term": True,
                "_source": True if fields is None else list(fields) or False,
            }
            hits = self._search(doc_class.family, body)
            found.update((hit["_id"], _Stored.from_hit(hit)) for hit in hits)
        return found

    def _search(self, family: str, body: dict[str, Any]) -> list[dict[str, Any]]:
        with self._errors(f"searching {family!r}"):
            answer = self._client.search(
                index=family,
                body={**body, "track_total_hits": False},
                ignore_unavailable=True,
                allow_no_indices=True,
                filter_path=_SEARCH_FILTER,
            )
        return list(answer.get("hits", {}).get("hits", []))

    def find(
        self,
        doc_class: DocumentClass,
        filters: Sequence[Filter] = (),
        sort: Sequence[SortKey] = (),
        limit: int | None = None,
    ) -> list[Document]:
        """Up to ``max_result_window`` in one search; more (or all) page through a PIT."""
        if limit is not None and limit <= MAX_RESULT_WINDOW:
            body = {"query": query(doc_class, filters), "sort": sort_clause(doc_class, sort), "size": limit}
            hits: Iterable[dict[str, Any]] = self._search(doc_class.family, body) if limit > 0 else []
        else:
            hits = islice(self._pit_hits(doc_class, filters, sort, MAX_RESULT_WINDOW), limit)
        return [self._decode_hit(doc_class, hit) for hit in hits]

    def scan(
        self, doc_class: DocumentClass, filters: Sequence[Filter] = (), batch_size: int = 1000
    ) -> Generator[Document, None, None]:
        """A generator: closing it early (or dropping it) closes the point in time at once."""
        page = max(1, min(batch_size, MAX_RESULT_WINDOW))
        for hit in self._pit_hits(doc_class, filters, (), page):
            yield self._decode_hit(doc_class, hit)

    def _pit_hits(
        self, doc_class: DocumentClass, filters: Sequence[Filter], sort: Sequence[SortKey], page: int
    ) -> Iterator[dict[str, Any]]:
        """Every match, a page at a time, on one consistent point in time, closed at the end."""
        body: dict[str, Any] = {
            "query": query(doc_class, filters),
            "sort": sort_clause(doc_class, sort),
            "size": page,
            "track_total_hits": False,
        }
        pit = self._open_pit(doc_class.family)
        try:
            while pit is not None:
                body["pit"] = {"id": pit, "keep_alive": self._keep_alive}
                with self._errors(f"scanning {doc_class.family!r}"):
                    answer = self._client.search(body=body, filter_path=_SEARCH_FILTER)
                hits, pit = answer.get("hits", {}).get("hits", []), answer.get("pit_id", pit)
                yield from hits
                if len(hits) < page:
                    return
                body["search_after"] = hits[-1]["sort"]
        finally:
            self._close_pit(pit)

    def _open_pit(self, family: str) -> str | None:
        try:
            with self._errors(f"opening a point in time on {family!r}"):
                answer = self._client.create_pit(index=family, params={"keep_alive": self._keep_alive})
        except OpenSearchError as exc:
            if exc.status == 404:  # nothing written yet: no index behind the alias
                return None
            raise
        return str(answer["pit_id"])

    def _close_pit(self, pit: str | None) -> None:
        """Best effort: an unclosed PIT expires after its keep-alive anyway."""
        if pit is None:
            return
        try:
            with self._errors("closing a point in time"):
                self._client.delete_pit(body={"pit_id": [pit]})
        except (OpenSearchError, OpenSearchUnavailable) as exc:
            log.warning("could not close a point in time (it will expire): %s", exc)

    def count(self, doc_class: DocumentClass, filters: Sequence[Filter] = ()) -> int:
        with self._errors(f"counting {doc_class.family!r}"):
            answer = self._client.count(
                index=doc_class.family,
                body={"query": query(doc_class, filters)},
                ignore_unavailable=True,
                allow_no_indices=True,
            )
        return int(answer["count"])

    # --- delete, refresh, close -------------------------------------------------------------

    def delete(self, doc_class: DocumentClass, ids: Sequence[str]) -> int:
        """Bulk delete where the copies are: the home index, or wherever the alias finds them."""
        unique = list(dict.fromkeys(ids))
        home = home_index(doc_class)
        if home is not None:
            ops = [BulkOp("delete", home, doc_id) for doc_id in unique]
        else:
            located = self._search_ids(doc_class, unique, [])
            ops = [BulkOp("delete", s.index, doc_id) for doc_id, s in located.items()]
        replies = self._sender.send(ops) if ops else []
        _raise_failed(ops, replies, "delete")
        return sum(reply.verdict is Verdict.DELETED for reply in replies)

    def refresh(self, doc_class: DocumentClass | None = None) -> None:
        families = [doc_class.family] if doc_class else sorted(self._families)
        if not families:
            return
        with self._errors("refreshing"):
            self._client.indices.refresh(
                index=",".join(families), ignore_unavailable=True, allow_no_indices=True
            )

    def close(self) -> None:
        self._client.close()

    # --- decoding ---------------------------------------------------------------------------

    def _decode_hit(self, doc_class: DocumentClass, hit: Mapping[str, Any]) -> Document:
        return self._decode(doc_class, hit["_id"], _Stored.from_hit(hit))

    @staticmethod
    def _decode(doc_class: DocumentClass, doc_id: str, stored: _Stored) -> Document:
        """Stored JSON back to typed values, keeping the stored id and concrete index."""
        data = {k: v for k, v in stored.source.items() if not k.startswith(RESERVED_PREFIX)}
        try:
            return Document(doc_class, doc_id, stored.index, doc_class.convert(data))
        except FieldError as exc:
            raise ValidationError(f"{doc_class.name} {doc_id} in {stored.index}: {exc}") from None


def _by_family(batch: Iterable[Document]) -> dict[str, dict[str, _Target]]:
    """Targets per family, one per id (the last of duplicates wins, as a later write would)."""
    grouped: dict[str, dict[str, _Target]] = {}
    for doc in batch:
        grouped.setdefault(doc.doc_class.family, {})[doc.id] = _Target.of(doc)
    return grouped


def _source(fields: Sequence[str] | None) -> dict[str, Any]:
    """``_source`` filtering: None means the whole document, [] none of it."""
    if fields is None:
        return {}
    return {"_source_includes": ",".join(fields)} if fields else {"_source": False}


def _found(docs: Iterable[Mapping[str, Any]]) -> Iterator[tuple[str, _Stored]]:
    for doc in docs:
        error = doc.get("error")
        if error is not None and error.get("type") != "index_not_found_exception":
            raise OpenSearchUnavailable(f"reading {doc.get('_id')} failed: {describe(error)}")
        if doc.get("found"):
            yield doc["_id"], _Stored.from_hit(doc)


def _digests(stored: Mapping[str, _Stored]) -> dict[str, str]:
    return {doc_id: digest for doc_id, s in stored.items() if (digest := s.digest) is not None}


def _outcome(reply: ItemReply, previous: _Stored | None) -> tuple[Outcome, str | None]:
    if reply.verdict is Verdict.CREATED:
        return (Outcome.UPDATED if previous else Outcome.CREATED), None
    if reply.verdict is Verdict.UPDATED:
        return Outcome.UPDATED, None
    if reply.verdict is Verdict.RETRYABLE:
        return Outcome.RETRYABLE, reply.reason
    return Outcome.PERMANENT, reply.reason or f"unexpected bulk result {reply.verdict}"


def _check_move(op: BulkOp, reply: ItemReply) -> None:
    """The old copy of a document that changed partition should be gone now."""
    if reply.verdict not in (Verdict.DELETED, Verdict.NOT_FOUND):
        log.warning("old copy %s in %s was not removed: %s", op.id, op.index, reply.reason)


def _raise_failed(ops: Sequence[BulkOp], replies: Sequence[ItemReply], what: str) -> None:
    done = (Verdict.DELETED, Verdict.NOT_FOUND)
    failed = [(op, reply) for op, reply in zip(ops, replies, strict=True) if reply.verdict not in done]
    if not failed:
        return
    op, reply = failed[0]
    message = f"{what} failed for {len(failed)} document(s), e.g. {op.id} in {op.index}: {reply.reason}"
    if any(reply.verdict is Verdict.RETRYABLE for _, reply in failed):
        raise OpenSearchUnavailable(message)
    raise OpenSearchError(message)
