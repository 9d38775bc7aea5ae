"""The nopCommerce double's API over real HTTP: shapes, auth, paging, errors and the plugin's quirks."""

from __future__ import annotations

import base64
import json
import re
from datetime import timedelta
from decimal import Decimal

import httpx
import pytest

from agent.sandbox import NOP_PASSWORD, NOP_USERNAME
from agent.sandbox.nop import NopServer
from agent.sandbox.nop.wire import nop_date

CREDENTIALS = {"guest": False, "username": NOP_USERNAME, "password": NOP_PASSWORD, "remember_me": False}
NO_Z_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,7})?$")

ORDER_KEYS = {
    "id", "store_id", "pick_up_in_store", "payment_method_system_name", "customer_currency_code", "currency_rate",
    "customer_tax_display_type_id", "vat_number", "order_subtotal_incl_tax", "order_subtotal_excl_tax",
    "order_sub_total_discount_incl_tax", "order_sub_total_discount_excl_tax", "order_shipping_incl_tax",
    "order_shipping_excl_tax", "payment_method_additional_fee_incl_tax", "payment_method_additional_fee_excl_tax",
    "tax_rates", "order_tax", "order_discount", "order_total", "refunded_amount", "reward_points_were_added",
    "checkout_attribute_description", "customer_language_id", "affiliate_id", "customer_ip",
    "authorization_transaction_id", "authorization_transaction_code", "authorization_transaction_result",
    "capture_transaction_id", "capture_transaction_result", "subscription_transaction_id", "paid_date_utc",
    "shipping_method", "shipping_rate_computation_method_system_name", "custom_values_xml", "deleted",
    "created_on_utc", "customer_id", "billing_address", "shipping_address", "order_items", "order_status",
    "payment_status", "shipping_status", "customer_tax_display_type",
}
ORDER_ITEM_KEYS = {
    "id", "product_attributes", "quantity", "unit_price_incl_tax", "unit_price_excl_tax", "price_incl_tax",
    "price_excl_tax", "discount_amount_incl_tax", "discount_amount_excl_tax", "original_product_cost",
    "attribute_description", "download_count", "isDownload_activated", "license_download_id", "item_weight",
    "rental_start_date_utc", "rental_end_date_utc", "product", "product_id",
}
ADDRESS_KEYS = {"id", "first_name", "last_name", "email", "company", "country_id", "country", "state_province_id",
                "province", "city", "address1", "address2", "zip_postal_code", "phone_number", "fax_number",
                "customer_attributes", "created_on_utc"}
CUSTOMER_KEYS = {
    "password", "billing_address", "shipping_address", "addresses", "id", "customer_guid", "username", "email",
    "first_name", "last_name", "language_id", "currency_id", "date_of_birth", "gender", "admin_comment",
    "is_tax_exempt", "has_shopping_cart_items", "active", "deleted", "is_system_account", "system_name",
    "last_ip_address", "created_on_utc", "last_login_date_utc", "last_activity_date_utc", "registered_in_store_id",
    "subscribed_to_newsletter", "vat_number", "vat_number_status_id", "eu_cookie_law_accepted", "company", "role_ids",
}
PRODUCT_KEYS_SAMPLE = {
    "id", "name", "sku", "price", "old_price", "stock_quantity", "manage_inventory_method_id", "low_stock_activity_id",
    "published", "deleted", "created_on_utc", "updated_on_utc", "product_type", "tags", "attributes",
    "product_attribute_combinations", "product_specification_attributes", "associated_product_ids",
    "is_telecommunications_or_broadcasting_or_electronic_services", "special_price", "has_tier_prices", "se_name",
    "manufacturer_ids", "images", "required_product_ids", "vendor_id", "parent_grouped_product_id",
}


@pytest.fixture
def nop():
    with NopServer() as server:
        yield server


@pytest.fixture
def api(nop):
    with httpx.Client(base_url=nop.url, timeout=5) as client:
        token = client.post("/token", json=CREDENTIALS).json()["access_token"]
        client.headers["Authorization"] = f"Bearer {token}"
        yield client


def _ids(response: httpx.Response, root: str = "orders") -> list[int]:
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()[root]]


def _addresses(order: dict) -> dict:
    return {"billing_address": {"id": order["billing_address"]["id"]},
            "shipping_address": {"id": order["shipping_address"]["id"]}}


# -- tokens and auth ---------------------------------------------------------------------------

def test_token_response_is_a_plugin_token_response(nop):
    response = httpx.post(f"{nop.url}/token", json=CREDENTIALS)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "token_type", "created_at_utc", "expires_at_utc", "username", "customer_id",
                         "customer_guid"}
    assert body["token_type"] == "Bearer" and body["username"] == NOP_USERNAME and body["customer_id"] == 1
    assert body["created_at_utc"].endswith("Z") and body["expires_at_utc"].endswith("Z")
    header, claims, _signature = body["access_token"].split(".")
    assert json.loads(base64.urlsafe_b64decode(header + "==")) == {"alg": "HS256", "typ": "JWT"}
    claims = json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))
    assert claims["CustomerId"] == "1" and claims["exp"] - claims["nbf"] == 365 * 86400


def test_token_errors_are_plain_text(nop):
    missing = httpx.post(f"{nop.url}/token", json={**CREDENTIALS, "username": ""})
    assert (missing.status_code, missing.text) == (400, "Missing username")
    missing = httpx.post(f"{nop.url}/token", json={**CREDENTIALS, "password": None})
    assert (missing.status_code, missing.text) == (400, "Missing password")
    wrong = httpx.post(f"{nop.url}/token", json={**CREDENTIALS, "password": "nope"})
    assert (wrong.status_code, wrong.text) == (403, "Wrong username or password")


def test_api_needs_a_valid_bearer_token(nop, api):
    bare = httpx.get(f"{nop.url}/api/orders")
    assert bare.status_code == 401 and bare.content == b"" and bare.headers["www-authenticate"].startswith("Bearer")
    garbage = httpx.get(f"{nop.url}/api/orders", headers={"Authorization": "Bearer not.a.token"})
    assert garbage.status_code == 401
    assert api.get("/token/check").status_code == 200
    assert api.get("/api/orders").status_code == 200

    nop.state.revoke_tokens()
    revoked = api.get("/api/orders")
    assert revoked.status_code == 401 and "expired" in revoked.headers["www-authenticate"]
    assert api.get("/token/check").status_code == 401
    fresh = httpx.post(f"{nop.url}/token", json=CREDENTIALS).json()["access_token"]
    assert httpx.get(f"{nop.url}/api/orders", headers={"Authorization": f"Bearer {fresh}"}).status_code == 200


def test_expired_token_is_refused_after_the_clock_skew(nop):
    nop.state.token_lifetime = timedelta(minutes=-10)
    token = httpx.post(f"{nop.url}/token", json=CREDENTIALS).json()["access_token"]
    response = httpx.get(f"{nop.url}/api/orders", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401 and "The token expired at" in response.headers["www-authenticate"]


def test_missing_permission_or_role_is_403_with_empty_body(nop, api):
    nop.state.deny("orders")
    denied = api.get("/api/orders")
    assert denied.status_code == 403 and denied.content == b""
    assert api.get("/api/products", params={"limit": 1}).status_code == 200
    nop.state.allow()
    nop.state.api_role_member = False
    assert api.get("/api/products").status_code == 403
    nop.state.allow()
    assert api.get("/api/orders").status_code == 200


def test_a_shopper_token_is_not_an_api_user(nop):
    token = httpx.post(f"{nop.url}/token", json={**CREDENTIALS, "username": "steve_gates@nopCommerce.com",
                                                 "password": "123456"}).json()["access_token"]
    assert httpx.get(f"{nop.url}/api/orders", headers={"Authorization": f"Bearer {token}"}).status_code == 403


# -- shapes ----------------------------------------------------------------------------------------

def test_order_dto_shape(api):
    response = api.get("/api/orders/5")
    body = response.json()
    assert list(body) == ["orders"] and len(body["orders"]) == 1
    order = body["orders"][0]
    assert set(order) == ORDER_KEYS
    assert (order["order_status"], order["payment_status"], order["shipping_status"]) == ("Complete", "Paid",
                                                                                          "Delivered")
    assert order["customer_tax_display_type"] == "IncludingTax" and order["customer_id"] == 8
    assert set(order["billing_address"]) == ADDRESS_KEYS
    for address in (order["billing_address"], order["shipping_address"]):
        assert address["country"] is None and address["province"] is None
        assert address["country_id"] > 0 and address["state_province_id"] > 0
    item = order["order_items"][0]
    assert set(item) == ORDER_ITEM_KEYS and item["product_id"] == 32 and item["product"]["sku"] == "LV_511_JN"
    assert set(item["product"]) >= PRODUCT_KEYS_SAMPLE
    for value in (order["created_on_utc"], order["paid_date_utc"], order["billing_address"]["created_on_utc"]):
        assert NO_Z_DATE.match(value), value
    text = response.text
    assert '"order_total":43.5000' in text and '"currency_rate":1.0000' in text and '"order_tax":0.0000' in text
    assert Decimal(str(order["order_total"])) == Decimal("43.5")


def test_gift_card_line_keeps_its_xml_description_and_no_product_attributes(api):
    order = api.get("/api/orders/1").json()["orders"][0]
    gift = next(i for i in order["order_items"] if i["product"]["sku"] == "VG_CR_025")
    assert gift["product_attributes"] == [] and gift["attribute_description"].startswith("From: Steve Gates &lt;")


def test_customer_dto_shape(api):
    customer = api.get("/api/customers/4").json()["customers"][0]
    assert set(customer) == CUSTOMER_KEYS
    assert customer["email"] == "steve_gates@nopCommerce.com" and customer["role_ids"] == [3]
    assert customer["billing_address"]["id"] == customer["addresses"][0]["id"]
    assert customer["billing_address"]["country"] is None and customer["billing_address"]["city"] == "Los Angeles"
    assert "customer_type" not in json.dumps(customer).lower()


def test_product_dto_shape(api):
    product = api.get("/api/products/1").json()["products"][0]
    assert set(product) >= PRODUCT_KEYS_SAMPLE
    assert product["tags"] == ["awesome", "computer"] and product["manage_inventory_method_id"] == 1
    assert product["stock_quantity"] == 10000 and product["product_type"] == "SimpleProduct"
    assert [a["product_attribute_name"] for a in product["attributes"]] == ["Processor", "RAM", "HDD", "OS",
                                                                              "Software"]
    belt = api.get("/api/products/34").json()["products"][0]
    assert belt["sku"] == "RH_CHK_BL" and belt["stock_quantity"] == 0
    gift_card = api.get("/api/products/42").json()["products"][0]
    assert gift_card["manage_inventory_method_id"] == 0
    grouped = api.get("/api/products/13").json()["products"][0]
    assert grouped["product_type"] == "GroupedProduct" and grouped["associated_product_ids"] == [14, 15]


def test_error_shapes(api):
    missing = api.get("/api/orders/999")
    assert (missing.status_code, missing.json()) == (404, {"errors": {"order": ["not found"]}})
    for bad in ("0", "-3", "abc"):
        response = api.get(f"/api/orders/{bad}")
        assert (response.status_code, response.json()) == (400, {"errors": {"id": ["invalid id"]}})
    assert api.get("/api/products/999").json() == {"errors": {"product": ["not found"]}}
    assert api.get("/api/no-such-thing").status_code == 404


# -- paging and filters -------------------------------------------------------------------------------

def test_order_paging(api):
    for limit in (0, 251, "abc"):
        response = api.get("/api/orders", params={"limit": limit})
        assert (response.status_code, response.json()) == (400, {"errors": {"page": ["Invalid limit parameter"]}})
    response = api.get("/api/orders", params={"page": 0})
    assert (response.status_code, response.json()) == (400, {"errors": {"page": ["Invalid page parameter"]}})
    assert _ids(api.get("/api/orders", params={"limit": 2, "page": 2})) == [3, 4]
    assert _ids(api.get("/api/orders", params={"limit": 2, "page": 4})) == []
    assert _ids(api.get("/api/orders", params={"since_id": 3})) == [4, 5]
    assert api.get("/api/orders/count", params={"since_id": 3}).json() == {"count": 5}


def test_created_at_filters_are_strict_and_offsetless_dates_are_utc(nop, api):
    created = nop.state.orders[3].created_on_utc
    stamp = nop_date(created)
    assert _ids(api.get("/api/orders", params={"created_at_min": stamp})) == [4, 5]
    assert _ids(api.get("/api/orders", params={"created_at_max": stamp})) == [1, 2]
    assert _ids(api.get("/api/orders", params={"created_at_min": stamp + "Z"})) == [4, 5]
    shifted = (created + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%S.%f") + "+02:00"
    assert _ids(api.get("/api/orders", params={"created_at_max": shifted})) == [1, 2]
    assert _ids(api.get("/api/orders", params={"created_at_min": "yesterday"})) == [1, 2, 3, 4, 5]
    assert api.get("/api/orders/count", params={"created_at_min": stamp}).json() == {"count": 2}


def test_status_filters_by_name_and_ignore_numbers(api):
    assert _ids(api.get("/api/orders", params={"status": "processing"})) == [1, 4]
    assert _ids(api.get("/api/orders", params={"status": "Processing"})) == [1, 4]
    assert _ids(api.get("/api/orders", params={"status": "20"})) == [1, 2, 3, 4, 5]
    assert _ids(api.get("/api/orders", params={"status": "bogus"})) == [1, 2, 3, 4, 5]
    assert _ids(api.get("/api/orders", params={"payment_status": "PENDING"})) == [2, 3]
    assert _ids(api.get("/api/orders", params={"shipping_status": "shippingnotrequired"})) == [3]
    assert api.get("/api/orders/count", params={"status": "pending"}).json() == {"count": 2}
    assert _ids(api.get("/api/orders", params={"customer_id": 7})) == [4]
    assert _ids(api.get("/api/orders", params={"ids": "5,2,x"})) == [2, 5]


def test_fields_trims_items_but_keeps_the_root(api):
    body = api.get("/api/orders", params={"fields": "id,order_status"}).json()
    assert list(body) == ["orders"] and all(set(o) == {"id", "order_status"} for o in body["orders"])
    one = api.get("/api/orders/4", params={"fields": "order_items"}).json()["orders"][0]
    assert set(one) == {"order_items"} and "product_attributes" not in one["order_items"][0]  # [] dropped


def test_customers_list_count_and_search(nop, api):
    assert _ids(api.get("/api/customers"), "customers") == [1, 4, 5, 6, 7, 8]
    assert _ids(api.get("/api/customers", params={"since_id": 5, "limit": 2}), "customers") == [6, 7]
    assert api.get("/api/customers/count").json() == {"count": 8}
    nop.shoppers.place_order(guest=True, anomalies=[])
    assert api.get("/api/customers/count").json() == {"count": 9}           # the guest counts
    assert _ids(api.get("/api/customers"), "customers") == [1, 4, 5, 6, 7, 8]  # but is not listed
    found = api.get("/api/customers/search", params={"query": "email:steve_gates@nopcommerce.com"})
    assert _ids(found, "customers") == [4]
    assert api.get("/api/customers/search", params={"query": "email:x", "limit": 1}).status_code == 400
    response = api.get("/api/customers", params={"page": 0})
    assert response.json() == {"errors": {"page": ["Invalid request parameters"]}}


# -- PUT /api/orders ------------------------------------------------------------------------------------

def test_order_put_without_both_address_ids_is_a_500(api):
    response = api.put("/api/orders/2", json={"order": {"order_status": "Processing"}})
    assert response.status_code == 500
    assert response.json() == {"errors": {"internal_server_error": ["please, contact the store owner"]}}
    order = api.get("/api/orders/2").json()["orders"][0]
    response = api.put("/api/orders/2", json={"order": {"billing_address": {"id": order["billing_address"]["id"]},
                                                         "order_status": "Processing"}})
    assert response.status_code == 500
    assert api.get("/api/orders/2").json()["orders"][0]["order_status"] == "Pending"


def test_order_put_merges_only_sent_keys_and_clears_shipping_method(nop, api):
    order = api.get("/api/orders/2").json()["orders"][0]
    assert order["shipping_method"] == "Next Day Air"
    response = api.put("/api/orders/2", json={"order": {**_addresses(order), "order_status": "Complete"}})
    assert response.status_code == 200, response.text
    updated = response.json()["orders"][0]
    assert updated["order_status"] == "Complete" and updated["payment_status"] == "Pending"   # no business logic
    assert updated["shipping_method"] is None
    again = api.get("/api/orders/2").json()["orders"][0]
    assert again["shipping_method"] is None and again["order_total"] == order["order_total"]
    assert nop.state.customers[5].billing_address_id == order["billing_address"]["id"]   # customer's default moved

    kept = api.put("/api/orders/2", json={"order": {**_addresses(order), "shipping_method": "Ground",
                                                     "shipping_rate_computation_method_system_name":
                                                         "Shipping.FixedByWeightByTotal"}})
    assert kept.json()["orders"][0]["shipping_method"] == "Ground"
    assert api.get("/api/orders/2").json()["orders"][0]["shipping_method"] == "Ground"


def test_order_put_takes_exact_enum_names_only(api):
    order = api.get("/api/orders/2").json()["orders"][0]
    for value in ("complete", 30):
        response = api.put("/api/orders/2", json={"order": {**_addresses(order), "order_status": value}})
        assert response.status_code == 422
        assert response.json() == {"errors": {"Invalid order_status type": ["Invalid Property Type"]}}
    assert api.put("/api/orders/2", json={"orders": {}}).status_code == 422


def test_order_put_cancel_does_not_return_stock(nop, api):
    placed = nop.shoppers.place_order(lines=[("LV_511_JN", 3)], anomalies=[], payment_status="Paid")
    stock = api.get("/api/products/32").json()["products"][0]["stock_quantity"]
    assert stock == 10000 - 3
    nop.state.order_put_item_lookup_defect = False
    response = api.put(f"/api/orders/{placed['id']}", json={"order": {**_addresses(placed),
                                                                       "order_status": "Cancelled"}})
    assert response.status_code == 200 and response.json()["orders"][0]["order_status"] == "Cancelled"
    assert api.get("/api/products/32").json()["products"][0]["stock_quantity"] == stock


def test_order_put_fails_once_item_ids_pass_product_ids(nop, api):
    orders = nop.shoppers.place_orders(15, anomalies=[])
    late = next(o for o in orders if any(i["id"] > len(nop.state.products) for i in o["order_items"]))
    body = {"order": {**_addresses(late), "order_status": "Processing"}}
    if late["shipping_address"] is None:
        body["order"]["shipping_address"] = {"id": late["billing_address"]["id"]}
    response = api.put(f"/api/orders/{late['id']}", json=body)
    assert response.status_code == 500
    nop.state.order_put_item_lookup_defect = False
    assert api.put(f"/api/orders/{late['id']}", json=body).status_code == 200


# -- products -----------------------------------------------------------------------------------------

def test_product_put_sets_absolute_stock_and_wipes_tags_when_omitted(nop, api):
    before = api.get("/api/products/1").json()["products"][0]
    response = api.put("/api/products/1", json={"product": {"stock_quantity": 25, "tags": before["tags"]}})
    assert response.status_code == 200, response.text
    after = response.json()["products"][0]
    assert after["stock_quantity"] == 25 and after["tags"] == ["awesome", "computer"]
    assert after["updated_on_utc"] > before["updated_on_utc"] and after["price"] == before["price"]
    wiped = api.put("/api/products/1", json={"product": {"stock_quantity": 30}}).json()["products"][0]
    assert wiped["stock_quantity"] == 30 and wiped["tags"] == []
    assert all(h.stock_quantity != 30 for h in nop.state.stock_history if h.product_id == 1)   # no history row
    bad = api.put("/api/products/1", json={"product": {"stock_quantity": "lots"}})
    assert bad.status_code == 422
    assert bad.json() == {"errors": {"Invalid stock_quantity type": ["Invalid Property Type"]}}
    assert api.put("/api/products/999", json={"product": {"stock_quantity": 1}}).status_code == 404


def test_product_filters(nop, api):
    assert _ids(api.get("/api/products", params={"ids": "3,1,2", "fields": "id"}), "products") == [1, 2, 3]
    assert _ids(api.get("/api/products", params={"since_id": 45, "fields": "id"}), "products") == [46, 47]
    assert api.get("/api/products", params={"limit": 0}).json() == {"errors": {"limit": ["invalid limit parameter"]}}
    stamp = nop_date(nop.state.clock())
    api.put("/api/products/7", json={"product": {"published": False, "tags": []}})
    assert _ids(api.get("/api/products", params={"updated_at_min": stamp, "fields": "id"}), "products") == [7]
    assert _ids(api.get("/api/products", params={"published_status": "false", "fields": "id"}), "products") == [7]
    everything = api.get("/api/products", params={"published_status": "unpublished", "limit": 250, "fields": "id"})
    assert len(_ids(everything, "products")) == 47        # the documented words are ignored by the 4.90 fork
    assert api.get("/api/products/count").json() == {"count": 47}


def test_create_product(api):
    response = api.post("/api/products", json={"product": {"name": "Web Only Mug", "sku": "MUG_WEB", "price": 9.5,
                                                            "tags": ["mug"], "manage_inventory_method_id": 1,
                                                            "stock_quantity": 12}})
    assert response.status_code == 200, response.text
    product = response.json()["products"][0]
    assert product["id"] == 48 and product["tags"] == ["mug"] and '"price":9.5000' in response.text
    assert api.post("/api/products", json={"product": {"sku": "NO_NAME"}}).status_code == 422


def test_warehouse_inventory(api):
    warehouses = api.get("/api/warehouses").json()["warehouses"]
    assert [w["name"] for w in warehouses] == ["Warehouse 1 (New York)", "Warehouse 2 (Los Angeles)"]
    created = api.post("/api/product_warehouse_inventories", json={"product_warehouse_inventory": {
        "product_id": 5, "warehouse_id": 2, "stock_quantity": 7}})
    assert created.status_code == 200, created.text
    row = created.json()["product_warehouse_inventories"][0]
    updated = api.put(f"/api/product_warehouse_inventories/{row['id']}",
                      json={"product_warehouse_inventory": {"stock_quantity": 40}})
    assert updated.json()["product_warehouse_inventories"][0]["stock_quantity"] == 40
    listed = api.get("/api/product_warehouse_inventories", params={"product_id": 5}).json()
    assert listed["product_warehouse_inventories"][0]["reserved_quantity"] == 0


def test_specification_attributes(api):
    attributes = api.get("/api/specificationattributes").json()["specification_attributes"]
    assert [a["name"] for a in attributes] == ["Screensize", "Color", "CPU Type", "Memory", "Hard drive"]
    red = next(o for o in attributes[1]["specification_attribute_options"] if o["name"] == "Red")
    created = api.post("/api/specificationattributes", json={"specification_attribute": {
        "name": "Material", "specification_attribute_options": [{"name": "Leather"}, {"name": "Canvas"}]}})
    assert [o["name"] for o in created.json()["specification_attributes"][0]["specification_attribute_options"]] == \
        ["Leather", "Canvas"]
    link = api.post("/api/productspecificationattributes", json={"product_specification_attribute": {
        "product_id": 34, "specification_attribute_option_id": red["id"], "allow_filtering": True}})
    assert link.status_code == 200, link.text
    link_id = link.json()["product_specification_attributes"][0]["id"]
    listed = api.get("/api/productspecificationattributes", params={"product_id": 34}).json()
    assert [s["id"] for s in listed["product_specification_attributes"]] == [link_id]
    product = api.get("/api/products/34").json()["products"][0]
    assert product["product_specification_attributes"][0]["specification_attribute_option_id"] == red["id"]
    assert api.delete(f"/api/productspecificationattributes/{link_id}").json() == {}
    assert api.get("/api/products/34").json()["products"][0]["product_specification_attributes"] == []


# -- shipments ----------------------------------------------------------------------------------------------

def test_shipments_are_snake_case_and_never_move_the_order(api):
    shipments = api.get("/api/orders/4/shipments").json()["shipments"]
    assert [s["id"] for s in shipments] == [1, 2]
    first = shipments[0]
    assert set(first) == {"id", "tracking_number", "admin_comment", "weight", "created_on_utc", "shipped_date_utc",
                          "delivery_date_utc", "ready_for_pickup_date_utc", "shipment_items"}
    assert first["shipped_date_utc"] is None and first["delivery_date_utc"] is not None
    assert [i["quantity"] for i in first["shipment_items"]] == [1, 1]
    order = api.get("/api/orders/1").json()["orders"][0]
    item_ids = [i["id"] for i in order["order_items"]]
    created = api.post("/api/orders/1/shipments", json={"shipment": {
        "tracking_number": "1Z999", "weight": 3.5, "shipped_date_utc": "2026-02-01T10:00:00Z",
        "shipment_items": [{"order_item_id": item_ids[0], "quantity": 1}]}})
    assert created.status_code == 200, created.text
    shipment = created.json()["shipments"][0]
    assert shipment["tracking_number"] == "1Z999" and '"weight":3.5000' in created.text
    assert shipment["shipped_date_utc"] == "2026-02-01T10:00:00"
    assert api.get("/api/orders/1").json()["orders"][0]["shipping_status"] == "NotYetShipped"
    edited = api.put(f"/api/orders/1/shipments/{shipment['id']}", json={"shipment": {"tracking_number": "1Z000"}})
    assert edited.json()["shipments"][0]["tracking_number"] == "1Z000"
    assert api.get("/api/orders/99/shipments").json() == {"errors": {"order": ["not found"]}}
    assert api.delete(f"/api/orders/1/shipments/{shipment['id']}").json() == {}
    assert api.delete(f"/api/orders/1/shipments/{shipment['id']}").status_code == 500


# -- directory ----------------------------------------------------------------------------------------------

def test_directory(nop, api):
    countries = api.get("/api/countries").json()["countries"]
    usa = next(c for c in countries if c["two_letter_iso_code"] == "US")
    assert usa["id"] != 1 and usa["ThreeLetterIsoCode"] == "USA" and usa["name"] == "United States of America"
    assert set(usa) == {"id", "name", "allows_billing", "allows_shipping", "two_letter_iso_code",
                        "ThreeLetterIsoCode", "numeric_iso_code", "subject_to_vat"}
    states = api.get("/api/stateprovinces").json()["state_provinces"]
    california = next(s for s in states if s["name"] == "California")
    assert california["abbreviation"] == "CA" and "country_id" not in california
    steve = api.get("/api/customers/4").json()["customers"][0]["billing_address"]
    assert steve["state_province_id"] == california["id"] and steve["country_id"] == usa["id"]
    assert {s["abbreviation"] for s in states} >= {"NY", "AK", "SK", "ON", "NSW"}
    currencies = api.get("/api/currencies")
    rates = {c["currency_code"]: c["rate"] for c in currencies.json()["currencies"]}
    assert rates["USD"] == 1 and rates["EUR"] == 0.86 and rates["GBP"] == 0.75 and rates["CAD"] == 1.32
    assert '"rate":0.8600' in currencies.text
    assert api.get("/api/currencies/primary").json()["currency_code"] == "USD"


# -- faults from a plain client ---------------------------------------------------------------------------------

def test_injected_error_and_reset_reach_a_plain_client(nop, api):
    nop.faults.add(route="/api/orders", error_rate=1.0, statuses=[500], remaining=1)
    assert api.get("/api/orders").status_code == 500
    assert api.get("/api/orders").status_code == 200
    nop.faults.add(route="/api/products", reset_rate=1.0, remaining=1)
    with pytest.raises(httpx.TransportError):
        api.get("/api/products")
    assert api.get("/api/products", params={"limit": 1}).status_code == 200


# -- admin routes -----------------------------------------------------------------------------------------------

def test_admin_routes(nop, api):
    placed = httpx.post(f"{nop.url}/_sandbox/nop/orders", json={"count": 2, "payment_status": "Pending",
                                                                "anomalies": ["unknown_sku"]})
    assert placed.status_code == 200, placed.text
    ids = placed.json()["orders"]
    assert placed.json()["labels"][str(ids[0])][0] == "unknown_sku"
    paid = httpx.post(f"{nop.url}/_sandbox/nop/orders/{ids[0]}/mark_paid").json()["order"]
    assert paid["payment_status"] == "Paid" and paid["order_status"] in ("Processing", "Complete")
    cancelled = httpx.post(f"{nop.url}/_sandbox/nop/orders/{ids[1]}/cancel")
    assert cancelled.json()["order"]["order_status"] == "Cancelled"
    assert httpx.post(f"{nop.url}/_sandbox/nop/orders/{ids[1]}/cancel").status_code == 409
    state = httpx.get(f"{nop.url}/_sandbox/nop/state").json()
    assert state["orders"] == 7 and state["switches"]["order_put_item_lookup_defect"] is True
    httpx.post(f"{nop.url}/_sandbox/nop/tokens/revoke")
    assert api.get("/api/orders").status_code == 401
