"""Mappings: editable tables checked against BNG's definitions as they are edited; Save writes the config."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtWidgets import QCheckBox

from agent import config as config_mod
from ui.editors import (
    CustomFieldsEditor,
    DimensionsEditor,
    LocationsEditor,
    OwnershipEditor,
    StatusEditor,
    combo_value,
    format_conditions,
    parse_conditions,
    parse_values,
)
from ui.windows.mappings import MappingsWindow

SAMPLE = json.loads((Path(__file__).resolve().parents[2] / "agent/sandbox/data/bng-sample-data.json").read_text())
WAREHOUSES = [{"id": 1, "name": "Main warehouse"}, {"id": 2, "name": "East coast"}]


@pytest.fixture
def window(qtbot, service, bridge, monkeypatch):
    monkeypatch.setattr(service, "bng_metadata", lambda: {k: SAMPLE[k] for k in
                                                          ("custom_fields", "dimensions", "locations")})
    monkeypatch.setattr(service, "nop_warehouses", lambda: WAREHOUSES)
    w = MappingsWindow(bridge)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitUntil(lambda: bool(w.meta.dimensions), timeout=5000)
    return w


def choose(box, data):
    index = box.findData(data)
    assert index >= 0, f"{data!r} is not offered"
    box.setCurrentIndex(index)


def test_opens_with_the_saved_mappings_and_bngs_choices(window):
    assert window.errors() == [] and not window.save_button.isEnabled()
    fields: CustomFieldsEditor = window.editor(CustomFieldsEditor)
    target = fields.table.cellWidget(0, 3)
    assert combo_value(target) == "ORDER_SOURCE"
    assert [target.itemText(i) for i in range(target.count())] == ["ORDER_SOURCE", "GIFT_WRAP", "WEB_ORDER_NUMBER"]
    dims: DimensionsEditor = window.editor(DimensionsEditor)
    assert dims.table.rowCount() == 6 and dims.table.item(0, 4).text() == "✓"


def test_a_value_bng_does_not_allow_is_marked_and_blocks_saving(window, qtbot):
    fields: CustomFieldsEditor = window.editor(CustomFieldsEditor)
    fields.table.cellWidget(0, 2).setText("App")     # ORDER_SOURCE is a choice: Web, Marketplace, Phone, Showroom
    assert "only accepts" in fields.table.item(0, 5).text()
    assert not window.save_button.isEnabled() and window.tabs.tabText(1).endswith("✗")
    assert "problem" in window.summary.text()
    fields.table.cellWidget(0, 4).setText("App=Web")  # a translation fixes it, as the agent translates too
    assert fields.table.item(0, 5).text() == "✓" and window.save_button.isEnabled()
    fields.table.cellWidget(0, 4).setText("App=Online")
    assert "only accepts" in fields.table.item(0, 5).text()
    fields.table.cellWidget(0, 4).clear()
    fields.table.cellWidget(0, 2).setText("Phone")
    assert fields.table.item(0, 5).text() == "✓" and window.save_button.isEnabled()


def test_dimension_rules_are_checked_ordered_and_saved(window, qtbot, paths):
    dims: DimensionsEditor = window.editor(DimensionsEditor)
    dims.table.cellWidget(0, 3).setText("country = US, PR; colour = red")
    assert "unknown condition 'colour'" in dims.table.item(0, 4).text()
    assert not window.save_button.isEnabled()
    dims.table.cellWidget(0, 3).setText("country = US, PR; total_min = 100")
    assert dims.table.item(0, 4).text() == "✓"
    dims.table.selectRow(3)             # the COSTCENTER catch-all
    dims.move(-1)                        # above the EU rule: the EU rule can never match now
    assert any("never used" in p.text for p in dims.problems())
    dims.move(1)
    assert not any("never used" in p.text for p in dims.problems())
    window.save_button.click()
    qtbot.waitUntil(lambda: window.banner.level == "ok", timeout=5000)
    saved = config_mod.load(paths.config_file).mapping.dimensions
    assert saved[0].when == {"country": ["US", "PR"], "total_min": "100"} and saved[3].value == "WEB-ROW"


def test_the_rule_test_shows_how_an_order_was_decided(window, qtbot, service, monkeypatch):
    seen = {}

    def preview(rules, order_id):
        seen.update(rules=rules, order_id=order_id)
        return ["order 42: ship-to country US", "COSTCENTER: rule 1 (country US → WEB-US) matches → WEB-US"]

    monkeypatch.setattr(service, "preview_dimensions", preview)
    dims: DimensionsEditor = window.editor(DimensionsEditor)
    dims.order_id.setValue(42)
    dims.test_button.click()
    qtbot.waitUntil(lambda: "matches → WEB-US" in dims.preview.toPlainText(), timeout=3000)
    assert seen["order_id"] == 42 and seen["rules"][0]["value"] == "WEB-US"


def test_statuses_warehouses_and_ownership_are_saved(window, qtbot, paths):
    statuses: StatusEditor = window.editor(StatusEditor)
    choose(statuses.tables["order_to_bng"].cellWidget(1, 1), "Released")     # Processing → Released
    choose(statuses.tables["payment_to_nop"].cellWidget(0, 1), None)          # Unpaid: not mapped
    assert any("Unpaid" in p.text for p in statuses.problems())               # a warning, not a blocker
    locations: LocationsEditor = window.editor(LocationsEditor)
    assert locations.codes() == ["MAIN", "WEST"]
    choose(locations.table.cellWidget(1, 2), 2)
    locations.table.cellWidget(1, 1).findChild(QCheckBox).setChecked(True)
    choose(locations.order_location, "WEST")
    ownership: OwnershipEditor = window.editor(OwnershipEditor)
    ownership.table.cellWidget(2, 1).setChecked(False)    # the web store owns prices
    assert window.save_button.isEnabled()
    window.save_button.click()
    qtbot.waitUntil(lambda: window.banner.level == "ok", timeout=5000)
    mapping = config_mod.load(paths.config_file).mapping
    assert mapping.status.order_to_bng["Processing"] == "Released" and "Unpaid" not in mapping.status.payment_to_nop
    assert mapping.locations.warehouses == {"WEST": 2} and mapping.locations.stock_locations == ["WEST"]
    assert mapping.locations.order_location == "WEST"
    assert "price" not in mapping.ownership.bng_owns and "sku" in mapping.ownership.bng_owns


def test_without_bngs_definitions_the_editors_still_work(qtbot, service, bridge, monkeypatch):
    def down():
        raise ConnectionError("BNG cannot be reached")

    monkeypatch.setattr(service, "bng_metadata", down)
    window = MappingsWindow(bridge)
    qtbot.addWidget(window)
    qtbot.waitUntil(lambda: window.banner.level == "warning", timeout=5000)
    assert "could not be read" in window.banner.label.text() and window.banner.button.text() == "Try again"
    dims: DimensionsEditor = window.editor(DimensionsEditor)
    assert dims.table.cellWidget(0, 1).isEditable() and window.errors() == []


def test_undo_changes(window):
    fields: CustomFieldsEditor = window.editor(CustomFieldsEditor)
    fields.add_rule()
    assert fields.table.rowCount() == 5 and window.revert_button.isEnabled()
    window.revert()
    assert fields.table.rowCount() == 4 and not window.revert_button.isEnabled()


def test_text_formats():
    assert parse_conditions("country = US, CA; total_min = 100;") == {"country": ["US", "CA"], "total_min": "100"}
    assert format_conditions({"country": ["US", "CA"], "total_min": "100"}) == "country = US, CA; total_min = 100"
    assert parse_values("Yes=true; No = false; junk") == {"Yes": "true", "No": "false"}
