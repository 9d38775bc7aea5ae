"""The setup assistant against the sandbox: navigation, validation, connection tests, BNG's lists, saving."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QWizard

from agent import config as config_mod
from agent import secrets
from ui.wizard import SetupWizard


@pytest.fixture
def wizard(qtbot, paths):
    w = SetupWizard(paths.config_file)
    w.asked = []
    w.answer = True
    w.confirm = lambda text: w.asked.append(text) or w.answer
    qtbot.addWidget(w)
    w.show()
    return w


def can_go_on(wizard) -> bool:
    return wizard.button(QWizard.WizardButton.NextButton).isEnabled()


def on(wizard, name) -> bool:
    return wizard.currentPage() is wizard.page_named(name)


def fill_nop(wizard, sandbox, password=None):
    wizard.nop.url.setText(sandbox.nop_url)
    wizard.nop.username.setText(sandbox.credentials.nop_username)
    wizard.nop.password.setText(password or sandbox.credentials.nop_password)


def test_the_whole_way_through(qtbot, wizard, sandbox, paths):
    assert on(wizard, "welcome")
    wizard.next()
    assert on(wizard, "nopcommerce") and not can_go_on(wizard)     # nothing typed yet
    wizard.nop.url.setText("shop.example.com")
    wizard.nop.username.setText("api@shop.example.com")
    wizard.nop.password.setText("x")
    assert not can_go_on(wizard) and "must start with http" in wizard.nop.problem.text()
    fill_nop(wizard, sandbox)
    assert can_go_on(wizard)
    wizard.nop.test_button.click()
    qtbot.waitUntil(lambda: wizard.nop.result.ok is not None, timeout=10_000)
    assert wizard.nop.result.ok, wizard.nop.result.text()
    wizard.next()
    assert on(wizard, "bng") and wizard.asked == []                 # tested: no question asked
    wizard.bng.url.setText(sandbox.bng_url)
    wizard.bng.api_key.setText(sandbox.credentials.bng_api_key)
    wizard.answer = False
    wizard.next()                                                    # untested: asks, and "No" stays
    assert on(wizard, "bng") and "has not been tested" in wizard.asked[0]
    wizard.bng.test_button.click()
    qtbot.waitUntil(lambda: wizard.bng.result.ok is not None, timeout=10_000)
    assert wizard.bng.result.ok, wizard.bng.result.text()
    wizard.next()
    assert on(wizard, "locations")
    page = wizard.page_named("locations")
    qtbot.waitUntil(lambda: page.isEnabled() and bool(wizard.meta.locations), timeout=10_000)
    assert wizard.locations.codes() == ["MAIN", "WEST"]              # BNG's own locations
    warehouses = wizard.locations.table.cellWidget(0, 2)
    assert warehouses.count() > 1                                     # and the store's warehouses
    warehouses.setCurrentIndex(1)
    wizard.locations.order_location.setCurrentIndex(wizard.locations.order_location.findData("MAIN"))
    wizard.next()
    assert on(wizard, "statuses") and can_go_on(wizard)
    wizard.next()
    assert on(wizard, "fields") and can_go_on(wizard)
    wizard.fields.table.cellWidget(0, 2).setText("App")              # not a choice of ORDER_SOURCE
    assert not can_go_on(wizard)
    wizard.fields.table.cellWidget(0, 2).setText("Web")
    assert can_go_on(wizard)
    wizard.next()
    assert on(wizard, "schedules")
    schedules = wizard.page_named("schedules")
    schedules.schedules.minutes["orders_minutes"].setValue(1)
    schedules.webhooks.enabled.setChecked(True)
    wizard.next()
    assert on(wizard, "summary")
    summary = wizard.page_named("summary").text.toPlainText()
    assert sandbox.nop_url in summary and "orders every 1 min" in summary and "Web orders ship from" in summary
    wizard.button(QWizard.WizardButton.FinishButton).click()
    assert wizard.result() == QWizard.DialogCode.Accepted
    settings = config_mod.load(paths.config_file)
    assert settings.nopcommerce.url == sandbox.nop_url and settings.bng.url == sandbox.bng_url
    assert settings.mapping.locations.order_location == "MAIN" and settings.mapping.locations.warehouses
    assert settings.schedules.orders_minutes == 1 and settings.webhooks.enabled
    assert secrets.get("nopcommerce") == sandbox.credentials.nop_password
    assert secrets.get("bng") == sandbox.credentials.bng_api_key and secrets.get("webhook")
    text = paths.config_file.read_text()
    assert sandbox.credentials.nop_password not in text and sandbox.credentials.bng_api_key not in text


def test_a_failed_test_is_explained_and_asked_about(qtbot, wizard, sandbox):
    wizard.next()
    fill_nop(wizard, sandbox, password="wrong password")
    wizard.nop.test_button.click()
    qtbot.waitUntil(lambda: wizard.nop.result.ok is not None, timeout=10_000)
    assert wizard.nop.result.ok is False and '"Api Users" customer role' in wizard.nop.result.text()
    wizard.answer = False
    wizard.next()
    assert on(wizard, "nopcommerce") and wizard.asked[0].startswith("The test failed: The store refused")


def test_without_bng_the_mapping_pages_still_work(qtbot, wizard, sandbox):
    wizard.next()
    fill_nop(wizard, sandbox)
    wizard.next()
    wizard.bng.url.setText("http://127.0.0.1:1/api/v1")
    wizard.bng.api_key.setText("key")
    wizard.next()
    page = wizard.page_named("locations")
    qtbot.waitUntil(lambda: page.isEnabled() and "could not be read" in page.status.text(), timeout=10_000)
    assert can_go_on(wizard)
    wizard.locations.new_code.setText("main")
    wizard.locations._add_code()
    assert wizard.locations.codes() == ["MAIN"]


def test_cancel_writes_nothing(qtbot, wizard, paths, sandbox):
    wizard.next()
    fill_nop(wizard, sandbox)
    wizard.button(QWizard.WizardButton.CancelButton).click()
    assert not paths.config_file.exists() and not secrets.is_set("nopcommerce")


def test_run_again_from_settings_saves_through_the_service(qtbot, service, paths, sandbox):
    saved = []
    service.save_settings = lambda settings: saved.append(settings)
    wizard = SetupWizard(paths.config_file, service.settings, service=service)
    wizard.confirm = lambda text: True
    qtbot.addWidget(wizard)
    wizard.show()
    assert wizard.nop.url.text() == "http://127.0.0.1:9"          # starts from the current settings
    wizard.next()
    fill_nop(wizard, sandbox)
    wizard.bng.api_key.setText("key")
    while wizard.currentPage() is not wizard.page_named("summary"):
        before = wizard.currentPage()
        wizard.next()
        qtbot.waitUntil(lambda: wizard.currentPage().isEnabled(), timeout=10_000)
        assert wizard.currentPage() is not before
    wizard.button(QWizard.WizardButton.FinishButton).click()
    assert saved and saved[0].nopcommerce.url == sandbox.nop_url


@pytest.fixture
def plain_site():
    """A web site without the store's API plugin: "/" answers, /token and /api do not."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def _answer(self):
            self.send_response(200 if self.path == "/" else 404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_GET = do_POST = _answer

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.mark.parametrize(("where", "expected"), [
    ("dns", "could not be found"),
    ("tls", "secure connection"),
    ("refused", "Nothing accepts connections"),
    ("plugin", "API plugin is missing"),
])
def test_each_failure_is_named_in_words(qtbot, wizard, sandbox, plain_site, where, expected):
    port = sandbox.nop_url.rsplit(":", 1)[1]
    url = {"dns": "http://no-such-host.invalid", "tls": f"https://127.0.0.1:{port}",
           "refused": "http://127.0.0.1:1", "plugin": plain_site}[where]
    wizard.next()
    fill_nop(wizard, sandbox)
    wizard.nop.url.setText(url)
    wizard.nop.test_button.click()
    qtbot.waitUntil(lambda: wizard.nop.result.ok is not None, timeout=15_000)
    assert wizard.nop.result.ok is False and expected in wizard.nop.result.text()
