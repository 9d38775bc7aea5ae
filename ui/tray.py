"""The tray icon: the agent's state at a glance, its menu, and its few notifications.

Five states, each with its own icon (see `ui.icons`): up to date, syncing (the arrows turn),
needs attention (records wait in Errors), connection problem, paused. The tooltip names the last
successful sync of every flow and today's counts. Notifications come only from the agent's alerts,
which are already grouped into digests, and clicking one opens the errors window.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QAction, QFont
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from ui.icons import LABELS, spin_frames, state_icon
from ui.state import FLOW_LABELS, overall_state, tooltip, waiting_for_you

SPIN_MS = 110
SEVERITY_ICONS = {
    "error": QSystemTrayIcon.MessageIcon.Critical,
    "warning": QSystemTrayIcon.MessageIcon.Warning,
    "info": QSystemTrayIcon.MessageIcon.Information,
}


class Tray(QObject):
    """Emits `action(name)` for menu choices: dashboard, history, errors, mappings, settings, about,
    pause, resume, quit, and `sync:<flow>` (or `sync:all`)."""

    action = Signal(str)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.state = "ok"
        self.status: dict[str, Any] | None = None
        self.icon = QSystemTrayIcon(state_icon("ok"), self)
        self.icon.setToolTip("bngsync")
        self.menu = QMenu()
        self.actions: dict[str, QAction] = {}
        self._build_menu()
        self.icon.setContextMenu(self.menu)
        self.icon.activated.connect(self._activated)
        self.icon.messageClicked.connect(lambda: self.action.emit("errors"))
        self._frame = 0
        self.spinner = QTimer(self)
        self.spinner.setInterval(SPIN_MS)
        self.spinner.timeout.connect(self._spin)

    def _add(self, menu: QMenu, name: str, text: str) -> QAction:
        action = menu.addAction(text)
        action.triggered.connect(lambda _=False, n=name: self.action.emit(n))
        self.actions[name] = action
        return action

    def _build_menu(self) -> None:
        self.state_line = self.menu.addAction("bngsync")
        self.state_line.setEnabled(False)
        self.menu.addSeparator()
        sync = self.menu.addMenu("Sync now")
        self.sync_menu = sync
        self._add(sync, "sync:all", "All flows")
        sync.addSeparator()
        for flow, label in FLOW_LABELS.items():
            self._add(sync, f"sync:{flow}", label)
        self._add(self.menu, "pause", "Pause syncing")
        self.menu.addSeparator()
        dashboard = self._add(self.menu, "dashboard", "Open dashboard")
        font = QFont(dashboard.font())
        font.setBold(True)
        dashboard.setFont(font)
        self._add(self.menu, "history", "Sync history")
        self._add(self.menu, "errors", "Errors")
        self._add(self.menu, "mappings", "Mappings")
        self._add(self.menu, "settings", "Settings")
        self.menu.addSeparator()
        self._add(self.menu, "about", "About bngsync")
        self._add(self.menu, "quit", "Quit")

    def show(self) -> None:
        self.icon.show()

    def hide(self) -> None:
        self.spinner.stop()
        self.icon.hide()

    # -- state ---------------------------------------------------------------------------------
    def update_status(self, status: dict[str, Any] | None, problem: str | None = None) -> None:
        self.status = status
        state = overall_state(status, problem)
        self.state = state
        if state == "syncing":
            if not self.spinner.isActive():
                self.spinner.start()
        else:
            self.spinner.stop()
            self.icon.setIcon(state_icon(state))
        self.icon.setToolTip(tooltip(status, problem))
        self.state_line.setText(f"bngsync: {LABELS[state].lower()}")
        errors = waiting_for_you(status)
        self.actions["errors"].setText(f"Errors ({errors})" if errors else "Errors")
        paused = bool(status and status.get("paused"))
        pause = self.actions["pause"]
        pause.setText("Resume syncing" if paused else "Pause syncing")
        pause.setData("resume" if paused else "pause")
        self.sync_menu.setEnabled(not paused)

    def _spin(self) -> None:
        frames = spin_frames()
        self._frame = (self._frame + 1) % len(frames)
        self.icon.setIcon(frames[self._frame])

    def _activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason in (QSystemTrayIcon.ActivationReason.Trigger, QSystemTrayIcon.ActivationReason.DoubleClick):
            self.action.emit("dashboard")

    # -- notifications -------------------------------------------------------------------------
    def notify(self, notification: Any) -> bool:
        """Show an alert as a balloon; returns False when the platform cannot show one."""
        if notification is None or not self.icon.isVisible() or not QSystemTrayIcon.supportsMessages():
            return False
        title = getattr(notification, "title", "bngsync")
        text = getattr(notification, "text", "") or ""
        severity = "info" if getattr(notification, "resolved", False) else getattr(notification, "severity", "info")
        self.icon.showMessage(title, text[:240], SEVERITY_ICONS.get(severity, SEVERITY_ICONS["info"]), 12_000)
        return True

    def message(self, title: str, text: str, severity: str = "info") -> None:
        if self.icon.isVisible() and QSystemTrayIcon.supportsMessages():
            self.icon.showMessage(title, text, SEVERITY_ICONS.get(severity, SEVERITY_ICONS["info"]), 10_000)
