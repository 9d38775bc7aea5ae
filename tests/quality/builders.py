"""Small OrderDto builders for the quality tests (shapes as in reference §3a)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from tests.quality.simulator import COUNTRY_IDS

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC).timestamp()

ADDRESSES: dict[str, dict[str, Any]] = {
    "US": {"city": "Los Angeles", "address1": "750 Bel Air Rd.", "zip_postal_code": "90077", "state_province_id": 5,
           "phone_number": "(213) 555-0147"},
    "CA": {"city": "Saskatoon", "address1": "201 1st Avenue South", "zip_postal_code": "S7K 1J9",
           "state_province_id": 71, "phone_number": "306 555 0199"},
    "GB": {"city": "London", "address1": "221B Baker Street", "zip_postal_code": "NW1 6XE", "state_province_id": None,
           "phone_number": "020 7946 0958"},
    "DE": {"city": "Berlin", "address1": "Unter den Linden 1", "zip_postal_code": "10117", "state_province_id": None,
           "phone_number": "030 1234567"},
    "HK": {"city": "Hong Kong", "address1": "1 Queen's Road Central", "zip_postal_code": "",
           "state_province_id": None, "phone_number": "2123 4567"},
}


def address(country: str = "US", email: str = "ann@example.com", **changes: Any) -> dict[str, Any]:
    base = {"id": 1, "first_name": "Ann", "last_name": "Lee", "email": email, "company": None,
            "country_id": COUNTRY_IDS[country], "country": None, "province": None, "address2": None,
            "fax_number": None, "customer_attributes": None, "created_on_utc": "2026-03-02T09:00:00"}
    base.update(ADDRESSES[country])
    base.update(changes)
    return base


def stamp(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]


def order(order_id: int, lines: list[tuple[str, Any, Any]] | None = None, *, email: str = "ann@example.com",
          country: str = "US", ship_to: str | None = None, ip: str = "81.2.69.160", at: float | None = None,
          total: Any = None, currency: str = "USD", **changes: Any) -> dict[str, Any]:
    """An order; `lines` are (sku, quantity, unit price) and the totals follow from them."""
    lines = lines if lines is not None else [("LV_511_JN", 1, Decimal("43.5000"))]
    items = []
    for n, (sku, quantity, unit) in enumerate(lines, start=1):
        line_total = Decimal(str(unit)) * Decimal(str(quantity)) if quantity is not None else Decimal(0)
        items.append({"id": order_id * 10 + n, "quantity": quantity, "unit_price_incl_tax": unit,
                      "unit_price_excl_tax": unit, "price_incl_tax": line_total, "price_excl_tax": line_total,
                      "product_id": n, "product": {"id": n, "name": f"Product {sku}", "sku": sku}})
    subtotal = sum((Decimal(str(i["price_excl_tax"])) for i in items), Decimal(0))
    result = {
        "id": order_id, "store_id": 1, "pick_up_in_store": False, "customer_currency_code": currency,
        "currency_rate": Decimal(1), "order_subtotal_incl_tax": subtotal, "order_subtotal_excl_tax": subtotal,
        "order_shipping_incl_tax": Decimal(0), "order_shipping_excl_tax": Decimal(0), "order_tax": Decimal(0),
        "order_discount": Decimal(0), "order_total": subtotal if total is None else total, "customer_ip": ip,
        "created_on_utc": stamp(T0 + order_id * 3600 if at is None else at), "customer_id": 7,
        "customer": {"id": 7, "email": email}, "billing_address": address(country, email),
        "shipping_address": address(ship_to or country, email), "order_items": items,
        "order_status": "Processing", "payment_status": "Paid", "shipping_status": "NotYetShipped",
    }
    result.update(changes)
    return result
