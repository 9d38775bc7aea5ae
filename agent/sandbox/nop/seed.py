"""A fresh store with nopCommerce's sample data, ids in the installer's insertion order.

Customers 1–3 are the admin (who is also the API user here) and the two built-in system accounts,
4–8 the sample customers; products 1–47 in file order; orders 1–5 with items 1–12 and shipments
1–3 (order 4 has #1 and #2, order 5 has #3). Installer quirks are kept: sample orders did not
decrement stock, sample shipments have ready-for-pickup and delivery dates but no shipped date.

Two deliberate additions, both documented in the reference's scenario rather than the install:
downloadable products and the virtual gift card are not shippable (sample order 3 is
ShippingNotRequired), and the store has a custom customer attribute "Customer Type"
(Retail / Wholesale / Education, matching the ERP's CUSTOMER_TYPE choices).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from agent.sandbox.nop.model import (
    ATTRIBUTE_CONTROL_TYPE,
    AttributeMapping,
    AttributeValue,
    ChoiceAttribute,
    ChoiceValue,
    Customer,
    Order,
    OrderItem,
    Product,
    ProductSpecification,
    Shipment,
    ShipmentItem,
    StockHistoryEntry,
    TierPrice,
    Warehouse,
    new_guid,
)
from agent.sandbox.nop.schema import ORDER_FIELDS, PRODUCT_FIELDS, defaults
from agent.sandbox.nop.state import (
    ROLE_ADMINISTRATORS,
    ROLE_API_USERS,
    ROLE_FORUM_MODERATORS,
    ROLE_GUESTS,
    ROLE_REGISTERED,
    NopState,
)
from agent.sandbox.nop.wire import ZERO, money

TAX_CATEGORIES = {"Books": 1, "Electronics & Software": 2, "Downloadable Products": 3, "Jewelry": 4, "Apparel": 5}
MANUFACTURERS = {"Apple": 1, "HP": 2, "Nike": 3}
CUSTOMER_TYPES = ("Retail", "Wholesale", "Education")
GIFT_WRAPPING_ID = 1
CUSTOMER_TYPE_ID = 1


class _Clock:
    """Install times: an hour before start, one millisecond apart, so ordering by time is stable."""

    def __init__(self, start: datetime):
        self.now = start

    def tick(self) -> datetime:
        self.now += timedelta(milliseconds=1)
        return self.now


def seed(state: NopState, data: dict[str, Any], api_username: str, api_password: str) -> None:
    clock = _Clock(state.clock() - timedelta(hours=1))
    with state.lock:
        for number, role in enumerate(data["customer_roles"], start=1):
            state.roles[number] = (role["name"], role["system_name"])
        _seed_customers(state, data, api_username, api_password, clock)
        _seed_specifications(state, data)
        _seed_products(state, data, clock)
        _seed_warehouses(state, data, clock)
        _seed_attributes(state)
        _seed_orders(state, data, clock)


def _address(state: NopState, raw: dict[str, Any], clock: _Clock, email: str | None = None) -> int:
    country = state.directory.country(raw["country_three_letter_iso_code"])
    province = raw.get("state_province")
    state_province = state.directory.state(country.two_letter_iso_code, province) if province else None
    address = state.add_address(
        first_name=raw.get("first_name"), last_name=raw.get("last_name"), email=email or raw.get("email"),
        company=raw.get("company"), country_id=country.id,
        state_province_id=state_province.id if state_province else None, city=raw.get("city"),
        address1=raw.get("address1"), address2=raw.get("address2"), zip_postal_code=raw.get("zip_postal_code"),
        phone_number=raw.get("phone_number"), fax_number=raw.get("fax_number"), created_on_utc=clock.tick())
    return address.id


def _seed_customers(state: NopState, data: dict[str, Any], username: str, password: str, clock: _Clock) -> None:
    admin_raw, search_engine, background = data["built_in_customers"]
    admin_address = _address(state, admin_raw["address"], clock, email=username)
    created = clock.tick()
    state.add_customer(Customer(
        id=state.next_id("customer"), customer_guid=new_guid(), email=username, username=username,
        first_name=admin_raw["first_name"], last_name=admin_raw["last_name"], password=password,
        role_ids=[ROLE_ADMINISTRATORS, ROLE_FORUM_MODERATORS, ROLE_REGISTERED, ROLE_API_USERS],
        created_on_utc=created, last_activity_date_utc=created, address_ids=[admin_address],
        billing_address_id=admin_address, shipping_address_id=admin_address), announce=False)
    for raw in (search_engine, background):
        created = clock.tick()
        state.add_customer(Customer(
            id=state.next_id("customer"), customer_guid=new_guid(), email=raw["email"], username=None,
            role_ids=[ROLE_GUESTS], is_system_account=True, system_name=raw["system_name"],
            admin_comment=raw.get("admin_comment"), created_on_utc=created, last_activity_date_utc=created),
            announce=False)
    for raw in data["sample_customers"]:
        address_id = _address(state, raw["billing_and_shipping_address"], clock)
        created = clock.tick()
        state.add_customer(Customer(
            id=state.next_id("customer"), customer_guid=new_guid(), email=raw["email"], username=raw["username"],
            first_name=raw["first_name"], last_name=raw["last_name"], password=raw["password"],
            active=raw.get("active", True), role_ids=[ROLE_REGISTERED], created_on_utc=created,
            last_activity_date_utc=created, address_ids=[address_id], billing_address_id=address_id,
            shipping_address_id=address_id), announce=False)


def _seed_specifications(state: NopState, data: dict[str, Any]) -> None:
    for raw in data["specification_attributes"]:
        state.add_specification_attribute(
            raw["name"], raw["display_order"],
            [(o["name"], o["display_order"], o.get("color_squares_rgb")) for o in raw["options"]])


def _product_fields(raw: dict[str, Any], installed: datetime) -> dict[str, Any]:
    fields = defaults(PRODUCT_FIELDS)
    not_shippable = raw["is_download"] or (raw["is_gift_card"] and raw.get("gift_card_type", {}).get("id") == 0)
    fields.update(
        name=raw["name"], sku=raw["sku"], short_description=raw.get("short_description"),
        visible_individually=raw["visible_individually"], published=raw["published"],
        price=money(raw["price"]), old_price=money(raw["old_price"]),
        customer_enters_price=raw["customer_enters_price"],
        minimum_customer_entered_price=money(raw.get("minimum_customer_entered_price", 0)),
        maximum_customer_entered_price=money(raw.get("maximum_customer_entered_price", 0)),
        stock_quantity=raw["stock_quantity"], manage_inventory_method_id=raw["manage_inventory_method"]["id"],
        low_stock_activity_id=raw["low_stock_activity"]["id"], min_stock_quantity=raw["min_stock_quantity"],
        notify_admin_for_quantity_below=raw["notify_admin_for_quantity_below"],
        display_stock_availability=raw["display_stock_availability"],
        order_minimum_quantity=raw["order_minimum_quantity"], order_maximum_quantity=raw["order_maximum_quantity"],
        is_ship_enabled=raw["is_ship_enabled"] and not not_shippable, is_free_shipping=raw["is_free_shipping"],
        weight=money(raw["weight"]), length=money(raw["length"]), width=money(raw["width"]),
        height=money(raw["height"]), show_on_home_page=raw["show_on_homepage"], mark_as_new=raw["mark_as_new"],
        is_gift_card=raw["is_gift_card"], is_download=raw["is_download"], is_recurring=raw["is_recurring"],
        is_rental=raw["is_rental"], has_sample_download=raw.get("has_sample_download", False),
        has_tier_prices=bool(raw["tier_prices"]), tax_category_id=TAX_CATEGORIES.get(raw["tax_category"] or "", 0),
        product_type_id=raw["product_type"]["id"], created_on_utc=installed, updated_on_utc=installed)
    if raw.get("recurring"):
        fields.update(recurring_cycle_length=raw["recurring"]["cycle_length"],
                      recurring_total_cycles=raw["recurring"]["total_cycles"])
    if raw.get("rental"):
        fields["rental_price_length"] = raw["rental"]["price_length"]
    return fields


def _seed_products(state: NopState, data: dict[str, Any], clock: _Clock) -> None:
    attribute_ids = {raw["name"]: raw["expected_id"] for raw in data["product_attributes"]}
    options = {(a.name, o.name): o.id for a in state.specification_attributes.values() for o in a.options}
    by_sku: dict[str, int] = {}
    for raw in data["products"]:
        installed = clock.tick()
        product = Product(id=state.next_id("product"), fields=_product_fields(raw, installed),
                          tags=list(raw["product_tags"]),
                          tier_prices=[TierPrice(t["quantity"], money(t["price"])) for t in raw["tier_prices"]],
                          backorder_mode_id=raw["backorder_mode"]["id"],
                          gift_card_type_id=raw.get("gift_card_type", {}).get("id", 0))
        by_sku[raw["sku"]] = product.id
        parent = raw.get("parent_grouped_product_sku")
        if parent:
            product.fields["parent_grouped_product_id"] = by_sku[parent]
        if raw.get("manufacturer"):
            product.manufacturer_mapping_ids.append(state.next_id("product_manufacturer"))
        for order, mapping in enumerate(raw["attribute_mappings"]):
            name = mapping["product_attribute"]
            attribute = AttributeMapping(
                id=state.next_id("attribute_mapping"), product_attribute_id=attribute_ids[name],
                product_attribute_name=name, attribute_control_type_id=mapping["attribute_control_type"]["id"],
                is_required=mapping["is_required"], text_prompt=mapping.get("text_prompt"), display_order=order)
            for value in mapping["values"]:
                attribute.values.append(AttributeValue(
                    id=state.next_id("attribute_value"), name=value["name"],
                    price_adjustment=money(value["price_adjustment"]), is_pre_selected=value["is_pre_selected"],
                    display_order=value["display_order"]))
            product.attributes.append(attribute)
        for spec in raw["specification_attributes"]:
            link = ProductSpecification(
                id=state.next_id("product_specification"), product_id=product.id, attribute_type_id=0,
                specification_attribute_option_id=options[(spec["attribute"], spec["option"])],
                allow_filtering=spec["allow_filtering"], show_on_product_page=spec["show_on_product_page"],
                display_order=spec["display_order"])
            state.product_specifications[link.id] = link
        state.add_product(product, announce=False)
        if product.fields["stock_quantity"] > 0:
            history = raw["expected_install_stock_quantity_history"]
            state.stock_history.append(StockHistoryEntry(product.id, history["quantity_adjustment"],
                                                         history["stock_quantity"], history["message"], installed))


def _seed_warehouses(state: NopState, data: dict[str, Any], clock: _Clock) -> None:
    for raw in data["warehouses"]:
        address_id = _address(state, {**raw, "first_name": None, "last_name": None}, clock)
        warehouse = Warehouse(id=state.next_id("warehouse"), name=raw["name"], address_id=address_id)
        state.warehouses[warehouse.id] = warehouse


def _seed_attributes(state: NopState) -> None:
    dropdown = ATTRIBUTE_CONTROL_TYPE["DropdownList"]
    state.checkout_attributes[GIFT_WRAPPING_ID] = ChoiceAttribute(
        id=GIFT_WRAPPING_ID, name="Gift wrapping", is_required=True, attribute_control_type_id=dropdown,
        shippable_product_required=True,
        values=[ChoiceValue(1, "No", ZERO, True, 1), ChoiceValue(2, "Yes", money(10), False, 2)])
    state.customer_attributes[CUSTOMER_TYPE_ID] = ChoiceAttribute(
        id=CUSTOMER_TYPE_ID, name="Customer Type", is_required=False, attribute_control_type_id=dropdown,
        values=[ChoiceValue(number, name, display_order=number) for number, name in enumerate(CUSTOMER_TYPES, 1)])


def _seed_orders(state: NopState, data: dict[str, Any], clock: _Clock) -> None:
    for raw in data["orders"]:
        customer = state.customers[raw["expected_customer_id"]]
        home = customer.billing_address_id or 0
        created = clock.tick()
        billing = state.clone_address(home, created).id
        shipping = state.clone_address(home, created).id if raw["has_shipping_address"] else None
        fields = defaults(ORDER_FIELDS)
        for key in ("order_subtotal_incl_tax", "order_subtotal_excl_tax", "order_total",
                    "order_sub_total_discount_incl_tax", "order_sub_total_discount_excl_tax",
                    "order_shipping_incl_tax", "order_shipping_excl_tax", "payment_method_additional_fee_incl_tax",
                    "payment_method_additional_fee_excl_tax", "order_tax", "order_discount", "refunded_amount",
                    "currency_rate"):
            fields[key] = money(raw[key])
        fields.update(
            tax_rates=raw["tax_rates"], customer_currency_code=raw["customer_currency_code"],
            payment_method_system_name=raw["payment_method_system_name"], shipping_method=raw["shipping_method"],
            shipping_rate_computation_method_system_name=raw["shipping_rate_computation_method_system_name"],
            pick_up_in_store=raw["pickup_in_store"], customer_ip=raw["customer_ip"], customer_id=customer.id,
            created_on_utc=created, paid_date_utc=created if raw["paid_date_utc"] else None,
            order_status_id=raw["order_status"]["id"], payment_status_id=raw["payment_status"]["id"],
            shipping_status_id=raw["shipping_status"]["id"])
        order = Order(id=state.next_id("order"), fields=fields, billing_address_id=billing,
                      shipping_address_id=shipping)
        for line in raw["order_items"]:
            product = state.products[line["expected_product_id"]]
            order.items.append(OrderItem(
                id=state.next_id("order_item"), order_id=order.id, product_id=product.id,
                quantity=line["quantity"], unit_price_incl_tax=money(line["unit_price_incl_tax"]),
                unit_price_excl_tax=money(line["unit_price_excl_tax"]), price_incl_tax=money(line["price_incl_tax"]),
                price_excl_tax=money(line["price_excl_tax"]), discount_amount_incl_tax=ZERO,
                discount_amount_excl_tax=ZERO, original_product_cost=ZERO,
                attribute_description=line.get("attribute_description"), attributes_xml=line.get("attributes_xml"),
                item_weight=product.fields["weight"] if product.fields["is_ship_enabled"] else None))
        for note in raw["order_notes"]:
            order.notes.append((created, note))
        state.add_order(order)
        for raw_shipment in raw["shipments"]:
            shipment = Shipment(id=state.next_id("shipment"), order_id=order.id,
                                tracking_number=raw_shipment["tracking_number"],
                                total_weight=money(raw_shipment["total_weight"]), ready_for_pickup_date_utc=created,
                                delivery_date_utc=created, created_on_utc=created)
            for raw_item in raw_shipment["items"]:
                item = next(i for i in order.items if state.products[i.product_id].sku == raw_item["product_sku"])
                shipment.items.append(ShipmentItem(id=state.next_id("shipment_item"), order_item_id=item.id,
                                                   quantity=raw_item["quantity"],
                                                   warehouse_id=raw_item["warehouse_id"]))
            state.shipments[shipment.id] = shipment

