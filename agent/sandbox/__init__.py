"""The sandbox: faithful test doubles of nopCommerce (community API plugin) and BNG.

Both run as real HTTP servers on 127.0.0.1, in-process for tests and as `bngsync sandbox` for
people, seeded from the sample data in `agent/sandbox/data/`. `Sandbox` starts the pair.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

NOP_USERNAME = "api@shop.example.com"
NOP_PASSWORD = "sandbox-password"
BNG_API_KEY = "sandbox-bng-key"
WEBHOOK_SECRET = "sandbox-webhook-secret"


@dataclass
class Credentials:
    nop_username: str = NOP_USERNAME
    nop_password: str = NOP_PASSWORD
    bng_api_key: str = BNG_API_KEY
    webhook_secret: str = WEBHOOK_SECRET


class Sandbox:
    """Both doubles, started and stopped together."""

    def __init__(self, seed: int = 0, nop_port: int = 0, bng_port: int = 0,
                 bng_rate: float | None = 10.0, bng_burst: int = 20, **nop_options: Any):
        from agent.sandbox.bng.server import BngServer
        from agent.sandbox.nop.server import NopServer

        self.credentials = Credentials()
        self.bng = BngServer(port=bng_port, seed=seed, api_key=self.credentials.bng_api_key,
                             rate=bng_rate, burst=bng_burst)
        self.nop = NopServer(port=nop_port, seed=seed, username=self.credentials.nop_username,
                             password=self.credentials.nop_password, **nop_options)

    @property
    def nop_url(self) -> str:
        """The store root (token at /token, API under /api)."""
        return self.nop.url

    @property
    def bng_url(self) -> str:
        """The BNG API root, ending in /api/v1."""
        return self.bng.url + "/api/v1"

    def start(self) -> Sandbox:
        self.bng.start()
        try:
            self.nop.start()
        except Exception:
            self.bng.stop()
            raise
        return self

    def stop(self) -> None:
        self.nop.stop()
        self.bng.stop()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
