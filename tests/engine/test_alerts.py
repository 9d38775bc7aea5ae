"""Alerts: one per incident, digests for repeats, real SMTP and chat webhook deliveries."""

from __future__ import annotations

import socket
import threading
import time
from email import message_from_bytes

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from agent.config import AlertSettings, EmailSettings
from agent.engine.alerts import Alerts, Notification
from agent.engine.errors import JobError, Quarantine
from agent.engine.history import History
from agent.sandbox.httpserver import JsonServer, Request, Response
from tests.engine.conftest import wait_until


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def settings(**kwargs) -> AlertSettings:
    return AlertSettings(digest_minutes=15, stale_flow_minutes=60, **kwargs)


@pytest.fixture
def alerts(store, clock):
    return Alerts(store, settings(), clock=clock)


@pytest.fixture
def received(alerts) -> list[Notification]:
    got: list[Notification] = []
    alerts.subscribe(got.append)
    return got


def fail_many(queue, kind, n, error):
    queue.enqueue_many([(kind, f"{kind}:{i}", {"i": i}) for i in range(n)])
    for job in queue.claim("w", n, kinds=[kind]):
        queue.fail(job, error)


def test_500_failures_make_a_handful_of_alerts(store, queue, alerts, received, clock):
    alerts.watch(queue)
    fail_many(queue, "order.create", 500, Quarantine("unknown SKU"))
    assert alerts.flush() == 1
    [first] = received
    assert first.incident == "quarantine:order.create" and first.count == 1 and not first.digest
    assert "unknown SKU" in first.text
    clock.advance(60)
    fail_many(queue, "stock.push", 300, JobError("BNG refused the API key", "auth", retryable=False))
    alerts.flush()
    assert [n.incident for n in received] == ["quarantine:order.create", "dead:stock.push"]
    clock.advance(14 * 60)
    alerts.flush()
    assert len(received) == 3
    digest = received[2]
    assert digest.digest and digest.count == 499 and digest.total == 500
    assert "499 more occurrences" in digest.text
    clock.advance(60)
    alerts.flush()
    assert len(received) == 4 and received[3].incident == "dead:stock.push" and received[3].count == 299
    clock.advance(60 * 60)
    assert alerts.flush() == 0
    counts = {a["incident"]: a["count"] for a in alerts.open_alerts()}
    assert counts == {"quarantine:order.create": 500, "dead:stock.push": 300}


def test_a_repeat_after_a_quiet_window_is_told_at_once(alerts, received, clock):
    alerts.raise_alert("anomaly:big-order", "Unusual order", "order 1 is 40x the usual total")
    clock.advance(20 * 60)
    alerts.raise_alert("anomaly:big-order", "Unusual order", "order 2 is 50x the usual total")
    alerts.flush()
    assert [n.count for n in received] == [1, 1] and received[1].text.endswith("50x the usual total")


def test_job_incidents_resolve_when_the_error_list_is_empty(store, queue, alerts, received, clock):
    alerts.watch(queue)
    fail_many(queue, "order.create", 3, Quarantine("invalid e-mail"))
    alerts.flush()
    assert queue.retry_all() == 3
    alerts.flush()
    assert alerts.open_alerts() == []
    # The next failure is a new incident, told at once.
    for job in queue.claim("w", 1):
        queue.fail(job, Quarantine("invalid e-mail"))
    alerts.flush()
    assert len(received) == 2 and received[1].total == 1


def test_breaker_open_and_close_are_announced_once(alerts, received):
    alerts.breaker_listener("bng", "closed", "open", None)
    alerts.breaker_listener("bng", "open", "half_open", None)
    alerts.breaker_listener("bng", "half_open", "open", None)      # the probe failed: same incident
    alerts.flush()
    assert [(n.incident, n.severity) for n in received] == [("breaker:bng", "error")]
    assert "BNG is not reachable" in received[0].title
    alerts.breaker_listener("bng", "half_open", "closed", None)
    alerts.flush()
    assert received[1].resolved and "reachable again" in received[1].title
    assert alerts.open_alerts() == []


def test_a_flow_failing_too_long_raises_one_alert_and_its_recovery_is_told(store, alerts, received, clock):
    history = History(store, clock)
    history.mark_flow("orders", ok=False, error="the web store answers 503")
    clock.advance(30 * 60)
    assert alerts.check_stale_flows() == []
    clock.advance(31 * 60)
    assert alerts.check_stale_flows() == ["stale:orders"]
    clock.advance(30 * 60)
    alerts.check_stale_flows()
    alerts.flush()
    assert len(received) == 1 and received[0].incident == "stale:orders"
    history.mark_flow("orders", ok=True)
    alerts.check_stale_flows()
    alerts.flush()
    assert received[1].resolved and received[1].title == "orders syncs again"


def test_raising_never_waits_for_delivery(store, clock):
    alerts = Alerts(store, settings(), clock=clock)
    release = threading.Event()
    got = []

    def slow_listener(notification):
        release.wait(10)
        got.append(notification)

    alerts.subscribe(slow_listener)
    alerts.start(interval=0.05)
    try:
        started = time.monotonic()
        for i in range(20):
            alerts.raise_alert(f"anomaly:{i}", "Unusual", "x")
        assert time.monotonic() - started < 1.0
        release.set()
        wait_until(lambda: len(got) == 20, message="all notifications delivered")
    finally:
        release.set()
        alerts.stop()


def test_a_failing_channel_is_logged_not_fatal(store, clock, caplog):
    dead_port = free_port()
    alerts = Alerts(store, settings(chat_webhook_url=f"http://127.0.0.1:{dead_port}/hook",
                                    email=EmailSettings(enabled=True, host="127.0.0.1", port=dead_port,
                                                        security="none", recipients=["ops@example.com"])),
                    clock=clock, timeout=2)
    got = []
    alerts.subscribe(got.append)
    alerts.subscribe(lambda n: 1 / 0)
    alerts.raise_alert("breaker:bng", "BNG down", "refused")
    assert alerts.flush() == 1
    assert len(got) == 1
    assert alerts.failures == {"email": 1, "chat": 1, "listener": 1}
    assert "could not be sent" in caplog.text


class SmtpSink:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []
        self.logins: list[tuple[str, str]] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 OK"

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        if isinstance(auth_data, LoginPassword):
            self.logins.append((auth_data.login.decode(), auth_data.password.decode()))
            return AuthResult(success=auth_data.password == b"s3cret-smtp")
        return AuthResult(success=False, handled=False)


@pytest.fixture
def smtp_server():
    sink = SmtpSink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port, authenticator=sink.authenticate,
                            auth_require_tls=False)
    controller.start()
    try:
        yield sink, port
    finally:
        controller.stop()


def test_email_goes_out_over_real_smtp(store, clock, smtp_server, monkeypatch):
    sink, port = smtp_server
    monkeypatch.setenv("BNGSYNC_SMTP_PASSWORD", "s3cret-smtp")
    email = EmailSettings(enabled=True, host="127.0.0.1", port=port, security="none", username="bngsync",
                          sender="bngsync@shop.example.com", recipients=["ops@example.com", "it@example.com"])
    alerts = Alerts(store, settings(email=email), clock=clock)
    alerts.raise_alert("quarantine:order.create", "order.create: records need attention",
                       "nop-order:1234: unknown SKU AP_MBP_13", kind="quarantine")
    assert alerts.flush() == 1
    assert alerts.failures["email"] == 0
    assert sink.logins == [("bngsync", "s3cret-smtp")]
    [(sender, recipients, raw)] = sink.messages
    assert sender == "bngsync@shop.example.com" and recipients == ["ops@example.com", "it@example.com"]
    message = message_from_bytes(raw)
    assert message["Subject"] == "[bngsync] Attention: order.create: records need attention"
    body = message.get_payload(decode=True).decode()
    assert "nop-order:1234: unknown SKU AP_MBP_13" in body and "Errors page" in body


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1 (the test's own CA)."""
    x509 = pytest.importorskip("cryptography.x509")
    import datetime
    import ipaddress

    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    folder = tmp_path_factory.mktemp("tls")
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_email_over_starttls_and_tls(store, clock, tls_files, monkeypatch, security):
    import ssl

    cert_path, key_path = tls_files
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert_path, key_path)
    sink = SmtpSink()
    port = free_port()
    options = ({"tls_context": server_context, "require_starttls": True} if security == "starttls"
               else {"ssl_context": server_context, "auth_require_tls": False})   # aiosmtpd cannot tell
    controller = Controller(sink, hostname="127.0.0.1", port=port, authenticator=sink.authenticate, **options)
    controller.start()
    try:
        monkeypatch.setenv("BNGSYNC_SMTP_PASSWORD", "s3cret-smtp")
        email = EmailSettings(enabled=True, host="127.0.0.1", port=port, security=security, username="bngsync",
                              recipients=["ops@example.com"])
        alerts = Alerts(store, settings(email=email), clock=clock,
                        ssl_context=ssl.create_default_context(cafile=str(cert_path)))
        alerts.breaker_changed("bng", opened=True, reason="connection refused")
        alerts.flush()
        assert alerts.failures["email"] == 0
        assert sink.logins == [("bngsync", "s3cret-smtp")] and len(sink.messages) == 1
        # Without trusting the certificate the e-mail is not sent, and nothing else breaks.
        strict = Alerts(store, settings(email=email), clock=clock)
        strict.anomaly("x", "Unusual", "y")
        strict.flush()
        assert strict.failures["email"] == 1 and len(sink.messages) == 1
    finally:
        controller.stop()


class ChatReceiver(JsonServer):
    name = "chat"

    def __init__(self) -> None:
        super().__init__()
        self.posts: list[dict] = []
        self.router.add("POST", "/hooks/bngsync", self._post)

    def _post(self, request: Request) -> Response:
        self.posts.append(request.json())
        return Response(200, {"ok": True})


def test_chat_webhook_gets_one_json_post_per_notification(store, clock):
    with ChatReceiver() as chat:
        alerts = Alerts(store, settings(chat_webhook_url=f"{chat.url}/hooks/bngsync"), clock=clock)
        alerts.breaker_changed("bng", opened=True, reason="connection refused")
        for _ in range(10):
            alerts.anomaly("stock-drift", "Stock differs between BNG and the store", "sku:A: BNG 4, store 9")
        alerts.flush()
        clock.advance(15 * 60)
        alerts.flush()
        assert alerts.failures["chat"] == 0
        assert [p["title"] for p in chat.posts] == ["BNG is not reachable: syncing with it is paused",
                                                    "Stock differs between BNG and the store",
                                                    "Stock differs between BNG and the store"]
        assert chat.posts[0] == {"text": "BNG is not reachable: syncing with it is paused\nconnection refused",
                                 "title": "BNG is not reachable: syncing with it is paused",
                                 "severity": "error", "count": 1}
        assert chat.posts[2]["count"] == 9 and "9 more occurrences" in chat.posts[2]["text"]
