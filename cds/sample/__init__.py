"""A seeded synthetic ground segment, archived as collection would archive it, with its KPIs.

``generate(out, seed, days)`` writes under ``out``:

- the archive (``<interface>/<YYYY>/<MM>/<DD>/<payload>.gz`` + sidecars): mission plans of
  S1A and S2A (with a superseding plan and a stale one), OData v4 ``Products`` pages of every
  product interface (PRIPs, LTA, AUXIP, DD), the status service's probe pages;
- ``expected.json``: every KPI those payloads must give, computed from the generator's ground
  truth by :mod:`cds.sample.expected`, a reference calculation independent of the engines;
- ``README.md``: what the sample is and how to regenerate it.

The same seed and days give the same bytes (``backups/sample`` is checked against a
regeneration), so ``maas replay <out>`` followed by a comparison with ``expected.json`` is an
end-to-end acceptance test of the CDS chain.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cds.sample.expected import expected
from cds.sample.payloads import Written, write
from cds.sample.scenario import build
from cds.sample.truth import GroundSegment, iso

EXPECTED_FILE = "expected.json"
README_FILE = "README.md"


@dataclass
class Summary:
    """What ``generate`` wrote."""

    out: Path
    seed: int
    days: int
    payloads: list[Written] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    bytes: int = 0

    def by_collector(self) -> list[tuple[str, str, int, int]]:
        """(collector id, interface, payloads, records), in collector order."""
        payloads: Counter[tuple[str, str]] = Counter()
        records: Counter[tuple[str, str]] = Counter()
        for item in self.payloads:
            payloads[(item.collector_id, item.interface)] += 1
            records[(item.collector_id, item.interface)] += item.records
        return [(c, i, n, records[(c, i)]) for (c, i), n in sorted(payloads.items())]


def generate(out: Path, seed: int, days: int) -> Summary:
    """Write the sample for ``seed`` and ``days`` into ``out`` (which should be empty)."""
    world = build(seed, days)
    summary = Summary(out, seed, days, write(world, out))
    kpis = expected(world)
    (out / EXPECTED_FILE).write_text(render(kpis))
    (out / README_FILE).write_text(readme(world))
    summary.counts = _counts(world, kpis)
    summary.bytes = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    return summary


def render(kpis: dict[str, Any]) -> str:
    """JSON with one record per line: small, and a regeneration's diff reads record by record."""
    lines = []
    for name, value in kpis.items():
        if isinstance(value, list):
            records = ",\n".join(f"  {json.dumps(record)}" for record in value)
            lines.append(f" {json.dumps(name)}: [\n{records}\n ]" if value else f" {json.dumps(name)}: []")
        else:
            lines.append(f" {json.dumps(name)}: {json.dumps(value)}")
    return "{\n" + ",\n".join(lines) + "\n}\n"


def _counts(world: GroundSegment, kpis: dict[str, Any]) -> dict[str, int]:
    return {
        "mission plans": len(world.plans),
        "products": len(world.products),
        "publications": len(world.publications),
        "probes": len({(p.interface, p.time) for page in world.probe_pages for p in page.probes}),
        **{f"expected {name.replace('_', ' ')}": len(kpis[name]) for name in _KPIS},
    }


_KPIS = ("datatakes", "completeness", "orbit_completeness", "publications", "products", "interface_status")


def readme(world: GroundSegment) -> str:
    return f"""# CDS sample archive (generated)

A synthetic Sentinel ground segment written by `cds.sample` as archived raw payloads, exactly as
`maas collect` archives them (payload `.gz` + sidecar naming the packaged collector of
`cds/config/collectors` and its configuration hash), and `{EXPECTED_FILE}`: every KPI these
payloads must give, computed from the generator's ground truth independently of the engines.

- first day {iso(world.start)[:10]}, {world.days} day(s), seed {world.seed};
- regenerate: `maas cds sample --out <dir> --seed {world.seed} --days {world.days}` (byte-identical);
- replay: `maas replay <dir> --out sample.duckdb`, then look, e.g.
  `maas inspect sql "SELECT datatake_key, status, percentage FROM cds_completeness" --db sample.duckdb`.

Do not edit by hand: a unit test regenerates it and compares every byte.
"""


__all__ = ["EXPECTED_FILE", "README_FILE", "Summary", "build", "expected", "generate", "render"]
