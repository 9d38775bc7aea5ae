"""The webhook receiver over real HTTP: signatures, sizes, bad input, fuzzing, commit-before-reply."""

from __future__ import annotations

import json
import re
import socket

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.engine.queue import JobQueue, JobSpec
from agent.engine.webhooks import WebhookReceiver, parse_envelope, sign, verify
from agent.store import open_store

SECRET = "whsec-7f3a9c"


def mapping(action: str, item: dict):
    if action in ("orders/create", "orders/update"):
        return JobSpec("order.sync", f"nop-order:{item['id']}", {"id": item["id"], "action": action})
    if action == "customers/update":
        return [JobSpec("customer.sync", f"nop-customer:{item['id']}", {"id": item["id"]})]
    return None


def envelope(*notifications: tuple[str, dict]) -> bytes:
    return json.dumps({"Id": "b6e1", "Attempt": 1, "Properties": {}, "WebHookId": "1",
                       "Notifications": [{"Action": a, "Item": i} for a, i in notifications]}).encode()


@pytest.fixture
def receiver(store):
    queue = JobQueue(store)
    with WebhookReceiver("127.0.0.1", 0, SECRET, queue=queue, mapping=mapping, max_body_bytes=4096) as server:
        yield server


@pytest.fixture
def client(receiver):
    with httpx.Client(base_url=receiver.url, timeout=5) as c:
        yield c


def post(client, body: bytes, signature: str | None = "sign", path="/webhooks/nopcommerce", **headers):
    if signature == "sign":
        signature = sign(SECRET, body)
    if signature is not None:
        headers["ms-signature"] = signature
    return client.post(path, content=body, headers={"Content-Type": "application/json", **headers})


def jobs(tmp_path):
    """Read through a separate connection: only committed jobs are visible."""
    other = open_store(tmp_path / "data")
    try:
        return other.query("SELECT kind, dedupe_key, payload FROM job ORDER BY id")
    finally:
        other.close()


def test_a_signed_envelope_is_committed_before_the_reply(client, tmp_path):
    body = envelope(("orders/create", {"id": 1234, "total": 10}), ("customers/update", {"id": 7}),
                    ("stores/update", {"id": 1}))
    response = post(client, body)
    assert response.status_code == 200
    assert response.json() == {"status": "accepted", "notifications": 3, "jobs": 2, "ignored": 1}
    assert [(j["kind"], j["dedupe_key"]) for j in jobs(tmp_path)] == [("order.sync", "nop-order:1234"),
                                                                      ("customer.sync", "nop-customer:7")]


def test_a_redelivered_webhook_coalesces_into_the_same_job(client, tmp_path):
    body = envelope(("orders/create", {"id": 1}))
    assert post(client, body).status_code == 200
    assert post(client, envelope(("orders/update", {"id": 1}))).status_code == 200
    [job] = jobs(tmp_path)
    assert json.loads(job["payload"])["action"] == "orders/update"


@pytest.mark.parametrize("signature", [None, "", "sha256=", "sha256=00", "sha1=abc", "garbage",
                                       sign("other-secret", b"x")])
def test_bad_or_missing_signatures_are_refused(client, receiver, tmp_path, signature):
    response = post(client, envelope(("orders/create", {"id": 1})), signature=signature)
    assert response.status_code == 401
    assert jobs(tmp_path) == [] and receiver.stats["unauthorized"] == 1


def test_signature_hex_case_and_spacing_do_not_matter():
    body = b'{"Notifications": []}'
    good = sign(SECRET, body)
    assert verify(SECRET, body, good.upper().replace("SHA256", "sha256"))
    assert verify(SECRET, body, " sha256 = " + good.split("=")[1])
    assert verify(SECRET, body, "sha256=deadbeef, " + good)
    assert not verify(SECRET, body + b" ", good)
    assert not verify(SECRET, body, "sha256=é")


@pytest.mark.parametrize("body", [
    b"{not json", b"\xff\xfe", b"[]", b'"text"', b"{}", b'{"Notifications": {}}',
    b'{"Notifications": [1]}', b'{"Notifications": [{"Action": "orders/create"}]}',
    b'{"Notifications": [{"Action": "", "Item": {}}]}', b'{"Notifications": [{"Action": 5, "Item": {}}]}',
    b"[" * 2000 + b"]" * 2000, b'{"Notifications": ' + b"[" * 2000 + b"]" * 2000 + b"}",
])
def test_malformed_bodies_get_400(client, receiver, tmp_path, body):
    response = post(client, body)
    assert response.status_code == 400 and "error" in response.json()
    assert jobs(tmp_path) == [] and receiver.stats["malformed"] == 1


def test_camel_case_envelopes_are_accepted():
    assert parse_envelope(b'{"notifications": [{"action": "orders/create", "item": {"id": 1}}]}') == \
        [("orders/create", {"id": 1})]


def raw_request(receiver, data: bytes, read_timeout: float = 5) -> bytes:
    with socket.create_connection(("127.0.0.1", receiver.port), timeout=read_timeout) as sock:
        sock.sendall(data)
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
                if b"\r\n\r\n" in b"".join(chunks) and _complete(b"".join(chunks)):
                    break
        except (TimeoutError, ConnectionResetError):
            pass
        return b"".join(chunks)


def _complete(reply: bytes) -> bool:
    head, _, body = reply.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(body) >= int(line.split(b":")[1])
    return True


def test_oversized_bodies_are_refused_before_reading(receiver):
    # Only the headers are sent: the 413 must come without waiting for 10 MB that never arrive.
    reply = raw_request(receiver, b"POST /webhooks HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n"
                                  b"ms-signature: sha256=00\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 413") and b"Connection: close" in reply
    assert receiver.stats["too_large"] == 1


def test_expect_100_continue_with_a_huge_body_is_refused_early(receiver):
    reply = raw_request(receiver, b"POST /webhooks HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n"
                                  b"Expect: 100-continue\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 413")


@pytest.mark.parametrize(("headers", "status"), [
    (b"Transfer-Encoding: chunked\r\n", b"411"),
    (b"", b"411"),
    (b"Content-Length: -5\r\n", b"400"),
    (b"Content-Length: lots\r\n", b"400"),
])
def test_bodies_of_unknown_length_are_refused(receiver, headers, status):
    reply = raw_request(receiver, b"POST /webhooks HTTP/1.1\r\nHost: x\r\n" + headers + b"\r\n5\r\nhello\r\n0\r\n\r\n")
    assert reply.split(b" ")[1] == status


def test_a_body_shorter_than_declared_is_refused(store):
    queue = JobQueue(store)
    with WebhookReceiver("127.0.0.1", 0, SECRET, queue=queue, mapping=mapping, read_timeout=0.3) as rx, \
            socket.create_connection(("127.0.0.1", rx.port), timeout=5) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"Notif")
        sock.shutdown(socket.SHUT_WR)
        reply = sock.recv(65536)
    assert reply.startswith(b"HTTP/1.1 400") or reply == b""
    assert queue.depth() == 0


def statuses(receiver, data: bytes) -> list[int]:
    """Every status the receiver answers `data` with (interim 100s included), read until it closes."""
    with socket.create_connection(("127.0.0.1", receiver.port), timeout=5) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)           # nothing more comes: the receiver must not wait for it
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    return [int(code) for code in re.findall(rb"^HTTP/1\.[01] (\d{3}) ", reply, re.MULTILINE)]


@pytest.mark.parametrize(("length", "answers"), [
    ("²", [100, 400]),              # str.isdigit() says yes, int() says no: the connection used to drop
    ("9" * 5000, [413]),            # too many digits for int(): dropped too
    ("+5", [100, 400]),             # int() reads these, HTTP does not
    ("1_0", [100, 400]),
])
def test_content_lengths_with_expect_100_are_answered(receiver, length, answers):
    request = f"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\nExpect: 100-continue\r\n\r\nhello"
    assert statuses(receiver, request.encode("latin-1")) == answers


@pytest.mark.parametrize(("request_bytes", "answers"), [
    (b"FOO / HTTP/1.1\r\nHost: x\r\n\r\n", [405]),          # not 501: a sender would repeat a 5xx
    (b"CONNECT x:443 HTTP/1.1\r\nHost: x\r\n\r\n", [405]),
    (b"POST / HTTP/2.0\r\nHost: x\r\n\r\n", [400]),        # not 505, and with a status line
    (b"POST\r\n\r\n", [400]),                               # refusals of a garbled line have one too
    (b"GET / HTTP/0.9\r\n\r\n", [405]),
    (b"GET /health\r\n\r\n", [200]),
])
def test_every_refusal_is_a_4xx_with_a_status_line(receiver, request_bytes, answers):
    assert statuses(receiver, request_bytes) == answers


@pytest.mark.parametrize("bad_line", [b"Content-Length : %d", b"X Name: y\r\nContent-Length: %d"])
def test_a_malformed_header_line_is_refused_not_read_past(receiver, bad_line):
    # Read past, the bad line hides the Content-Length (the parser stops there), the GET seems to have
    # no body, and the body is answered as a second request: [405, 200] before the fix.
    smuggled = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
    request = b"GET /webhooks HTTP/1.1\r\nHost: x\r\n" + bad_line % len(smuggled) + b"\r\n\r\n" + smuggled
    assert statuses(receiver, request) == [400]


@pytest.fixture
def agent_receiver(store):
    """The receiver with the flows' own mapping, as the runtime starts it."""
    from agent.flows import webhook_jobs

    with WebhookReceiver("127.0.0.1", 0, SECRET, queue=JobQueue(store), mapping=webhook_jobs) as server, \
            httpx.Client(base_url=server.url, timeout=5) as c:
        yield server, c


@pytest.mark.parametrize(("action", "item"), [
    ("orders/create", {"id": "abc"}), ("orders/create", {"id": [1]}), ("orders/create", {"id": float("inf")}),
    ("orders/create", {"id": 5, "order_items": "ab"}), ("customers/update", {"id": 5, "email": 5}),
])
def test_an_item_the_agent_cannot_read_gets_400_not_a_5xx_to_repeat(agent_receiver, tmp_path, action, item):
    receiver, c = agent_receiver
    response = post(c, envelope(("orders/create", {"id": 1}), (action, item)))
    assert response.status_code == 400 and "notification 1" in response.json()["error"]
    assert jobs(tmp_path) == []                             # all or nothing: the good one waits for a resend
    assert receiver.stats["failed"] == 0 and receiver.stats["malformed"] == 1


def test_an_unpaired_surrogate_escape_is_refused_before_it_reaches_the_store(agent_receiver, tmp_path):
    receiver, c = agent_receiver
    body = b'{"Notifications": [{"Action": "orders/create", "Item": {"id": 5, "customer_note": "\\ud800"}}]}'
    response = post(c, body)
    assert response.status_code == 400 and "surrogate" in response.json()["error"]
    assert jobs(tmp_path) == [] and receiver.stats["failed"] == 0
    paired = body.replace(b"\\ud800", b"\\ud83d\\ude00")       # a pair is text like any other
    assert post(c, paired).status_code == 200
    assert json.loads(jobs(tmp_path)[0]["payload"])["customer_note"] == "\U0001f600"


def test_health_echo_and_other_methods(client):
    assert client.get("/health").json() == {"status": "ok"}
    assert client.get("/webhooks/nopcommerce", params={"echo": "a1b2"}).text == "a1b2"
    for method in ("GET", "PUT", "DELETE", "PATCH", "OPTIONS"):
        response = client.request(method, "/webhooks/nopcommerce", content=b"{}" if method != "GET" else None)
        assert response.status_code == 405 and response.headers["Allow"] == "POST"
    assert client.head("/webhooks/nopcommerce").status_code == 405
    assert client.get("/health").status_code == 200            # still answering on the same client


def test_a_failing_callback_answers_503_and_commits_nothing(store, tmp_path):
    queue = JobQueue(store)
    calls = []

    def on_notification(action, item):
        calls.append(action)
        queue.enqueue("order.sync", f"nop-order:{item['id']}", item)
        if len(calls) == 2:
            raise RuntimeError("disk full")

    with WebhookReceiver("127.0.0.1", 0, SECRET, on_notification, store=store) as rx, \
            httpx.Client(base_url=rx.url, timeout=5) as c:
        body = envelope(("orders/create", {"id": 1}), ("orders/create", {"id": 2}))
        assert post(c, body).status_code == 503
        assert jobs(tmp_path) == []                         # the first enqueue was rolled back too
        calls.clear()
        rx.on_notification = lambda action, item: queue.enqueue("order.sync", f"nop-order:{item['id']}", item)
        assert post(c, body).status_code == 200
        assert len(jobs(tmp_path)) == 2


def test_receiver_needs_a_secret_and_a_target(store):
    with pytest.raises(ValueError, match="secret"):
        WebhookReceiver(secret="", on_notification=lambda a, i: None)
    with pytest.raises(ValueError):
        WebhookReceiver(secret=SECRET)


header_text = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=80).map(str.strip)


def test_fuzzed_requests_never_crash_it_and_never_enqueue_unsigned_work(store):
    queue = JobQueue(store)
    with WebhookReceiver("127.0.0.1", 0, SECRET, queue=queue, mapping=mapping, max_body_bytes=2048) as rx, \
            httpx.Client(base_url=rx.url, timeout=5) as c:

        @settings(max_examples=250, deadline=None, suppress_health_check=list(HealthCheck))
        @given(body=st.one_of(st.binary(max_size=3000), st.builds(lambda n: envelope(*n), st.lists(
                   st.tuples(st.sampled_from(["orders/create", "orders/update", "x"]),
                             st.fixed_dictionaries({"id": st.integers()})), max_size=3))),
               signature=st.one_of(st.none(), header_text, header_text.map(lambda t: "sha256=" + t)),
               path=st.sampled_from(["/", "/webhooks/nopcommerce", "/health", "/%00", "/" + "a" * 3000]),
               content_type=header_text)
        def unsigned(body, signature, path, content_type):
            response = c.post(path, content=body, headers={
                **({"ms-signature": signature} if signature is not None else {}), "Content-Type": content_type})
            assert response.status_code in (401, 413)

        unsigned()
        assert queue.depth() == 0

        json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                                   lambda children: st.lists(children, max_size=4)
                                   | st.dictionaries(st.sampled_from(["Notifications", "Action", "Item", "id"])
                                                     | st.text(max_size=8), children, max_size=4), max_leaves=20)

        @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
        @given(value=json_values)
        def signed(value):
            body = json.dumps(value).encode()
            response = c.post("/", content=body, headers={"ms-signature": sign(SECRET, body)})
            assert response.status_code in (200, 400, 413), response.text

        signed()

        for garbage in (b"\x00\x01\x02\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n", b"POST\r\n\r\n",
                        b"POST / HTTP/1.1\r\n" + b"X: y\r\n" * 200 + b"\r\n", b"A" * 70000 + b"\r\n\r\n"):
            raw_request(rx, garbage, read_timeout=2)
        assert c.get("/health").status_code == 200


def test_receiver_from_settings_reads_the_secret(store, monkeypatch):
    from agent.config import WebhookSettings
    from agent.secrets import SecretError

    with pytest.raises(SecretError):
        WebhookReceiver.from_settings(WebhookSettings(port=1), on_notification=lambda a, i: None)
    monkeypatch.setenv("BNGSYNC_WEBHOOK_SECRET", SECRET)
    rx = WebhookReceiver.from_settings(WebhookSettings(max_body_bytes=2048), queue=JobQueue(store),
                                       mapping=mapping)
    rx.port = 0                                     # any free port, for the test
    with rx, httpx.Client(base_url=rx.url, timeout=5) as c:
        assert rx.host == "127.0.0.1" and rx.max_body_bytes == 2048
        assert post(c, envelope(("orders/create", {"id": 5}))).status_code == 200
