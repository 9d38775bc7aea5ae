"""Forms for the connection, schedule and webhook settings, shared by Settings and the setup wizard.

Each form reads a `Settings`, gives back its section as validated pydantic settings (or the
problems in words, shown under the form), and keeps its secret apart: secrets go to the keyring,
never into the config file. The connection forms test the connection in the background and show
the connectors' own plain-words answer (DNS, TLS, refused login with the "Api Users" role hint,
missing API plugin...).
"""

from __future__ import annotations

import re
import secrets as pysecrets
from collections.abc import Callable
from datetime import time
from typing import Any, ClassVar

from pydantic import ValidationError
from PySide6.QtCore import QTime, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QSizePolicy,
    QSpinBox,
    QTimeEdit,
    QVBoxLayout,
    QWidget,
)

from agent import secrets
from agent.config import BngSettings, NopCommerceSettings, ScheduleSettings, Settings, WebhookSettings
from ui.icons import COLORS
from ui.state import FLOW_LABELS
from ui.widgets import muted

Runner = Any  # TaskRunner or Bridge: anything with run(fn, *args, done=, failed=, context=)


def first_problem(exc: ValidationError, labels: dict[str, str]) -> str:
    """'Store URL: must start with http:// or https://' from a pydantic error."""
    err = exc.errors()[0]
    name = str(err["loc"][0]) if err["loc"] else ""
    message = err["msg"].removeprefix("Value error, ")
    if err["type"] == "missing":
        message = "is required"
    return f"{labels.get(name, name)}: {message}" if name else message


def secret_edit(placeholder: str) -> QLineEdit:
    edit = QLineEdit()
    edit.setEchoMode(QLineEdit.EchoMode.Password)
    edit.setPlaceholderText(placeholder)
    return edit


class ResultLabel(QLabel):
    """The answer of a connection test: green when it worked, red with the reason when not."""

    def __init__(self) -> None:
        super().__init__()
        self.setWordWrap(True)
        self.ok: bool | None = None

    def busy(self, text: str) -> None:
        self.ok = None
        self.setStyleSheet(f"color: {COLORS['syncing']};")
        self.setText(text)

    def show_result(self, ok: bool, text: str) -> None:
        self.ok = ok
        text = re.sub(r"\s*\(`bngsync [^`]*`\)", "", text)   # command-line hints mean nothing here
        self.setStyleSheet(f"color: {COLORS['ok'] if ok else COLORS['error']};")
        self.setText(("✓ " if ok else "✗ ") + text)

    def reset(self) -> None:
        self.ok = None
        self.clear()


class ConnectionForm(QWidget):
    """Common parts: a form layout, a Test button and its result, a problem line."""

    changed = Signal()
    tested = Signal(bool)
    labels: ClassVar[dict[str, str]] = {}

    def __init__(self, runner: Runner | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.runner = runner
        self.form = QFormLayout()
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addLayout(self.form)
        row = QHBoxLayout()
        self.test_button = QPushButton("Test connection")
        self.test_button.clicked.connect(self.test)
        row.addWidget(self.test_button)
        row.addStretch(1)
        outer.addLayout(row)
        self.result = ResultLabel()
        outer.addWidget(self.result)
        self.problem = QLabel()
        self.problem.setWordWrap(True)
        self.problem.setStyleSheet(f"color: {COLORS['error']};")
        outer.addWidget(self.problem)
        outer.addStretch(1)

    def row(self, label: str | QLabel, widget: Any) -> None:
        """A form row whose label column has the same width in every connection form (they sit stacked)."""
        label = QLabel(label) if isinstance(label, str) else label
        label.setMinimumWidth(140)
        if isinstance(widget, QLabel):   # a wrapped hint: as wide as the fields, not as its shortest line
            widget.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.form.addRow(label, widget)

    def _edited(self) -> None:
        self.result.reset()
        problem = self.check()
        self.problem.setText(problem or "")
        self.test_button.setEnabled(problem is None and self.runner is not None)
        self.changed.emit()

    def check(self) -> str | None:
        """The first problem with what is typed, or None."""
        try:
            self.section()
        except ValidationError as exc:
            return first_problem(exc, self.labels)
        return None

    def section(self) -> Any:
        raise NotImplementedError

    def secret(self) -> str:
        raise NotImplementedError

    def _test_call(self) -> Callable[[], dict[str, Any]]:
        raise NotImplementedError

    def test(self) -> None:
        if self.check() is not None or self.runner is None:
            return
        self.test_button.setEnabled(False)
        self.result.busy("Testing the connection…")
        self.runner.run(self._test_call(), done=self._tested, failed=self._test_failed, context=self)

    def _tested(self, answer: dict[str, Any]) -> None:
        self.test_button.setEnabled(True)
        self.result.show_result(bool(answer.get("ok")), str(answer.get("message", "")))
        self.tested.emit(bool(answer.get("ok")))

    def _test_failed(self, error: BaseException) -> None:
        self.test_button.setEnabled(True)
        self.result.show_result(False, f"The test could not run: {error}")
        self.tested.emit(False)


class NopForm(ConnectionForm):
    """The web store: its address and the API user (a customer in the "Api Users" role)."""

    labels: ClassVar[dict[str, str]] = {"url": "Store URL", "username": "API user"}

    def __init__(self, runner: Runner | None = None, parent: QWidget | None = None):
        super().__init__(runner, parent)
        self.url = QLineEdit()
        self.url.setPlaceholderText("https://shop.example.com")
        self.username = QLineEdit()
        self.username.setPlaceholderText("api@shop.example.com")
        self.password = secret_edit("the API user's password")
        self.row("Store URL", self.url)
        self.row("API user (e-mail)", self.username)
        self.row("Password", self.password)
        self.row("", muted('The API user is a store customer in the "Api Users" role; the store needs the '
                           "nopCommerce API plugin."))
        self.base: NopCommerceSettings | None = None
        for edit in (self.url, self.username, self.password):
            edit.textChanged.connect(self._edited)
        self._edited()

    def load(self, settings: NopCommerceSettings | None, password_saved: bool = False) -> None:
        self.base = settings
        self.url.setText(settings.url if settings else "")
        self.username.setText(settings.username if settings else "")
        self.password.setPlaceholderText("saved — type to replace" if password_saved else "the API user's password")
        self._edited()

    def section(self) -> NopCommerceSettings:
        data = self.base.model_dump() if self.base else {}
        data.update(url=self.url.text().strip(), username=self.username.text().strip())
        return NopCommerceSettings.model_validate(data)

    def secret(self) -> str:
        return self.password.text()

    def _test_call(self) -> Callable[[], dict[str, Any]]:
        from agent.service import test_nopcommerce

        settings = Settings.model_construct(nopcommerce=self.section(), bng=None, agent=_agent_defaults())
        password = self.secret() or None
        return lambda: test_nopcommerce(settings, password)


class BngForm(ConnectionForm):
    """BNG: on premises (a URL on this network) or hosted (a URL and a company code); an API key."""

    labels: ClassVar[dict[str, str]] = {"url": "BNG URL", "company": "Company"}

    def __init__(self, runner: Runner | None = None, parent: QWidget | None = None):
        super().__init__(runner, parent)
        kinds = QHBoxLayout()
        self.on_premises = QRadioButton("On premises (this network)")
        self.hosted = QRadioButton("Hosted (BNG cloud)")
        self.on_premises.setChecked(True)
        group = QButtonGroup(self)
        group.addButton(self.on_premises)
        group.addButton(self.hosted)
        kinds.addWidget(self.on_premises)
        kinds.addWidget(self.hosted)
        kinds.addStretch(1)
        self.row("BNG runs", kinds)
        self.url = QLineEdit()
        self.url.setPlaceholderText("http://localhost:8420/api/v1")
        self.company = QLineEdit()
        self.company.setPlaceholderText("company code, e.g. ACME")
        self.api_key = secret_edit("the API key from BNG's administration")
        self.row("BNG API URL", self.url)
        self.company_label = QLabel("Company")
        self.row(self.company_label, self.company)
        self.row("API key", self.api_key)
        self.base: BngSettings | None = None
        for edit in (self.url, self.company, self.api_key):
            edit.textChanged.connect(self._edited)
        self.hosted.toggled.connect(self._kind_changed)
        self._kind_changed()

    def _kind_changed(self) -> None:
        hosted = self.hosted.isChecked()
        self.company.setVisible(hosted)
        self.company_label.setVisible(hosted)
        self.url.setPlaceholderText("https://acme.bng-cloud.example/api/v1" if hosted
                                    else "http://localhost:8420/api/v1")
        self._edited()

    def load(self, settings: BngSettings | None, key_saved: bool = False) -> None:
        self.base = settings
        self.url.setText(settings.url if settings else "")
        self.company.setText(settings.company if settings else "")
        (self.hosted if settings and settings.company else self.on_premises).setChecked(True)
        self.api_key.setPlaceholderText("saved — type to replace" if key_saved
                                        else "the API key from BNG's administration")
        self._edited()

    def check(self) -> str | None:
        problem = super().check()
        if problem is None and self.hosted.isChecked() and not self.company.text().strip():
            return "Company: hosted BNG needs the company code"
        return problem

    def section(self) -> BngSettings:
        data = self.base.model_dump() if self.base else {}
        data.update(url=self.url.text().strip(), company=self.company.text().strip() if self.hosted.isChecked() else "")
        return BngSettings.model_validate(data)

    def secret(self) -> str:
        return self.api_key.text()

    def _test_call(self) -> Callable[[], dict[str, Any]]:
        from agent.service import test_bng

        settings = Settings.model_construct(nopcommerce=None, bng=self.section(), agent=_agent_defaults())
        key = self.secret() or None
        return lambda: test_bng(settings, key)


def _agent_defaults() -> Any:
    from agent.config import AgentSettings

    return AgentSettings()


class SchedulesForm(QWidget):
    """How often each flow polls, the nightly reconciliation, and quiet hours."""

    changed = Signal()
    FIELDS: ClassVar[dict[str, str]] = {flow: f"{flow}_minutes" for flow in FLOW_LABELS}

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        form = QFormLayout(self)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.FieldsStayAtSizeHint)
        form.addRow(muted("How often each flow looks for changes, in minutes (0 switches polling off; "
                          "Sync now and webhooks still work)."))
        self.minutes: dict[str, QDoubleSpinBox] = {}
        for flow, key in self.FIELDS.items():
            box = QDoubleSpinBox()
            box.setRange(0, 1440)
            box.setDecimals(1)
            box.setSuffix(" min")
            box.setMinimumWidth(120)
            box.valueChanged.connect(self.changed)
            self.minutes[key] = box
            form.addRow(FLOW_LABELS[flow], box)
        self.reconcile = QTimeEdit()
        self.reconcile.setDisplayFormat("HH:mm")
        form.addRow("Nightly check of everything at", self.reconcile)
        quiet = QHBoxLayout()
        self.quiet = QCheckBox("Quiet hours from")
        self.quiet_start = QTimeEdit()
        self.quiet_end = QTimeEdit()
        for edit in (self.quiet_start, self.quiet_end):
            edit.setDisplayFormat("HH:mm")
            edit.setEnabled(False)
            self.quiet.toggled.connect(edit.setEnabled)
        quiet.addWidget(self.quiet)
        quiet.addWidget(self.quiet_start)
        quiet.addWidget(QLabel("to"))
        quiet.addWidget(self.quiet_end)
        quiet.addStretch(1)
        form.addRow("", quiet)
        self.base = ScheduleSettings()

    def load(self, settings: ScheduleSettings) -> None:
        self.base = settings
        for key, box in self.minutes.items():
            box.setValue(float(getattr(settings, key)))
        self.reconcile.setTime(QTime(settings.reconcile_at.hour, settings.reconcile_at.minute))
        self.quiet.setChecked(settings.quiet_hours is not None)
        if settings.quiet_hours is not None:
            self.quiet_start.setTime(QTime(settings.quiet_hours.start.hour, settings.quiet_hours.start.minute))
            self.quiet_end.setTime(QTime(settings.quiet_hours.end.hour, settings.quiet_hours.end.minute))
        else:
            self.quiet_start.setTime(QTime(22, 0))
            self.quiet_end.setTime(QTime(6, 0))

    def section(self) -> ScheduleSettings:
        data = self.base.model_dump()
        data.update({key: box.value() for key, box in self.minutes.items()})
        data["reconcile_at"] = _time(self.reconcile.time())
        data["quiet_hours"] = ({"start": _time(self.quiet_start.time()), "end": _time(self.quiet_end.time())}
                               if self.quiet.isChecked() else None)
        return ScheduleSettings.model_validate(data)


def _time(value: QTime) -> time:
    return time(value.hour(), value.minute())


class WebhookForm(QWidget):
    """The receiver for the store's webhooks: off by default; a signing secret is generated."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        form = QFormLayout(self)
        form.addRow(muted("With webhooks the store tells the agent about a new order at once, instead of waiting "
                          "for the next poll. The receiver listens on this computer; register its address and "
                          "secret in the store's API plugin (behind a reverse proxy with HTTPS)."))
        self.enabled = QCheckBox("Receive webhooks from the web store")
        form.addRow(self.enabled)
        self.host = QLineEdit()
        self.port = QSpinBox()
        self.port.setRange(1, 65535)
        self.port.setMaximumWidth(120)
        form.addRow("Listen on address", self.host)
        form.addRow("Port", self.port)
        secret_row = QHBoxLayout()
        self.secret_edit = secret_edit("signing secret")
        generate = QPushButton("New secret")
        generate.clicked.connect(lambda: self.secret_edit.setText(pysecrets.token_urlsafe(24)))
        self.show_secret = QCheckBox("show")
        self.show_secret.toggled.connect(lambda on: self.secret_edit.setEchoMode(
            QLineEdit.EchoMode.Normal if on else QLineEdit.EchoMode.Password))
        secret_row.addWidget(self.secret_edit, 1)
        secret_row.addWidget(self.show_secret)
        secret_row.addWidget(generate)
        form.addRow("Signing secret", secret_row)
        self.address = muted("")
        form.addRow("Address for the store", self.address)
        for widget in (self.host, self.secret_edit):
            widget.textChanged.connect(self._edited)
        self.port.valueChanged.connect(self._edited)
        self.enabled.toggled.connect(self._edited)
        self.base = WebhookSettings()
        self.secret_saved = False

    def load(self, settings: WebhookSettings, secret_saved: bool = False) -> None:
        self.base = settings
        self.secret_saved = secret_saved
        self.enabled.setChecked(settings.enabled)
        self.host.setText(settings.host)
        self.port.setValue(settings.port)
        self.secret_edit.setPlaceholderText("saved — type to replace" if secret_saved else "signing secret")
        self._edited()

    def _edited(self) -> None:
        on = self.enabled.isChecked()
        for widget in (self.host, self.port, self.secret_edit):
            widget.setEnabled(on)
        if on and not self.secret_edit.text() and not self.secret_saved:
            self.secret_edit.setText(pysecrets.token_urlsafe(24))
        self.address.setText(f"http://{self.host.text().strip() or '127.0.0.1'}:{self.port.value()}/webhooks"
                             if on else "(off)")
        self.changed.emit()

    def section(self) -> WebhookSettings:
        data = self.base.model_dump()
        data.update(enabled=self.enabled.isChecked(), host=self.host.text().strip() or "127.0.0.1",
                    port=self.port.value())
        return WebhookSettings.model_validate(data)

    def secret(self) -> str:
        return self.secret_edit.text()


def save_secrets(nop_password: str = "", bng_key: str = "", webhook: str = "") -> None:
    """Store what was typed in the keyring; an empty field keeps the saved secret."""
    for which, value in (("nopcommerce", nop_password), ("bng", bng_key), ("webhook", webhook)):
        if value:
            secrets.set(which, value)
