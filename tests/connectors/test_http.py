"""The resilient HTTP base over `httpx.MockTransport`: what is retried, how long it waits, what it raises."""

from __future__ import annotations

import logging
import socket
import ssl
from decimal import Decimal

import httpx
import pytest

from agent import logs
from agent.connectors import errors as e
from agent.connectors.http import connection_kind, decimal_text, dumps, loads, zulu
from agent.connectors.resilience import BreakerState, RetryPolicy, TokenBucket
from tests.connectors.conftest import reply, sequence


def ok(request: httpx.Request) -> httpx.Response:
    return reply(200, {"ok": True})


# -- retries -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("status", [429, 502, 503, 504])
def test_retryable_statuses_are_retried_with_backoff(make_http, clock, status):
    http, rec = make_http(sequence(reply(status), reply(status), ok))
    assert http.get("/items") == {"ok": True}
    assert len(rec.requests) == 3
    assert len(clock.sleeps) == 2
    assert 0 <= clock.sleeps[0] <= 0.5 and 0 <= clock.sleeps[1] <= 1.0     # full jitter within the ceiling


def test_retry_after_wins_over_the_computed_delay(make_http, clock):
    http, _rec = make_http(sequence(reply(429, headers={"Retry-After": "7"}), reply(503, headers={"Retry-After": "3"}),
                                   ok))
    http.get("/items")
    assert clock.sleeps == [7.0, 3.0]


def test_rate_limit_reset_is_used_when_there_is_no_retry_after(make_http, clock):
    http, _rec = make_http(sequence(reply(429, headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "4"}),
                                   ok))
    http.get("/items")
    assert clock.sleeps == [4.0]


def test_attempts_are_bounded(make_http, clock):
    http, rec = make_http(sequence(reply(503)), retry=RetryPolicy(max_attempts=4))
    with pytest.raises(e.ServiceUnavailable) as info:
        http.get("/items")
    assert len(rec.requests) == 4 and len(clock.sleeps) == 3
    assert info.value.retryable and info.value.error_class == "connection"


def test_total_wait_is_bounded_a_long_retry_after_is_handed_to_the_caller(make_http, clock):
    http, rec = make_http(sequence(reply(429, headers={"Retry-After": "120"})),
                          retry=RetryPolicy(max_total_wait=60))
    with pytest.raises(e.RateLimited) as info:
        http.get("/items")
    assert len(rec.requests) == 1 and clock.sleeps == []
    assert info.value.retry_after == 120
    assert info.value.error_class == "rate_limit" and info.value.retryable
    assert "120 s" in str(info.value)


@pytest.mark.parametrize("status,cls,error_class", [
    (400, e.BadRequest, "validation"), (401, e.Unauthorized, "auth"), (403, e.Forbidden, "auth"),
    (404, e.NotFound, "not_found"), (409, e.Conflict, "conflict"), (412, e.Stale, "conflict"),
    (422, e.ValidationFailed, "validation"), (410, e.FullResyncRequired, "internal"),
    (500, e.ServerError, "internal"),
])
def test_other_errors_are_not_retried_and_are_typed(make_http, clock, status, cls, error_class):
    http, rec = make_http(sequence(reply(status, {"error": {"code": "x", "message": "no good"}})))
    with pytest.raises(cls) as info:
        http.get("/items/1")
    assert len(rec.requests) == 1 and clock.sleeps == []
    assert info.value.error_class == error_class
    assert info.value.status == status
    assert info.value.retryable is (status == 500)


def test_timeouts_and_resets_of_reads_are_retried(make_http, clock):
    http, rec = make_http(sequence(httpx.ReadTimeout("slow"), httpx.RemoteProtocolError("Server disconnected"),
                                   httpx.ConnectError("[Errno 111] Connection refused"), ok))
    assert http.get("/items") == {"ok": True}
    assert len(rec.requests) == 4


def test_a_read_that_keeps_timing_out_raises_timeout(make_http):
    http, _rec = make_http(sequence(httpx.ReadTimeout("slow")), retry=RetryPolicy(max_attempts=2))
    with pytest.raises(e.Timeout) as info:
        http.get("/items")
    assert info.value.retryable and info.value.error_class == "connection"
    assert "did not answer within" in str(info.value)


# -- creates are not repeated blindly ---------------------------------------------------------------------
@pytest.mark.parametrize("failure", [httpx.ReadTimeout("slow"), httpx.RemoteProtocolError("Server disconnected"),
                                     httpx.ReadError("reset by peer"), httpx.WriteTimeout("stuck")])
def test_post_with_lost_reply_raises_outcome_unknown(make_http, failure):
    http, rec = make_http(sequence(failure, ok))
    with pytest.raises(e.OutcomeUnknown) as info:
        http.request("POST", "/sales-orders", json={"total": "1.00"})
    assert len(rec.requests) == 1
    assert info.value.retryable and info.value.error_class == "connection"
    assert "not known whether" in str(info.value)


@pytest.mark.parametrize("status", [502, 504])
def test_post_through_a_failing_gateway_is_an_unknown_outcome(make_http, status):
    http, rec = make_http(sequence(reply(status), ok))
    with pytest.raises(e.OutcomeUnknown):
        http.request("POST", "/sales-orders", json={})
    assert len(rec.requests) == 1


@pytest.mark.parametrize("first", [reply(429, headers={"Retry-After": "1"}), reply(503),
                                   httpx.ConnectError("[Errno 111] Connection refused")])
def test_post_is_retried_when_the_server_certainly_did_not_process_it(make_http, first):
    http, rec = make_http(sequence(first, reply(201, {"order_no": "SO-1"})))
    assert http.send_json("POST", "/sales-orders", json={}) == {"order_no": "SO-1"}
    assert len(rec.requests) == 2


def test_post_marked_safe_is_retried_after_a_lost_reply(make_http):
    http, rec = make_http(sequence(httpx.ReadTimeout("slow"), reply(200, {"access_token": "t"})))
    assert http.send_json("POST", "/token", json={}, safe_to_retry=True) == {"access_token": "t"}
    assert len(rec.requests) == 2


def test_put_is_idempotent_and_retried(make_http):
    http, rec = make_http(sequence(httpx.ReadTimeout("slow"), ok))
    http.request("PUT", "/api/products/1", json={})
    assert len(rec.requests) == 2


# -- rate limiter integration ---------------------------------------------------------------------------
def test_limiter_paces_requests_and_pauses_everyone_after_a_429(make_http, clock):
    limiter = TokenBucket(rate=10, burst=2, clock=clock)
    http, _rec = make_http(sequence(ok, ok, ok, reply(429, headers={"Retry-After": "2"}), ok), limiter=limiter)
    for _ in range(3):
        http.get("/items")
    assert clock.sleeps == [pytest.approx(0.1)]
    http.get("/items")
    # its own turn, the server's 2 s, then its turn in the bucket refilled from empty
    assert clock.sleeps[1:] == [pytest.approx(0.1), 2.0, pytest.approx(0.1)]


def test_limiter_adapts_to_remaining_zero_from_the_server(make_http, clock):
    limiter = TokenBucket(rate=100, burst=100, clock=clock)
    http, rec = make_http(sequence(reply(200, {}, {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "3"}), ok),
                          limiter=limiter)
    http.get("/items")
    http.get("/items")
    assert clock.sleeps == [pytest.approx(3.01)]
    assert len(rec.requests) == 2


def test_limiter_wait_beyond_the_budget_raises_without_sending(make_http, clock):
    limiter = TokenBucket(rate=1, burst=1, clock=clock)
    limiter.pause_for(600)
    http, rec = make_http(ok, limiter=limiter, retry=RetryPolicy(max_total_wait=10))
    with pytest.raises(e.RateLimited) as info:
        http.get("/items")
    assert rec.requests == []
    assert "holding back" in str(info.value)
    assert http.breaker.snapshot().failures == 0


# -- circuit breaker integration --------------------------------------------------------------------------
def test_a_down_system_opens_the_breaker_and_a_returning_one_closes_it(make_http, clock):
    state = {"down": True}

    def handler(request: httpx.Request) -> httpx.Response:
        if state["down"]:
            raise httpx.ConnectError("[Errno 111] Connection refused")
        return reply(200, {"ok": True})

    http, rec = make_http(handler, retry=RetryPolicy(max_attempts=2))
    events = []
    http.breaker.add_listener(lambda system, old, new, snap: events.append((old.value, new.value)))
    for _ in range(3):
        with pytest.raises(e.ConnectionFailed) as info:
            http.get("/items")
        assert info.value.kind == "refused"
    assert http.breaker.state is BreakerState.OPEN
    sent = len(rec.requests)
    with pytest.raises(e.CircuitOpen):
        http.get("/items")
    assert len(rec.requests) == sent                 # failed fast, nothing sent
    clock.advance(30)
    with pytest.raises(e.ConnectionFailed):
        http.get("/items")                           # the probe: one attempt only
    assert len(rec.requests) == sent + 1
    assert http.breaker.snapshot().cooldown_seconds == 60
    state["down"] = False
    clock.advance(60)
    assert http.get("/items") == {"ok": True}
    assert http.breaker.state is BreakerState.CLOSED
    assert events == [("closed", "open"), ("open", "half_open"), ("half_open", "open"), ("open", "half_open"),
                      ("half_open", "closed")]


def test_record_problems_do_not_open_the_breaker(make_http):
    http, _rec = make_http(sequence(reply(422, {"error": {"code": "validation_failed", "message": "bad"}})))
    for _ in range(10):
        with pytest.raises(e.ValidationFailed):
            http.get("/items")
    assert http.breaker.state is BreakerState.CLOSED


def test_rate_limiting_after_retries_counts_as_a_system_failure(make_http):
    http, _rec = make_http(sequence(reply(429, headers={"Retry-After": "1"})), retry=RetryPolicy(max_attempts=2))
    for _ in range(3):
        with pytest.raises(e.RateLimited):
            http.get("/items")
    assert http.breaker.state is BreakerState.OPEN


def test_diagnostics_can_bypass_an_open_breaker(make_http):
    http, _rec = make_http(ok)
    for _ in range(3):
        http.breaker.record_failure()
    with pytest.raises(e.CircuitOpen):
        http.get("/health")
    assert http.get("/health", use_breaker=False) == {"ok": True}


def test_another_worker_opening_the_breaker_stops_the_retries(make_http, clock):
    calls = {"n": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if calls["n"] == 1:
            for _ in range(3):
                http.breaker.record_failure("others saw it down")
        return reply(503)

    http, rec = make_http(handler, retry=RetryPolicy(max_attempts=5))
    with pytest.raises(e.ServiceUnavailable):
        http.get("/items")
    assert len(rec.requests) == 1


# -- everything else ------------------------------------------------------------------------------------------
def test_redirect_is_reported_as_a_wrong_address(make_http):
    http, _rec = make_http(sequence(reply(301, headers={"Location": "https://remote.test/api"})))
    with pytest.raises(e.UnexpectedResponse) as info:
        http.get("/items")
    assert "https://remote.test/api" in str(info.value)


def test_non_json_reply_is_unexpected(make_http):
    http, _rec = make_http(sequence(reply(200, "<html>login</html>")))
    with pytest.raises(e.UnexpectedResponse) as info:
        http.get("/items")
    assert "<html>" in str(info.value)


def test_requests_are_logged_at_debug_without_secrets(make_http, caplog):
    logs.register_secret("hunter2-password")
    http, rec = make_http(sequence(reply(503), ok), headers={"Authorization": "Bearer abcdef123456"})
    with caplog.at_level(logging.DEBUG, logger="agent.connectors"):
        http.request("POST", "/token", json={"password": "hunter2-password"}, safe_to_retry=True)
    lines = [r.getMessage() for r in caplog.records if r.name == "agent.connectors.bng"]
    assert len(lines) == 2
    assert "POST /token -> 503" in lines[0] and "(attempt 1)" in lines[0] and " ms " in lines[0]
    assert "-> 200" in lines[1] and "(attempt 2)" in lines[1]
    text = caplog.text
    assert "hunter2" not in text and "abcdef123456" not in text
    assert rec.requests[0].headers["authorization"] == "Bearer abcdef123456"


def test_query_values_are_encoded_for_the_wire(make_http):
    from datetime import datetime, timedelta, timezone
    http, rec = make_http(ok)
    when = datetime(2026, 3, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    http.get("/items", params={"modified_since": when, "active": True, "skip": None, "ids": [1, 2]})
    query = dict(rec.requests[0].url.params)
    assert query == {"modified_since": "2026-03-01T10:00:00Z", "active": "true", "ids": "1,2"}


# -- JSON and text helpers -------------------------------------------------------------------------------------
def test_decimals_round_trip_without_float_loss():
    data = loads('{"price": 43.5000, "other": 43.5, "qty": 2, "tiny": 0.1}')
    assert data["price"] == Decimal("43.5000") and str(data["price"]) == "43.5000"
    assert data["other"] == data["price"]
    assert data["tiny"] == Decimal("0.1") and isinstance(data["qty"], int)
    assert dumps({"price": Decimal("43.5000"), "n": Decimal("0.1")}) == b'{"price":43.5000,"n":0.1}'
    assert dumps({"price": Decimal("1E+2")}) == b'{"price":100}'
    assert dumps({"s": "\x00decimal:1"}) == b'{"s":"\\u0000decimal:1"}'   # text stays text


def test_decimal_strings_for_bng_have_at_most_four_places():
    assert dumps({"a": Decimal("12.34567"), "b": Decimal("1299.5"), "c": Decimal("-0.00")}, "string", 4) \
        == b'{"a":"12.3457","b":"1299.5","c":"0.00"}'
    assert decimal_text(Decimal("0.00005"), 4) == "0.0001"         # half-up, not banker's rounding
    with pytest.raises(ValueError):
        decimal_text(Decimal("NaN"))


def test_zulu_always_ends_in_z():
    from datetime import date, datetime, timedelta, timezone
    assert zulu(datetime(2026, 1, 2, 3, 4, 5)) == "2026-01-02T03:04:05Z"
    assert zulu(datetime(2026, 1, 2, 3, 4, 5, 120000, tzinfo=timezone(timedelta(hours=-5)))) \
        == "2026-01-02T08:04:05.12Z"
    assert zulu(date(2026, 1, 2)) == "2026-01-02T00:00:00Z"


def test_connection_failures_are_told_apart():
    def chained(outer: Exception, inner: BaseException) -> Exception:
        outer.__cause__ = inner
        return outer
    assert connection_kind(chained(httpx.ConnectError("x"), socket.gaierror(-2, "Name or service not known"))) == "dns"
    assert connection_kind(chained(httpx.ConnectError("x"), ssl.SSLCertVerificationError("bad cert"))) == "tls"
    assert connection_kind(chained(httpx.ConnectError("x"), ConnectionRefusedError(111, "refused"))) == "refused"
    assert connection_kind(httpx.ConnectError("[Errno -2] Name or service not known")) == "dns"
    assert connection_kind(httpx.ConnectError("[SSL: CERTIFICATE_VERIFY_FAILED]")) == "tls"


def test_every_error_is_classified_and_speaks_plain_words():
    kinds = [e.BadRequest, e.ValidationFailed, e.NotFound, e.Conflict, e.Stale, e.FullResyncRequired,
             e.UnexpectedResponse, e.Unauthorized, e.Forbidden, e.RateLimited, e.ServiceUnavailable, e.ServerError,
             e.PluginDefect, e.ConnectionFailed, e.Timeout, e.OutcomeUnknown, e.CircuitOpen]
    for cls in kinds:
        error = cls(system="bng")
        assert error.error_class in e.ERROR_CLASSES, cls
        assert isinstance(error.retryable, bool)
        text = str(error)
        assert "BNG" in text or cls is e.PluginDefect, (cls, text)     # the defect is the store's, by nature
        assert "Error" not in text and "HTTP" not in text, (cls, text)
    failed = e.ValidationFailed(system="bng", details=[("lines[0].item_no", "unknown item"), ("total", "mismatch")])
    assert str(failed) == "BNG rejected the data: lines[0].item_no: unknown item; total: mismatch"
    assert e.NotFound(system="nopcommerce", path="/api/orders/9").__str__() == \
        "the web store has no such record (/api/orders/9)"
