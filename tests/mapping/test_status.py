from __future__ import annotations

import pytest

from agent.config import StatusMapping
from agent.mapping import MappingError
from agent.mapping.status import (
    BNG_PAYMENT_STATUS,
    NOP_PAYMENT_STATUS,
    NopOrderState,
    bng_order_status,
    nop_order_status,
    nop_shipping_status,
    order_status_to_bng,
    payment_status_to_bng,
    payment_status_to_nop,
    shipping_update_from_bng,
)

DEFAULT = StatusMapping()


def test_mapping_error_is_quarantined_not_retried():
    err = MappingError("something is wrong")
    assert err.error_class == "validation" and err.retryable is False
    assert str(err) == err.reason == "something is wrong"


@pytest.mark.parametrize(("value", "expected"), [
    ("Pending", "New"), ("processing", "Open"), (30, "Closed"), ("40", "Cancelled"), (" Complete ", "Closed")])
def test_order_status_to_bng_by_name_or_id(value, expected):
    assert order_status_to_bng(value, DEFAULT) == expected


def test_table_keys_may_be_ids():
    mapping = StatusMapping(order_to_bng={"10": "New", "20": "OnHold", "complete": "closed"})
    assert order_status_to_bng("Pending", mapping) == "New"
    assert order_status_to_bng(20, mapping) == "OnHold"
    assert order_status_to_bng("Complete", mapping) == "Closed"  # BNG's spelling


def test_unmapped_status_says_where_to_fix_it():
    mapping = StatusMapping(order_to_bng={"Pending": "New"})
    with pytest.raises(MappingError, match=r"Order status 'Processing' has no BNG status.*Mappings → Status"):
        order_status_to_bng(20, mapping)


@pytest.mark.parametrize("value", ["Frozen", 99, "", None, True])
def test_unknown_store_status(value):
    with pytest.raises(MappingError):
        nop_order_status(value)


def test_table_pointing_at_a_status_bng_does_not_know():
    mapping = StatusMapping(order_to_bng={"Pending": "Opened"})
    with pytest.raises(MappingError, match=r"'Opened', which is not a BNG order status; BNG knows New, Open"):
        order_status_to_bng("Pending", mapping)


def test_payment_statuses_both_ways_with_default_table():
    for name, code in NOP_PAYMENT_STATUS.items():
        bng = payment_status_to_bng(code, DEFAULT)
        assert bng in BNG_PAYMENT_STATUS
        assert payment_status_to_nop(bng, DEFAULT) == name
    assert payment_status_to_bng("Pending", DEFAULT) == "Unpaid"
    assert payment_status_to_nop("unpaid", DEFAULT) == "Pending"


def test_payment_status_errors():
    with pytest.raises(MappingError, match="not a BNG payment status"):
        payment_status_to_nop("Settled", DEFAULT)
    with pytest.raises(MappingError, match="has no web store payment status"):
        payment_status_to_nop("Voided", StatusMapping(payment_to_nop={"Paid": "Paid"}))
    with pytest.raises(MappingError, match="not a web store payment status"):
        payment_status_to_nop("Paid", StatusMapping(payment_to_nop={"Paid": "Settled"}))
    with pytest.raises(MappingError, match="Payment status 'Voided' has no BNG payment status"):
        payment_status_to_bng(50, StatusMapping(payment_to_bng={"Paid": "Paid"}))
    with pytest.raises(MappingError, match="not a BNG payment status"):
        payment_status_to_bng("Paid", StatusMapping(payment_to_bng={"Paid": "Done"}))


def test_enum_normalization():
    assert nop_shipping_status(25) == "PartiallyShipped"
    assert bng_order_status("onhold") == "OnHold"
    with pytest.raises(MappingError, match="BNG knows New"):
        bng_order_status("Frozen")


# -- the way back --------------------------------------------------------------------------------

def bng_order(status, shipments=(), payment="Paid", lines=((1, "1"), (2, "2"))):
    return {"order_no": "SO-104001", "status": status, "payment_status": payment,
            "lines": [{"line_no": no, "quantity": q} for no, q in lines],
            "shipments": [{"shipment_no": f"SH-{i}", "shipped_at": "2026-01-28T10:00:00Z",
                           "delivered_at": delivered, "lines": [{"line_no": no, "quantity": q} for no, q in sl]}
                          for i, (sl, delivered) in enumerate(shipments)]}


PAID_OPEN = NopOrderState("Processing", "Paid", "NotYetShipped")


def test_partially_shipped():
    update = shipping_update_from_bng(bng_order("PartiallyShipped", [(((1, "1"),), None)]), PAID_OPEN)
    assert (update.order_status, update.shipping_status) == (None, "PartiallyShipped")
    assert update.changed and "PartiallyShipped" in update.reasons[0]


def test_shipped_stays_processing_until_delivered_by_default():
    order = bng_order("Shipped", [(((1, "1"), (2, "2")), None)])
    update = shipping_update_from_bng(order, PAID_OPEN)
    assert (update.order_status, update.shipping_status) == (None, "Shipped")
    update = shipping_update_from_bng(order, PAID_OPEN, complete_order_when_delivered=False)
    assert (update.order_status, update.shipping_status) == ("Complete", "Shipped")


def test_all_lines_shipped_even_if_bng_status_lags():
    update = shipping_update_from_bng(bng_order("Released", [(((1, "1"),), None), (((2, "2"),), None)]),
                                      PAID_OPEN)
    assert update.shipping_status == "Shipped"


def test_delivered_and_paid_completes():
    order = bng_order("Shipped", [(((1, "1"), (2, "2")), "2026-01-29T10:00:00Z")])
    update = shipping_update_from_bng(order, PAID_OPEN)
    assert (update.order_status, update.shipping_status) == ("Complete", "Delivered")


def test_delivered_but_unpaid_moves_pending_to_processing():
    order = bng_order("Shipped", [(((1, "1"), (2, "2")), "2026-01-29T10:00:00Z")], payment="Unpaid")
    update = shipping_update_from_bng(order, NopOrderState(10, 10, 20))
    assert (update.order_status, update.shipping_status) == ("Processing", "Delivered")


def test_partial_delivery_is_not_delivered():
    order = bng_order("PartiallyShipped", [(((1, "1"),), "2026-01-29T10:00:00Z")])
    assert shipping_update_from_bng(order, PAID_OPEN).shipping_status == "PartiallyShipped"


def test_cancelled():
    update = shipping_update_from_bng(bng_order("Cancelled", payment="Voided"), PAID_OPEN)
    assert (update.order_status, update.shipping_status) == ("Cancelled", None)
    assert not shipping_update_from_bng(bng_order("Cancelled"), NopOrderState(40, 50, 20)).changed


def test_invoiced_or_closed_with_paid_completes():
    for status in ("Invoiced", "Closed"):
        update = shipping_update_from_bng(bng_order(status), PAID_OPEN)
        assert (update.order_status, update.shipping_status) == ("Complete", "Shipped")
    update = shipping_update_from_bng(bng_order("Invoiced", payment="Unpaid"), NopOrderState(20, 10, 20))
    assert (update.order_status, update.shipping_status) == (None, "Shipped")


def test_never_moves_backwards_or_touches_finished_orders():
    order = bng_order("Shipped", [(((1, "1"), (2, "2")), None)])
    assert not shipping_update_from_bng(order, NopOrderState("Complete", "Paid", "Delivered")).changed
    update = shipping_update_from_bng(bng_order("Open"), NopOrderState("Complete", "Paid", "Shipped"))
    assert not update.changed


def test_no_shipping_required_completes_when_paid():
    update = shipping_update_from_bng(bng_order("Closed"), NopOrderState("Pending", "Paid", "ShippingNotRequired"))
    assert (update.order_status, update.shipping_status) == ("Complete", None)


def test_paid_in_bng_moves_pending_to_processing():
    update = shipping_update_from_bng(bng_order("Open"), NopOrderState("Pending", "Pending", "NotYetShipped"))
    assert (update.order_status, update.shipping_status) == ("Processing", None)
    update = shipping_update_from_bng(bng_order("Open", payment="Unpaid"),
                                      NopOrderState("Pending", "Pending", "NotYetShipped"))
    assert not update.changed


def test_without_current_state_gives_the_target():
    update = shipping_update_from_bng(bng_order("Shipped"))
    assert (update.order_status, update.shipping_status) == ("Processing", "Shipped")
    assert not shipping_update_from_bng(bng_order("New", payment="Unpaid")).changed


def test_sample_order_4_brenda_delivered(nop_sample):
    order = next(o for o in nop_sample["orders"] if o["expected_id"] == 4)
    current = NopOrderState(order["order_status"]["id"], order["payment_status"]["id"],
                            order["shipping_status"]["id"])
    bng = bng_order("Shipped", [(((1, "1"), (2, "1")), "2026-01-29T10:00:00Z"),
                                (((3, "1"),), "2026-01-29T11:00:00Z")],
                    lines=((1, "1"), (2, "1"), (3, "1")))
    update = shipping_update_from_bng(bng, current)
    assert (update.order_status, update.shipping_status) == ("Complete", "Delivered")


def test_bad_bng_data():
    with pytest.raises(MappingError):
        shipping_update_from_bng({"status": "Teleported"})
    with pytest.raises(MappingError, match="not a number"):
        shipping_update_from_bng(bng_order("Shipped", [(((1, "many"),), None)]))


def test_gap_in_payment_table_does_not_hold_up_shipping():
    update = shipping_update_from_bng(bng_order("Shipped"), PAID_OPEN, mapping=StatusMapping(payment_to_nop={}))
    assert update.shipping_status == "Shipped"


def test_refunded_in_the_store_is_not_paid_again_by_bng():
    update = shipping_update_from_bng(bng_order("Invoiced"), NopOrderState("Processing", "Refunded", "Shipped"))
    assert not update.changed
