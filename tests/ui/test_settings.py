"""Settings: connections (with tests against the sandbox), schedules, webhooks, notifications, start-up."""

from __future__ import annotations

import pytest

from agent import config as config_mod
from agent import secrets
from ui import autostart
from ui.windows.settings import SettingsWindow


@pytest.fixture
def window(qtbot, service, bridge, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    w = SettingsWindow(bridge, autostart_command=["/opt/bngsync/bngsync-tray", "--background"])
    qtbot.addWidget(w)
    w.show()
    return w


def saved(window, qtbot):
    window.save_button.click()
    qtbot.waitUntil(lambda: window.banner.level in ("ok", "error"), timeout=5000)
    return window.banner.level == "ok"


def test_shows_the_saved_settings(window, service):
    assert window.nop.url.text() == "http://127.0.0.1:9"
    assert window.nop.username.text() == "api@shop.example.com"
    assert window.schedules.minutes["orders_minutes"].value() == 2
    assert not window.webhooks.enabled.isChecked() and not window.start_at_login.isChecked()


def test_saving_writes_the_config_and_the_keyring(window, qtbot, paths, memory_keyring):
    window.nop.url.setText("https://shop.example.com/")
    window.nop.password.setText("s3cret")
    window.bng.api_key.setText("bng-key")
    window.schedules.minutes["orders_minutes"].setValue(5)
    window.schedules.quiet.setChecked(True)
    window.webhooks.enabled.setChecked(True)            # a secret is generated
    window.alerts.recipients.setText("office@example.com, it@example.com")
    window.start_at_login.setChecked(True)
    assert saved(window, qtbot)
    settings = config_mod.load(paths.config_file)
    assert settings.nopcommerce.url == "https://shop.example.com" and settings.schedules.orders_minutes == 5
    assert settings.schedules.quiet_hours is not None and settings.webhooks.enabled
    assert settings.alerts.email.recipients == ["office@example.com", "it@example.com"]
    assert secrets.get("nopcommerce") == "s3cret" and secrets.get("bng") == "bng-key"
    assert len(secrets.get("webhook")) > 20
    assert "s3cret" not in paths.config_file.read_text() and "bng-key" not in paths.config_file.read_text()
    assert autostart.is_enabled() and "Exec=/opt/bngsync/bngsync-tray --background" in \
        autostart.desktop_file().read_text()
    assert window.nop.password.text() == "" and "saved" in window.nop.password.placeholderText()


def test_a_wrong_value_is_named_and_nothing_is_saved(window, qtbot, paths):
    before = paths.config_file.read_text()
    window.nop.url.setText("shop.example.com")
    assert "Store URL: must start with http:// or https://" in window.nop.problem.text()
    assert not window.nop.test_button.isEnabled()
    assert not saved(window, qtbot)
    assert "must start with http" in window.banner.label.text() and paths.config_file.read_text() == before
    window.nop.url.setText("https://shop.example.com")
    window.bng.hosted.setChecked(True)
    assert window.bng.check() == "Company: hosted BNG needs the company code"


def test_connection_tests_answer_in_plain_words(window, qtbot, sandbox):
    window.nop.url.setText(sandbox.nop_url)
    window.nop.username.setText(sandbox.credentials.nop_username)
    window.nop.password.setText("wrong")
    window.nop.test_button.click()
    qtbot.waitUntil(lambda: window.nop.result.ok is not None, timeout=10_000)
    assert window.nop.result.ok is False and "Api Users" in window.nop.result.text()
    window.nop.password.setText(sandbox.credentials.nop_password)
    window.nop.test_button.click()
    qtbot.waitUntil(lambda: window.nop.result.ok is not None, timeout=10_000)
    assert window.nop.result.ok and window.nop.result.text().startswith("✓ Connected to the web store")
    window.bng.url.setText(sandbox.bng_url)
    window.bng.api_key.setText("not-the-key")
    window.bng.test_button.click()
    qtbot.waitUntil(lambda: window.bng.result.ok is not None, timeout=10_000)
    assert window.bng.result.ok is False and "did not accept the API key" in window.bng.result.text()
    window.bng.url.setText("http://127.0.0.1:1/api/v1")
    window.bng.test_button.click()
    qtbot.waitUntil(lambda: window.bng.result.ok is not None, timeout=10_000)
    assert "Nothing accepts connections" in window.bng.result.text()


def test_the_setup_assistant_can_be_run_again(window, qtbot):
    with qtbot.waitSignal(window.run_wizard, timeout=1000):
        next(b for b in window.findChildren(type(window.save_button)) if "setup assistant" in b.text()).click()
