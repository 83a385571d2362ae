"""The explicit table of engines a deployment can run: no registration by import side effect."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from maas.engine.base import Engine


class EngineRegistry:
    """Engine classes by ``ENGINE_ID``; the routing file may only name these."""

    def __init__(self, engines: Iterable[type[Engine[Any]]] = ()) -> None:
        self._engines: dict[str, type[Engine[Any]]] = {}
        for engine in engines:
            self.register(engine)

    def register(self, engine: type[Engine[Any]]) -> type[Engine[Any]]:
        engine_id = getattr(engine, "ENGINE_ID", None)
        if not engine_id:
            raise ValueError(f"{engine.__name__} has no ENGINE_ID")
        if engine_id in self._engines:
            raise ValueError(f"engine id {engine_id!r} is registered twice")
        self._engines[engine_id] = engine
        return engine

    def get(self, engine_id: str) -> type[Engine[Any]] | None:
        return self._engines.get(engine_id)

    def __contains__(self, engine_id: object) -> bool:
        return engine_id in self._engines

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._engines))

    def merged(self, other: EngineRegistry) -> EngineRegistry:
        return EngineRegistry([*self._engines.values(), *other._engines.values()])
