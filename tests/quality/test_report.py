"""Flags, actions and the decision for an order."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from agent.config import ConfigError, QualitySettings, parse
from agent.quality import DEFAULT_ACTIONS, Flag, decide, summary
from agent.quality.report import flag


def test_the_strongest_action_decides():
    note = Flag("burst", "note", "Burst.", "ann@example.com", {})
    hold = Flag("total_spike", "hold", "Total.", "ann@example.com", {})
    quarantine = Flag("email", "quarantine", "E-mail.", "ann@@example", {})
    assert decide([]) == "ok"
    assert decide([note]) == "note"
    assert decide([note, hold]) == "hold"
    assert decide([quarantine, note, hold]) == "quarantine"


def test_the_summary_puts_the_strongest_first_in_plain_words():
    flags = [Flag("burst", "note", "Five orders in ten minutes.", "x", {}),
             Flag("email", "quarantine", "The e-mail address 'a@@b' is not valid.", "x", {})]
    assert summary(flags) == ("Quarantined: The e-mail address 'a@@b' is not valid.\n"
                              "Noted: Five orders in ten minutes.")
    assert summary([]) == "No problems found."


def test_defaults_are_conservative():
    learned = ("zero_price", "price_vs_list", "quantity_spike", "total_spike", "burst", "new_ship_country")
    assert all(DEFAULT_ACTIONS[check] == "note" for check in learned)
    assert "hold" not in DEFAULT_ACTIONS.values()


def test_flag_data_is_json_safe():
    f = flag("price_vs_list", "Reason.", "AP_MBP_13", None, unit_price=Decimal("180.00"), earlier={"US": 3},
             ids=(1, 2))
    assert json.loads(json.dumps(f.to_dict()))["data"] == {"unit_price": "180.00", "earlier": {"US": 3},
                                                            "ids": [1, 2]}


def test_actions_are_configurable_per_check_and_typos_are_refused():
    settings = QualitySettings(actions={"total_spike": "hold", "burst": "quarantine"})
    assert flag("total_spike", "r", "s", settings).action == "hold"
    assert flag("new_ship_country", "r", "s", settings).action == "note"
    with pytest.raises(ConfigError, match=r"quality\.actions: unknown check total_spikes"):
        parse({"nopcommerce": {"url": "https://shop.example.com", "username": "api@shop.example.com"},
               "bng": {"url": "http://localhost:8420/api/v1"}, "quality": {"actions": {"total_spikes": "hold"}}})
