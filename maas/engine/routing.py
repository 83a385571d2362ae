"""The routing file: pools → queues → bindings → ordered engines with their arguments.

Engine ids and arguments are checked against the engine registry when the file is loaded
(``maas config validate``, ``maas routing setup``, pool start), never when a message arrives.

Example::

    version: 1
    pools:
      publication:
        queues:
          - name: cds.publication
            bindings:
              - {exchange: collect, keys: [new.raw-prip-product, update.raw-prip-product]}
            engines:
              - {id: CONSOLIDATE_PUBLICATION, args: {}, send_reports: true}
            batch_size: 500
            batch_timeout_s: 1.0
            max_batch_docs: 20000
            retry: {max_attempts: 5, backoff_base_s: 5, backoff_cap_s: 600}
            single_active_consumer: false  # true: extra replicas are standbys
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pydantic
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from maas.bus.topology import Binding, QueueSpec, RetryPolicy, Topology
from maas.config.loader import Lines, problems_from, read_yaml, validate
from maas.config.settings import BusSettings
from maas.engine.base import Engine
from maas.engine.registry import EngineRegistry
from maas.errors import ConfigError, ConfigProblem

ExchangeRole = Literal["collect", "etl"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RetryConfig(_Strict):
    max_attempts: int = Field(default=5, ge=1, le=50)
    backoff_base_s: float = Field(default=5.0, gt=0)
    backoff_cap_s: float = Field(default=600.0, gt=0)

    def policy(self) -> RetryPolicy:
        """Exponential delays base·2ⁿ, capped, one per retry."""
        delays = tuple(
            min(self.backoff_cap_s, self.backoff_base_s * 2**n) for n in range(self.max_attempts - 1)
        )
        return RetryPolicy(max_attempts=self.max_attempts, delays_s=delays)


class BindingConfig(_Strict):
    exchange: ExchangeRole = "collect"
    keys: list[str] = Field(min_length=1)


class EngineConfig(_Strict):
    id: str
    args: dict[str, Any] = Field(default_factory=dict)
    send_reports: bool = True


class QueueConfig(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9_.:-]{1,200}$")
    bindings: list[BindingConfig] = Field(min_length=1)
    engines: list[EngineConfig] = Field(min_length=1)
    batch_size: int = Field(default=500, ge=1, le=100_000)
    batch_timeout_s: float = Field(default=1.0, gt=0)
    max_batch_docs: int = Field(
        default=20_000,
        ge=1,
        le=1_000_000,
        description="Document ids loaded and processed at once: a batch whose messages name more "
        "is processed in several loads (at least one message each), each settled on its own.",
    )
    retry: RetryConfig = RetryConfig()
    single_active_consumer: bool = Field(
        default=False,
        description="Only one consumer of the queue receives messages; the other replicas of its "
        "pool wait, and the next takes over (with what the first held unacknowledged) when it "
        "stops or dies. For engines that must not run twice at once (writes not made on "
        "condition). A broker cannot add or remove it on an existing queue: `maas routing setup` "
        "says how to recreate the queue without losing messages.",
    )


class PoolConfig(_Strict):
    queues: list[QueueConfig] = Field(min_length=1)


class RoutingFile(_Strict):
    version: Literal[1] = 1
    pools: dict[str, PoolConfig] = Field(min_length=1)
    _path: Path | None = PrivateAttr(default=None)  # set by load_routing, for errors to name

    @property
    def path(self) -> Path | None:
        """The file it was loaded from, if any: several may exist on a host (packaged,
        ``routing_file``), and an error must say which one it read."""
        return self._path

    def pool(self, name: str) -> PoolConfig:
        """A pool by name; a name not in the file is a configuration error naming the file."""
        if name not in self.pools:
            where = f"the routing file {self.path}" if self.path else "the routing file"
            raise ConfigError(f"pool {name!r} is not in {where} (pools: {', '.join(self.pools)})")
        return self.pools[name]

    def queue(self, name: str) -> QueueConfig:
        for pool in self.pools.values():
            for queue in pool.queues:
                if queue.name == name:
                    return queue
        raise KeyError(name)

    def patterns(self, role: ExchangeRole) -> tuple[str, ...]:
        """The binding patterns on one exchange: the routing keys someone consumes there."""
        return tuple(
            key
            for pool in self.pools.values()
            for queue in pool.queues
            for binding in queue.bindings
            if binding.exchange == role
            for key in binding.keys
        )

    def topology(self, bus: BusSettings) -> Topology:
        """The exchanges, queues and bindings this file needs on the bus."""
        exchanges = {"collect": bus.collect_exchange, "etl": bus.etl_exchange}
        queues = tuple(
            QueueSpec(
                name=q.name,
                bindings=tuple(Binding(exchanges[b.exchange], k) for b in q.bindings for k in b.keys),
                retry=q.retry.policy(),
                single_active_consumer=q.single_active_consumer,
            )
            for pool in self.pools.values()
            for q in pool.queues
        )
        return Topology(exchanges=tuple(exchanges.values()), queues=queues)


@dataclass(frozen=True)
class BoundEngine:
    """An engine instance with its arguments validated, and whether its writes are reported."""

    engine: Engine[Any]
    send_reports: bool


def build_engines(queue: QueueConfig, registry: EngineRegistry) -> list[BoundEngine]:
    """Instantiate the queue's engines, in order (assumes a routing file that passed checks)."""
    bound = []
    for spec in queue.engines:
        engine_class = registry.get(spec.id)
        if engine_class is None:
            raise ConfigError(f"queue {queue.name}: unknown engine id {spec.id!r}")
        bound.append(BoundEngine(engine_class.from_config(spec.args), spec.send_reports))
    return bound


def load_routing(path: Path, registry: EngineRegistry) -> RoutingFile:
    """Load, validate the schema, then every engine id and its arguments against the registry.

    Engine problems are looked for in the raw data too, so one run reports schema problems
    and engine problems together.
    """
    data, lines = read_yaml(path)
    problems = engine_problems(data, registry, str(path), lines)
    try:
        routing = validate(data, RoutingFile, str(path), lines)
    except ConfigError as exc:
        raise ConfigError(exc.problems + problems) from None
    if problems:
        raise ConfigError(problems)
    routing._path = path
    return routing


def check_routing(path: Path, registry: EngineRegistry) -> list[ConfigProblem]:
    """Every problem of a routing file (for ``maas config validate``)."""
    try:
        load_routing(path, registry)
    except ConfigError as exc:
        return exc.problems
    return []


def engine_problems(data: Any, registry: EngineRegistry, file: str, lines: Lines) -> list[ConfigProblem]:
    problems: list[ConfigProblem] = []
    for where, spec in _engine_entries(data):
        problems += _engine_problems(spec, registry, file, lines, where)
    return problems


def _engine_entries(data: Any) -> list[tuple[tuple[str | int, ...], dict[str, Any]]]:
    """Every well-formed engine entry of raw routing data, with its key path."""
    pools = data.get("pools") if isinstance(data, dict) else None
    entries: list[tuple[tuple[str | int, ...], dict[str, Any]]] = []
    for pool_name, pool in (pools or {}).items() if isinstance(pools, dict) else ():
        queues = pool.get("queues") if isinstance(pool, dict) else None
        for qi, queue in enumerate(queues if isinstance(queues, list) else []):
            engines = queue.get("engines") if isinstance(queue, dict) else None
            for ei, spec in enumerate(engines if isinstance(engines, list) else []):
                if isinstance(spec, dict) and isinstance(spec.get("id"), str):
                    entries.append((("pools", pool_name, "queues", qi, "engines", ei), spec))
    return entries


def _engine_problems(
    spec: dict[str, Any], registry: EngineRegistry, file: str, lines: Lines, where: tuple[str | int, ...]
) -> list[ConfigProblem]:
    engine_class = registry.get(spec["id"])
    if engine_class is None:
        known = ", ".join(registry) or "none registered"
        key = ".".join(map(str, (*where, "id")))
        reason = f"unknown engine {spec['id']!r} (known: {known})"
        return [ConfigProblem(file, lines.get((*where, "id")), key, reason)]
    try:
        engine_class.Args.model_validate(spec.get("args") or {})
    except pydantic.ValidationError as exc:
        return problems_from(exc, file, lines, prefix=(*where, "args"))
    return []
