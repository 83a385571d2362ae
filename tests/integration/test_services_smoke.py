"""The dev services are the real thing: a broker that confirms and redelivers, a search engine that
indexes and finds. Everything created here has a unique name and is removed afterwards."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pika
import pytest
from opensearchpy import OpenSearch, helpers
from pika.adapters.blocking_connection import BlockingChannel
from pika.exceptions import UnroutableError

pytestmark = pytest.mark.integration


def _name() -> str:
    return f"maas-smoke-{uuid.uuid4().hex}"


@pytest.fixture
def amqp(rabbitmq_url: str) -> Iterator[pika.BlockingConnection]:
    connection = pika.BlockingConnection(pika.URLParameters(rabbitmq_url))
    yield connection
    connection.close()


@pytest.fixture
def queue(amqp: pika.BlockingConnection) -> Iterator[str]:
    name = _name()
    amqp.channel().queue_declare(name, durable=True)
    yield name
    amqp.channel().queue_delete(name)


def _confirming_channel(connection: pika.BlockingConnection) -> BlockingChannel:
    channel = connection.channel()
    channel.confirm_delivery()
    return channel


def test_persistent_message_is_confirmed_consumed_and_acked(
    amqp: pika.BlockingConnection, queue: str
) -> None:
    body = json.dumps({"schema": 1, "ids": ["a", "b"]}).encode()
    persistent = pika.BasicProperties(delivery_mode=pika.DeliveryMode.Persistent)
    _confirming_channel(amqp).basic_publish("", queue, body, persistent, mandatory=True)

    consumer = amqp.channel()
    method, properties, received = next(consumer.consume(queue, inactivity_timeout=10))
    assert method is not None, "the confirmed message was not delivered"
    assert (received, properties.delivery_mode) == (body, pika.DeliveryMode.Persistent.value)
    consumer.basic_ack(method.delivery_tag)
    consumer.close()  # an unacked message would now go back to the queue

    assert amqp.channel().queue_declare(queue, passive=True).method.message_count == 0


def test_unroutable_mandatory_publish_is_reported_not_lost(amqp: pika.BlockingConnection) -> None:
    with pytest.raises(UnroutableError):
        _confirming_channel(amqp).basic_publish("", _name(), b"{}", mandatory=True)


@pytest.fixture
def opensearch(opensearch_url: str) -> Iterator[OpenSearch]:
    client = OpenSearch(hosts=[opensearch_url], timeout=30)
    yield client
    client.close()


@pytest.fixture
def index(opensearch: OpenSearch) -> Iterator[str]:
    name = _name()
    settings = {"number_of_shards": 1, "number_of_replicas": 0}
    mappings = {"properties": {"name": {"type": "keyword"}, "size": {"type": "long"}}}
    opensearch.indices.create(index=name, body={"settings": settings, "mappings": mappings})
    yield name
    opensearch.indices.delete(index=name, ignore_unavailable=True)


def test_opensearch_is_version_2(opensearch: OpenSearch) -> None:
    version = opensearch.info()["version"]
    assert version.get("distribution") == "opensearch"
    assert version["number"].startswith("2.")


def test_bulk_indexed_documents_are_found_after_refresh(opensearch: OpenSearch, index: str) -> None:
    docs = {"s1": ("S1A_RAW", 5), "s2": ("S2B_MSI", 1), "s3": ("S3A_OLCI", 7)}
    actions = [
        {"_index": index, "_id": doc_id, "_source": {"name": name, "size": size}}
        for doc_id, (name, size) in docs.items()
    ]
    indexed, errors = helpers.bulk(opensearch, actions)
    assert (indexed, errors) == (3, [])

    opensearch.indices.refresh(index=index)
    query = {"query": {"range": {"size": {"gte": 2}}}, "sort": [{"name": "asc"}]}
    hits = opensearch.search(index=index, body=query)["hits"]["hits"]
    assert [hit["_id"] for hit in hits] == ["s1", "s3"]
