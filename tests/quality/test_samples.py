"""Conservative defaults: the sample store's own orders go through untouched."""

from __future__ import annotations

from agent.config import QualitySettings
from agent.quality import OrderHistory, decide, detect_anomalies, validate_order
from agent.store import open_store
from tests.quality.simulator import COUNTRIES, bng_list_prices, sample_orders


def test_the_five_sample_orders_raise_no_hold_and_no_quarantine(tmp_path):
    settings = QualitySettings()
    history = OrderHistory(open_store(tmp_path), countries=COUNTRIES)
    prices = bng_list_prices()
    decisions = {}
    for order in sample_orders():   # all placed at install time, from 127.0.0.1
        flags = validate_order(order, countries=COUNTRIES, settings=settings)
        flags += detect_anomalies(order, history, list_prices=prices, settings=settings)
        decisions[order["id"]] = (decide(flags), [f.reason for f in flags])
        history.record(order)
    assert {k: v[0] for k, v in decisions.items()} == dict.fromkeys(range(1, 6), "ok"), decisions


def test_the_sample_orders_are_shaped_like_the_api_returns_them():
    orders = sample_orders()
    assert [o["order_total"] for o in orders] == [1855, 2460, 8.8, 102, 43.5]
    assert orders[2]["shipping_address"] is None and orders[3]["pick_up_in_store"] is True
    assert orders[0]["billing_address"]["country"] is None and orders[0]["billing_address"]["country_id"]
    assert [i["product"]["sku"] for i in orders[4]["order_items"]] == ["LV_511_JN"]
