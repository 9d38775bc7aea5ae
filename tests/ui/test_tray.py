"""The tray icon's states, tooltip and menu; the app without a tray; one instance; start at login."""

from __future__ import annotations

import subprocess
import sys

import pytest
from PySide6.QtWidgets import QApplication

from tests.ui.test_state import status
from ui import autostart
from ui.controller import WINDOWS, AppController, window_class
from ui.icons import STATES, spin_frames, state_icon
from ui.single_instance import SingleInstance, server_name
from ui.tray import Tray
from ui.windows import Window


def test_every_window_the_tray_can_open_names_a_window_class():
    # The classes are imported on first use, by name: a typo would only show when a person clicks.
    assert {name: issubclass(window_class(name), Window) for name in WINDOWS} == dict.fromkeys(WINDOWS, True)


def test_every_state_has_its_own_icon(qtbot):
    images = {state: state_icon(state).pixmap(22, 22).toImage() for state in STATES}
    assert all(not image.isNull() for image in images.values())
    centre = {state: image.pixelColor(4, 11).name() for state, image in images.items()}
    assert len(set(centre.values())) == len(STATES)       # five colours, told apart at a glance
    assert len(spin_frames()) == 12


def test_state_tooltip_and_menu_follow_the_status(qtbot):
    tray = Tray()
    tray.update_status(status(open_errors=3))
    assert tray.state == "attention" and tray.actions["errors"].text() == "Errors (3)"
    assert tray.icon.toolTip().startswith("bngsync: needs attention") and "3 to fix" in tray.icon.toolTip()
    tray.update_status(status(queue={"pending": 4, "running": 1}))
    assert tray.state == "syncing" and tray.spinner.isActive()        # the arrows turn while syncing
    first = tray.icon.icon().cacheKey()
    qtbot.waitUntil(lambda: tray.icon.icon().cacheKey() != first, timeout=1000)
    tray.update_status(status(paused=True))
    assert tray.state == "paused" and not tray.spinner.isActive()
    assert tray.actions["pause"].text() == "Resume syncing" and not tray.sync_menu.isEnabled()
    tray.update_status(status(), problem="the BNG API key is not set")
    assert tray.state == "error" and tray.state_line.text() == "bngsync: connection problem"


def test_menu_choices_become_actions(qtbot):
    tray = Tray()
    seen = []
    tray.action.connect(seen.append)
    for name in ("sync:orders", "sync:all", "pause", "dashboard", "history", "errors", "mappings", "settings",
                 "about", "quit"):
        tray.actions[name].trigger()
    assert seen == ["sync:orders", "sync:all", "pause", "dashboard", "history", "errors", "mappings", "settings",
                    "about", "quit"]
    with qtbot.waitSignal(tray.action) as blocker:
        tray.icon.messageClicked.emit()       # clicking a notification opens the errors
    assert blocker.args == ["errors"]


def test_without_a_tray_the_dashboard_is_the_app(qtbot, service, monkeypatch):
    quits = []
    monkeypatch.setattr(QApplication, "quit", lambda *a: quits.append(True))
    controller = AppController(service, tray=False, start_agent=False)
    dashboard = controller.windows["dashboard"]
    qtbot.addWidget(dashboard)
    assert dashboard.isVisible() and "no system tray" in dashboard.note.label.text()
    dashboard.close()                                   # closing it quits: nothing would be left to reopen
    qtbot.waitUntil(lambda: bool(quits), timeout=5000)


def test_the_controller_opens_windows_and_runs_menu_actions(qtbot, service, monkeypatch):
    calls = []
    monkeypatch.setattr(service, "sync_later", calls.append)
    controller = AppController(service, tray=True, start_agent=False)
    for name in ("dashboard", "errors", "history", "mappings", "settings", "about"):
        controller.handle(name)
        qtbot.addWidget(controller.windows[name])
        assert controller.windows[name].isVisible()
    controller.handle("sync:inventory")
    qtbot.waitUntil(lambda: calls == ["inventory"], timeout=3000)
    controller.on_message("show")
    assert controller.windows["dashboard"].isVisible()
    controller.windows["dashboard"].navigate.emit("errors")
    assert controller.windows["errors"].isVisible()
    controller.tray.hide()
    controller.bridge.close()
    controller.bridge.runner.wait_idle()


def test_an_agent_that_cannot_start_says_why(qtbot, service):
    controller = AppController(service, tray=True, start_agent=True)   # no secrets are set in tests
    qtbot.waitUntil(lambda: controller.problem is not None, timeout=10_000)
    assert "could not start" in controller.problem and controller.tray.state == "error"
    dashboard = controller.show("dashboard")
    qtbot.addWidget(dashboard)
    assert dashboard.title.text() == "The agent is not running"
    controller.tray.hide()
    controller.bridge.close()
    controller.bridge.runner.wait_idle()


def test_a_second_launch_hands_over_to_the_first(qtbot, tmp_path):
    name = server_name(str(tmp_path))
    first = SingleInstance(name)
    assert first.claim()
    with qtbot.waitSignal(first.message, timeout=3000) as blocker:
        assert not SingleInstance(name).claim("errors")
    assert blocker.args == ["errors"]
    first.close()
    assert SingleInstance(name).claim()          # the name is free again


def test_a_second_process_is_turned_away(qtbot, tmp_path):
    first = SingleInstance(server_name(str(tmp_path)))
    assert first.claim()
    code = ("import sys; from PySide6.QtCore import QCoreApplication; app = QCoreApplication([]); "
            "from ui.single_instance import SingleInstance, server_name; "
            f"sys.exit(0 if not SingleInstance(server_name({str(tmp_path)!r})).claim() else 1)")
    with qtbot.waitSignal(first.message, timeout=10_000) as blocker:
        proc = subprocess.Popen([sys.executable, "-c", code])
        qtbot.waitUntil(lambda: proc.poll() is not None, timeout=10_000)
    assert proc.returncode == 0 and blocker.args == ["show"]
    first.close()


def test_start_at_login_with_an_xdg_entry(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert not autostart.is_enabled(windows=False)
    autostart.set_enabled(True, ["/opt/bng sync/bngsync-tray", "--background"], windows=False)
    text = (tmp_path / "autostart" / "bngsync.desktop").read_text()
    assert 'Exec="/opt/bng sync/bngsync-tray" --background' in text and "Type=Application" in text
    assert autostart.is_enabled(windows=False)
    autostart.set_enabled(False, windows=False)
    assert not autostart.is_enabled(windows=False)


class FakeRegistry:
    """Just enough of winreg for the Run key."""

    HKEY_CURRENT_USER, KEY_READ, KEY_SET_VALUE, REG_SZ = "HKCU", 1, 2, 1

    def __init__(self):
        self.values = {}

    class Key:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    def OpenKey(self, root, path, reserved, access):
        assert (root, path) == ("HKCU", autostart.RUN_KEY)
        return self.Key()

    CreateKeyEx = OpenKey

    def QueryValueEx(self, key, name):
        if name not in self.values:
            raise FileNotFoundError(name)
        return self.values[name], self.REG_SZ

    def SetValueEx(self, key, name, reserved, kind, value):
        self.values[name] = value

    def DeleteValue(self, key, name):
        if name not in self.values:
            raise FileNotFoundError(name)
        del self.values[name]


def test_start_at_login_with_the_windows_run_key():
    reg = FakeRegistry()
    assert not autostart.is_enabled(reg, windows=True)
    autostart.enable([r"C:\Program Files\bngsync\bngsync-tray.exe", "--background"], reg, windows=True)
    assert reg.values["bngsync"] == r'"C:\Program Files\bngsync\bngsync-tray.exe" --background'
    assert autostart.is_enabled(reg, windows=True)
    autostart.set_enabled(False, registry=reg, windows=True)
    assert reg.values == {} and not autostart.is_enabled(reg, windows=True)


@pytest.mark.parametrize("frozen", [False, True])
def test_the_start_command_runs_in_the_background(monkeypatch, frozen):
    monkeypatch.setattr(sys, "frozen", frozen, raising=False)
    assert autostart.command()[-1] == "--background"


def test_alerts_become_notifications_that_open_the_errors(qtbot, service, monkeypatch):
    from PySide6.QtWidgets import QSystemTrayIcon

    from agent.engine.alerts import Notification

    shown = []
    monkeypatch.setattr(QSystemTrayIcon, "supportsMessages", staticmethod(lambda: True))
    monkeypatch.setattr(QSystemTrayIcon, "isVisible", lambda self: True)
    monkeypatch.setattr(QSystemTrayIcon, "showMessage", lambda self, *args: shown.append(args))
    controller = AppController(service, tray=True, start_agent=False)
    note = Notification(incident="quarantine:order.create", kind="quarantine", severity="warning",
                        title="3 orders need attention", text="Order 1102: the item AP_MBP_15 does not exist in BNG",
                        count=3, total=3, first_at=0, last_at=0)
    service._emit({"type": "alert", "notification": note})          # as the runtime's alerts do
    qtbot.waitUntil(lambda: bool(shown), timeout=3000)
    title, text, icon, _ = shown[0]
    assert title == "3 orders need attention" and "AP_MBP_15" in text
    assert icon == QSystemTrayIcon.MessageIcon.Warning
    controller.tray.icon.messageClicked.emit()
    assert controller.windows["errors"].isVisible()
    qtbot.addWidget(controller.windows["errors"])
    controller.tray.hide()
    controller.bridge.close()
    controller.bridge.runner.wait_idle()


def test_saving_settings_after_a_failed_start_tries_again(qtbot, service, sandbox, present_flows):
    controller = AppController(service, tray=True, start_agent=True)
    qtbot.waitUntil(lambda: controller.problem is not None, timeout=10_000)
    settings = controller.window("settings")
    qtbot.addWidget(settings)
    settings.nop.url.setText(sandbox.nop_url)
    settings.nop.password.setText(sandbox.credentials.nop_password)
    settings.bng.url.setText(sandbox.bng_url)
    settings.bng.api_key.setText(sandbox.credentials.bng_api_key)
    settings.save()
    qtbot.waitUntil(lambda: service.running and controller.problem is None, timeout=20_000)
    controller.tray.hide()
    controller.bridge.close()
    service.stop()
    controller.bridge.runner.wait_idle()
