"""Test-wide fixtures: an in-memory keyring, isolated paths, and a condition waiter.

No test touches the real user's folders or keyring: every test gets a fresh data dir and config
path under tmp_path through the environment, and keyring uses an in-memory backend.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import keyring
import keyring.backend
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


class MemoryKeyring(keyring.backend.KeyringBackend):
    """A keyring that forgets everything when the test ends."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.items: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.items.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.items[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        from keyring.errors import PasswordDeleteError

        if (service, username) not in self.items:
            raise PasswordDeleteError("not found")
        del self.items[(service, username)]


@pytest.fixture(autouse=True)
def memory_keyring(monkeypatch: pytest.MonkeyPatch) -> MemoryKeyring:
    backend = MemoryKeyring()
    previous = keyring.get_keyring()
    keyring.set_keyring(backend)
    for name in ("BNGSYNC_NOP_PASSWORD", "BNGSYNC_BNG_API_KEY", "BNGSYNC_WEBHOOK_SECRET", "BNGSYNC_NOP_TOKEN",
                 "BNGSYNC_SMTP_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    yield backend
    keyring.set_keyring(previous)


@pytest.fixture(autouse=True)
def isolated_paths(tmp_path, monkeypatch: pytest.MonkeyPatch):
    """Point the agent's data dir, config and logs into tmp_path."""
    monkeypatch.setenv("BNGSYNC_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("BNGSYNC_CONFIG", str(tmp_path / "config.toml"))
    monkeypatch.delenv("BNGSYNC_LOG_DIR", raising=False)
    return tmp_path


def wait_until(predicate: Callable[[], object], timeout: float = 10.0, interval: float = 0.01,
               message: str = "condition") -> object:
    """Wait for `predicate()` to become truthy, failing after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)
