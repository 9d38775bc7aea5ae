"""Valid request bodies for the demo company, for tests and demos.

A sales order BNG accepts needs consistent totals, the required custom field (ORDER_SOURCE) and
the required dimensions (COSTCENTER, CHANNEL); building one by hand in every test invites
mistakes that look like bugs of the code under test. These builders get it right once.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from agent.sandbox.bng.values import money

ADDRESS: dict[str, Any] = {
    "name": "Steve Gates", "company": None, "line1": "750 Bel Air Rd.", "line2": None,
    "city": "Los Angeles", "region": "CA", "postal_code": "90077", "country": "US", "phone": "87654321",
}


def order_body(external_order_id: str | None = "1001",
               lines: Iterable[tuple[str, str, str]] = (("AP_MBP_13", "1", "1800.00"),),
               customer_no: str = "C000001", shipping_amount: str = "0.00", tax_amount: str = "0.00",
               discount_amount: str = "0.00", **extra: Any) -> dict[str, Any]:
    """A valid POST /sales-orders body; `lines` are (item_no, quantity, unit_price) and every
    total is computed. `extra` adds or overrides top-level properties."""
    line_docs = []
    for item_no, qty, price in lines:
        line_docs.append({"item_no": item_no, "quantity": qty, "unit_price": price,
                          "line_total": money(Decimal(qty) * Decimal(price))})
    total = (sum((Decimal(line["line_total"]) for line in line_docs), Decimal(0)) + Decimal(shipping_amount)
             + Decimal(tax_amount) - Decimal(discount_amount))
    body: dict[str, Any] = {
        "customer_no": customer_no,
        "external_order_id": external_order_id,
        "external_order_number": external_order_id,
        "order_date": "2026-11-27T09:30:00Z",
        "currency": "USD",
        "payment_status": "Authorized",
        "payment_method": "Payments.Manual",
        "shipping_method": "Ground",
        "bill_to": dict(ADDRESS),
        "ship_to": dict(ADDRESS),
        "lines": line_docs,
        "shipping_amount": shipping_amount,
        "discount_amount": discount_amount,
        "tax_amount": tax_amount,
        "total": money(total),
        "custom_fields": {"ORDER_SOURCE": "Web"},
        "dimensions": {"COSTCENTER": "WEB-US", "CHANNEL": "ONLINE"},
    }
    body.update(extra)
    return body


def customer_body(email: str = "steve_gates@nopCommerce.com", external_id: str | None = "2",
                  **extra: Any) -> dict[str, Any]:
    """A valid POST /customers body."""
    body: dict[str, Any] = {"name": "Steve Gates", "email": email, "phone": "87654321",
                            "external_id": external_id, "customer_type": "Retail", "currency": "USD",
                            "tax_exempt": False, "bill_to": dict(ADDRESS), "ship_to": [dict(ADDRESS)],
                            "custom_fields": {"CUSTOMER_TYPE": "Retail", "NEWSLETTER": True}}
    body.update(extra)
    return body
