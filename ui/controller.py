"""The app's conductor: starts the agent in the background, owns the tray and the windows.

Windows are created the first time they are asked for and kept (reopening is instant and keeps
filters). Without a system tray the dashboard is the app: it says so, and closing it quits.
The agent starts on the bridge's thread pool, so a slow start (a scheduler, a webhook port) never
freezes the window; if it cannot start, the reason is shown on the dashboard and in the tray.
"""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING, Any, cast

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QApplication, QSystemTrayIcon, QWidget

from ui.bridge import Bridge, describe
from ui.tray import Tray
from ui.windows import Window

if TYPE_CHECKING:
    from ui.windows.dashboard import DashboardWindow

log = logging.getLogger(__name__)

# Each window's module is imported when the window is first opened: the app that sits in the tray
# all day long never loads the code of windows nobody opened (2-3 MB of its memory).
WINDOWS: dict[str, str] = {
    "dashboard": "ui.windows.dashboard:DashboardWindow",
    "errors": "ui.windows.errors:ErrorsWindow",
    "history": "ui.windows.history:HistoryWindow",
    "mappings": "ui.windows.mappings:MappingsWindow",
    "settings": "ui.windows.settings:SettingsWindow",
    "about": "ui.windows.about:AboutWindow",
}


def window_class(name: str) -> type[Window]:
    module, _, cls = WINDOWS[name].partition(":")
    return getattr(importlib.import_module(module), cls)


class AppController(QObject):
    """Connects the tray, the windows and the service."""

    quitting = Signal()

    def __init__(self, service: Any, tray: bool | None = None, start_agent: bool = True,
                 bridge: Bridge | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self.service = service
        self.bridge = bridge or Bridge(service, parent=self)
        self.windows: dict[str, Window] = {}
        self.problem: str | None = None
        self.closing = False
        self.wizard: QWidget | None = None
        available = QSystemTrayIcon.isSystemTrayAvailable() if tray is None else tray
        self.tray: Tray | None = Tray(self) if available else None
        if self.tray is not None:
            self.tray.action.connect(self.handle)
            self.tray.show()
        self.bridge.status.connect(self._status)
        self.bridge.alert.connect(self._alert)
        self.bridge.problem.connect(self._problem)
        self.bridge.settings_changed.connect(self._settings_changed)
        if start_agent:
            self.start_agent()
        else:
            self.bridge.refresh()
        if self.tray is None:
            dashboard = cast("DashboardWindow", self.show("dashboard"))
            dashboard.set_no_tray(True)
            dashboard.closed.connect(self.quit)

    # -- the agent -----------------------------------------------------------------------------
    def start_agent(self) -> None:
        """Start the runtime off the UI thread (idempotent in the service)."""
        self.bridge.call(self.service.start, done=lambda _: self._started(), failed=self._start_failed)

    def _started(self) -> None:
        self.set_problem(None)
        self.bridge.refresh()

    def _settings_changed(self) -> None:
        """New settings (a password typed in Settings, the assistant run again) may fix a failed start."""
        if self.problem is not None and not self.service.running and not self.closing:
            self.start_agent()

    def _start_failed(self, error: BaseException) -> None:
        log.error("the agent could not start: %s", error)
        self.set_problem(f"The agent could not start: {describe(error)}. Check the connections in Settings.")

    def set_problem(self, problem: str | None) -> None:
        self.problem = problem
        dashboard = self._dashboard()
        if dashboard is not None:
            dashboard.set_problem(problem)
        if self.tray is not None:
            self.tray.update_status(self.bridge.last_status, problem)

    def _status(self, status: dict[str, Any]) -> None:
        if self.tray is not None:
            self.tray.update_status(status, self.problem)

    def _alert(self, notification: Any) -> None:
        if self.tray is not None:
            self.tray.notify(notification)

    def _problem(self, text: str) -> None:
        if self.tray is not None:
            self.tray.message("bngsync", text, "warning")
        dashboard = self._dashboard()
        if dashboard is not None:
            dashboard.show_problem(text)

    # -- windows -------------------------------------------------------------------------------
    def _dashboard(self) -> DashboardWindow | None:
        """The dashboard, if it was opened."""
        return cast("DashboardWindow | None", self.windows.get("dashboard"))

    def window(self, name: str) -> Window:
        if name not in self.windows:
            window: Any = window_class(name)(self.bridge)
            window.navigate.connect(self.show)
            if name == "settings":
                window.run_wizard.connect(self.run_wizard)
            if name == "dashboard":
                window.set_problem(self.problem)
            self.windows[name] = window
        return self.windows[name]

    def show(self, name: str) -> Window:
        window = self.window(name)
        window.bring_to_front()
        return window

    def run_wizard(self) -> None:
        from ui.wizard import SetupWizard

        if self.wizard is not None and self.wizard.isVisible():
            self.wizard.raise_()
            return
        wizard = SetupWizard(self.service.paths.config_file, self.service.settings, runner=self.bridge.runner,
                             service=self.service)
        wizard.accepted.connect(lambda: self.bridge.call(self.service.restart, done=lambda _: self._started(),
                                                         failed=self._start_failed))
        self.wizard = wizard
        wizard.show()

    # -- tray menu and second launches ---------------------------------------------------------
    def handle(self, action: str) -> None:
        if action.startswith("sync:"):
            flow = action.split(":", 1)[1]
            self.bridge.call(self.service.sync_later, flow, done=lambda _: self.bridge.refresh(),
                             failed=lambda exc: self._problem(f"Could not start the sync: {describe(exc)}"))
        elif action == "pause":
            paused = bool(self.bridge.last_status and self.bridge.last_status.get("paused"))
            self.bridge.call(self.service.resume if paused else self.service.pause)
        elif action == "quit":
            self.quit()
        elif action in WINDOWS:
            self.show(action)

    def on_message(self, message: str) -> None:
        """A second launch asked for something (usually "show")."""
        if message == "show":
            self.show("dashboard")
        elif message in WINDOWS:
            self.show(message)

    def quit(self) -> None:
        """Stop the agent in the background (running jobs finish), then leave the event loop."""
        if self.closing:
            return
        self.closing = True
        self.quitting.emit()
        self.bridge.close()
        if self.tray is not None:
            self.tray.hide()
        for window in self.windows.values():
            window.hide()
        app = QApplication.instance()
        self.bridge.call(self.service.stop, done=lambda _: QTimer.singleShot(0, app.quit),
                         failed=lambda _: QTimer.singleShot(0, app.quit))
