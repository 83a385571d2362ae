"""RabbitMQ through pika's BlockingConnection: confirms, manual acks, reconnection.

Why BlockingConnection: the bus is driven by one consumer thread that fetches a batch, works,
then settles it; a blocking client matches that shape without a second I/O thread. Its one
weakness, one round trip per confirmed publish, is avoided by putting the publishing channel
in confirm mode ourselves (``_enable_confirms``) and waiting once for the whole batch.

One connection holds three channels: consuming (prefetch, acks, basic_get), publishing
(confirm mode) and admin (declarations, peeks, purges). A connection and its channels form a
:class:`_Session`; after any connection failure the whole session is replaced and its number
(``generation``) grows, so a delivery from an older session is recognised as stale: it cannot
be acked any more, and the broker redelivers it anyway.

Heartbeats are only answered while the client talks to the broker, so a handler must not
keep a batch for longer than about two heartbeat intervals without calling ``keep_alive``
(the pool does while it holds a batch through a store outage); if it does, the broker drops
the connection, the ack is skipped and the batch is redelivered (never lost).
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, TypeVar
from urllib.parse import quote

import pika
import pika.exceptions as px
from pika.adapters.blocking_connection import BlockingChannel
from pika.adapters.utils.connection_workflow import AMQPConnectorException, AMQPConnectorStackTimeout
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_delay,
    wait_exponential,
)

from maas.bus.base import (
    DEFAULT_EXCHANGE,
    BusBase,
    BusCapabilities,
    Delivery,
    Envelope,
    QueueStats,
    Unroutable,
    make_delivery,
    round_robin,
)
from maas.bus.topology import Binding, QueueSpec, Topology
from maas.errors import BusError, BusInterrupted, BusRefused, BusUnavailable, MaasError

log = logging.getLogger(__name__)
T = TypeVar("T")

CAPABILITIES = BusCapabilities("rabbitmq", persistent=True, distributed=True, real_delay=True)
_LOGIN_REFUSED = (px.AuthenticationError, px.ProbableAuthenticationError)
_ACCESS_REFUSED, _NOT_ALLOWED = 403, 530  # a login or a right refused; a vhost unknown or not allowed
_PRECONDITION_FAILED = 406  # e.g. a queue declared again with other arguments
_NOT_FOUND = 404
_INEQUIVALENT = re.compile(
    r"inequivalent arg '(?P<arg>[^']+)'.*: received (?P<new>.+) but current is (?P<old>.+)$"
)
_STOP_POLL_S = 0.1  # how soon a reconnect wait notices a stop request
SINGLE_ACTIVE_ARGUMENT = "x-single-active-consumer"  # RabbitMQ >= 3.8


# What a failed connection attempt raises: pika's errors, the socket's, and the connection
# workflow's own (a handshake that timed out is raised bare, outside pika's AMQPError tree).
CONNECT_ERRORS = (px.AMQPError, AMQPConnectorException, OSError)
_REPLY = re.compile(r"\((?P<code>\d+)\) '(?P<text>.*)'", re.DOTALL)


def map_error(exc: BaseException, params: pika.ConnectionParameters | None = None) -> MaasError:
    """Our error for a pika one: transient when reconnecting may help, else permanent.

    ``params`` name the broker (URL, user, vhost) when the connection itself failed: a wrong
    port, host or login must be visible in the message, which repeats while the bus waits.
    """
    if isinstance(exc, MaasError):
        return exc
    refused = _refusal(exc, params)
    if refused is not None:
        return refused
    if isinstance(exc, AMQPConnectorStackTimeout | px.IncompatibleProtocolError):
        return BusUnavailable(f"{_url(params)}: {_not_amqp(exc)}: is this a RabbitMQ port?")
    if isinstance(exc, px.AMQPConnectionError | AMQPConnectorException | OSError):
        at = f" at {params.host}:{params.port}" if params else ""
        return BusUnavailable(f"broker unreachable{at}: {_cause(exc)}")
    if isinstance(exc, px.ChannelClosedByBroker):
        return BusError(f"the broker refused: {exc.reply_code} {exc.reply_text}")
    return BusError(f"{type(exc).__name__}: {exc}")


def _refusal(exc: BaseException, params: pika.ConnectionParameters | None) -> BusRefused | None:
    """A login, vhost or right refused: the settings to check, since retrying cannot help."""
    code, said = _reply(exc)
    user = repr(params.credentials.username) if params else "(unknown)"
    closed = isinstance(exc, px.ConnectionClosedByBroker)
    if isinstance(exc, _LOGIN_REFUSED) or closed and code == _ACCESS_REFUSED:
        why, check = f"the broker refused the login of user {user}", "bus.username and bus.password"
    elif isinstance(exc, px.ProbableAccessDeniedError) or code == _NOT_ALLOWED:
        vhost = repr(params.virtual_host) if params else "(unknown)"
        why, check = (
            f"user {user} refused access to vhost {vhost}",
            "the vhost in bus.url and its permissions",
        )
    elif code == _ACCESS_REFUSED:  # on a channel: a right the user lacks on the vhost
        why, check = (
            f"user {user} refused an operation",
            "the user's permissions (rabbitmqctl list_permissions)",
        )
    else:
        return None
    return BusRefused(f"{_url(params)}: {why} ({said}): check {check}")


def _reply(exc: BaseException) -> tuple[int | None, str]:
    """The broker's reply code, and what it said; also from pika's "probable" errors, which
    hold the closing error only as its text."""
    if isinstance(exc, px.ConnectionClosedByBroker | px.ChannelClosedByBroker):
        return exc.reply_code, f"{exc.reply_code} {exc.reply_text}"
    found = _REPLY.search(str(exc.args[0])) if exc.args else None
    if found is None:
        return None, str(exc) or type(exc).__name__
    return int(found["code"]), f"{found['code']} {found['text']}"


def _not_amqp(exc: BaseException) -> str:
    if isinstance(exc, AMQPConnectorStackTimeout):
        return "no AMQP answer (handshake timed out)"
    return "not an AMQP answer (the server closed the connection during the handshake)"


def _url(params: pika.ConnectionParameters | None) -> str:
    """The broker as a bus.url would name it (no credentials: they are never in it)."""
    if params is None:
        return "the broker"
    scheme = "amqps" if params.ssl_options else "amqp"
    host = f"[{params.host}]" if ":" in params.host else params.host
    return f"{scheme}://{host}:{params.port}/{quote(params.virtual_host, safe='')}"


def _cause(exc: BaseException) -> str:
    """pika's connection errors print as nothing: the socket error they wrap says why (in their
    arguments, ``exception`` or ``exceptions``, by pika's layer)."""
    wrapped = (*exc.args, getattr(exc, "exception", None), *getattr(exc, "exceptions", ()))
    inner = next((e for e in wrapped if isinstance(e, BaseException)), None)
    return _cause(inner) if inner is not None else str(exc) or type(exc).__name__


class _QueuesVanished(BusError):
    """Queues being consumed were deleted on the broker."""

    def __init__(self, queues: list[str]) -> None:
        super().__init__(f"queue(s) {', '.join(queues)} deleted on the broker while consumed")
        self.queues = queues


class _Token(NamedTuple):
    generation: int
    tag: int


class _Confirms:
    """Publisher confirms of one channel, pipelined: publish N, then wait once."""

    def __init__(self, connection: pika.BlockingConnection) -> None:
        self.connection = connection
        self.sent = 0  # confirm-mode delivery tags count from 1 per channel
        self.pending: set[int] = set()
        self.nacked = 0
        self.returned: list[Envelope] = []  # refused as unroutable, as they were sent
        self.closed: BaseException | None = None

    def on_confirm(self, frame: Any) -> None:
        method, tag = frame.method, frame.method.delivery_tag
        done = {t for t in self.pending if t <= tag} if method.multiple else {tag}
        self.pending -= done
        if isinstance(method, pika.spec.Basic.Nack):
            self.nacked += len(done)
        if not self.pending:  # wake process_data_events now instead of at its time limit
            self.connection.call_later(0, _nothing)

    def on_return(self, _ch: Any, method: Any, props: Any, body: bytes) -> None:
        self.returned.append(Envelope(method.exchange, method.routing_key, body, props.headers or {}))

    def on_close(self, _ch: Any, reason: BaseException) -> None:
        self.closed = reason

    def track(self) -> None:
        self.sent += 1
        self.pending.add(self.sent)

    def problem(self) -> BusError | None:
        if self.returned:
            return Unroutable(list(self.returned))
        return BusError(f"the broker refused {self.nacked} message(s) (nack)") if self.nacked else None


def _nothing() -> None:
    """A timer callback whose only effect is to end ``process_data_events``."""


def _enable_confirms(channel: BlockingChannel, confirms: _Confirms) -> None:
    """Confirm mode with *our* callback; BlockingChannel's own waits for each publish.

    Returns are taken on the same async channel as the confirms, so each is seen as its frame
    arrives: BlockingChannel queues its own return callbacks until a later blocking call, and a
    return read together with its confirm was then noticed only after the publish had been
    reported done, an unroutable message taken as delivered."""
    impl = channel._impl  # pika's documented async channel under the blocking facade
    impl.add_on_close_callback(confirms.on_close)
    impl.confirm_delivery(ack_nack_callback=confirms.on_confirm)
    impl.add_on_return_callback(confirms.on_return)


class _Session:
    """One connection and its channels; thrown away whole after a failure."""

    def __init__(self, parameters: pika.ConnectionParameters, generation: int) -> None:
        self.generation = generation
        self.connection = pika.BlockingConnection(parameters)
        try:
            self.consume_ch = self.connection.channel()
            self.publish_ch = self.connection.channel()
            self.admin_ch = self.connection.channel()
            self.confirms = _Confirms(self.connection)
            _enable_confirms(self.publish_ch, self.confirms)
            self.consume_ch.add_on_cancel_callback(self._on_cancel)
        except BaseException:
            self.close()
            raise
        self.buffers: dict[str, deque[Delivery]] = {}
        self.unacked: set[int] = set()
        self.consuming: tuple[tuple[str, ...], int] = ((), 0)  # queues, prefetch
        self.cancelled: set[str] = set()  # queues whose consumer the broker cancelled
        # Queues this subscription is known to be the active consumer of (single active
        # consumer): a delivery came from it, or it was the queue's only consumer. It stays the
        # active one until it stops consuming.
        self.active: set[str] = set()

    # --- consuming ----------------------------------------------------------------------

    def subscribe(self, queues: Sequence[str], prefetch: int) -> None:
        if (tuple(queues), prefetch) == self.consuming:
            return
        self._unsubscribe()
        self.consume_ch.basic_qos(prefetch_count=prefetch)  # per consumer, so per queue
        for queue in queues:
            self.buffers.setdefault(queue, deque())
            callback = functools.partial(self._on_message, queue)
            self.consume_ch.basic_consume(queue, callback, consumer_tag=f"maas:{queue}")
        self.consuming = (tuple(queues), prefetch)

    def _unsubscribe(self) -> None:
        for queue in self.consuming[0]:
            if queue not in self.cancelled:  # the broker's cancel already removed the consumer
                self.consume_ch.basic_cancel(f"maas:{queue}")
            for delivery in self.buffers.pop(queue, deque()):
                self.consume_ch.basic_nack(delivery.token.tag, requeue=True)
                self.unacked.discard(delivery.token.tag)
        self.consuming = ((), 0)
        self.cancelled.clear()
        self.active.clear()

    def _on_cancel(self, frame: Any) -> None:
        """The broker cancelled a consumer: its queue was deleted (or its node lost). Without
        this, the consumer would be gone and the pool would wait for messages forever."""
        self.cancelled.add(str(frame.method.consumer_tag).removeprefix("maas:"))

    def start_over(self, topologies: Sequence[Topology]) -> None:
        """Drop every consumer (the next fetch subscribes again) and declare ``topologies``
        (their conflicts were reported when they were first declared)."""
        self._unsubscribe()
        self.declare(topologies)

    # --- topology -----------------------------------------------------------------------

    def declare(self, topologies: Sequence[Topology]) -> dict[str, str]:
        """Everything that can be declared; the queues held with other arguments, and why."""
        conflicts: dict[str, str] = {}
        for topology in topologies:
            for exchange in topology.exchanges:
                self.admin_ch.exchange_declare(exchange, exchange_type="topic", durable=True)
            for spec in topology.queues:
                for name, arguments in _queues(spec).items():
                    if problem := self._declare_queue(name, arguments):
                        conflicts[name] = problem
                for binding in spec.bindings:
                    self.admin_ch.queue_bind(spec.name, binding.exchange, routing_key=binding.pattern)
        return conflicts

    def _declare_queue(self, name: str, arguments: dict[str, Any]) -> str | None:
        """None, or why the broker refused: it then closed the channel, so a new one goes on."""
        try:
            self.admin_ch.queue_declare(name, durable=True, arguments=arguments)
        except px.ChannelClosedByBroker as exc:
            if exc.reply_code != _PRECONDITION_FAILED:
                raise
            self.reopen_admin()
            return _what_differs(str(exc.reply_text))
        return None

    def reopen_admin(self) -> None:
        """A refusal closes the channel it came on; the session goes on with a new one."""
        self.admin_ch = self.connection.channel()

    def check_consumers(self) -> None:
        if self.cancelled:
            raise _QueuesVanished(sorted(self.cancelled))

    def _on_message(self, queue: str, _ch: Any, method: Any, props: Any, body: bytes) -> None:
        self.buffers[queue].append(self.hold(self.delivery(queue, method, props, body)))
        self.active.add(queue)

    def delivery(self, queue: str, method: Any, props: Any, body: bytes) -> Delivery:
        return make_delivery(
            queue,
            method.exchange,
            method.routing_key,
            body,
            props.headers,
            method.redelivered,
            _Token(self.generation, method.delivery_tag),
        )

    def hold(self, delivery: Delivery) -> Delivery:
        """Count a consuming-channel delivery as unacked (tags are per channel)."""
        self.unacked.add(delivery.token.tag)
        return delivery

    def buffered(self, queues: Sequence[str]) -> int:
        return sum(len(self.buffers.get(q, ())) for q in queues)

    def take(self, queues: Sequence[str], limit: int) -> list[Delivery]:
        return [d for _, d in round_robin([(q, self.buffers[q]) for q in queues], limit)]

    def ack(self, tags: set[int]) -> None:
        """One ``multiple`` ack for the longest run of oldest unacked tags, singles for the rest."""
        upto = 0
        for tag in sorted(self.unacked):
            if tag not in tags:
                break
            upto = tag
        if upto:
            self.consume_ch.basic_ack(upto, multiple=True)
        for tag in sorted(t for t in tags if t > upto):
            self.consume_ch.basic_ack(tag)
        self.unacked -= tags

    # --- publishing ---------------------------------------------------------------------

    def publish(self, envelopes: Sequence[Envelope], timeout_s: float) -> None:
        confirms = self.confirms
        confirms.returned.clear()
        confirms.nacked = 0
        for env in envelopes:
            props = pika.BasicProperties(
                delivery_mode=pika.DeliveryMode.Persistent, headers=dict(env.headers) or None
            )
            confirms.track()  # before: its confirm may arrive while the publish is flushed
            self.publish_ch.basic_publish(env.exchange, env.routing_key, env.body, props, mandatory=True)
        self._wait_confirms(time.monotonic() + timeout_s)
        problem = confirms.problem()
        if problem:
            raise problem

    def _wait_confirms(self, deadline: float) -> None:
        confirms = self.confirms
        while confirms.pending:
            if confirms.closed is not None:
                raise confirms.closed
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise BusUnavailable(f"{len(confirms.pending)} publish(es) not confirmed in time")
            self.connection.process_data_events(time_limit=remaining)

    def close(self) -> None:
        try:
            if self.connection.is_open:
                self.connection.close()
        except (px.AMQPError, OSError) as exc:  # closing a dead connection: nothing to save
            log.debug("closing a broken connection: %r", exc)


class RabbitMQBus(BusBase):
    """The distributed bus: durable topic exchanges, durable queues, persistent messages.

    One instance per thread (pika connections are not thread-safe); it connects on first use.
    """

    capabilities = CAPABILITIES

    def __init__(
        self,
        parameters: pika.ConnectionParameters,
        client_name: str = "maas",
        prefetch: int = 500,
        confirm_timeout_s: float = 30.0,
        reconnect_max_s: float = 300.0,
    ) -> None:
        super().__init__(client_name)
        self._parameters = parameters
        self._prefetch = prefetch
        self._confirm_timeout_s = confirm_timeout_s
        self._session: _Session | None = None
        self._generation = 0
        self._topologies: list[Topology] = []  # declared here: declared again if queues vanish
        self._conflicts: set[str] = set()  # queues the broker holds with other arguments than declared
        self._interrupted = threading.Event()
        self._last_failure: BaseException | None = None
        self._reconnect_max_s = reconnect_max_s
        self._retrying = Retrying(
            stop=stop_after_delay(reconnect_max_s),
            wait=wait_exponential(multiplier=0.2, max=5.0),
            retry=retry_if_exception_type(BusUnavailable),
            before_sleep=self._before_sleep,
            sleep=self._sleep,
            reraise=True,
        )

    # --- stopping -----------------------------------------------------------------------

    def interrupt(self) -> None:
        """Give up waiting for a lost broker, now and in every later call of this bus.

        A call that works at the first attempt is not affected, so a batch in hand is still
        settled when the broker is up. Safe from a signal handler: it only sets a flag that
        the reconnect wait polls (waiting *on* the event could deadlock a handler that runs
        inside that same wait).
        """
        self._interrupted.set()

    def _before_sleep(self, state: RetryCallState) -> None:
        self._last_failure = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        log.warning(
            "%s: %s; retrying in %.1f s (giving up after %g s)",
            self.client_name,
            self._last_failure,
            wait,
            self._reconnect_max_s,
        )

    def _sleep(self, seconds: float) -> None:
        """The backoff between reconnects, cut short by :meth:`interrupt`."""
        deadline = time.monotonic() + seconds
        while not self._interrupted.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            time.sleep(min(_STOP_POLL_S, remaining))
        raise BusInterrupted(
            f"{self.client_name}: stop requested while waiting for the broker ({self._last_failure})"
        )

    # --- sessions -----------------------------------------------------------------------

    def _call(self, op: Callable[[_Session], T]) -> T:
        """Run ``op`` on a live session, reconnecting with backoff while the broker is away.

        Unavailable is retried until the budget ends, so one that escapes is the last attempt:
        the error says how long it was tried (a one-shot and a pool have different budgets).
        """
        try:
            result: T = self._retrying(self._once, op)
        except BusUnavailable as exc:
            raise BusUnavailable(f"{exc}; gave up after {self._reconnect_max_s:g} s") from exc
        return result

    def _once(self, op: Callable[[_Session], T]) -> T:
        session = self._connected()
        try:
            return op(session)
        except (px.AMQPError, OSError) as exc:
            self._drop()
            raise map_error(exc, self._parameters) from exc
        except BusUnavailable:  # e.g. confirms that never came: start over on a new session
            self._drop()
            raise

    def _connected(self) -> _Session:
        if self._session is None or not self._session.connection.is_open:
            self._drop()
            try:
                self._session = _Session(self._parameters, self._generation + 1)
            except CONNECT_ERRORS as exc:
                raise map_error(exc, self._parameters) from exc
            self._generation = self._session.generation
            if self._generation > 1:
                log.info("%s: reconnected to the broker (session %d)", self.client_name, self._generation)
        return self._session

    def _drop(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    def keep_alive(self) -> None:
        """pika answers heartbeats only inside its own calls; deliveries that arrive meanwhile
        wait in the session's buffers for the next fetch."""
        session = self._session
        if session is None or not session.connection.is_open:
            return
        try:
            session.connection.process_data_events(time_limit=0)
        except (px.AMQPError, OSError) as exc:
            self._drop()
            log.warning("%s: connection lost while idle (%s)", self.client_name, map_error(exc))

    def close(self) -> None:
        """Closing the connection hands every unacked delivery back to the broker."""
        self._drop()

    # --- topology -----------------------------------------------------------------------

    def _declare(self, topology: Topology) -> dict[str, str]:
        conflicts = self._call(lambda s: s.declare([topology]))
        self._conflicts.update(conflicts)
        if topology not in self._topologies:
            self._topologies.append(topology)
        return conflicts

    def delete(self, topology: Topology) -> None:
        self._call(lambda s: _delete(s.admin_ch, topology))

    def unbind(self, queue: str, bindings: Sequence[Binding]) -> None:
        def unbind_all(s: _Session) -> None:
            for binding in bindings:
                s.admin_ch.queue_unbind(queue, binding.exchange, routing_key=binding.pattern)

        self._call(unbind_all)

    # --- messages -----------------------------------------------------------------------

    def publish(self, envelopes: Sequence[Envelope]) -> None:
        """Sent straight to a queue this bus declared (a DLQ, a delay or suspects' queue) that
        was deleted by hand since: declared again, and what was refused is sent once more."""
        if not envelopes:
            return
        try:
            self._call(lambda s: s.publish(envelopes, self._confirm_timeout_s))
        except Unroutable as exc:
            missing = {e.routing_key for e in exc.returned}
            direct = all(e.exchange == DEFAULT_EXCHANGE for e in exc.returned)
            if not direct or not missing <= self._declared_queues():
                raise  # a binding missing, or a queue someone else declares: theirs to fix
            self._call(lambda s: self._heal(s, sorted(missing)))
            refused = exc.returned
            self._call(lambda s: s.publish(refused, self._confirm_timeout_s))

    def _heal(self, s: _Session, missing: Sequence[str], *, consume_anew: bool = False) -> None:
        """Declare what this bus declared again (loudly: whoever deleted the queues took their
        messages with them); ``consume_anew`` when consumers were lost with them."""
        log.error(
            "%s: queue(s) %s deleted on the broker; declaring the topology again",
            self.client_name,
            ", ".join(missing),
        )
        if consume_anew:
            s.start_over(self._topologies)
        else:
            s.declare(self._topologies)

    def fetch(self, queues: Sequence[str], max_count: int, timeout_s: float) -> list[Delivery]:
        deadline = time.monotonic() + timeout_s
        prefetch = max(self._prefetch, max_count)  # a batch must be able to fill
        try:
            return self._call(lambda s: self._fill(s, queues, max_count, prefetch, deadline))
        except _QueuesVanished as exc:
            self._redeclare(exc)
            return []

    def get(self, queue: str, limit: int, *, while_serving: str | None = None) -> list[Delivery]:
        """A queue this bus declared and someone deleted since (a suspects' queue removed by
        hand) is declared again and reads as empty. The refusal closed the consuming channel,
        so the session starts over: what it held comes back redelivered, nothing is lost."""
        try:
            return self._call(lambda s: self._get_serving(s, queue, limit, while_serving))
        except _QueuesVanished as exc:
            self._drop()
            self._redeclare(exc)
            return []

    def _get_serving(self, s: _Session, queue: str, limit: int, serving: str | None) -> list[Delivery]:
        """Checked on the session that takes: a reconnect in between starts a new consumer."""
        if serving is not None and not self._serves(s, serving):
            return []
        return [s.hold(d) for d in _get_existing(s, queue, limit)]

    def _serves(self, s: _Session, queue: str) -> bool:
        """A queue declared shared serves every consumer; otherwise (single active consumer, or
        not declared by this bus, or held by the broker with other arguments than declared) only
        proof counts: a delivery of it on this subscription, or being its only consumer (the
        broker counts the waiting ones too), which a lone replica restarted on an idle queue is."""
        if queue not in s.consuming[0] or queue in s.cancelled:
            return False
        spec = self._specs.get(queue)
        if spec is not None and not spec.single_active_consumer and queue not in self._conflicts:
            return True
        if queue not in s.active and _consumers(s.admin_ch, queue) == 1:
            s.active.add(queue)
        return queue in s.active

    def _declared_queues(self) -> set[str]:
        return {name for t in self._topologies for q in t.queues for name in (q.name, *q.companions())}

    def _redeclare(self, exc: _QueuesVanished) -> None:
        """Consumed queues deleted: healed if this bus declared them, instead of idling."""
        if not self._declared_queues().intersection(exc.queues):
            raise BusError(f"{exc}: declare them again (maas routing setup)") from None
        self._call(lambda s: self._heal(s, exc.queues, consume_anew=True))

    @staticmethod
    def _fill(
        s: _Session, queues: Sequence[str], max_count: int, prefetch: int, deadline: float
    ) -> list[Delivery]:
        s.subscribe(queues, prefetch)
        s.connection.process_data_events(time_limit=0)  # what already arrived
        while s.buffered(queues) < max_count and not s.cancelled:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            s.connection.process_data_events(time_limit=remaining)
        s.check_consumers()
        return s.take(queues, max_count)

    def ack(self, deliveries: Sequence[Delivery]) -> None:
        session = self._session
        live = session is not None and session.connection.is_open
        tags = {
            d.token.tag for d in deliveries if live and session and d.token.generation == session.generation
        }
        if len(tags) < len(deliveries):
            log.warning(
                "%s: %d deliveries came from a lost connection; the broker redelivers them",
                self.client_name,
                len(deliveries) - len(tags),
            )
        if session is not None and tags:
            try:
                session.ack(tags & session.unacked)
            except (px.AMQPError, OSError) as exc:
                self._drop()
                log.warning(
                    "%s: ack failed (%s); the broker redelivers %d deliveries",
                    self.client_name,
                    map_error(exc, self._parameters),
                    len(tags),
                )

    def _get(self, queue: str, limit: int) -> list[Delivery]:
        return self._call(lambda s: [s.hold(d) for d in _get(s, s.consume_ch, queue, limit)])

    # --- inspection ---------------------------------------------------------------------

    def queue_stats(self, queues: Sequence[str]) -> list[QueueStats]:
        return self._call(lambda s: [self._stats(s, q) for q in queues])

    def _stats(self, s: _Session, queue: str) -> QueueStats:
        """A queue this bus declared and someone deleted since (a DLQ deleted to empty it) is
        declared again, on the admin channel only: dropping the session for it would hand back
        everything the pool holds, at every sample of its metrics."""
        try:
            return _stats(s.admin_ch, queue)
        except px.ChannelClosedByBroker as exc:
            if exc.reply_code != _NOT_FOUND or queue not in self._declared_queues():
                raise
        s.reopen_admin()
        self._heal(s, [queue])
        return _stats(s.admin_ch, queue)

    def peek(self, queue: str, limit: int) -> list[Delivery]:
        return self._call(lambda s: _peek(s, queue, limit))

    def purge(self, queue: str) -> int:
        return self._call(lambda s: int(s.admin_ch.queue_purge(queue).method.message_count))


def _what_differs(reply: str) -> str:
    """The broker's refusal in the words of the one who declares ('received' is the declaration,
    'current' the queue); as the broker said it if it says something else."""
    found = _INEQUIVALENT.search(reply)
    if not found:
        return reply
    return f"argument {found['arg']}: declared {found['new']}, the queue has {found['old']}"


def _queues(spec: QueueSpec) -> dict[str, dict[str, Any]]:
    """The queues of one work queue with their arguments: itself, its DLQ, its suspects' queue,
    its delay queues."""
    queues = {spec.name: _work_arguments(spec), spec.dlq: {}, spec.solo: {}}
    for name, ttl_ms in spec.delay_queues().items():
        queues[name] = {
            "x-message-ttl": ttl_ms,
            "x-dead-letter-exchange": "",  # the default exchange: straight back to the work
            "x-dead-letter-routing-key": spec.name,  # queue, not to every binding
        }
    return queues


def _work_arguments(spec: QueueSpec) -> dict[str, Any]:
    """Only what differs from the defaults: a queue declared before an argument existed has
    none, and declaring ``false`` where it has none is a conflict to the broker as well."""
    return {SINGLE_ACTIVE_ARGUMENT: True} if spec.single_active_consumer else {}


def _delete(ch: BlockingChannel, topology: Topology) -> None:
    for spec in topology.queues:
        for name in (spec.name, *spec.companions()):
            ch.queue_delete(name)
    for exchange in topology.exchanges:
        ch.exchange_delete(exchange)


def _consumers(ch: BlockingChannel, queue: str) -> int:
    return int(ch.queue_declare(queue, passive=True).method.consumer_count)


def _stats(ch: BlockingChannel, queue: str) -> QueueStats:
    return QueueStats(queue, int(ch.queue_declare(queue, passive=True).method.message_count))


def _get(s: _Session, ch: BlockingChannel, queue: str, limit: int) -> list[Delivery]:
    got: list[Delivery] = []
    while len(got) < limit:
        method, props, body = ch.basic_get(queue, auto_ack=False)
        if method is None:
            break
        got.append(s.delivery(queue, method, props, body))
    return got


def _get_existing(s: _Session, queue: str, limit: int) -> list[Delivery]:
    try:
        return _get(s, s.consume_ch, queue, limit)
    except px.ChannelClosedByBroker as exc:
        if exc.reply_code != _NOT_FOUND:
            raise
        raise _QueuesVanished([queue]) from exc


def _peek(s: _Session, queue: str, limit: int) -> list[Delivery]:
    """Read without consuming: get on the admin channel, then hand everything back in place."""
    got = _get(s, s.admin_ch, queue, limit)
    if got:
        s.admin_ch.basic_nack(delivery_tag=0, multiple=True, requeue=True)
    return [dataclasses.replace(d, token=None) for d in got]
