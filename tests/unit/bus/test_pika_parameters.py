"""Bus URL + settings → pika parameters: users from the URL, passwords only by reference."""

from __future__ import annotations

import pytest

from maas.bus.factory import pika_parameters
from maas.config import load_settings

pytestmark = pytest.mark.unit


def test_user_in_url_with_password_by_reference() -> None:
    settings = load_settings(
        None,
        environ={"MAAS_BUS_URL": "amqp://maas@broker:5673/prod", "MAAS_BUS__PASSWORD": "env:MAAS_T_BUS_PW"},
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MAAS_T_BUS_PW", "s3cret")
        params = pika_parameters(settings)
    assert (params.host, params.port, params.virtual_host) == ("broker", 5673, "prod")
    assert (params.credentials.username, params.credentials.password) == ("maas", "s3cret")


def test_username_setting_wins_and_no_user_keeps_pika_default() -> None:
    settings = load_settings(None, environ={"MAAS_BUS_URL": "amqp://u@h/", "MAAS_BUS__USERNAME": "other"})
    assert pika_parameters(settings).credentials.username == "other"
    default = pika_parameters(load_settings(None, environ={"MAAS_BUS_URL": "amqp://h/"}))
    assert default.credentials.username == "guest"
