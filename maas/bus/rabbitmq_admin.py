"""Read the broker's real topology through RabbitMQ's management HTTP API (read-only).

AMQP can declare and check one named object at a time but cannot *list* anything: only the
management plugin knows which bindings exist, so ``maas routing show`` asks it, and so does
``maas routing setup`` for the bindings the file no longer lists (it removes them over AMQP,
this client stays read-only). Same host,
vhost and credentials as the bus settings; the API's URL is ``bus.management_url`` or, by
default, the bus host on the plugin's default port (15672, or 15671 with TLS for amqps).

Message counts come from the broker's statistics, sampled every few seconds
(``collect_statistics_interval``, 5 s by default): right for a picture, not for a test of
exactly-now. Every failure becomes our error: unreachable or 5xx is transient
(:class:`BusUnavailable`), refused credentials or an unknown vhost are permanent.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlsplit

import requests

from maas.bus.factory import pika_parameters
from maas.bus.live import LiveQueue, LiveTopology
from maas.bus.rabbitmq import SINGLE_ACTIVE_ARGUMENT
from maas.bus.topology import Binding
from maas.config import Settings, mask_url
from maas.errors import BusError, BusUnavailable
from maas.unreachable import cannot_connect, reason

DEFAULT_PORTS = {"amqp": ("http", 15672), "amqps": ("https", 15671)}
_QUEUE_COLUMNS = "name,messages_ready,messages_unacknowledged,consumers,arguments"


def management_url(settings: Settings) -> str:
    """The configured management URL, or the one derived from the bus URL."""
    if settings.bus.management_url:
        return settings.bus.management_url.rstrip("/")
    parts = urlsplit(settings.bus.url)
    scheme, port = DEFAULT_PORTS[parts.scheme]
    host = parts.hostname or "localhost"
    return f"{scheme}://{f'[{host}]' if ':' in host else host}:{port}"


class ManagementAPI:
    """The few GETs ``routing show`` and ``routing setup`` need, for the bus's vhost."""

    def __init__(self, settings: Settings, timeout_s: float = 10.0) -> None:
        params = pika_parameters(settings)
        credentials = params.credentials
        self.base_url, self.vhost = management_url(settings), str(params.virtual_host)
        self._session = requests.Session()
        self._session.auth = (credentials.username, credentials.password)
        tls = settings.tls
        tls.warn_if_unverified(self.base_url)
        self._session.verify = (str(tls.ca_file) if tls.ca_file else True) if tls.verify else False
        if tls.client_cert:
            self._session.cert = (str(tls.client_cert), str(tls.client_key or tls.client_cert))
        self._timeout_s = timeout_s

    def snapshot(self) -> LiveTopology:
        """Exchanges, queues with counts, and exchange-to-queue bindings of the vhost."""
        vhost = quote(self.vhost, safe="")
        self._get(f"/api/vhosts/{vhost}")  # a clear error for an unknown vhost, not empty lists
        exchanges = self._get(f"/api/exchanges/{vhost}", columns="name")
        queues = self._get(f"/api/queues/{vhost}", columns=_QUEUE_COLUMNS)
        bindings = self._get(f"/api/bindings/{vhost}")
        return LiveTopology(
            frozenset(e["name"] for e in exchanges if e["name"]),
            {q["name"]: _queue(q) for q in queues},
            frozenset(_binding(b) for b in bindings if b["source"] and b["destination_type"] == "queue"),
        )

    def close(self) -> None:
        self._session.close()

    def _get(self, path: str, **params: str) -> Any:
        url = f"{self.base_url}{path}"
        try:
            response = self._session.get(url, params=params, timeout=self._timeout_s)
        except requests.ConnectionError as exc:
            doing = f"reading {path} of the RabbitMQ management API"
            raise BusUnavailable(cannot_connect(self.base_url, exc, doing)) from None
        except requests.RequestException as exc:  # a timeout reading the answer, a bad URL
            raise BusUnavailable(f"RabbitMQ management API at {mask_url(url)}: {reason(exc)}") from None
        if response.status_code >= 400:
            raise _status_error(url, response)
        return response.json()


def _queue(item: dict[str, Any]) -> LiveQueue:
    """Counts are absent until the broker's first statistics sample of a new queue."""
    return LiveQueue(
        item["name"],
        int(item.get("messages_ready") or 0),
        int(item.get("messages_unacknowledged") or 0),
        int(item.get("consumers") or 0),
        bool((item.get("arguments") or {}).get(SINGLE_ACTIVE_ARGUMENT)),
    )


def _binding(item: dict[str, Any]) -> tuple[Binding, str]:
    return Binding(item["source"], item["routing_key"]), item["destination"]


def _status_error(url: str, response: requests.Response) -> BusError:
    reason = f"RabbitMQ management API answered {response.status_code} for {url}"
    if response.status_code in (401, 403):
        return BusError(f"{reason}: credentials refused (the bus username/password are used)")
    if response.status_code == 404:
        return BusError(f"{reason}: unknown vhost, or the management plugin is not enabled")
    if response.status_code >= 500:
        return BusUnavailable(f"{reason}: {response.text[:200]}")
    return BusError(f"{reason}: {response.text[:200]}")
