"""The setup assistant: from nothing to a working configuration, without touching a file.

It runs on first start (no config file yet) and again from Settings. Pages: welcome → web store
(URL, API user, password; Test) → BNG (on premises or hosted; URL, API key, company; Test) →
warehouses and locations → statuses → custom fields and dimensions (with BNG's own definitions,
read with the details just typed) → schedules and webhooks → summary. Next stays disabled until a
page is filled in correctly; leaving a connection page untested (or failing) asks first. Finish
stores the password, API key and webhook secret in the keyring and everything else in the config
file.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QLabel,
    QMessageBox,
    QTabWidget,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
)

from agent import config as config_mod
from agent import secrets
from agent.config import MappingSettings, ScheduleSettings, Settings, WebhookSettings
from ui.bridge import TaskRunner
from ui.editors import CustomFieldsEditor, DimensionsEditor, Editor, LocationsEditor, Meta, StatusEditor
from ui.forms import BngForm, ConnectionForm, NopForm, SchedulesForm, WebhookForm, save_secrets
from ui.icons import app_icon
from ui.state import FLOW_LABELS
from ui.widgets import muted

PAGES = ("welcome", "nopcommerce", "bng", "locations", "statuses", "fields", "schedules", "summary")


class WelcomePage(QWizardPage):
    def __init__(self) -> None:
        super().__init__()
        self.setTitle("Welcome to bngsync")
        self.setSubTitle("This assistant connects your web store to BNG in a few steps.")
        layout = QVBoxLayout(self)
        text = QLabel(
            "<p>bngsync carries new web store orders to BNG as sales orders, and brings shipments, tracking "
            "numbers and stock levels back to the store.</p>"
            "<p>Have these at hand:</p><ul>"
            "<li>the web store's address and the e-mail and password of its <b>API user</b> (a customer in the "
            "<b>Api Users</b> role; the store needs the nopCommerce API plugin);</li>"
            "<li>BNG's API address and an <b>API key</b> from BNG's administration (and the company code for "
            "hosted BNG).</li></ul>"
            "<p>Passwords and keys are kept in this computer's secure credential store, never in a file.</p>")
        text.setWordWrap(True)
        text.setTextFormat(Qt.TextFormat.RichText)
        layout.addWidget(text)
        layout.addStretch(1)


class ConnectionPage(QWizardPage):
    """A connection form; complete when filled in correctly, with a secret typed (or saved)."""

    def __init__(self, form: ConnectionForm, title: str, subtitle: str, secret_name: str):
        super().__init__()
        self.form = form
        self.secret_name = secret_name
        self.setTitle(title)
        self.setSubTitle(subtitle)
        layout = QVBoxLayout(self)
        layout.addWidget(form)
        form.changed.connect(self.completeChanged)
        form.tested.connect(lambda _: self.completeChanged.emit())

    def isComplete(self) -> bool:
        return self.form.check() is None and bool(self.form.secret() or secrets.is_set(self.secret_name))

    def validatePage(self) -> bool:
        if self.form.result.ok:
            return True
        wizard: SetupWizard = self.wizard()  # type: ignore[assignment]
        why = ("The test failed: " + self.form.result.text().lstrip("✗ ")) if self.form.result.ok is False \
            else "The connection has not been tested."
        return wizard.confirm(f"{why}\n\nContinue anyway? You can test it again later in Settings.")


class EditorsPage(QWizardPage):
    """Mapping editors, filled with BNG's definitions once they have been read."""

    def __init__(self, title: str, subtitle: str, editors: list[Editor]):
        super().__init__()
        self.setTitle(title)
        self.setSubTitle(subtitle)
        self.editors = editors
        layout = QVBoxLayout(self)
        self.status = muted("")
        layout.addWidget(self.status)
        if len(editors) == 1:
            layout.addWidget(editors[0], 1)
        else:
            tabs = QTabWidget()
            for editor in editors:
                tabs.addTab(editor, editor.title)
            layout.addWidget(tabs, 1)
        for editor in editors:
            editor.changed.connect(self.completeChanged)

    def initializePage(self) -> None:
        wizard: SetupWizard = self.wizard()  # type: ignore[assignment]
        wizard.need_meta(self)

    def show_meta(self, mapping: MappingSettings, meta: Meta, note: str) -> None:
        for editor in self.editors:
            editor.load(mapping, meta)
        self.status.setText(note)
        self.completeChanged.emit()

    def isComplete(self) -> bool:
        return not any(editor.errors() for editor in self.editors)


class SchedulesPage(QWizardPage):
    def __init__(self) -> None:
        super().__init__()
        self.setTitle("Schedules and webhooks")
        self.setSubTitle("How often the agent looks for changes, and whether the store may notify it at once.")
        layout = QVBoxLayout(self)
        tabs = QTabWidget()
        self.schedules = SchedulesForm()
        self.webhooks = WebhookForm()
        tabs.addTab(self.schedules, "Schedules")
        tabs.addTab(self.webhooks, "Webhooks")
        layout.addWidget(tabs)


class SummaryPage(QWizardPage):
    def __init__(self) -> None:
        super().__init__()
        self.setTitle("Ready")
        self.setSubTitle("Check the summary and press Finish to save. You can change everything later in Settings.")
        layout = QVBoxLayout(self)
        self.text = QTextBrowser()
        layout.addWidget(self.text)

    def initializePage(self) -> None:
        wizard: SetupWizard = self.wizard()  # type: ignore[assignment]
        self.text.setHtml(wizard.summary_html())


class SetupWizard(QWizard):
    """Collects the settings; `finished_settings` holds them once saved."""

    def __init__(self, config_file: Any, settings: Settings | None = None, runner: Any = None,
                 service: Any = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.config_file = config_file
        self.base = settings
        self.service = service
        self.runner = runner or TaskRunner(self)
        self.meta = Meta()
        self.meta_key: tuple | None = None
        self.meta_note = ""
        self.finished_settings: Settings | None = None
        self.setWindowTitle("bngsync — Setup")
        self.setWindowIcon(app_icon())
        self.setWizardStyle(QWizard.WizardStyle.ModernStyle)
        self.setPixmap(QWizard.WizardPixmap.LogoPixmap, app_icon().pixmap(48, 48))
        self.setOption(QWizard.WizardOption.NoBackButtonOnStartPage)
        self.resize(1060, 700)

        self.nop = NopForm(self.runner)
        self.bng = BngForm(self.runner)
        self.locations = LocationsEditor()
        self.statuses = StatusEditor()
        self.fields = CustomFieldsEditor()
        self.dimensions = DimensionsEditor()
        for widget in (self.dimensions.order_id, self.dimensions.test_button, self.dimensions.preview):
            widget.hide()  # testing on an order needs the running agent: offered in Mappings later
        self.pages: dict[str, QWizardPage] = {
            "welcome": WelcomePage(),
            "nopcommerce": ConnectionPage(self.nop, "Web store", "The nopCommerce store and its API user.",
                                          "nopcommerce"),
            "bng": ConnectionPage(self.bng, "BNG", "Where BNG's API is, and the key the agent uses.", "bng"),
            "locations": EditorsPage("Warehouses and locations", "Which BNG locations feed the store's stock, "
                                     "and where web orders ship from.", [self.locations]),
            "statuses": EditorsPage("Statuses", "How order and payment statuses translate. The suggestions fit "
                                    "most shops.", [self.statuses]),
            "fields": EditorsPage("Custom fields and dimensions", "Extra order fields and the accounting "
                                  "dimensions BNG expects, checked against BNG's definitions.",
                                  [self.fields, self.dimensions]),
            "schedules": SchedulesPage(),
            "summary": SummaryPage(),
        }
        for page in self.pages.values():
            self.addPage(page)
        base = settings
        self.nop.load(base.nopcommerce if base else None, secrets.is_set("nopcommerce"))
        self.bng.load(base.bng if base else None, secrets.is_set("bng"))
        schedules: SchedulesPage = self.pages["schedules"]  # type: ignore[assignment]
        schedules.schedules.load(base.schedules if base else ScheduleSettings())
        schedules.webhooks.load(base.webhooks if base else WebhookSettings(), secrets.is_set("webhook"))
        self.mapping = (base.mapping if base else MappingSettings()).model_copy(deep=True)
        for editor in self.editors():
            editor.load(self.mapping, self.meta)

    # -- helpers the pages use -----------------------------------------------------------------
    def page_named(self, name: str) -> QWizardPage:
        return self.pages[name]

    def confirm(self, text: str) -> bool:
        """Ask a yes/no question (a method, so tests can answer it)."""
        answer = QMessageBox.question(self, "bngsync — Setup", text)
        return answer == QMessageBox.StandardButton.Yes

    def draft(self) -> Settings:
        """Settings from what has been entered so far (validated when finishing)."""
        schedules: SchedulesPage = self.pages["schedules"]  # type: ignore[assignment]
        mapping = self.mapping.model_copy(deep=True)
        for editor in self.editors():
            editor.apply(mapping)
        data: dict[str, Any] = self.base.model_dump() if self.base else {}
        data.update(nopcommerce=self.nop.section().model_dump(), bng=self.bng.section().model_dump(),
                    schedules=schedules.schedules.section().model_dump(),
                    webhooks=schedules.webhooks.section().model_dump(),
                    mapping=MappingSettings.model_validate(mapping.model_dump()).model_dump())
        return Settings.model_validate(data)

    def need_meta(self, page: EditorsPage) -> None:
        """Read BNG's definitions (once per connection) and show them on `page`."""
        try:
            settings = Settings.model_construct(nopcommerce=self.nop.section(), bng=self.bng.section(),
                                                agent=_agent())
        except ValueError:
            self._show(page)
            return
        key = (settings.bng.url, settings.bng.company, self.bng.secret(), settings.nopcommerce.url,
               settings.nopcommerce.username, self.nop.secret())
        if key == self.meta_key:
            self._show(page)
            return
        page.status.setText("Reading BNG's locations, custom fields and dimensions…")
        page.setEnabled(False)
        api_key, password = self.bng.secret() or None, self.nop.secret() or None

        def read() -> tuple[Meta, str]:
            from agent.service import bng_metadata_for, nop_warehouses_for

            note = ""
            try:
                bng = bng_metadata_for(settings, api_key)
            except Exception as exc:  # shown on the page: the editors still work without BNG's lists
                bng, note = None, f"BNG's definitions could not be read ({exc}); values cannot be checked now."
            try:
                warehouses = nop_warehouses_for(settings, password)
            except Exception:
                warehouses = []
            return Meta.from_service(bng, warehouses), note

        def done(result: tuple[Meta, str]) -> None:
            self.meta, self.meta_note = result
            self.meta_key = key
            page.setEnabled(True)
            self._show(page)

        self.runner.run(read, done=done, failed=lambda exc: done((Meta(), str(exc))), context=page)

    def editors(self) -> list[Editor]:
        return [self.locations, self.statuses, self.fields, self.dimensions]

    def _show(self, page: EditorsPage) -> None:
        for editor in self.editors():
            editor.apply(self.mapping)   # keep what was edited on other pages
        page.show_meta(self.mapping, self.meta, self.meta_note)

    def summary_html(self) -> str:
        try:
            settings = self.draft()
        except ValueError as exc:
            return f"<p style='color:#c62828'>Something is not right yet: {exc}</p>"
        s = settings.schedules
        flows = ", ".join(f"{label.lower()} every {getattr(s, key + '_minutes'):g} min"
                          for key, label in (("orders", "Orders"), ("shipments", "Shipments"),
                                             ("inventory", "Stock"), ("products", "Products"),
                                             ("customers", "Customers"))
                          if getattr(s, key + "_minutes"))
        loc = settings.mapping.locations
        rows = [
            ("Web store", f"{settings.nopcommerce.url} as {settings.nopcommerce.username}"),
            ("BNG", settings.bng.url + (f", company {settings.bng.company}" if settings.bng.company else "")),
            ("Stock from", ", ".join(loc.stock_locations) or "all BNG locations"),
            ("Web orders ship from", loc.order_location or "BNG's default location"),
            ("Custom fields", f"{len(settings.mapping.custom_fields)} rule(s)"),
            ("Dimensions", f"{len(settings.mapping.dimensions)} rule(s)"),
            ("Schedules", flows or "polling off (Sync now only)"),
            ("Nightly check", f"{s.reconcile_at:%H:%M}"),
            ("Webhooks", f"on, http://{settings.webhooks.host}:{settings.webhooks.port}/webhooks"
             if settings.webhooks.enabled else "off"),
            ("Saved to", str(self.config_file)),
        ]
        body = "".join(f"<tr><td style='padding:3px 14px 3px 0;color:#5f6b76'>{k}</td><td>{v}</td></tr>"
                       for k, v in rows)
        return f"<table>{body}</table><p>Passwords and keys go to this computer's credential store.</p>"

    # -- finishing -----------------------------------------------------------------------------
    def accept(self) -> None:
        try:
            settings = self.draft()
            config_mod.parse(settings.model_dump(mode="json", exclude_none=True))
            schedules: SchedulesPage = self.pages["schedules"]  # type: ignore[assignment]
            if settings.webhooks.enabled and not (schedules.webhooks.secret() or secrets.is_set("webhook")):
                raise ValueError("webhooks need a signing secret")
            save_secrets(self.nop.secret(), self.bng.secret(), schedules.webhooks.secret())
            if self.service is not None:
                self.service.save_settings(settings)
            else:
                config_mod.save(settings, self.config_file)
        except (ValueError, secrets.SecretError, config_mod.ConfigError, OSError) as exc:
            QMessageBox.warning(self, "bngsync — Setup", f"The settings were not saved:\n{exc}")
            return
        self.finished_settings = settings
        super().accept()


def _agent() -> Any:
    from agent.config import AgentSettings

    return AgentSettings()


__all__ = ["FLOW_LABELS", "PAGES", "SetupWizard"]
