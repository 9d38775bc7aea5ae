"""`bngsync sandbox`: both test doubles on 127.0.0.1 for people to try the agent against.

It prints the URLs and credentials, can write a config file that points the agent at the
sandbox, and can keep shoppers placing orders and a fault mix switched on while it runs.
"""

from __future__ import annotations

import argparse
import signal
import threading
from pathlib import Path

from agent import config as config_mod
from agent.sandbox import Sandbox
from agent.sandbox.faults import FaultRule, mix


def apply_faults(sandbox: Sandbox, rate: float = 0.0, latency_ms: float = 0.0) -> None:
    """Switch the standard fault mix and added latency on for both servers' APIs."""
    for server, route in ((sandbox.nop, "/api"), (sandbox.bng, "/api/v1")):
        if rate > 0:
            server.faults.add(mix(rate, route=route, hang_seconds=3.0))
        if latency_ms > 0:
            server.faults.add(FaultRule(route=route, latency_ms=latency_ms))


def sandbox_config(sandbox: Sandbox, **agent_overrides: object) -> config_mod.Settings:
    """Settings that point the agent at a running sandbox."""
    data: dict = {"nopcommerce": {"url": sandbox.nop_url, "username": sandbox.credentials.nop_username},
                  "bng": {"url": sandbox.bng_url}}
    if agent_overrides:
        data["agent"] = dict(agent_overrides)
    return config_mod.parse(data)


def run_sandbox(args: argparse.Namespace) -> int:
    sandbox = Sandbox(seed=args.seed, nop_port=args.nop_port, bng_port=args.bng_port,
                      bng_rate=args.rate or None, bad_data_rate=args.bad_data,
                      webhook_url=args.webhook_url)
    sandbox.start()
    apply_faults(sandbox, args.faults, args.latency_ms)
    creds = sandbox.credentials
    print(f"nopCommerce (community API plugin): {sandbox.nop_url}  user {creds.nop_username} "
          f"password {creds.nop_password}")
    print(f"BNG REST API v1:                    {sandbox.bng_url}  API key {creds.bng_api_key}")
    print(f"webhook secret: {creds.webhook_secret}; faults: {sandbox.nop_url}/_sandbox/faults, "
          f"{sandbox.bng.url}/_sandbox/faults")
    if args.write_config:
        path = Path(args.write_config)
        config_mod.save(sandbox_config(sandbox), path)
        print(f"wrote {path}; then: export BNGSYNC_NOP_PASSWORD={creds.nop_password} "
              f"BNGSYNC_BNG_API_KEY={creds.bng_api_key}")
    if args.shoppers > 0:
        sandbox.nop.shoppers.start(args.shoppers)
        print(f"shoppers are placing {args.shoppers:g} order(s) per second")
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    if hasattr(signal, "SIGTERM"):
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print("press Ctrl-C to stop")
    stop.wait()
    sandbox.stop()
    return 0
