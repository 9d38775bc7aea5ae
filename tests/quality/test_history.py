"""Order facts in the local store, and robust statistics of what is usual."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent.quality.history import (
    HIGH_FACTOR,
    MEDIAN_FACTOR,
    OrderHistory,
    country_key,
    customer_key,
    is_shared_ip,
    order_time,
    usual,
)
from agent.store import migrations, open_store
from tests.quality.builders import T0, address, order
from tests.quality.simulator import COUNTRIES


@pytest.fixture
def history(tmp_path):
    store = open_store(tmp_path)
    yield OrderHistory(store, countries=COUNTRIES)
    store.close()


def test_the_fact_tables_come_with_the_latest_migration(history):
    assert history.store.schema_version() == migrations.LATEST
    assert history.order_count() == 0


def test_recording_is_idempotent_per_order_and_replaces_the_facts(history):
    history.record(order(1, [("AP_MBP_13", 2, Decimal(1800)), ("LV_511_JN", 1, Decimal("43.5"))]))
    history.record(order(1, [("AP_MBP_13", 3, Decimal(1800))]))
    assert history.order_count() == 1
    assert history.store.query("SELECT sku, quantity FROM line_fact") == [{"sku": "AP_MBP_13", "quantity": 3.0}]
    assert history.customer_totals("ann@example.com") == [5400.0]


def test_one_sku_on_several_lines_of_an_order_counts_as_one_quantity(history):
    history.record(order(1, [("NK_FRC_RS", 1, 40), ("NK_FRC_RS", 2, 40)]))
    assert history.sku_quantities("NK_FRC_RS") == [3.0]
    assert history.sku_quantities("NK_FRC_RS", exclude_order=1) == []


def test_facts_keep_who_from_where_and_shipped_where(history):
    history.record(order(1, ship_to="CA", ip="81.2.69.160"))
    row = history.store.query("SELECT customer_key, ip, ship_country, currency FROM order_fact")[0]
    assert row == {"customer_key": "ann@example.com", "ip": "81.2.69.160", "ship_country": "CA", "currency": "USD"}
    assert history.customer_countries("ann@example.com") == {"CA": 1}


def test_old_facts_can_be_forgotten(history):
    history.record_many([order(1, at=T0), order(2, at=T0 + 86400)])
    assert history.forget_before(T0 + 3600) == 1
    assert history.order_count() == 1 and history.store.scalar("SELECT COUNT(*) FROM line_fact") == 1


def test_the_shop_percentile_of_totals(history):
    history.record_many([order(i, total=Decimal(i)) for i in range(1, 101)])
    assert history.shop_total_percentile(99) == (99.0, 100)
    assert history.shop_total_percentile(50, exclude_order=100) == (50.0, 99)


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-01-28T10:00:00.1234567", 1769594400.123456),
    ("2026-01-28T10:00:00.123", 1769594400.123),
    ("2026-01-28T10:00:00Z", 1769594400.0),
    ("2026-01-28T11:00:00+01:00", 1769594400.0),
])
def test_order_time_reads_the_apis_dates_as_utc(text, expected):
    assert order_time({"created_on_utc": text}) == pytest.approx(expected)


def test_order_time_falls_back_to_the_given_moment():
    assert order_time({}, 42.0) == 42.0
    assert order_time({"created_on_utc": "yesterday"}, 42.0) == 42.0


def test_the_customer_is_known_by_email_whatever_its_case():
    o = order(1, email="Ann@Example.COM")
    assert customer_key(o) == "ann@example.com"
    o["customer"] = None
    assert customer_key(o) == "ann@example.com"
    o["billing_address"]["email"] = None
    assert customer_key(o) == "customer #7"


def test_countries_are_iso_codes_by_id_or_name():
    assert country_key(address("CA"), COUNTRIES) == "CA"
    assert country_key({"country_id": 0, "country": "Narnia"}) is None
    assert country_key({"country_id": None, "country": "Germany"}) == "DE"
    assert country_key({"country_id": 41}) == "#41"  # no country list: the id still tells countries apart
    assert country_key(None) is None


@pytest.mark.parametrize(("ip", "shared"), [
    ("127.0.0.1", True), ("10.1.2.3", True), ("192.168.0.10", True), ("100.64.3.4", True), ("::1", True),
    ("", True), (None, True), ("not an ip", True), ("81.2.69.160", False), ("2a00:1450:4001::1", False),
    ("203.0.113.7", False),
])
def test_private_and_carrier_nat_addresses_do_not_identify_a_shopper(ip, shared):
    assert is_shared_ip(ip) is shared


def test_usual_shrugs_off_a_few_wild_values():
    quantities = [1.0] * 60 + [2.0] * 25 + [3.0] * 10 + [500.0] * 5
    stats = usual(quantities, z=6)
    assert (stats.median, stats.low, stats.high, stats.mad) == (1.0, 1.0, 3.0, 0.0)
    assert stats.limit == max(MEDIAN_FACTOR * 1.0, HIGH_FACTOR * 3.0)
    assert stats.robust_z(500) == math.inf


def test_usual_follows_a_wide_spread():
    totals = [40.0, 55.0, 60.0, 75.0, 90.0, 120.0, 800.0, 1500.0]
    stats = usual(totals, z=6)
    assert stats.median == 82.5 and stats.high == 1500.0
    assert stats.limit == HIGH_FACTOR * 1500.0


@given(st.lists(st.floats(min_value=0, max_value=1e6, allow_nan=False), min_size=1, max_size=60),
       st.floats(min_value=0.5, max_value=10))
def test_the_limit_is_never_inside_the_usual_range(values, z):
    stats = usual(values, z)
    assert stats.low <= stats.median <= stats.high
    assert stats.limit >= stats.high >= stats.low
    assert stats.limit >= MEDIAN_FACTOR * stats.median
    assert usual(list(reversed(values)), z) == stats
