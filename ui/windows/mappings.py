"""Mappings: how values translate between the web store and BNG, edited in tables.

Tabs for statuses, custom fields, dimension rules (with a test on a real order), warehouses ↔
locations and field ownership. Rows are checked as they are edited; Save is possible only when no
row is wrong, and writes the config file through the service (which validates again). BNG's
definitions are read in the background when the window opens, so the choices shown are BNG's own.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QHBoxLayout, QMessageBox, QPushButton, QTabWidget, QVBoxLayout, QWidget

from agent.config import MappingSettings
from ui.editors import EDITORS, DimensionsEditor, Editor, Meta
from ui.icons import COLORS
from ui.widgets import Banner, heading, muted
from ui.windows import Window


class MappingsWindow(Window):
    """The mapping editor; `save()` writes the config."""

    def __init__(self, bridge: Any = None, parent: QWidget | None = None):
        super().__init__("Mappings", bridge, (1120, 720), parent)
        self.meta = Meta()
        self.dirty = False
        self._loading = False
        outer = QVBoxLayout(self)
        outer.setContentsMargins(18, 16, 18, 16)
        outer.setSpacing(10)
        outer.addWidget(heading("Mappings"))
        outer.addWidget(muted("How statuses, custom fields, dimensions, warehouses and product fields translate "
                              "between the web store and BNG. Changes apply after Save."))
        self.banner = Banner()
        self.banner.action_clicked.connect(self.load_meta)
        outer.addWidget(self.banner)
        self.tabs = QTabWidget()
        self.editors: list[Editor] = []
        for cls in EDITORS:
            editor = cls()
            editor.changed.connect(self._changed)
            self.editors.append(editor)
            self.tabs.addTab(editor, cls.title)
        self.dimensions.preview_requested.connect(self.preview)
        outer.addWidget(self.tabs, 1)
        bar = QHBoxLayout()
        self.summary = muted("", wrap=True)
        bar.addWidget(self.summary, 1)
        self.revert_button = QPushButton("Undo changes")
        self.revert_button.clicked.connect(self.revert)
        bar.addWidget(self.revert_button)
        self.save_button = QPushButton("Save")
        self.save_button.setDefault(True)
        self.save_button.clicked.connect(self.save)
        bar.addWidget(self.save_button)
        outer.addLayout(bar)
        if bridge is not None:
            self.load(bridge.service.settings.mapping)
            self.load_meta()

    @property
    def dimensions(self) -> DimensionsEditor:
        return next(e for e in self.editors if isinstance(e, DimensionsEditor))

    def editor(self, cls: type[Editor]) -> Editor:
        return next(e for e in self.editors if isinstance(e, cls))

    # -- loading -------------------------------------------------------------------------------
    def load(self, mapping: MappingSettings, meta: Meta | None = None) -> None:
        self._loading = True
        if meta is not None:
            self.meta = meta
        for editor in self.editors:
            editor.load(mapping, self.meta)
        self._loading = False
        self.dirty = False
        self._changed()
        self.dirty = False
        self._update_buttons()

    def load_meta(self) -> None:
        """Read BNG's definitions and the store's warehouses, then re-show the tables with them."""
        if self.bridge is None:
            return
        service = self.bridge.service
        self.banner.show_message("Reading BNG's custom fields, dimensions and locations…", "info")

        def read() -> Meta:
            bng = service.bng_metadata()
            try:
                warehouses = service.nop_warehouses()
            except Exception:  # the store being down must not hide BNG's definitions
                warehouses = []
            return Meta.from_service(bng, warehouses)

        self.bridge.call(read, done=self._got_meta, failed=self._meta_failed, context=self)

    def _got_meta(self, meta: Meta) -> None:
        self.banner.clear()
        mapping = self.current() if self.dirty else self.bridge.service.settings.mapping
        dirty = self.dirty
        self.load(mapping, meta)
        self.dirty = dirty
        self._update_buttons()

    def _meta_failed(self, error: BaseException) -> None:
        self.banner.show_message(f"BNG's definitions could not be read, so fields and values cannot be checked "
                                 f"against BNG: {error}", "warning", "Try again")

    # -- editing -------------------------------------------------------------------------------
    def current(self) -> MappingSettings:
        """The mapping as edited (not validated yet)."""
        base = (self.bridge.service.settings.mapping if self.bridge is not None else MappingSettings())
        mapping = base.model_copy(deep=True)
        for editor in self.editors:
            editor.apply(mapping)
        return mapping

    def errors(self) -> list[str]:
        return [e for editor in self.editors for e in editor.errors()]

    def _changed(self) -> None:
        if self._loading:
            return
        self.dirty = True
        for index, editor in enumerate(self.editors):
            bad = bool(editor.errors())
            self.tabs.setTabText(index, f"{editor.title}  ✗" if bad else editor.title)
        self._update_buttons()

    def _update_buttons(self) -> None:
        errors = self.errors()
        self.save_button.setEnabled(self.dirty and not errors)
        self.revert_button.setEnabled(self.dirty)
        if errors:
            self.summary.setText(f"{len(errors)} problem{'s' if len(errors) > 1 else ''} to fix before saving "
                                 f"— first: {errors[0]}")
            self.summary.setStyleSheet(f"color: {COLORS['error']};")
        else:
            self.summary.setText("Unsaved changes." if self.dirty else "Saved mappings are shown.")
            self.summary.setStyleSheet("")

    def revert(self) -> None:
        if self.bridge is not None:
            self.load(self.bridge.service.settings.mapping)

    def save(self) -> None:
        if self.bridge is None or self.errors():
            return
        try:
            mapping = MappingSettings.model_validate(self.current().model_dump())
        except ValueError as exc:
            QMessageBox.warning(self, "Mappings", f"These mappings cannot be saved:\n{exc}")
            return
        service = self.bridge.service
        settings = service.settings.model_copy(deep=True)
        settings.mapping = mapping
        self.save_button.setEnabled(False)

        def write() -> None:
            service.save_settings(settings)
            service.restart()   # the flows read mappings when they start

        self.bridge.call(write, done=lambda _: self._saved(), failed=self._save_failed, context=self)

    def _saved(self) -> None:
        self.dirty = False
        self._update_buttons()
        self.banner.show_message("Saved. The agent uses the new mappings from the next record on.", "ok")

    def _save_failed(self, error: BaseException) -> None:
        self._update_buttons()
        self.banner.show_message(f"The mappings were not saved: {error}", "error")

    # -- dimension preview ---------------------------------------------------------------------
    def preview(self, rules: list[dict[str, Any]], order_id: int) -> None:
        if self.bridge is None:
            return
        self.bridge.call(self.bridge.service.preview_dimensions, rules, order_id,
                         done=self.dimensions.show_preview,
                         failed=lambda exc: self.dimensions.show_preview([f"Could not test on order {order_id}: "
                                                                          f"{exc}"]), context=self)
