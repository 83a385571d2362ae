"""A secret that cannot be read where a connection needs it: the error names the setting and
where it is written (as ``config validate --resolve`` does), and exits 2 (a setting to fix)."""

from __future__ import annotations

from pathlib import Path

import pytest

from maas.bus.factory import pika_parameters
from maas.config import load_settings
from maas.errors import ConfigError
from maas.store.factory import opensearch_client

pytestmark = pytest.mark.unit

SETTINGS = """\
store:
  url: http://127.0.0.1:9
  username: maas
  password: env:UNIT_UNSET_STORE_PW
bus:
  url: amqp://127.0.0.1:9/
  username: maas
  password: env:UNIT_UNSET_BUS_PW
"""


@pytest.fixture
def path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("UNIT_UNSET_STORE_PW", raising=False)
    monkeypatch.delenv("UNIT_UNSET_BUS_PW", raising=False)
    (tmp_path / "maas.yaml").write_text(SETTINGS)
    return tmp_path / "maas.yaml"


def test_the_bus_password_is_located(path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        pika_parameters(load_settings(path))
    assert str(caught.value) == (
        f"{path}:8: bus.password: secret env:UNIT_UNSET_BUS_PW: environment variable is not set"
    )
    assert caught.value.exit_code == 2


def test_the_store_password_is_located(path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        opensearch_client(load_settings(path))
    assert str(caught.value) == (
        f"{path}:4: store.password: secret env:UNIT_UNSET_STORE_PW: environment variable is not set"
    )
