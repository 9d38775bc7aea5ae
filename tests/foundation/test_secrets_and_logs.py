"""Secrets: keyring round trip, environment override, clear errors; logs: redaction."""

from __future__ import annotations

import logging

import pytest

from agent import logs, secrets


def test_keyring_round_trip(memory_keyring):
    secrets.set("bng", "key-123456")
    assert secrets.get("bng") == "key-123456"
    assert memory_keyring.items[("bngsync", "bng.api_key")] == "key-123456"
    assert secrets.clear("bng") is True
    assert secrets.clear("bng") is False
    assert secrets.get("bng", required=False) is None


def test_environment_overrides_keyring(monkeypatch):
    secrets.set("nopcommerce", "from-keyring")
    monkeypatch.setenv("BNGSYNC_NOP_PASSWORD", "from-env")
    assert secrets.get("nopcommerce") == "from-env"


def test_missing_secret_says_what_to_do():
    with pytest.raises(secrets.SecretError, match="bngsync secrets set bng") as err:
        secrets.get("bng")
    assert "BNGSYNC_BNG_API_KEY" in str(err.value)


def test_no_keyring_on_machine_points_to_environment(monkeypatch):
    import keyring
    from keyring.backends.fail import Keyring as FailKeyring

    keyring.set_keyring(FailKeyring())
    with pytest.raises(secrets.SecretError, match="no keyring"):
        secrets.get("bng")


def test_redaction_of_registered_secrets_and_known_shapes(tmp_path):
    logs.setup(tmp_path / "logs", console=False)
    secrets.set("bng", "s3cret-bng-key")
    log = logging.getLogger("test")
    log.info("calling with key %s", "s3cret-bng-key")
    log.info("Authorization: Bearer abcdefghijklmnop")
    log.info('body {"password": "p@ssw0rd!", "username": "a"}')
    log.info("token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U")
    try:
        raise ValueError("failed with api_key=s3cret-bng-key")
    except ValueError:
        log.exception("boom")
    for handler in logging.getLogger().handlers:
        handler.flush()
    text = (tmp_path / "logs" / "bngsync.log").read_text()
    for leaked in ("s3cret-bng-key", "abcdefghijklmnop", "p@ssw0rd!", "eyJhbGciOiJIUzI1NiJ9"):
        assert leaked not in text
    assert text.count("***") >= 5
