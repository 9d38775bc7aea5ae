"""Configuration: defaults, one clear line per problem, secrets refused, round trip."""

from __future__ import annotations

import pytest

from agent import config

MINIMAL = {"nopcommerce": {"url": "https://shop.example.com", "username": "api@shop.example.com"},
           "bng": {"url": "http://localhost:8420/api/v1", "company": ""}}


def test_minimal_file_gets_working_defaults(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text(config.minimal(), encoding="utf-8")
    settings = config.load(path)
    assert settings.nopcommerce.url == "https://shop.example.com"
    assert settings.bng.requests_per_second == 10
    assert settings.mapping.status.order_to_bng["Pending"] == "New"
    assert settings.mapping.status.payment_to_bng["Paid"] == "Paid"
    assert [r.value for r in settings.mapping.dimensions][:4] == ["WEB-US", "WEB-CA", "WEB-EU", "WEB-ROW"]
    assert settings.webhooks.host == "127.0.0.1" and settings.webhooks.enabled is False


def test_every_problem_is_named_with_key_and_reason():
    bad = {"nopcommerce": {"url": "shop.example.com", "username": " "},
           "bng": {"urll": "http://x"}, "agent": {"workers": 0}}
    with pytest.raises(config.ConfigError) as err:
        config.parse(bad)
    problems = err.value.problems
    assert "nopcommerce.url: must start with http:// or https://" in problems
    assert "nopcommerce.username: must not be empty" in problems
    assert "bng.url: is required" in problems
    assert "bng.urll: is not a known setting (check the spelling)" in problems
    assert any(p.startswith("agent.workers:") for p in problems)
    assert len(problems) == 5


@pytest.mark.parametrize("section,key", [("nopcommerce", "password"), ("bng", "api_key")])
def test_secrets_are_refused_in_the_file(section, key):
    data = {k: dict(v) for k, v in MINIMAL.items()}
    data[section][key] = "hunter2"
    with pytest.raises(config.ConfigError) as err:
        config.parse(data)
    assert f"{section}.{key}" in err.value.problems[0]
    assert "hunter2" not in str(err.value)


def test_unreadable_and_broken_files(tmp_path):
    with pytest.raises(config.ConfigError, match="no configuration file"):
        config.load(tmp_path / "missing.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[nopcommerce\nurl=", encoding="utf-8")
    with pytest.raises(config.ConfigError, match="not valid TOML"):
        config.load(broken)


def test_save_and_load_round_trip(tmp_path):
    settings = config.parse(MINIMAL)
    settings.schedules.orders_minutes = 1
    settings.mapping.status.order_to_bng["Pending"] = "OnHold"
    path = tmp_path / "out" / "config.toml"
    config.save(settings, path)
    again = config.load(path)
    assert again == settings
