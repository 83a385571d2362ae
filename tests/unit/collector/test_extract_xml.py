"""XML extraction: namespaces, XPath field paths, record errors, malformed and hostile payloads."""

from __future__ import annotations

import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from maas.collector.extract import ExtractError, ExtractSpec, extract
from maas.collector.extract.xml_reader import _children, _getter, hardened_parser, normalize
from maas.collector.extract.xpaths import compile_xpath

pytestmark = pytest.mark.unit

DATA = Path(__file__).parents[2] / "data" / "extract"
PRIP = {"p": "http://example.org/prip/1.0", "m": "http://example.org/meta"}


def spec(record: str, namespaces: dict[str, str] | None = None, **fields: Any) -> ExtractSpec:
    block = {"format": "xml", "record": record, "namespaces": namespaces or {}, "fields": fields}
    return ExtractSpec.model_validate(block)


PRODUCTS = spec(
    "/p:Products/p:Product",
    PRIP,
    id={"path": "@p:id", "required": True},
    name={"path": "p:Name/text()"},
    satellite={"path": "p:Name", "regex": "^(S[1-3][AB])_"},
    size={"path": "p:ContentLength", "type": "int"},
    published={"path": "p:PublicationDate", "type": "datetime"},
    start={"path": "p:ContentDate/p:Start", "type": "datetime"},
    end={"path": "p:ContentDate/p:End/text()", "type": "datetime"},
    level={"path": "p:Type", "lookup": {"RAW": "L0", "SLC": "L1"}, "default": "unknown"},
    online={"path": "p:Online", "type": "bool"},
    tags={"path": "m:Tags", "split": ","},
    interface={"from": "context.interface_name"},
)


def test_products_sample_keeps_good_records_and_reports_the_bad_one() -> None:
    payload = (DATA / "products.xml").read_bytes()
    result = extract(PRODUCTS, payload, {"source": "prip/page1.xml", "interface_name": "PRIP-S1"})
    first, third = result.records
    assert first == {
        "interface": "PRIP-S1",
        "id": "a1b2c3d4-0001",
        "name": "S1A_EW_RAW__0NDH_20211206T121955_20211206T122150_029904_0391E7_D00D.SAFE.zip",
        "satellite": "S1A",
        "size": 1073741824,
        "published": datetime(2021, 12, 6, 13, 1, 2, 345000, UTC),
        "start": datetime(2021, 12, 6, 12, 19, 55, tzinfo=UTC),
        "end": datetime(2021, 12, 6, 12, 21, 50, tzinfo=UTC),
        "level": "L0",
        "online": True,
        "tags": ["nominal", "ew", "dh"],
    }
    assert (third["satellite"], third["level"], third["tags"]) == ("S2A", "unknown", None)
    assert [e.render() for e in result.errors] == [
        "prip/page1.xml:16: record 2: size: not an integer: 'unknown'",
        "prip/page1.xml:16: record 2: published: not a date-time in ISO 8601: '06/12/2021 06:30'",
    ]


def test_xpath_functions_and_relative_record_paths() -> None:
    counted = spec(
        "p:Product",  # relative to the root element
        PRIP,
        dates={"path": "count(p:ContentDate/*)", "type": "int"},
        short={"path": "substring(p:Name, 1, 3)"},
        has_tags={"path": "boolean(m:Tags)", "type": "bool"},
    )
    result = extract(counted, (DATA / "products.xml").read_bytes(), {})
    assert result.records[0] == {"dates": 2, "short": "S1A", "has_tags": True}
    assert result.records[1] == {"dates": 2, "short": "S1B", "has_tags": False}


ODD = b"""<r xmlns:x="urn:x">
  <rec a="1" x:b="2">
    <plain>v</plain>
    <rep>one</rep><rep>two</rep>
    <mixed>head<i>mid</i>tail</mixed>
    <commented>be<!-- no -->fore</commented>
    <empty/>
    <blank>   </blank>
    <x:ns>namespaced</x:ns>
    <deep><deeper>down</deeper></deep>
  </rec>
</r>"""
PATHS = [
    "plain",
    "plain/text()",
    "rep",
    "rep/text()",
    "mixed",
    "mixed/text()",
    "commented",
    "commented/text()",
    "empty",
    "empty/text()",
    "blank",
    "absent",
    "absent/text()",
    "@a",
    "@x:b",
    "@missing",
    "x:ns",
    "x:ns/text()",
    "deep",
    "deep/deeper/text()",
    "*[1]",
]


@pytest.mark.parametrize("path", PATHS)
def test_fast_child_paths_answer_exactly_like_the_full_xpath(path: str) -> None:
    """The per-record child index is an optimisation; it must never change a value."""
    record = etree.fromstring(ODD, hardened_parser())[0]
    expected = normalize(compile_xpath(path, {"x": "urn:x"})(record))
    assert _getter(path, {"x": "urn:x"})((record, _children(record))) == expected


def test_repeated_and_mixed_children_behave_as_xpath_in_extracted_records() -> None:
    odd = spec(
        "/r/rec",
        {"x": "urn:x"},
        reps={"path": "rep", "many": True},
        mixed={"path": "mixed"},
        ns={"path": "x:ns"},
        b={"path": "@x:b", "type": "int"},
    )
    result = extract(odd, ODD, {})
    assert result.records == [{"reps": ["one", "two"], "mixed": "headmidtail", "ns": "namespaced", "b": 2}]


@pytest.mark.parametrize(
    ("payload", "says"),
    [
        (b"<Products><Product></Products>", "malformed XML: Opening and ending tag mismatch"),
        (b"", "malformed XML"),
        (b"\xff\xfe<not xml", "malformed XML"),
        (b'{"json": "instead"}', "malformed XML: Start tag expected"),
    ],
)
def test_malformed_payloads_fail_whole_naming_the_source(payload: bytes, says: str) -> None:
    with pytest.raises(ExtractError) as caught:
        extract(spec("//Product", name={"path": "Name"}), payload, {"source": "sftp://mp/plan.xml"})
    assert str(caught.value).startswith("sftp://mp/plan.xml: ") and says in caught.value.reason
    assert not caught.value.transient


def test_a_record_xpath_that_selects_text_is_a_payload_error() -> None:
    with pytest.raises(ExtractError, match="record XPath must select elements"):
        extract(spec("//Name/text()", name={"path": "."}), b"<a><Name>x</Name></a>", {})


def _xxe(secret: Path) -> bytes:
    return f"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY xxe SYSTEM "{secret.as_uri()}">]>
<r><item><name>&xxe;</name><note>a&xxe;b</note></item></r>""".encode()


def test_xxe_payload_is_refused_without_leaking_the_file(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET-4242")
    with pytest.raises(ExtractError) as caught:
        extract(spec("//item", name={"path": "name"}), _xxe(secret), {"source": "evil.xml"})
    assert caught.value.reason == "refused: the document declares entities (XXE/expansion guard)"
    assert "TOPSECRET" not in str(caught.value)


def test_the_parser_itself_never_reads_external_entities(tmp_path: Path) -> None:
    """Defence in depth: even before the entity guard, parsing must not read the file."""
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET-4242")
    root = etree.fromstring(_xxe(secret), hardened_parser())
    assert b"TOPSECRET" not in etree.tostring(root)
    assert root.xpath("string(//name)") == ""


def test_external_dtds_and_parameter_entities_are_never_loaded(tmp_path: Path) -> None:
    (tmp_path / "outer.dtd").write_text('<!ENTITY outer "LEAKED-FROM-DTD">')
    (tmp_path / "param.dtd").write_text('<!ENTITY leak "LEAKED-FROM-PARAMETER-ENTITY">')
    payload = f"""<?xml version="1.0"?>
<!DOCTYPE r SYSTEM "{(tmp_path / "outer.dtd").as_uri()}" [
  <!ENTITY % p SYSTEM "{(tmp_path / "param.dtd").as_uri()}"> %p;
]>
<r><item><a>&leak;</a><b>&outer;</b></item></r>""".encode()
    root = etree.fromstring(payload, hardened_parser())
    assert b"LEAKED" not in etree.tostring(root) and "LEAKED" not in root.xpath("string(/r)")
    with pytest.raises(ExtractError, match="declares entities"):
        extract(spec("//item", a={"path": "a"}), payload, {})


def test_a_doctype_without_entities_is_accepted() -> None:
    payload = b'<?xml version="1.0"?><!DOCTYPE r [<!ELEMENT r ANY>]><r><item><a>1</a></item></r>'
    assert extract(spec("//item", a={"path": "a", "type": "int"}), payload, {}).records == [{"a": 1}]


HOSTILE = """
import sys, resource
from maas.collector.extract import ExtractError, ExtractSpec, extract
resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
spec = ExtractSpec.model_validate({"format": "xml", "record": "//Product",
                                   "fields": {"name": {"path": "string(Name)"}}})
try:
    result = extract(spec, sys.stdin.buffer.read(), {"source": "hostile.xml"})
except ExtractError as exc:
    print("refused:", exc)
else:
    print("records:", [len(r["name"] or "") for r in result.records], result.errors)
"""


def _hostile(payload: bytes) -> str:
    """Extract in a child process capped at 1 GiB and 60 s, so an expansion cannot hurt the suite."""
    done = subprocess.run(
        [sys.executable, "-c", HOSTILE], input=payload, capture_output=True, timeout=60, check=True
    )
    return done.stdout.decode()


def _laughs(level: int) -> bytes:
    text = (DATA / "billion_laughs.xml").read_text()
    return text.replace("&lol9;</Name>", f"&lol{level};</Name>").encode()


def test_billion_laughs_is_refused_within_bounded_memory_and_time() -> None:
    assert _hostile(_laughs(9)).startswith("refused: hostile.xml: ")


def test_quadratic_blowup_is_refused_within_bounded_memory_and_time() -> None:
    big = "x" * 50_000
    payload = (
        f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "{big}">]>'
        f"<r><Product><Name>{'&a;' * 50_000}</Name></Product></r>"
    ).encode()
    assert _hostile(payload).startswith("refused: hostile.xml: ")


def test_the_parser_itself_leaves_entities_unexpanded_below_libxml2_limits() -> None:
    """libxml2 refuses huge expansions by itself; small ones must not be expanded either."""
    root = etree.fromstring(_laughs(4), hardened_parser())
    assert root.xpath("//Name/text()") == []


def test_one_spec_serves_several_threads() -> None:
    payload = (DATA / "products.xml").read_bytes()
    results: list[int] = []

    def work() -> None:
        for _ in range(20):
            results.append(len(extract(PRODUCTS, payload, {}).records))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [2] * 80
