"""Products flow against the sandbox: BNG is master of the catalog, the store keeps what it owns."""

from __future__ import annotations

from decimal import Decimal

from agent.sandbox.nop.model import SPECIFICATION_ATTRIBUTE_TYPE

NEW_ITEMS = ("DL_XPS_13", "LG_MX3_MS", "AN_USB_HB", "CF_BEAN_KG")
PRICE_FIXES = {"LE_IC_600": Decimal("525"), "BP_20_WSP": Decimal("83.9895"), "WM_OVR_TS": Decimal("25.2")}


def product(sandbox, sku):
    found = sandbox.nop.state.product_by_sku(sku)
    assert found is not None, f"no product {sku} in the store"
    return found


def specs_of(sandbox, sku) -> dict[str, str]:
    """The specification values a shopper sees on the product page: attribute name → value."""
    state = sandbox.nop.state
    shown = {}
    with state.lock:
        pid = product(sandbox, sku).id
        for link in state.product_specifications.values():
            if link.product_id != pid:
                continue
            option = state.specification_options[link.specification_attribute_option_id]
            attribute = state.specification_attributes[option.specification_attribute_id]
            custom = link.attribute_type_id == SPECIFICATION_ATTRIBUTE_TYPE["CustomText"]
            shown[attribute.name] = link.custom_value if custom else option.name
    return shown


def test_first_sync_adds_missing_items_and_fixes_prices(sandbox, make_runtime):
    runtime = make_runtime(sandbox)
    nop = sandbox.nop.state
    assert all(nop.product_by_sku(sku) is None for sku in NEW_ITEMS)
    assert product(sandbox, "LE_IC_600").fields["price"] == Decimal("500")

    report = runtime.sync("products", timeout=60)

    assert report["ok"], report
    for sku in NEW_ITEMS:
        bng_item = sandbox.bng.state.item(sku)
        created = product(sandbox, sku)
        assert created.fields["name"] == bng_item["description"]
        assert created.fields["price"] == Decimal(bng_item["unit_price"])
        assert created.fields["weight"] == Decimal(bng_item["weight"])
        assert created.fields["published"] is True
        assert created.manages_stock
    for sku, price in PRICE_FIXES.items():
        assert product(sandbox, sku).fields["price"] == price
    # the new products got BNG's stock at once (the coffee is sold by the kilo: 37.5 kg -> 37)
    assert product(sandbox, "CF_BEAN_KG").stock_quantity == 37
    assert product(sandbox, "DL_XPS_13").stock_quantity == 50


def test_service_items_do_not_manage_stock_and_a_second_sync_writes_nothing(sandbox, make_runtime):
    runtime = make_runtime(sandbox)
    nop = sandbox.nop.state
    gift = product(sandbox, "PG_CR_050")
    gift.fields["manage_inventory_method_id"] = 1           # somebody switched stock on by mistake
    nop.product_changed(gift.id)
    assert runtime.sync("products", timeout=60)["ok"]
    assert product(sandbox, "PG_CR_050").fields["manage_inventory_method_id"] == 0

    puts, spec_count = nop.counters["product_puts"], len(nop.product_specifications)
    report = runtime.sync("products", timeout=60, full=True)
    assert report["ok"] and report["flows"]["products"]["succeeded"] == 50
    assert nop.counters["product_puts"] == puts, "an unchanged catalog must not be written again"
    assert len(nop.product_specifications) == spec_count


def test_attributes_become_specification_options(sandbox, make_runtime):
    runtime = make_runtime(sandbox)
    nop = sandbox.nop.state
    store_own = specs_of(sandbox, "COMP_CUST")              # the store's own specification attributes
    assert runtime.sync("products", timeout=60)["ok"]

    shown = specs_of(sandbox, "COMP_CUST")
    assert shown == {**store_own, "Warranty months": "12", "Country of origin": "VN", "HS code": "8525.89",
                     "Lithium battery": "No"}
    assert specs_of(sandbox, "NK_FRC_RS")["Material"] == "Cotton"
    assert specs_of(sandbox, "EG_GEM_NL")["Hallmarked"] == "Yes"
    warranty = [a for a in nop.specification_attributes.values() if a.name == "Warranty months"]
    assert len(warranty) == 1, "one attribute per name, shared by every product"
    assert sorted(o.name for o in warranty[0].options) == ["12", "24", "36"]
    assert all(not link.attribute_type_id for link in nop.product_specifications.values()), \
        "values are options (filterable), not custom text"

    bng = sandbox.bng.state
    bng.set_item_attribute("COMP_CUST", "Warranty months", 48)      # a new option of an existing attribute
    bng.set_item_attribute("COMP_CUST", "Lithium battery", None)    # dropped in BNG
    bng.set_item_attribute("COMP_CUST", "Voltage", "230 V")         # a new attribute
    assert runtime.sync("products", timeout=60)["ok"]

    assert specs_of(sandbox, "COMP_CUST") == {**store_own, "Warranty months": "48", "Country of origin": "VN",
                                              "HS code": "8525.89", "Voltage": "230 V"}
    assert "48" in [o.name for o in warranty[0].options]
    assert specs_of(sandbox, "DS_VA3_PC")["Lithium battery"] == "Yes", "other products keep theirs"


def test_bng_never_overwrites_what_the_store_owns(sandbox, make_runtime):
    runtime = make_runtime(sandbox, mapping={"ownership": {"bng_owns": ["sku", "name", "weight", "stock",
                                                                        "attributes", "published"]}})
    nop = sandbox.nop.state
    laptop = product(sandbox, "AP_MBP_13")
    with nop.lock:
        laptop.fields.update(full_description="<p>Written by the shop</p>", meta_title="Best laptop",
                             price=Decimal("1799.0000"))
        laptop.tags = ["apple", "laptop"]
        nop.product_changed(laptop.id)
    bng = sandbox.bng.state
    bng.update_item("AP_MBP_13", description="Apple MacBook Pro 13\"", unit_price="1899.00",
                    long_description="BNG's text")
    assert runtime.sync("products", timeout=60)["ok"]

    laptop = product(sandbox, "AP_MBP_13")
    assert laptop.fields["name"] == "Apple MacBook Pro 13\""                # BNG owns the name
    assert laptop.fields["price"] == Decimal("1799.0000")                   # the store owns the price here
    assert laptop.fields["full_description"] == "<p>Written by the shop</p>"
    assert laptop.fields["meta_title"] == "Best laptop"
    assert laptop.tags == ["apple", "laptop"], "an update must send the current tags (the API wipes them)"

    bng.update_item("AP_MBP_13", active=False)
    assert runtime.sync("products", timeout=60)["ok"]
    assert product(sandbox, "AP_MBP_13").fields["published"] is False
    assert product(sandbox, "AP_MBP_13").tags == ["apple", "laptop"]


def test_a_new_item_added_in_bng_arrives_with_its_stock(sandbox, make_runtime):
    runtime = make_runtime(sandbox)
    assert runtime.sync("products", timeout=60)["ok"]
    assert runtime.sync("inventory", timeout=60)["ok"]
    sandbox.bng.state.add_item({"item_no": "USB_C_CBL", "description": "USB-C cable 1 m", "unit_price": "9.90",
                                "weight": "0.05", "attributes": {"Length": "1 m"}}, stock={"MAIN": "12", "WEST": "3.5"})
    assert runtime.sync("products", timeout=60)["ok"]
    cable = product(sandbox, "USB_C_CBL")
    assert cable.fields["price"] == Decimal("9.90") and specs_of(sandbox, "USB_C_CBL") == {"Length": "1 m"}
    assert cable.stock_quantity == 15
