"""Choose and build a bus from its URL: the one place that knows the backends."""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from maas.config import Settings

if TYPE_CHECKING:
    import pika


def pika_parameters(settings: Settings) -> pika.URLParameters:
    """Connection parameters from the bus URL, with the password resolved from its reference."""
    import pika

    bus, tls = settings.bus, settings.tls
    url = urlsplit(bus.url)  # settings refuse passwords in URLs, and pika needs one there
    params = pika.URLParameters(urlunsplit(url._replace(netloc=url.netloc.rpartition("@")[2])))
    params.heartbeat = bus.heartbeat_s
    username = bus.username or url.username
    if username:
        password = bus.password.resolve() if bus.password else ""
        params.credentials = pika.PlainCredentials(username, password)
    if bus.url.startswith("amqps://"):
        context = ssl.create_default_context(cafile=str(tls.ca_file) if tls.ca_file else None)
        if not tls.verify:
            context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        params.ssl_options = pika.SSLOptions(context)
    return params
