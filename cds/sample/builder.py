"""The generator's workbench: one seeded random source, and the ground segment it fills.

Missions add products through :meth:`Builder.product` (which checks that the name parses to
what the truth says) and deliver them with :meth:`Builder.deliver` (which publishes them on
the interfaces a product of that kind reaches, with realistic, signed delays).
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass

from cds.naming import Unknown, parse
from cds.sample.truth import DAY, SECOND, GroundSegment, Product, Publication

LTA = "LTA-1"
AUXIP = "AUXIP-1"
DD = "DD-DHUS"


class SampleError(ValueError):
    """The generator built something the naming grammars do not read as intended (a bug here)."""


@dataclass(frozen=True)
class Route:
    """Where a product goes: its production service's PRIP (or not at all), the long-term
    archive, the dissemination service; ``delay`` is PRIP publication minus sensing stop
    (negative: a product published before its sensing ended, a clock error)."""

    delay: int
    prip: bool = True
    lta: bool = False
    dd: bool = False


class Builder:
    def __init__(self, seed: int, days: int, start: int) -> None:
        self.world = GroundSegment(seed, days, start)
        self.rng = random.Random(f"cds.sample:{seed}")

    def uid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def jitter(self, low_s: float, high_s: float) -> int:
        """A random duration in milliseconds."""
        return self.rng.randrange(round(low_s * SECOND), round(high_s * SECOND) + 1)

    def footprint(
        self, lon: tuple[float, float], lat: tuple[float, float]
    ) -> tuple[float, float, float, float]:
        west, south = round(self.rng.uniform(*lon), 4), round(self.rng.uniform(*lat), 4)
        return (
            west,
            south,
            round(west + self.rng.uniform(1.0, 3.0), 4),
            round(south + self.rng.uniform(1.0, 2.5), 4),
        )

    def product(self, product: Product) -> Product:
        """Record a product whose name must parse to the truth's type, unit and sensing start."""
        parsed = parse(product.name)
        if product.mission != "unknown":
            if isinstance(parsed, Unknown):
                raise SampleError(f"{product.name}: {parsed.reason}")
            if parsed.key != product.key or parsed.product_type != product.product_type:
                raise SampleError(f"{product.name}: parses as {parsed.product_type} {parsed.key}")
        elif not isinstance(parsed, Unknown):
            raise SampleError(f"{product.name}: meant to be unknown, parses as {parsed.grammar}")
        self.world.products.append(product)
        return product

    def publish(
        self,
        product: Product,
        interface: str,
        kind: str,
        published: int,
        origin: int | None,
        keep: int | None,
    ) -> None:
        eviction = published + keep if keep is not None else None
        self.world.publications.append(
            Publication(product, interface, kind, published, origin, eviction, self.uid())
        )

    def deliver(self, product: Product, service: str, route: Route) -> None:
        """Publish on the PRIP of ``service`` (if routed there), then LTA and DD after it."""
        published = product.stop + route.delay + self.jitter(0, 1)
        if route.prip:
            origin = published - self.jitter(30, 600)
            self.publish(product, service, "PRIP", published, origin, 7 * DAY)
        if route.lta:
            self.publish(product, LTA, "LTA", published + self.jitter(2 * 3600, 8 * 3600), published, None)
        if route.dd:
            self.publish(product, DD, "DD", published + self.jitter(600, 5400), published, 30 * DAY)

    def delay(self, low_min: float, high_min: float) -> int:
        return self.jitter(low_min * 60, high_min * 60)


__all__ = ["AUXIP", "DD", "LTA", "Builder", "Route", "SampleError"]
