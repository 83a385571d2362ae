"""Health, readiness and Prometheus metrics over HTTP for long-running processes.

``/health`` answers 200 while the process runs; ``/ready`` answers 200 only when every
readiness check passes (store and bus connected), 503 otherwise, so Kubernetes stops routing
to a pool whose broker is gone; ``/metrics`` is the Prometheus exposition.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from maas.bus.base import QueueStats
from maas.collector.run import CollectorStats
from maas.collector.run import Hooks as CollectorHooks
from maas.config import Settings
from maas.config.secrets import redactor
from maas.doctor import probe_bus, probe_store
from maas.engine.pool import Hooks
from maas.engine.processor import BatchResult
from maas.errors import ConfigError

log = logging.getLogger(__name__)
ReadinessCheck = Callable[[], object]  # raises when not ready; the result is ignored
CAUSES = ("conflict", "transient")  # the ``cause`` label of maas_messages_retried


class PoolMetrics(Hooks):
    """Engine-pool counters; a Hooks implementation, so the pool knows nothing of Prometheus."""

    def __init__(self, registry: CollectorRegistry, pool: str) -> None:
        labels = ["pool", "queue"]
        self.pool = pool
        self.consumed = Counter(
            "maas_messages_consumed", "Messages processed and settled", labels, registry=registry
        )
        self.documents = Counter(
            "maas_documents_processed", "Input documents processed", labels, registry=registry
        )
        self.written = Counter(
            "maas_documents_written", "Documents created or updated", labels, registry=registry
        )
        self.retries = Counter(
            "maas_messages_retried",
            "Messages sent to retry, by cause: conflict (another writer) or transient (trouble)",
            [*labels, "cause"],
            registry=registry,
        )
        self.dead = Counter(
            "maas_messages_dead_lettered", "Messages dead-lettered", labels, registry=registry
        )
        self.handed_back_total = Counter(
            "maas_messages_handed_back",
            "Redelivered messages put back to be processed apart",
            labels,
            registry=registry,
        )
        self.depth = Gauge(
            "maas_queue_messages", "Ready messages per queue and DLQ (sampled)", labels, registry=registry
        )
        self.latency = Histogram(
            "maas_batch_seconds",
            "Batch processing latency",
            labels,
            registry=registry,
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
        )

    def started(self, queues: Sequence[str]) -> None:
        """Every series at 0 from the start: a labelled counter is exposed only once it has a
        child, and ``increase()``/``rate()`` over a series that appears at 1 see no increase,
        so the first dead letter of a queue would never show on the dashboard."""
        for queue in queues:
            for counter in (self.consumed, self.documents, self.written, self.dead, self.handed_back_total):
                counter.labels(self.pool, queue)
            for cause in CAUSES:
                self.retries.labels(self.pool, queue, cause)
            self.latency.labels(self.pool, queue)

    def batch_done(self, queue: str, result: BatchResult, messages: int, seconds: float) -> None:
        self.consumed.labels(self.pool, queue).inc(messages)
        self.documents.labels(self.pool, queue).inc(result.documents_in)
        self.written.labels(self.pool, queue).inc(len(result.written.changed))
        self.latency.labels(self.pool, queue).observe(seconds)

    def retried(self, queue: str, count: int, reason: str, conflict: bool = False) -> None:
        self.retries.labels(self.pool, queue, "conflict" if conflict else "transient").inc(count)

    def dead_lettered(self, queue: str, count: int, reason: str) -> None:
        self.dead.labels(self.pool, queue).inc(count)

    def handed_back(self, queue: str, count: int) -> None:
        self.handed_back_total.labels(self.pool, queue).inc(count)

    def queue_depths(self, stats: Sequence[QueueStats]) -> None:
        for stat in stats:
            self.depth.labels(self.pool, stat.name).set(stat.messages)


class CollectorMetrics(CollectorHooks):
    """Collector counters per collector and interface, and when each last succeeded.

    ``maas_collector_last_success_timestamp_seconds`` is what the journal-lag alert needs:
    ``time() - last_success`` grows while an interface is not collected.
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        labels = ["collector", "interface"]
        self.payloads = Counter(
            "maas_collector_payloads", "Payloads fetched and processed", labels, registry=registry
        )
        self.records = Counter("maas_collector_records", "Records extracted", labels, registry=registry)
        self.documents = Counter(
            "maas_collector_documents",
            "Documents written, by outcome",
            [*labels, "outcome"],
            registry=registry,
        )
        self.rejected = Counter(
            "maas_collector_rejected", "Records or payloads rejected", labels, registry=registry
        )
        self.failures = Counter(
            "maas_collector_failures", "Collector passes that failed", labels, registry=registry
        )
        self.last_success = Gauge(
            "maas_collector_last_success_timestamp_seconds",
            "End of the last successful pass",
            labels,
            registry=registry,
        )

    def collector_done(self, stats: CollectorStats) -> None:
        key = (stats.collector_id, stats.interface)
        self.payloads.labels(*key).inc(stats.payloads)
        self.records.labels(*key).inc(stats.records)
        for outcome in ("created", "updated", "unchanged"):
            self.documents.labels(*key, outcome).inc(getattr(stats, outcome))
        self.rejected.labels(*key).inc(stats.rejected)
        if stats.error:
            self.failures.labels(*key).inc()
        else:
            self.last_success.labels(*key).set_to_current_time()


def readiness(settings: Settings) -> dict[str, ReadinessCheck]:
    """Ready means the configured store and bus answer right now."""
    return {"store": lambda: probe_store(settings), "bus": lambda: probe_bus(settings)}


def serve(
    port: int, registry: CollectorRegistry, checks: Mapping[str, ReadinessCheck]
) -> ThreadingHTTPServer:
    """Start the endpoints on 0.0.0.0:port in a daemon thread (for probes from the cluster)."""
    handler = type("Handler", (_Handler,), {"registry": registry, "checks": dict(checks)})
    try:
        server = ThreadingHTTPServer(("0.0.0.0", port), handler)
    except OSError as exc:  # e.g. two pools on one host given the same port
        raise ConfigError(f"--metrics-port {port}: cannot listen ({exc.strerror})") from None
    threading.Thread(target=server.serve_forever, name="maas-metrics", daemon=True).start()
    log.info("health, readiness and metrics on port %d", server.server_address[1])
    return server


class _Handler(BaseHTTPRequestHandler):
    registry: CollectorRegistry
    checks: dict[str, ReadinessCheck]

    def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
        routes = {"/health": self._health, "/ready": self._ready, "/metrics": self._metrics}
        route = routes.get(self.path.split("?")[0])
        if route is None:
            self._reply(404, b"not found\n", "text/plain")
        else:
            route()

    def _health(self) -> None:
        self._reply(200, b"ok\n", "text/plain")

    def _ready(self) -> None:
        failures = []
        for name, check in self.checks.items():
            try:
                check()
            except Exception as exc:  # any failure means not ready; say which and why
                failures.append(redactor.mask(f"{name}: {type(exc).__name__}: {exc}"))  # served to anyone
        body = ("\n".join(failures) or "ready") + "\n"
        self._reply(503 if failures else 200, body.encode(), "text/plain")

    def _metrics(self) -> None:
        self._reply(200, generate_latest(self.registry), CONTENT_TYPE_LATEST)

    def _reply(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # probes every few seconds: keep quiet
        log.debug("metrics endpoint: " + format, *args)
