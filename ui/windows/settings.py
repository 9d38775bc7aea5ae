"""Settings: connections, schedules, webhooks, notifications and start-up, without a config file.

Save validates everything first (a wrong value is named, nothing is half-saved), puts secrets in
the keyring, writes the rest to the config file through the service, and restarts a running agent
so new connection settings take effect. The setup assistant can be run again from here.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from PySide6.QtCore import Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from agent import secrets
from agent.config import AlertSettings, Settings
from ui import autostart
from ui.forms import BngForm, NopForm, SchedulesForm, WebhookForm, save_secrets, secret_edit
from ui.widgets import Banner, Card, heading, muted
from ui.windows import Window


class AlertsForm(QWidget):
    """When people are told, and where (besides the tray): e-mail and a chat webhook."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        form = QFormLayout(self)
        form.addRow(muted("The tray shows a notification when records need you or a connection is down; "
                          "repeats are grouped. E-mail and chat reach people who are not at this computer."))
        self.stale = QSpinBox()
        self.stale.setRange(1, 10_000)
        self.stale.setSuffix(" min")
        form.addRow("Alert when a flow has failed for", self.stale)
        self.digest = QSpinBox()
        self.digest.setRange(1, 1440)
        self.digest.setSuffix(" min")
        form.addRow("Group repeats into one message every", self.digest)
        self.email = QCheckBox("Send alerts by e-mail")
        form.addRow(self.email)
        self.host = QLineEdit()
        self.port = QSpinBox()
        self.port.setRange(1, 65535)
        self.security = QComboBox()
        for label, value in (("STARTTLS", "starttls"), ("TLS", "tls"), ("None", "none")):
            self.security.addItem(label, value)
        self.username = QLineEdit()
        self.password = secret_edit("SMTP password")
        self.sender = QLineEdit()
        self.recipients = QLineEdit()
        self.recipients.setPlaceholderText("office@example.com, it@example.com")
        for box in (self.stale, self.digest, self.port):
            box.setMaximumWidth(140)
        for label, widget in (("SMTP server", self.host), ("Port", self.port), ("Security", self.security),
                              ("User", self.username), ("Password", self.password), ("From", self.sender),
                              ("To", self.recipients)):
            form.addRow(label, widget)
        self.chat = QLineEdit()
        self.chat.setPlaceholderText("https://hooks.slack.com/… or a Teams workflow URL (optional)")
        form.addRow("Chat webhook", self.chat)
        self.email.toggled.connect(self._email_toggled)
        self.base = AlertSettings()

    def _email_toggled(self, on: bool) -> None:
        for widget in (self.host, self.port, self.security, self.username, self.password, self.sender,
                       self.recipients):
            widget.setEnabled(on)

    def load(self, settings: AlertSettings, smtp_saved: bool = False) -> None:
        self.base = settings
        self.stale.setValue(settings.stale_flow_minutes)
        self.digest.setValue(settings.digest_minutes)
        email = settings.email
        self.email.setChecked(email.enabled)
        self.host.setText(email.host)
        self.port.setValue(email.port)
        self.security.setCurrentIndex(max(self.security.findData(email.security), 0))
        self.username.setText(email.username)
        self.password.setPlaceholderText("saved — type to replace" if smtp_saved else "SMTP password")
        self.sender.setText(email.sender)
        self.recipients.setText(", ".join(email.recipients))
        self.chat.setText(settings.chat_webhook_url)
        self._email_toggled(email.enabled)

    def section(self) -> AlertSettings:
        data = self.base.model_dump()
        data.update(stale_flow_minutes=self.stale.value(), digest_minutes=self.digest.value(),
                    chat_webhook_url=self.chat.text().strip())
        data["email"] = {**data["email"], "enabled": self.email.isChecked(), "host": self.host.text().strip(),
                         "port": self.port.value(), "security": self.security.currentData(),
                         "username": self.username.text().strip(), "sender": self.sender.text().strip(),
                         "recipients": [r.strip() for r in self.recipients.text().split(",") if r.strip()]}
        return AlertSettings.model_validate(data)


class SettingsWindow(Window):
    """All settings a person may change; `run_wizard` asks the controller for the setup assistant."""

    run_wizard = Signal()

    def __init__(self, bridge: Any = None, parent: QWidget | None = None, autostart_command: list[str] | None = None):
        super().__init__("Settings", bridge, (820, 680), parent)
        self.autostart_command = autostart_command
        runner = bridge.runner if bridge is not None else None
        outer = QVBoxLayout(self)
        outer.setContentsMargins(18, 16, 18, 16)
        outer.setSpacing(10)
        outer.addWidget(heading("Settings"))
        self.banner = Banner()
        outer.addWidget(self.banner)
        self.tabs = QTabWidget()
        self.nop = NopForm(runner)
        self.bng = BngForm(runner)
        connections = QWidget()
        layout = QVBoxLayout(connections)
        for title, form in (("Web store (nopCommerce)", self.nop), ("BNG", self.bng)):
            card = Card(title)
            card.body.addWidget(form)
            layout.addWidget(card)
        layout.addStretch(1)
        self.tabs.addTab(connections, "Connections")
        self.schedules = SchedulesForm()
        self.tabs.addTab(self.schedules, "Schedules")
        self.webhooks = WebhookForm()
        self.tabs.addTab(self.webhooks, "Webhooks")
        self.alerts = AlertsForm()
        self.tabs.addTab(self.alerts, "Notifications")
        self.tabs.addTab(self._general(), "General")
        outer.addWidget(self.tabs, 1)
        bar = QHBoxLayout()
        bar.addStretch(1)
        self.revert_button = QPushButton("Undo changes")
        self.revert_button.clicked.connect(lambda: self.load())
        bar.addWidget(self.revert_button)
        self.save_button = QPushButton("Save")
        self.save_button.setDefault(True)
        self.save_button.clicked.connect(self.save)
        bar.addWidget(self.save_button)
        outer.addLayout(bar)
        if bridge is not None:
            self.load()

    def showEvent(self, event: QShowEvent) -> None:
        """Show the saved settings each time the window opens (closing it drops unsaved edits)."""
        if not event.spontaneous():
            self.load()
        super().showEvent(event)

    def _general(self) -> QWidget:
        page = QWidget()
        form = QFormLayout(page)
        self.start_at_login = QCheckBox("Start bngsync when I log in")
        self.start_at_login.setToolTip("Adds bngsync to this user's start-up programs")
        form.addRow(self.start_at_login)
        self.workers = QSpinBox()
        self.workers.setRange(1, 32)
        self.workers.setMaximumWidth(140)
        form.addRow("Records worked on at the same time", self.workers)
        self.retention = QSpinBox()
        self.retention.setRange(1, 3650)
        self.retention.setSuffix(" days")
        self.retention.setMaximumWidth(140)
        form.addRow("Keep history for", self.retention)
        wizard = QPushButton("Run the setup assistant again…")
        wizard.clicked.connect(self.run_wizard)
        form.addRow(wizard)
        return page

    # -- loading and saving --------------------------------------------------------------------
    def load(self) -> None:
        if self.bridge is None:
            return
        settings: Settings = self.bridge.service.settings
        self.nop.load(settings.nopcommerce, secrets.is_set("nopcommerce"))
        self.bng.load(settings.bng, secrets.is_set("bng"))
        self.schedules.load(settings.schedules)
        self.webhooks.load(settings.webhooks, secrets.is_set("webhook"))
        self.alerts.load(settings.alerts, secrets.is_set("smtp"))
        self.workers.setValue(settings.agent.workers)
        self.retention.setValue(settings.history.retention_days)
        self.start_at_login.setChecked(autostart.is_enabled())
        self.banner.clear()

    def collect(self) -> Settings:
        """The settings as edited; raises ValueError naming the first wrong value."""
        problem = self.nop.check() or self.bng.check()
        if problem:
            raise ValueError(problem)
        base: Settings = self.bridge.service.settings
        data = base.model_copy(deep=True)
        data.nopcommerce = self.nop.section()
        data.bng = self.bng.section()
        data.schedules = self.schedules.section()
        data.webhooks = self.webhooks.section()
        data.alerts = self.alerts.section()
        data.agent = data.agent.model_copy(update={"workers": self.workers.value()})
        data.history = data.history.model_copy(update={"retention_days": self.retention.value()})
        return Settings.model_validate(data.model_dump())

    def save(self) -> None:
        if self.bridge is None:
            return
        try:
            settings = self.collect()
        except (ValueError, ValidationError) as exc:
            self.banner.show_message(f"Not saved: {exc}", "error")
            return
        if settings.webhooks.enabled and not (self.webhooks.secret() or secrets.is_set("webhook")):
            self.banner.show_message("Not saved: webhooks need a signing secret.", "error")
            return
        try:
            save_secrets(self.nop.secret(), self.bng.secret(), self.webhooks.secret())
            if self.alerts.password.text():
                secrets.set("smtp", self.alerts.password.text())
            autostart.set_enabled(self.start_at_login.isChecked(), self.autostart_command)
        except (secrets.SecretError, OSError) as exc:
            self.banner.show_message(f"Not saved: {exc}", "error")
            return
        service = self.bridge.service
        self.save_button.setEnabled(False)
        self.banner.show_message("Saving…", "info")

        def write() -> None:
            service.save_settings(settings)
            service.restart()

        self.bridge.call(write, done=lambda _: self._saved(), failed=self._failed, context=self)

    def _saved(self) -> None:
        self.save_button.setEnabled(True)
        for edit in (self.nop.password, self.bng.api_key, self.webhooks.secret_edit, self.alerts.password):
            edit.clear()
        self.load()
        self.banner.show_message("Saved. The agent uses the new settings now.", "ok")

    def _failed(self, error: BaseException) -> None:
        self.save_button.setEnabled(True)
        self.banner.show_message(f"Not saved: {error}", "error")
