"""Chained engines search what the previous step wrote: on OpenSearch that needs a refresh per
batch before the reports go out (writes are only searchable after a refresh)."""

from __future__ import annotations

import pytest
from chain_catalog import CATALOG, DOUBLED, RAW

from maas.bus.message import chunk_messages
from maas.config.settings import Settings, StoreSettings
from maas.engine.processor import Incoming, Processor
from maas.engine.routing import build_engines, load_routing
from maas.store.base import Terms
from maas.store.factory import create_store, opensearch_client

pytestmark = pytest.mark.integration


def test_reported_outputs_are_searchable_when_the_reports_go_out(opensearch_url: str) -> None:
    settings = Settings(store=StoreSettings(url=opensearch_url))
    client = opensearch_client(settings)
    for doc_class in CATALOG.models:
        client.indices.delete(index=f"{doc_class.family}-*", ignore_unavailable=True)
    store = create_store(settings)
    try:
        store.setup(list(CATALOG.models))
        raws = store.write([RAW.make({"name": f"v{i}", "value": i}) for i in range(1000, 1300)]).changed
        routing = load_routing(CATALOG.routing_file, CATALOG.engines)  # type: ignore[arg-type]
        queue = routing.queue(routing.pools["doubler"].queues[0].name)
        processor = Processor(build_engines(queue, CATALOG.engines), store, CATALOG.models)
        (message,) = chunk_messages(RAW.name, [r.id for r in raws], [r.index for r in raws], per_message=1000)
        result = processor.process([Incoming("new.test-raw", message)])
        assert result.reports, "the doubled documents are reported downstream"
        names = [f"v{i}" for i in range(1000, 1300)]
        found = store.find(DOUBLED, [Terms("name", names)])  # what a downstream engine would search
        assert len(found) == 300
    finally:
        store.close()
