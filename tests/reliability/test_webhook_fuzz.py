"""Bad input at the webhook receiver: `scale.fuzz_examples` requests made up by hypothesis, sent over
real HTTP to the receiver as the agent runs it (product defaults: 1 MiB body limit, the flows'
`webhook_jobs` mapping, a real SQLite queue).

The requests mix what a hostile or broken sender can send: random bytes, bodies over and at the
size limit, malformed JSON, JSON of the wrong shape, items the agent cannot read, missing, garbage
and valid-but-wrong signatures, odd content types, methods, paths, HTTP versions and framings
(no Content-Length, chunked, a length that is not a number or does not match the body), sometimes
no HTTP at all — and, among them, real order and customer events from the store double, correctly
signed.

What must hold: every HTTP request gets a 2xx or 4xx answer (a 5xx tells a sender to send the same
thing again, forever; a dropped connection or a hang is worse); a connection kept open after an
answer still works; the receiver is alive at the end; and the job table holds exactly the jobs of
the correctly signed events that were accepted — nothing without a valid signature.
"""

from __future__ import annotations

import functools
import json
import socket
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.config import WebhookSettings
from agent.engine.queue import JobQueue, canonical
from agent.engine.webhooks import WebhookReceiver, parse_envelope, sign
from agent.flows import webhook_jobs
from agent.sandbox import WEBHOOK_SECRET
from agent.store import open_store

SECRET = WEBHOOK_SECRET
MAX_BODY = WebhookSettings().max_body_bytes         # the limit the agent runs with
CLIENT_TIMEOUT = 15.0                               # an answer that takes longer counts as a hang
SIGNED_FOR_THE_END = 2_000_000_001                  # an order id no fuzzed event uses


# -- real events, as the store double's webhook sender writes them -------------------------------------

@functools.cache
def real_events() -> tuple[tuple[str, dict[str, Any]], ...]:
    """(action, item) pairs built from a seeded store double: new orders, cancellations, customers, and
    product changes (which the agent ignores)."""
    from agent.sandbox.nop.dto import customer_dto, order_dto, product_dto
    from agent.sandbox.nop.server import NopServer
    from agent.sandbox.nop.wire import dumps

    nop = NopServer(seed=41, bad_data_rate=0.0)
    placed = nop.shoppers.place_orders(16)
    state = nop.state
    with state.lock:
        orders = [json.loads(dumps(order_dto(state, state.orders[o["id"]]))) for o in placed]
        customers = [json.loads(dumps(customer_dto(state, state.customers[o["customer_id"]]))) for o in orders]
        products = [json.loads(dumps(product_dto(state, p))) for p in list(state.products.values())[:3]]
    events: list[tuple[str, dict[str, Any]]] = [("orders/create", o) for o in orders]
    for order in orders[:4]:
        events.append(("orders/update", {**order, "order_status": "Cancelled", "order_status_id": 40}))
    events += [("customers/update", c) for c in customers[:6]] + [("products/update", p) for p in products]
    return tuple(events)


def envelope_bytes(notifications: list[tuple[str, Any]], delivery: int = 1, attempt: int = 1) -> bytes:
    """The plugin's envelope (compact JSON, as ASP.NET WebHooks writes it)."""
    return json.dumps({"Id": f"{delivery:032x}", "Attempt": attempt, "Properties": {},
                       "Notifications": [{"Action": a, "Item": i} for a, i in notifications],
                       "WebHookId": "5b1c"}, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


# -- what hypothesis makes up ------------------------------------------------------------------------

@dataclass
class Fuzzed:
    """One request as bytes on the wire, plus what the test knows about it."""

    kind: str                     # which body strategy made it
    method: str = "POST"
    target: bytes = b"/webhooks/nopcommerce"
    version: str = "HTTP/1.1"
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: bytes = b""
    framing: str = "exact"        # how the body's size is told: exact, none, chunked, bogus, longer, shorter
    signed: bool = False          # the ms-signature the server reads is a correct one for this body
    polite: bool = False          # a body over the limit: send the head, wait for the answer (no body)
    half_close: bool = False      # tell the server nothing more comes (so a short body is not waited for)
    raw: bytes | None = None      # not HTTP at all: these bytes and nothing else

    def wire(self) -> bytes:
        if self.raw is not None:
            return self.raw
        head = b"%s %s %s\r\n" % (self.method.encode("latin-1"), self.target, self.version.encode("latin-1"))
        head += b"".join(b"%s: %s\r\n" % pair for pair in self.headers) + b"\r\n"
        if self.polite:
            return head
        if self.framing == "chunked":
            return head + (b"%x\r\n%s\r\n" % (len(self.body), self.body) if self.body else b"") + b"0\r\n\r\n"
        return head + self.body

    def __repr__(self) -> str:
        """Short enough to read in a failure report: long values are cut, with their size."""
        def cut(value: bytes) -> str:
            return repr(value) if len(value) <= 120 else f"{value[:100]!r}... ({len(value)} bytes)"

        if self.raw is not None:
            return f"Fuzzed(raw={cut(self.raw)})"
        headers = ", ".join(f"{n.decode('latin-1')}: {cut(v)}" for n, v in self.headers[:12])
        more = f" +{len(self.headers) - 12} more" if len(self.headers) > 12 else ""
        return (f"Fuzzed({self.kind}: {self.method} {cut(self.target)} {self.version}, framing {self.framing}, "
                f"signed {self.signed}, polite {self.polite}, headers [{headers}{more}], body {cut(self.body)})")

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))              # hypothesis prints failing examples with this

    @property
    def keeps_connection(self) -> bool:
        """Whether the server should keep the connection open after answering (HTTP/1.1, no close)."""
        closing = any(n.lower() == b"connection" and v.strip().lower() == b"close" for n, v in self.headers)
        return self.raw is None and self.version in ("HTTP/1.1", "HTTP/1.2") and not closing


latin_text = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"),
                     max_size=60)
token = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!#$%&'*+-.^_`|~",
                min_size=1, max_size=16)
json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
json_values = st.recursive(json_scalars, lambda children: st.lists(children, max_size=4) | st.dictionaries(
    st.sampled_from(["Notifications", "notifications", "Action", "Item", "id", "order_items", "email"])
    | st.text(max_size=8), children, max_size=4), max_leaves=20)
# JSON value texts that plain `json` reads into something the agent's mappings may choke on
odd_values = st.sampled_from(["NaN", "Infinity", "-Infinity", "1e400", "-0", "1.5", "123456789012345678901234567890",
                              '"abc"', '"12"', '""', '"\\ud800"', '"\\udfff x"', '"\\u0000"', "true", "null", "[]",
                              "[1]", "{}", '{"id": 1}', '"' + "x" * 300 + '"'])
ANY = object()          # in a list of choices: draw a made-up value instead
# A position in a body is drawn as a share of its length, never with the length as a bound: the real
# events carry timestamps, so their length can change from run to run, and a bound that changes
# would steer hypothesis onto other examples.
SCALE = 10_000
fraction = st.integers(0, SCALE - 1)
ACTIONS = ["orders/create", "orders/update", "customers/create", "customers/update", "products/update",
           "orders/delete", "", " ", "ORDERS/CREATE", "x"]


@st.composite
def valid_event(draw: st.DrawFn) -> tuple[bytes, list[tuple[str, dict[str, Any]]]]:
    events = real_events()
    chosen = draw(st.lists(st.sampled_from(events), min_size=1, max_size=3))
    return envelope_bytes(chosen, draw(st.integers(0, 2**64)), draw(st.integers(1, 5))), chosen


@st.composite
def bodies(draw: st.DrawFn) -> tuple[str, bytes]:
    kind = draw(st.sampled_from(["valid"] * 6 + ["shape"] * 4 + ["item"] * 3 + ["malformed"] * 3 + ["bytes"] * 3
                                + ["huge", "empty", "encoding"]))
    if kind == "valid":
        return kind, draw(valid_event())[0]
    if kind == "shape":
        value = draw(st.one_of(
            json_values,
            st.fixed_dictionaries({"Notifications": json_values}),
            st.fixed_dictionaries({"Notifications": st.lists(st.fixed_dictionaries(
                {"Action": st.sampled_from(ACTIONS) | json_values, "Item": json_values}), max_size=3)}),
        ))
        return kind, json.dumps(value).encode()
    if kind == "item":          # a well-formed envelope whose item holds what the agent cannot use
        action = draw(st.sampled_from(ACTIONS[:5]))
        name = draw(st.sampled_from(["id", "order_items", "order_status", "order_status_id", "email", "role_ids",
                                     "deleted", "customer_note", "order_total"]))
        extra = "" if name == "id" else f', "id": {draw(st.sampled_from(["7", "8", "0", "-3", "1e400"]))}'
        text = f'{{"Notifications": [{{"Action": "{action}", "Item": {{"{name}": {draw(odd_values)}{extra}}}}}]}}'
        return kind, text.encode()
    if kind == "malformed":
        good = draw(valid_event())[0]
        cut = len(good) * draw(fraction) // SCALE
        how = draw(st.sampled_from(["truncate", "insert", "replace", "drop"]))
        junk = draw(st.binary(min_size=1, max_size=3))
        if how == "truncate":
            return kind, good[:cut]
        if how == "insert":
            return kind, good[:cut] + junk + good[cut:]
        if how == "replace":
            return kind, good[:cut] + junk + good[cut + len(junk):]
        return kind, good[:cut] + good[cut + 1:]
    if kind == "bytes":
        return kind, draw(st.binary(max_size=2048))
    if kind == "huge":
        size = draw(st.sampled_from([MAX_BODY, MAX_BODY + 1, 3 * MAX_BODY, 10 * MAX_BODY]))
        if size == MAX_BODY and draw(st.booleans()):   # a real event padded up to exactly the limit
            good = draw(valid_event())[0]
            return kind, good[:-1] + b',"Pad":"' + b"p" * (size - len(good) - 9) + b'"}'
        return kind, draw(st.sampled_from([b"x", b"[", b"{\"", b"\x00\xff"])) * (size // 2) + b"]" * (size % 2)
    if kind == "empty":
        return kind, b""
    good = draw(valid_event())[0]                      # the right JSON in the wrong encoding
    return kind, draw(st.sampled_from([b"\xef\xbb\xbf" + good, good.decode("utf-8").encode("utf-16"),
                                       good.decode("utf-8").encode("utf-16-le"), good.decode().encode("utf-32")]))


@st.composite
def signatures(draw: st.DrawFn, body: bytes, real: bool) -> tuple[list[bytes], set[bytes]]:
    """The ms-signature header lines for `body`, and the values among them that are correct."""
    good = sign(SECRET, body)
    hex_digest = good.split("=", 1)[1]
    correct = [good, "SHA256=" + hex_digest.upper(), f"sha256=deadbeef, {good}", f" sha256 = {hex_digest} "]
    wrong = [None, "", "sha256=", "sha256=" + hex_digest[:-1], "sha256=" + hex_digest[::-1], "sha1=" + hex_digest,
             "sha512=" + hex_digest, hex_digest, sign("other-secret", body), sign(SECRET, body + b" "),
             sign(SECRET, b""), "sha256=" + draw(st.text(alphabet="0123456789abcdef", min_size=64, max_size=64)),
             draw(latin_text), "sha256=" + draw(latin_text)]
    first = draw(st.sampled_from(correct)) if draw(st.integers(0, 99)) < (70 if real else 40) else \
        draw(st.sampled_from(wrong))
    lines = [] if first is None else [first]
    if draw(st.integers(0, 19)) == 0:          # a second ms-signature line: only the first one counts
        lines.append(draw(st.sampled_from([good, "sha256=00"])))
    return [line.encode("latin-1") for line in lines], {value.encode("latin-1") for value in correct}


@st.composite
def requests(draw: st.DrawFn) -> Fuzzed:
    if draw(st.integers(0, 39)) == 0:          # not HTTP at all: bytes, then the end of the stream
        prefix = draw(st.sampled_from([b"", b"POST ", b"GET /", b"POST / HTTP/1.1\r\n", b"\r\n", b"\x16\x03\x01"]))
        return Fuzzed("raw", raw=prefix + draw(st.binary(max_size=512)) + b"\r\n\r\n", half_close=True)
    kind, body = draw(bodies())
    request = Fuzzed(kind, body=body)
    # Half of the requests are a sender's ordinary POST around the fuzzed body; in the other half the
    # HTTP itself is odd as well. (`ANY` picks a made-up value; `a | b` would pick it half of the time.)
    wild = draw(st.booleans())
    if wild:
        request.method = draw(st.sampled_from(["POST"] * 8 + ["GET", "HEAD", "PUT", "DELETE", "PATCH", "OPTIONS",
                                                             "TRACE", "CONNECT", "post", "PROPFIND", ANY]))
        if request.method is ANY:
            request.method = draw(token)
        target = draw(st.sampled_from([b"/webhooks/nopcommerce"] * 4 + [
            b"/", b"/health", b"/health/", b"/webhooks/nopcommerce?echo=a1b2", b"/?echo=", b"*", b"//evil.example/x",
            b"http://shop.example/webhooks", b"/%00", b"/%zz?echo=%ff", b"/../../etc/passwd", b"/webhooks;x=1",
            b"/a b", b"/" + b"a" * 8000, b"/" + b"a" * 70000, ANY]))
        request.target = b"/" + draw(latin_text).encode("latin-1") if target is ANY else target
        request.version = draw(st.sampled_from(["HTTP/1.1"] * 8 + ["HTTP/1.0", "HTTP/1.2", "HTTP/2.0", "HTTP/0.9",
                                                                  "HTTP/9.9", "HTTP/1", "HTTP/x.y", "HTTPS/1.1",
                                                                  "http/1.1", "HTTP/1.1 extra", "HTTP/¹.¹"]))
        request.framing = draw(st.sampled_from(["exact"] * 4 + ["none", "chunked", "bogus", "longer", "shorter"]))
    signature_lines, correct = draw(signatures(body, kind == "valid"))
    headers: list[tuple[bytes, bytes]] = []
    if draw(st.integers(0, 9)):
        headers.append((b"Host", b"127.0.0.1"))
    content_type = draw(st.sampled_from([b"application/json"] * 4 + [
        b"application/json; charset=utf-8", None, b"text/plain", b"application/x-www-form-urlencoded",
        b"multipart/form-data; boundary=x", b"message/rfc822", b"application/xml", ANY]))
    if content_type is ANY:
        content_type = draw(latin_text).encode("latin-1")
    if content_type is not None:
        headers.append((b"Content-Type", content_type))
    headers += [(draw(st.sampled_from([b"ms-signature", b"MS-Signature", b"Ms-Signature"])), line)
                for line in signature_lines]
    if request.framing == "exact" or (request.framing == "shorter" and not body):
        request.framing = "exact"
        headers.append((b"Content-Length", b"%d" % len(body)))
    elif request.framing == "chunked":
        headers.append((b"Transfer-Encoding", b"chunked"))
    elif request.framing == "bogus":
        headers.append((b"Content-Length", draw(st.sampled_from(
            ["lots", "-5", f"+{len(body)}", f"{len(body)}_0", f" {len(body)} ", "0x10", "1e3", "", "²", "¹²",
             "9" * 5000, "0" * 40 + str(len(body)), f"{len(body)}, {len(body)}"])).encode("latin-1")))
    elif request.framing == "longer":
        headers.append((b"Content-Length", b"%d" % (len(body) + draw(st.integers(1, 1000)))))
    elif request.framing == "shorter":
        headers.append((b"Content-Length", b"%d" % (len(body) * draw(fraction) // SCALE)))
    if request.framing != "exact":                    # the body's end is unclear: nothing after it on this line
        headers.append((b"Connection", b"close"))
        request.half_close = True
    else:
        connection = draw(st.sampled_from([None] * 6 + [b"close", b"keep-alive", b"Upgrade", b"\xff"]))
        if connection is not None:
            headers.append((b"Connection", connection))
    if draw(st.integers(0, 9)) == 0:
        headers.append((b"Expect", draw(st.sampled_from([b"100-continue", b"100-Continue", b"200-ok"]))))
    odd = draw(st.sampled_from(["none", "many", "long", "no colon", "space before colon", "continuation"])) \
        if wild else "none"
    if odd == "many":
        headers += [(b"X-Many-%d" % i, b"y") for i in range(120)]                  # too many header lines
    elif odd == "long":
        headers.append((b"X-Long", b"z" * 70000))                                  # one line too long
    elif odd == "no colon":
        headers.append((b"No colon on this line", b""))
    elif odd == "space before colon":
        headers.append((b"Content-Length ", b"%d" % len(body)))
    elif odd == "continuation":
        headers.append((b" folded", b"onto the line before"))
    headers += draw(st.lists(st.tuples(token.map(str.encode), latin_text.map(lambda t: t.encode("latin-1"))),
                             max_size=4))
    order = draw(st.permutations(range(len(headers))))
    request.headers = [headers[i] for i in order]
    first = next((v for n, v in request.headers if n.lower() == b"ms-signature"), None)
    request.signed = first in correct            # the server reads the first ms-signature line
    request.polite = len(body) > MAX_BODY and draw(st.booleans())
    if request.polite and not any(n == b"Content-Length" for n, _ in request.headers):
        request.polite = False
    return request


# -- the wire ------------------------------------------------------------------------------------------

class NotHttp(Exception):
    """The answer did not start with an HTTP status line."""


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes


def read_reply(reader: Any, method: str) -> Reply | None:
    """One final answer (1xx skipped); None when the connection closed before a status line."""
    while True:
        line = reader.readline(65537)
        if not line:
            return None
        parts = line.split(None, 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit():
            raise NotHttp(line[:80])
        status = int(parts[1])
        headers: dict[str, str] = {}
        while (header := reader.readline(65537)) not in (b"\r\n", b"\n", b""):
            name, _, value = header.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        if 100 <= status < 200:
            continue
        length = 0 if method == "HEAD" or status in (204, 304) else int(headers.get("content-length", "0"))
        return Reply(status, headers, reader.read(length))


@dataclass
class Outcome:
    reply: Reply | None = None
    failure: str | None = None          # why no answer came: closed, reset, timeout, not-http
    reused: bool | None = None          # a kept-open connection answered GET /health afterwards


def exchange(port: int, request: Fuzzed) -> Outcome:
    outcome = Outcome()
    with socket.create_connection(("127.0.0.1", port), timeout=CLIENT_TIMEOUT) as sock, \
            sock.makefile("rb") as reader:
        try:
            try:
                sock.sendall(request.wire())
                if request.half_close:
                    sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass                    # refused before the body was read: the answer may be waiting
            outcome.reply = read_reply(reader, request.method)
            if outcome.reply is None:
                outcome.failure = "closed without an answer"
            elif request.keeps_connection and outcome.reply.headers.get("connection", "").lower() != "close":
                sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
                follow = read_reply(reader, "GET")
                outcome.reused = follow is not None and follow.status == 200
        except TimeoutError:
            outcome.failure = "timeout"
        except ConnectionResetError:
            outcome.failure = "reset"
        except NotHttp as exc:
            outcome.failure = f"not HTTP: {exc.args[0]!r}"
    return outcome


def job_rows(path: Any) -> dict[str, tuple[str, str]]:
    """dedupe key → (kind, payload), read through a separate connection: only committed jobs."""
    other = open_store(path)
    try:
        return {r["dedupe_key"]: (r["kind"], r["payload"])
                for r in other.query("SELECT kind, dedupe_key, payload FROM job ORDER BY id")}
    finally:
        other.close()


def test_fuzzed_webhooks_get_2xx_or_4xx_and_only_signed_events_are_queued(tmp_path, scale, report):
    data_dir = tmp_path / "data"
    store = open_store(data_dir)
    queue = JobQueue(store)
    receiver = WebhookReceiver.from_settings(WebhookSettings(enabled=True), secret=SECRET, queue=queue,
                                             mapping=webhook_jobs)
    receiver.port = 0                                   # any free port (the settings' default is fixed)
    real_events()                                       # built once, before the clock starts
    before = job_rows(data_dir)
    expected: dict[str, tuple[str, str]] = {}           # key → (kind, payload) of accepted signed events
    statuses: Counter[int] = Counter()
    raw: Counter[str] = Counter()
    unanswered: Counter[str] = Counter()                # HTTP requests with no answer: closed, reset, timeout
    kept_open = Counter[bool]()
    valid_sent = valid_accepted = 0
    started = time.monotonic()

    with receiver:
        # The same examples on every run of the same selection of tests. (Hypothesis also draws some values
        # from the literals of the project's modules loaded so far, so running other tests first in the
        # same process, e.g. the whole suite, gives another — equally repeatable — set.)
        @settings(max_examples=scale.fuzz_examples, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        @given(request=requests())
        def fuzz(request: Fuzzed) -> None:
            nonlocal valid_sent, valid_accepted
            outcome = exchange(receiver.port, request)
            reply = outcome.reply
            if request.raw is not None:                 # not HTTP: any 4xx or a closed connection will do
                raw[str(reply.status) if reply else "closed"] += 1
                assert reply is None or 400 <= reply.status < 500, (request.raw[:200], reply)
                assert outcome.failure in (None, "closed without an answer", "reset"), outcome.failure
                return
            if outcome.failure is not None:
                unanswered[outcome.failure] += 1
            assert outcome.failure is None, (outcome.failure, request)
            assert reply is not None
            statuses[reply.status] += 1
            assert 200 <= reply.status < 300 or 400 <= reply.status < 500, (reply, request)
            if outcome.reused is not None:
                kept_open[outcome.reused] += 1
                assert outcome.reused, ("the connection kept open after the answer no longer works", request)
            accepted = request.method == "POST" and reply.status < 300
            if accepted:
                assert request.signed, ("accepted without a valid signature", request)
                for action, item in parse_envelope(request.body):
                    produced = webhook_jobs(action, item) or []
                    for spec in produced:
                        expected[spec.key] = (spec.kind, canonical(spec.payload))
            clean = (request.kind == "valid" and request.signed and request.method == "POST"
                     and request.framing == "exact" and request.version in ("HTTP/1.1", "HTTP/1.0", "HTTP/1.2")
                     and len(request.headers) < 100 and all(len(v) < 65000 and b" " not in n
                                                            for n, v in request.headers)
                     and len(request.target) < 65000 and len(request.target.decode("latin-1").split()) == 1)
            if clean:                                   # a real, correctly signed event: it must be taken
                valid_sent += 1
                valid_accepted += accepted
                assert reply.status == 200, (reply, request)

        fuzz()
        took = time.monotonic() - started

        # Still alive: a real event, correctly signed, is accepted and committed.
        action, item = real_events()[0]
        last = envelope_bytes([(action, {**item, "id": SIGNED_FOR_THE_END})])
        probe = Fuzzed("valid", body=last, signed=True, headers=[
            (b"Host", b"x"), (b"Content-Type", b"application/json"), (b"ms-signature", sign(SECRET, last).encode()),
            (b"Content-Length", b"%d" % len(last))])
        final = exchange(receiver.port, probe)
        health = exchange(receiver.port, Fuzzed("health", method="GET", target=b"/health"))
        alive = (final.reply is not None and final.reply.status == 200 and health.reply is not None
                 and health.reply.status == 200)
        for spec in webhook_jobs(action, {**item, "id": SIGNED_FOR_THE_END}) or []:
            expected[spec.key] = (spec.kind, canonical(spec.payload))
        stats = dict(receiver.stats)

    after = job_rows(data_dir)
    store.close()
    new = {key: value for key, value in after.items() if key not in before}
    requests_sent = sum(statuses.values()) + sum(raw.values()) + sum(unanswered.values())
    assert alive, (final, health)
    assert f"nop-order:{SIGNED_FOR_THE_END}" in new
    assert new.keys() == expected.keys(), ("jobs without a matching signed event", new.keys() - expected.keys(),
                                           "signed events without their job", expected.keys() - new.keys())
    assert new == expected, "a job's payload differs from the signed event it came from"
    assert stats["failed"] == 0, stats
    assert valid_sent and valid_accepted == valid_sent

    def by_status(low: int) -> str:
        return ", ".join(f"{code}: {n}" for code, n in sorted(statuses.items()) if low <= code < low + 100) or "0"

    report("requests (made up by hypothesis)", f"{requests_sent} ({requests_sent / took:.0f}/s, {took:.1f} s)")
    report("answered 2xx", f"{sum(n for c, n in statuses.items() if c < 300)} ({by_status(200)})")
    report("answered 4xx", f"{sum(n for c, n in statuses.items() if 400 <= c < 500)} ({by_status(400)})")
    report("answered 5xx / closed or reset unanswered / hung", f"{sum(n for c, n in statuses.items() if c >= 500)} / "
           f"{unanswered['closed without an answer'] + unanswered['reset']} / {unanswered['timeout']}")
    report("not HTTP at all: 4xx / closed", f"{sum(n for k, n in raw.items() if k != 'closed')} / {raw['closed']}")
    report("kept-open connections still working after the answer", f"{kept_open[True]} of {sum(kept_open.values())}")
    report("real events correctly signed: sent / accepted", f"{valid_sent} / {valid_accepted}")
    report("jobs enqueued (all from signed events)", f"{len(new)} (expected {len(expected)})")
    report("receiver alive at the end (signed event queued)", "yes" if alive else "no")
