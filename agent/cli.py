"""The `bngsync` command line.

Exit codes: 0 the work succeeded, 1 the work failed, 2 a usage, configuration, secret or data-dir
problem (the agent did not start). Every problem is printed as one plain line.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

from agent import __version__
from agent import config as config_mod
from agent import paths as paths_mod

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
FLOW_CHOICES = ["orders", "shipments", "inventory", "products", "customers", "all"]


class UsageError(Exception):
    """A problem the user fixes (config, secret, data dir, arguments): exit code 2."""


def _paths(args: argparse.Namespace) -> paths_mod.Paths:
    return paths_mod.resolve(data_dir=args.data_dir, config=args.config)


def _service(args: argparse.Namespace, need_secrets: bool = False):
    """Open the service for commands that need the config and the store."""
    from agent.service import Service

    return Service.open(_paths(args), need_secrets=need_secrets, log_level=args.log_level)


def _print_table(rows: list[dict[str, Any]], columns: list[str]) -> None:
    if not rows:
        print("(none)")
        return
    widths = {c: max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in columns}
    print("  ".join(c.upper().ljust(widths[c]) for c in columns))
    for row in rows:
        print("  ".join(str(row.get(c, "")).ljust(widths[c]) for c in columns))


# -- config ----------------------------------------------------------------------------------------
def cmd_config(args: argparse.Namespace) -> int:
    paths = _paths(args)
    if args.action == "path":
        if args.all:
            print(f"config  {paths.config_file}\ndata    {paths.data_dir}\nlogs    {paths.log_dir}")
        else:
            print(paths.config_file)
        return EXIT_OK
    if args.action == "init":
        if paths.config_file.exists() and not args.force:
            raise UsageError(f"{paths.config_file} exists already (use --force to replace it)")
        paths.config_file.parent.mkdir(parents=True, exist_ok=True)
        paths.config_file.write_text(config_mod.minimal(
            nop_url=args.nop_url, nop_user=args.nop_user, bng_url=args.bng_url, bng_company=args.bng_company),
            encoding="utf-8")
        print(f"wrote {paths.config_file}")
        print("next: bngsync secrets set nopcommerce; bngsync secrets set bng; bngsync connections test")
        return EXIT_OK
    settings = config_mod.load(paths.config_file)
    if args.action == "check":
        print(f"{paths.config_file}: ok")
        return EXIT_OK
    print(config_mod.to_toml(settings), end="")
    return EXIT_OK


# -- secrets ---------------------------------------------------------------------------------------
def cmd_secrets(args: argparse.Namespace) -> int:
    from agent import secrets

    if args.action == "set":
        value = args.value
        if value is None:
            if sys.stdin.isatty():
                import getpass

                value = getpass.getpass(f"{secrets.SECRETS[args.which].label}: ")
            else:
                value = sys.stdin.readline().rstrip("\r\n")
        secrets.set(args.which, value)
        print(f"stored the {secrets.SECRETS[args.which].label} in the keyring")
    else:
        removed = secrets.clear(args.which)
        print("removed" if removed else "nothing was stored")
    return EXIT_OK


# -- status / errors / history -------------------------------------------------------------------
def cmd_status(args: argparse.Namespace) -> int:
    with _service(args) as service:
        report = service.status()
    if args.json:
        print(json.dumps(report, indent=2, default=str))
        return EXIT_OK
    print(f"bngsync {__version__} — {'paused' if report['paused'] else 'running' if report['running'] else 'stopped'}")
    print("queue: " + ", ".join(f"{k} {v}" for k, v in report["queue"].items()))
    print("breakers: " + (", ".join(f"{b['system']} {b['state']}" for b in report["breakers"]) or "closed"))
    _print_table(report["flows"], ["flow", "state", "last_success", "last_run", "last_error"])
    print(f"open errors: {report['open_errors']}")
    return EXIT_OK


def cmd_errors(args: argparse.Namespace) -> int:
    with _service(args) as service:
        if args.action == "list":
            rows = service.errors(state=args.state, kind=args.kind)
            if args.json:
                print(json.dumps(rows, indent=2, default=str))
            else:
                _print_table(rows, ["id", "state", "kind", "key", "attempts", "error_class", "reason"])
            return EXIT_OK
        if args.action == "show":
            detail = service.error(args.id)
            print(json.dumps(detail, indent=2, default=str))
            return EXIT_OK
        if args.action == "retry":
            if args.all:
                count = service.retry_all(state=args.state, kind=args.kind)
                print(f"queued {count} record(s) for another try")
                return EXIT_OK
            if args.id is None:
                raise UsageError("name an error id, or use --all")
            override = json.loads(args.set_json) if args.set_json else None
            for pair in args.set or []:
                key, _, value = pair.partition("=")
                override = override or {}
                override[key] = value
            service.retry(args.id, override=override)
            print(f"queued error {args.id} for another try" + (" with your changes" if override else ""))
            if args.wait:
                outcome = service.wait_for_job(args.id, timeout=args.wait)
                print(f"result: {outcome}")
                return EXIT_OK if outcome == "succeeded" else EXIT_FAILED
            return EXIT_OK
        service.discard(args.id)
        print(f"discarded error {args.id} (kept in the history)")
        return EXIT_OK


def cmd_customers(args: argparse.Namespace) -> int:
    with _service(args) as service:
        if args.action == "reviews":
            rows = service.reviews(state=None if args.all else "open")
            if args.json:
                print(json.dumps(rows, indent=2, default=str))
            else:
                _print_reviews(rows)
            return EXIT_OK
        if args.choice != "link" and args.customer_no:
            raise UsageError("--customer-no goes with link only")
        done = service.decide_review(args.id, args.choice, customer_no=args.customer_no)
        print(_decided(done))
        if args.wait and done.get("job"):
            outcome = service.wait_for_job(done["job"], timeout=args.wait)
            print(f"result: {outcome}")
            return EXIT_OK if outcome == "succeeded" else EXIT_FAILED
        return EXIT_OK


def _print_reviews(rows: list[dict[str, Any]]) -> None:
    """Each review as a person reads it: who is in the store, who may be the same in BNG, and why."""
    if not rows:
        print("no customers to review")
        return
    for row in rows:
        customer = row["customer"]
        state = "" if row["state"] == "open" else f" — decided: {row['choice']}" + \
            (f" {row['chosen']}" if row.get("chosen") else "")
        print(f"review {row['id']} (since {row['opened']}){state}")
        print(f"  store customer {customer['id']}: {customer['name']} <{customer['email']}>")
        details = "; ".join(p for p in (f"phone {customer['phone']}" if customer.get("phone") else "",
                                         customer.get("address")) if p)
        if details:
            print(f"    {details}")
        for candidate in row["candidates"]:
            print(f"  may be BNG customer {candidate['customer_no']}: {candidate['name']}")
            for evidence in candidate["evidence"]:
                print(f"    - {evidence}")
        print()
    if any(r["state"] == "open" for r in rows):
        print("decide with: bngsync customers decide REVIEW_ID link|create|ignore [--customer-no C]")


def _decided(done: dict[str, Any]) -> str:
    review, choice = done["review"], done["choice"]
    if choice == "ignore":
        return f"review {review} decided: the store customer is ignored until it changes in the store"
    what = f"links it to BNG customer {done['customer_no']}" if choice == "link" else "creates a new BNG customer"
    return f"review {review} decided: the agent {what} (job {done['job']})"


def cmd_history(args: argparse.Namespace) -> int:
    with _service(args) as service:
        if args.search:
            rows = service.trail(args.search, limit=args.limit)
            columns = ["at", "level", "kind", "subject", "message"]
        else:
            rows = service.runs(flow=args.flow, outcome=args.outcome, limit=args.limit)
            columns = ["id", "flow", "trigger", "started", "outcome", "counts", "message"]
    if args.json:
        print(json.dumps(rows, indent=2, default=str))
    else:
        _print_table(rows, columns)
    return EXIT_OK


# -- connections / sync / run ------------------------------------------------------------------
def cmd_connections(args: argparse.Namespace) -> int:
    with _service(args) as service:
        results = service.test_connections()
    ok = True
    for result in results:
        mark = "ok " if result["ok"] else "FAIL"
        print(f"[{mark}] {result['system']}: {result['message']}")
        ok &= result["ok"]
    return EXIT_OK if ok else EXIT_FAILED


def cmd_sync(args: argparse.Namespace) -> int:
    with _service(args, need_secrets=True) as service:
        result = service.sync(args.flow, timeout=args.timeout, full=args.full)
    _print_table([{"flow": f, **c} for f, c in result["flows"].items()],
                 ["flow", "enqueued", "succeeded", "failed", "pending"])
    for flow, note in result.get("notes", {}).items():
        print(f"{flow}: {note}")
    if not result["ok"]:
        print(result["message"])
        return EXIT_FAILED
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    with _service(args, need_secrets=True) as service:
        return service.run_forever()


def cmd_sandbox(args: argparse.Namespace) -> int:
    from agent.sandbox.cli import run_sandbox

    return run_sandbox(args)


def cmd_demo(args: argparse.Namespace) -> int:
    from agent.demo import run_demo

    return run_demo(args)


# -- parser ------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bngsync", description="BNG ⇄ nopCommerce sync agent. Exit codes: 0 ok, 1 the work failed, "
        "2 usage/config/secret/data-dir problem.")
    parser.add_argument("--version", action="version", version=f"bngsync {__version__}")
    parser.add_argument("--config", help=f"config file (default: platform config dir; env {paths_mod.ENV_CONFIG})")
    parser.add_argument("--data-dir", help=f"data folder (default: platform data dir; env {paths_mod.ENV_DATA_DIR})")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def add(name: str, fn: Callable[[argparse.Namespace], int], help_: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_, description=help_)
        p.set_defaults(func=fn)
        return p

    p = add("demo", cmd_demo, "run the sandbox and the agent together and show orders flowing both ways")
    p.add_argument("--orders", type=int, default=25, help="orders the shoppers place (default 25)")
    p.add_argument("--faults", type=float, default=0.0, help="share of calls that fail, 0..0.5 (default 0)")
    p.add_argument("--seed", type=int, default=7, help="random seed, for a repeatable run")
    p.add_argument("--timeout", type=float, default=300, help="give up after this many seconds")
    p.add_argument("--ui", action="store_true", help="show the tray app while the demo runs")
    p.add_argument("--keep", action="store_true", help="keep the temporary data dir and print where it is")

    p = add("sandbox", cmd_sandbox, "run the nopCommerce and BNG test doubles on 127.0.0.1 until Ctrl-C")
    p.add_argument("--nop-port", type=int, default=8400)
    p.add_argument("--bng-port", type=int, default=8420)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--shoppers", type=float, default=0.0, help="orders per second placed by simulated shoppers")
    p.add_argument("--bad-data", type=float, default=0.0, help="share of orders with bad data (0..1)")
    p.add_argument("--faults", type=float, default=0.0, help="share of calls that fail with the fault mix")
    p.add_argument("--latency-ms", type=float, default=0.0, help="added latency per call")
    p.add_argument("--rate", type=float, default=10.0, help="BNG rate limit, requests/s (0 = none)")
    p.add_argument("--webhook-url", help="push store webhooks to this URL")
    p.add_argument("--write-config", help="write a config file pointing at the sandbox to this path")

    p = add("run", cmd_run, "run the agent headless until Ctrl-C or SIGTERM")

    p = add("sync", cmd_sync, "run one pass of a flow now, wait until its work is done, print counts")
    p.add_argument("flow", choices=FLOW_CHOICES)
    p.add_argument("--timeout", type=float, default=600, help="seconds to wait for the work (default 600)")
    p.add_argument("--full", action="store_true",
                   help="a full pass: every record compared, drift fixed and reported (the nightly reconciliation)")

    p = add("status", cmd_status, "queue depth, breakers, last successful sync per flow, open errors")
    p.add_argument("--json", action="store_true")

    p = add("errors", cmd_errors, "records that could not be synced: list, show, retry, discard")
    esub = p.add_subparsers(dest="action", required=True)
    e = esub.add_parser("list", help="dead and quarantined records")
    e.add_argument("--state", choices=["dead", "quarantined"])
    e.add_argument("--kind")
    e.add_argument("--json", action="store_true")
    e = esub.add_parser("show", help="one record: reason, payload, trail")
    e.add_argument("id", type=int)
    e = esub.add_parser("retry", help="try a record again, optionally with corrected data")
    e.add_argument("id", type=int, nargs="?")
    e.add_argument("--all", action="store_true", help="retry every open error (filtered by --state/--kind)")
    e.add_argument("--state", choices=["dead", "quarantined"])
    e.add_argument("--kind")
    e.add_argument("--set", action="append", metavar="FIELD=VALUE",
                   help="override a payload field, e.g. --set email=ann@example.com or --set sku:OLD=NEW")
    e.add_argument("--set-json", help="a JSON object merged over the payload")
    e.add_argument("--wait", type=float, default=0, help="wait up to N seconds for the result")
    e = esub.add_parser("discard", help="stop trying a record (it stays in the history)")
    e.add_argument("id", type=int)
    p.set_defaults(func=cmd_errors)

    p = add("customers", cmd_customers, "store customers that may already be in BNG: reviews, decide")
    csub = p.add_subparsers(dest="action", required=True)
    c = csub.add_parser("reviews", help="possible duplicate customers waiting for a decision, with the evidence")
    c.add_argument("--all", action="store_true", help="also show reviews already decided")
    c.add_argument("--json", action="store_true")
    c = csub.add_parser("decide", help="link the store customer to a BNG customer, create a new one, or ignore it")
    c.add_argument("id", type=int, metavar="REVIEW_ID")
    c.add_argument("choice", choices=["link", "create", "ignore"])
    c.add_argument("--customer-no", metavar="C", help="the BNG customer to link to (default: the best match)")
    c.add_argument("--wait", type=float, default=0, help="wait up to N seconds for the result")

    p = add("history", cmd_history, "runs and per-record trails")
    p.add_argument("search", nargs="?", help="an order number, SKU or e-mail: show its trail")
    p.add_argument("--flow", choices=FLOW_CHOICES[:-1])
    p.add_argument("--outcome", choices=["ok", "partial", "failed", "running"])
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--json", action="store_true")

    p = add("config", cmd_config, "the configuration file: init, show, check, path")
    csub = p.add_subparsers(dest="action", required=True)
    c = csub.add_parser("init", help="write a minimal config file")
    c.add_argument("--nop-url", default="https://shop.example.com")
    c.add_argument("--nop-user", default="api@shop.example.com")
    c.add_argument("--bng-url", default="http://localhost:8420/api/v1")
    c.add_argument("--bng-company", default="")
    c.add_argument("--force", action="store_true")
    csub.add_parser("show", help="print the effective configuration with defaults")
    csub.add_parser("check", help="validate the file and print every problem")
    cpath = csub.add_parser("path", help="print where the config file is")
    cpath.add_argument("--all", action="store_true", help="also where the database and the logs are")

    p = add("connections", cmd_connections, "connections: test")
    p.add_argument("action", choices=["test"])

    p = add("secrets", cmd_secrets, "store or clear a secret in the OS keyring")
    p.add_argument("action", choices=["set", "clear"])
    p.add_argument("which", choices=["nopcommerce", "bng", "webhook", "smtp"])
    p.add_argument("--value", help="the secret (default: prompt, or read one line from stdin)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from agent.secrets import SecretError
    from agent.service import RefusedRequest
    from agent.store import StoreError

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except config_mod.ConfigError as exc:
        for problem in exc.problems:
            print(f"bngsync: config: {problem}", file=sys.stderr)
        if exc.path:
            print(f"bngsync: (file: {exc.path}; `bngsync config check` lists the problems)", file=sys.stderr)
        return EXIT_USAGE
    except (UsageError, RefusedRequest, SecretError, StoreError) as exc:
        print(f"bngsync: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
