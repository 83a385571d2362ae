"""``maas cds parse`` through the installed console script, as an operator or a pipe runs it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.unit  # no external service: a subprocess of our own console script

S1 = "S1A_EW_RAW__0NDH_20211206T121955_20211206T122150_029904_0391E7_D00D.SAFE.zip"
S3 = "S3A_TM_0_NAT____20211214T151253_20211214T165228_20211214T165453_5974_079_339______LN3_O_AL_002.SEN3.zip"
S5P = "S5P_NRTI_L2__AER_LH_20220401T203521_20220401T204021_23146_02_020301_20220401T213615"
BAD_MONTH = "S2A_MSIL1C_20211306T182741_N0301_R127_T11SQS_20211206T201831"


def maas_command() -> str:
    """The console script next to this interpreter (the editable install), else on PATH."""
    beside = Path(sys.executable).with_name("maas")
    found = str(beside) if beside.exists() else shutil.which("maas")
    assert found, "the maas console script is not installed (pip install -e .[test])"
    return found


def run(*args: str, stdin: str | None = None) -> tuple[int, list[dict[str, Any]], str]:
    done = subprocess.run(
        [maas_command(), "cds", "parse", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    return done.returncode, lines, done.stderr


def test_names_as_arguments_one_json_line_each_in_order() -> None:
    code, lines, _ = run(S1, "not-a-product", S5P, BAD_MONTH)
    assert code == 0
    assert [line["name"] for line in lines] == [S1, "not-a-product", S5P, BAD_MONTH]
    assert [line["unknown"] for line in lines] == [False, True, False, True]
    assert lines[0]["datatake_key"] == "S1A-233959"
    assert lines[0]["sensing_start"] == "2021-12-06T12:19:55Z"
    assert lines[2]["production_time"] == "2022-04-01T21:36:15Z"
    assert "month must be in 1..12" in lines[3]["reason"]


def test_dash_reads_names_from_stdin_between_arguments() -> None:
    code, lines, _ = run(S1, "-", S5P, stdin=f"{S3}\r\n\n   \nnonsense\n")
    assert code == 0
    assert [line["name"] for line in lines] == [S1, S3, "nonsense", S5P]
    assert lines[1]["datatake_key"] == "S3A-079-339"
    assert lines[1]["key"] == S3.removesuffix(".SEN3.zip")


def test_only_unknown_names_still_exit_zero() -> None:
    code, lines, _ = run("", "S1A_IW")
    assert code == 0
    assert [line["unknown"] for line in lines] == [True, True]


def test_no_name_is_a_usage_error() -> None:
    code, lines, stderr = run()
    assert code == 2 and lines == []
    assert "Missing argument" in stderr


def test_help_documents_the_exit_code_for_unknown_names() -> None:
    done = subprocess.run(
        [maas_command(), "cds", "parse", "--help"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0
    assert "Exit code 0 even when some or all names are unknown" in " ".join(done.stdout.split())


def test_names_that_are_not_utf8_are_unknown_with_the_reason_and_the_output_stays_utf8() -> None:
    done = subprocess.run(
        [maas_command(), "cds", "parse", b"S1A_\xffBAD", "-"],
        input=b"S2A_\xfe\xffX.SAFE\r\n" + S1.encode() + b"\n",
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.decode("utf-8").splitlines()]
    assert [line["name"] for line in lines] == ["S1A_\ufffdBAD", "S2A_\ufffd\ufffdX.SAFE", S1]
    assert [line["unknown"] for line in lines] == [True, True, False]
    assert lines[0]["reason"].startswith("not valid UTF-8 (byte 0xff at offset 4)")
    assert lines[1]["key"] == "S2A_\ufffd\ufffdX"
    for line in lines:  # no lone surrogate escapes: every string is valid Unicode
        json.dumps(line, ensure_ascii=False).encode("utf-8")
