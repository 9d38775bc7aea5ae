"""Editors for the mapping settings, shared by the Mappings window and the setup wizard.

Each editor shows one part of `MappingSettings` as an editable table, checks every row as it is
edited (the "Check" column says what is wrong, in words, next to the row) and writes its part
back with `apply()`. Checks use BNG's own definitions (`Meta`, read from BNG's metadata) when
they are available: a custom field's type and choices, a dimension's allowed values. Without
them (BNG unreachable) the editors still work; they just cannot check against BNG.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from agent.config import CustomFieldRule, DimensionRule, MappingSettings, StatusMapping
from agent.mapping.dimensions import CONDITIONS, ITEM_DEPARTMENT
from agent.mapping.status import BNG_ORDER_STATUS, BNG_PAYMENT_STATUS, NOP_ORDER_STATUS, NOP_PAYMENT_STATUS
from ui.icons import COLORS
from ui.widgets import muted

OK_MARK = "✓"


@dataclass
class Meta:
    """What BNG and the store define, for choices and checks (empty lists: not known)."""

    custom_fields: list[dict[str, Any]] = field(default_factory=list)
    dimensions: list[dict[str, Any]] = field(default_factory=list)
    locations: list[dict[str, Any]] = field(default_factory=list)
    warehouses: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def from_service(cls, bng: dict[str, Any] | None, warehouses: list[dict[str, Any]] | None = None) -> Meta:
        bng = bng or {}
        return cls(list(bng.get("custom_fields") or []), list(bng.get("dimensions") or []),
                   list(bng.get("locations") or []), list(warehouses or []))


@dataclass(frozen=True)
class Problem:
    level: str      # "error" blocks saving, "warning" does not
    text: str


class Editor(QWidget):
    """One part of the mapping settings."""

    changed = Signal()
    title = ""
    help = ""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.meta = Meta()
        self.layout_ = QVBoxLayout(self)
        self.layout_.setContentsMargins(12, 12, 12, 12)
        if self.help:
            self.layout_.addWidget(muted(self.help))

    def load(self, mapping: MappingSettings, meta: Meta | None = None) -> None:
        raise NotImplementedError

    def apply(self, mapping: MappingSettings) -> None:
        raise NotImplementedError

    def problems(self) -> list[Problem]:
        return []

    def errors(self) -> list[str]:
        return [p.text for p in self.problems() if p.level == "error"]


# -- table helpers -----------------------------------------------------------------------------------

def make_table(headers: list[str], stretch: int) -> QTableWidget:
    table = QTableWidget(0, len(headers))
    table.setHorizontalHeaderLabels(headers)
    table.verticalHeader().hide()
    table.verticalHeader().setDefaultSectionSize(30)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    header = table.horizontalHeader()
    header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
    header.setSectionResizeMode(stretch, QHeaderView.ResizeMode.Stretch)
    return table


def combo(items: list[tuple], current: Any = None, editable: bool = False,
          on_change: Callable[[], None] | None = None) -> QComboBox:
    """A combo box of (text, data[, tooltip]) items; codes stay short so cells are not cut off."""
    box = QComboBox()
    box.setEditable(editable)
    for text, data, *tip in items:
        box.addItem(text, data)
        if tip:
            box.setItemData(box.count() - 1, tip[0], Qt.ItemDataRole.ToolTipRole)
    if current is not None:
        index = box.findData(current)
        if index < 0 and editable:
            box.setEditText(str(current))
        elif index < 0:
            box.addItem(str(current), current)
            box.setCurrentIndex(box.count() - 1)
        else:
            box.setCurrentIndex(index)
    if on_change is not None:
        box.currentIndexChanged.connect(on_change)
        if editable:
            box.editTextChanged.connect(on_change)
    return box


def combo_value(box: QComboBox) -> Any:
    """The chosen item's data; for an editable box, typed text that matches no item is the value."""
    if box.isEditable():
        text = box.currentText().strip()
        index = box.findText(text)
        if index >= 0 and box.itemData(index) is not None:
            return box.itemData(index)
        index = box.findData(text)
        return box.itemData(index) if index >= 0 else text
    return box.currentData()


def line(text: str = "", placeholder: str = "", on_change: Callable[[], None] | None = None) -> QLineEdit:
    edit = QLineEdit(text)
    edit.setPlaceholderText(placeholder)
    edit.setFrame(False)
    edit.setCursorPosition(0)
    edit.setToolTip(text)
    edit.textChanged.connect(edit.setToolTip)
    if on_change is not None:
        edit.textChanged.connect(on_change)
    return edit


def set_check(table: QTableWidget, row: int, column: int, problems: list[Problem]) -> None:
    """Write a row's verdict into its Check column: ✓, or the first problem in words."""
    if problems:
        first = problems[0]
        item = QTableWidgetItem(first.text)
        item.setForeground(Qt.GlobalColor.red if first.level == "error" else Qt.GlobalColor.darkYellow)
        item.setToolTip("\n".join(p.text for p in problems))
    else:
        item = QTableWidgetItem(OK_MARK)
        item.setForeground(Qt.GlobalColor.darkGreen)
    table.setItem(row, column, item)


def problems_label() -> QLabel:
    label = QLabel()
    label.setWordWrap(True)
    label.setStyleSheet(f"color: {COLORS['error']};")
    label.hide()
    return label


def show_problems(label: QLabel, problems: list[Problem]) -> None:
    general = [p for p in problems]
    label.setVisible(bool(general))
    label.setText("\n".join(("⚠ " if p.level == "warning" else "✗ ") + p.text for p in general))


def row_buttons(*buttons: tuple[str, Callable[[], None]]) -> QHBoxLayout:
    layout = QHBoxLayout()
    for text, slot in buttons:
        button = QPushButton(text)
        button.clicked.connect(slot)
        layout.addWidget(button)
    layout.addStretch(1)
    return layout


# -- status tables -----------------------------------------------------------------------------------

STATUS_TABLES = (
    ("order_to_bng", "Order status: web store → BNG", list(NOP_ORDER_STATUS), list(BNG_ORDER_STATUS)),
    ("payment_to_bng", "Payment status: web store → BNG", list(NOP_PAYMENT_STATUS), list(BNG_PAYMENT_STATUS)),
    ("payment_to_nop", "Payment status: BNG → web store", list(BNG_PAYMENT_STATUS), list(NOP_PAYMENT_STATUS)),
)
NOT_MAPPED = "(not mapped)"


class StatusEditor(Editor):
    """The three status tables; every status of the source system needs a partner."""

    title = "Statuses"
    help = ("Which status an order gets on the other side. Every status needs a partner: an order in an "
            "unmapped status waits in Errors until it is mapped.")

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        row = QHBoxLayout()
        self.tables: dict[str, QTableWidget] = {}
        for key, title, _, _ in STATUS_TABLES:
            column = QVBoxLayout()
            label = QLabel(title)
            label.setStyleSheet("font-weight: 600;")
            column.addWidget(label)
            table = make_table(["From", "To"], 1)
            table.setColumnWidth(0, 150)
            self.tables[key] = table
            column.addWidget(table)
            row.addLayout(column)
        self.layout_.addLayout(row, 1)
        self.problem_label = problems_label()
        self.layout_.addWidget(self.problem_label)

    def load(self, mapping: MappingSettings, meta: Meta | None = None) -> None:
        self.meta = meta or self.meta
        status = mapping.status
        for key, _, sources, targets in STATUS_TABLES:
            current: dict[str, str] = dict(getattr(status, key))
            table = self.tables[key]
            keys = sources + [k for k in current if k not in sources]
            table.setRowCount(len(keys))
            for row, source in enumerate(keys):
                item = QTableWidgetItem(source)
                table.setItem(row, 0, item)
                items = [(NOT_MAPPED, None)] + [(t, t) for t in targets]
                table.setCellWidget(row, 1, combo(items, current.get(source), on_change=self._changed))
        self._changed()

    def values(self, key: str) -> dict[str, str]:
        table = self.tables[key]
        out = {}
        for row in range(table.rowCount()):
            value = combo_value(table.cellWidget(row, 1))
            if value:
                out[table.item(row, 0).text()] = value
        return out

    def apply(self, mapping: MappingSettings) -> None:
        mapping.status = StatusMapping(**{key: self.values(key) for key, *_ in STATUS_TABLES})

    def problems(self) -> list[Problem]:
        out = []
        for key, title, sources, _ in STATUS_TABLES:
            missing = [s for s in sources if s not in self.values(key)]
            if missing:
                out.append(Problem("warning", f"{title.split(':')[0]} {', '.join(missing)} "
                                   f"{'is' if len(missing) == 1 else 'are'} not mapped ({title.split(': ')[1]})"))
        return out

    def _changed(self) -> None:
        show_problems(self.problem_label, self.problems())
        self.changed.emit()


# -- custom fields -----------------------------------------------------------------------------------

SOURCE_KINDS = (("Order field", "order"), ("Checkout attribute", "checkout_attribute"),
                ("Customer attribute", "customer_attribute"), ("Fixed value", "constant"))
ENTITIES = (("Sales order", "sales_order"), ("Customer", "customer"))
TYPE_WORDS = {"text": "text", "number": "number", "date": "date", "bool": "yes/no", "choice": "choice"}


def parse_values(text: str) -> dict[str, str]:
    """'Yes=true; No=false' → {"Yes": "true", "No": "false"} (the value translation of a rule)."""
    out = {}
    for part in text.split(";"):
        if "=" in part:
            key, _, value = part.partition("=")
            if key.strip():
                out[key.strip()] = value.strip()
    return out


def format_values(values: dict[str, str]) -> str:
    return "; ".join(f"{k}={v}" for k, v in values.items())


def describe_field(definition: dict[str, Any]) -> str:
    kind = TYPE_WORDS.get(definition.get("type", ""), definition.get("type", ""))
    extra = ""
    if definition.get("choices"):
        extra = ": " + ", ".join(definition["choices"])
    elif definition.get("max_length"):
        extra = f", up to {definition['max_length']} characters"
    required = ", required" if definition.get("required") else ""
    return f"{kind}{extra}{required}"


def check_custom_field(rule: CustomFieldRule, definitions: list[dict[str, Any]]) -> list[Problem]:
    """What is wrong with one rule, checked against BNG's definitions when known."""
    from agent.mapping.errors import MappingError
    from agent.mapping.fields import coerce_value

    out = []
    kind, _, name = rule.source.partition(":")
    if not name.strip():
        out.append(Problem("error", "say which field or value" if kind != "constant" else "enter the fixed value"))
    if not rule.target.strip():
        out.append(Problem("error", "choose the BNG field"))
        return out
    if not definitions:
        return out
    definition = next((d for d in definitions if d.get("entity") == rule.entity
                       and str(d.get("name", "")).casefold() == rule.target.strip().casefold()), None)
    if definition is None:
        where = "sales orders" if rule.entity == "sales_order" else "customers"
        return [*out, Problem("error", f"BNG has no field {rule.target} on {where}")]
    samples = list(rule.values.values())
    if kind == "constant" and name.strip():
        samples.append(rule.values.get(name.strip(), name.strip()))
    for sample in samples:
        try:
            coerce_value(sample, definition)
        except MappingError as exc:
            out.append(Problem("error", f"'{sample}' does not fit: {describe_field(definition)}"
                               if definition.get("type") != "choice" else str(exc.reason).split(";")[0]))
    if definition.get("type") == "choice" and kind != "constant" and not rule.values:
        out.append(Problem("warning", f"BNG accepts only {', '.join(definition.get('choices') or [])}: "
                           "translate other store values"))
    return out


class CustomFieldsEditor(Editor):
    """Store values → BNG custom fields, with BNG's types and choices shown and checked."""

    title = "Custom fields"
    help = ("Which web store value fills which BNG custom field. Fixed values and translations are checked "
            "against the field's type and choices in BNG. Translations: store value=BNG value; separate pairs "
            "with semicolons, e.g. Yes=true; No=false.")
    COLUMNS: ClassVar[list[str]] = ["For", "Take from", "Name", "BNG field", "Translate values", "Check"]

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.table = make_table(self.COLUMNS, 5)
        for column, width in {0: 105, 1: 150, 2: 150, 3: 170, 4: 170}.items():
            self.table.setColumnWidth(column, width)
        self.table.itemSelectionChanged.connect(self._show_definition)
        self.layout_.addWidget(self.table, 1)
        self.definition_label = muted("")
        self.layout_.addWidget(self.definition_label)
        self.layout_.addLayout(row_buttons(("Add rule", self.add_rule), ("Remove rule", self.remove_rule)))
        self.problem_label = problems_label()
        self.layout_.addWidget(self.problem_label)

    def load(self, mapping: MappingSettings, meta: Meta | None = None) -> None:
        self.meta = meta or self.meta
        self.table.setRowCount(0)
        for rule in mapping.custom_fields:
            self._add_row(rule)
        self._changed()

    def _targets(self, entity: str) -> list[tuple[str, Any]]:
        return [(d["name"], d["name"], f"{d.get('label', '')}: {describe_field(d)}") for d in self.meta.custom_fields
                if d.get("entity") == entity]

    def _add_row(self, rule: CustomFieldRule) -> None:
        row = self.table.rowCount()
        self.table.insertRow(row)
        kind, _, name = rule.source.partition(":")
        entity = combo(list(ENTITIES), rule.entity)
        entity.currentIndexChanged.connect(lambda _=0, e=entity: self._entity_changed(e))
        self.table.setCellWidget(row, 0, entity)
        self.table.setCellWidget(row, 1, combo(list(SOURCE_KINDS), kind or "order", on_change=self._changed))
        self.table.setCellWidget(row, 2, line(name, "e.g. Gift wrapping", self._changed))
        self.table.setCellWidget(row, 3, combo(self._targets(rule.entity), rule.target or None,
                                               editable=not self.meta.custom_fields, on_change=self._changed))
        self.table.setCellWidget(row, 4, line(format_values(rule.values), "e.g. Yes=true; No=false", self._changed))

    def _entity_changed(self, box: QComboBox) -> None:
        for row in range(self.table.rowCount()):
            if self.table.cellWidget(row, 0) is box:
                target = self.table.cellWidget(row, 3)
                target.blockSignals(True)
                target.clear()
                for text, data, tip in self._targets(box.currentData()):
                    target.addItem(text, data)
                    target.setItemData(target.count() - 1, tip, Qt.ItemDataRole.ToolTipRole)
                target.blockSignals(False)
        self._changed()

    def add_rule(self) -> None:
        self._add_row(CustomFieldRule(source="order:", target=""))
        self.table.selectRow(self.table.rowCount() - 1)
        self._changed()

    def remove_rule(self) -> None:
        row = self.table.currentRow()
        if row >= 0:
            self.table.removeRow(row)
            self._changed()

    def rule(self, row: int) -> CustomFieldRule:
        table = self.table
        source = f"{table.cellWidget(row, 1).currentData()}:{table.cellWidget(row, 2).text().strip()}"
        return CustomFieldRule.model_construct(source=source, target=str(combo_value(table.cellWidget(row, 3)) or ""),
                                               entity=table.cellWidget(row, 0).currentData(),
                                               values=parse_values(table.cellWidget(row, 4).text()))

    def rules(self) -> list[CustomFieldRule]:
        return [self.rule(row) for row in range(self.table.rowCount())]

    def apply(self, mapping: MappingSettings) -> None:
        mapping.custom_fields = [CustomFieldRule(**r.model_dump()) for r in self.rules()]

    def problems(self) -> list[Problem]:
        out = []
        for number, rule in enumerate(self.rules(), 1):
            out += [Problem(p.level, f"Rule {number} ({rule.target or 'no field'}): {p.text}")
                    for p in check_custom_field(rule, self.meta.custom_fields)]
        filled = {(r.entity, r.target.casefold()) for r in self.rules()}
        for d in self.meta.custom_fields:
            if d.get("required") and (d.get("entity"), str(d["name"]).casefold()) not in filled:
                out.append(Problem("warning", f"BNG requires {d['name']} ({d.get('label', '')}) on "
                                   f"{'sales orders' if d.get('entity') == 'sales_order' else 'customers'}, "
                                   "and no rule fills it"))
        return out

    def _changed(self) -> None:
        for row in range(self.table.rowCount()):
            set_check(self.table, row, 5, check_custom_field(self.rule(row), self.meta.custom_fields))
        show_problems(self.problem_label, [p for p in self.problems() if p.level == "warning"
                                           and p.text.startswith("BNG requires")])
        self._show_definition()
        self.changed.emit()

    def _show_definition(self) -> None:
        row = self.table.currentRow()
        if row < 0 or not self.meta.custom_fields:
            self.definition_label.setText("" if self.meta.custom_fields else
                                          "BNG's field definitions are not loaded: rules cannot be checked "
                                          "against BNG.")
            return
        rule = self.rule(row)
        definition = next((d for d in self.meta.custom_fields if d.get("entity") == rule.entity
                           and str(d.get("name", "")).casefold() == rule.target.casefold()), None)
        self.definition_label.setText(f"{definition['name']} in BNG: {describe_field(definition)}"
                                      if definition else "")


# -- dimensions --------------------------------------------------------------------------------------

def parse_conditions(text: str) -> dict[str, Any]:
    """'country = US, CA; total_min = 100' → {"country": ["US", "CA"], "total_min": "100"}."""
    out: dict[str, Any] = {}
    for part in text.split(";"):
        if not part.strip():
            continue
        name, sep, value = part.partition("=")
        name = name.strip().lower().replace(" ", "_")
        values = [v.strip() for v in value.split(",") if v.strip()] if sep else []
        out[name] = values[0] if len(values) == 1 else values
    return out


def format_conditions(when: dict[str, Any]) -> str:
    parts = []
    for name, value in when.items():
        shown = ", ".join(str(v) for v in value) if isinstance(value, list | tuple) else str(value)
        parts.append(f"{name} = {shown}")
    return "; ".join(parts)


def check_dimension(rule: DimensionRule, definitions: list[dict[str, Any]]) -> list[Problem]:
    out = []
    if not rule.dimension.strip():
        out.append(Problem("error", "choose the dimension"))
    if not rule.value.strip():
        out.append(Problem("error", "enter the value"))
    for name, value in rule.when.items():
        if name not in CONDITIONS:
            out.append(Problem("error", f"unknown condition '{name}' (known: {', '.join(CONDITIONS)})"))
        elif value in ("", []):
            out.append(Problem("error", f"{name} needs a value"))
        elif name in ("total_min", "total_max"):
            try:
                Decimal(str(value))
            except InvalidOperation:
                out.append(Problem("error", f"{name} must be a number"))
    if rule.value.startswith("@") and rule.value != ITEM_DEPARTMENT:
        out.append(Problem("error", f"only {ITEM_DEPARTMENT} can take the value from the order"))
    if definitions and rule.dimension.strip():
        definition = next((d for d in definitions if d["code"].casefold() == rule.dimension.strip().casefold()), None)
        if definition is None:
            out.append(Problem("error", f"BNG has no dimension {rule.dimension}"))
        elif rule.value != ITEM_DEPARTMENT and rule.value.strip():
            codes = [v["code"] for v in definition.get("values") or []]
            if codes and rule.value.strip().casefold() not in {c.casefold() for c in codes}:
                out.append(Problem("error", f"{definition['code']} has no value {rule.value} in BNG"))
    return out


class DimensionsEditor(Editor):
    """Ordered dimension rules (first match per dimension wins) with a live test on a real order."""

    title = "Dimensions"
    help = ("For each dimension the first rule whose conditions all hold decides; a rule without conditions "
            "catches the rest, so it belongs last. Conditions: name = value, several values separated by commas, "
            "conditions separated by semicolons — e.g. country = US, CA; total_min = 100. The value "
            f"{ITEM_DEPARTMENT} takes the department of the order's items.")
    COLUMNS: ClassVar[list[str]] = ["#", "Dimension", "Value", "When (conditions)", "Check"]
    preview_requested = Signal(list, int)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.table = make_table(self.COLUMNS, 3)
        for column, width in {0: 34, 1: 150, 2: 170, 4: 230}.items():
            self.table.setColumnWidth(column, width)
        self.layout_.addWidget(self.table, 1)
        self.layout_.addLayout(row_buttons(("Add rule", self.add_rule), ("Remove rule", self.remove_rule),
                                           ("Move up", lambda: self.move(-1)), ("Move down", lambda: self.move(1))))
        self.problem_label = problems_label()
        self.layout_.addWidget(self.problem_label)
        preview = QHBoxLayout()
        preview.addWidget(QLabel("Test these rules on web store order #"))
        self.order_id = QSpinBox()
        self.order_id.setRange(1, 2_000_000_000)
        self.order_id.setMinimumWidth(110)
        preview.addWidget(self.order_id)
        self.test_button = QPushButton("Test")
        self.test_button.clicked.connect(self.request_preview)
        preview.addWidget(self.test_button)
        preview.addStretch(1)
        self.layout_.addLayout(preview)
        self.preview = QPlainTextEdit()
        self.preview.setReadOnly(True)
        self.preview.setPlaceholderText("The result shows here: which rule set each dimension, and why.")
        self.preview.setMaximumHeight(140)
        self.layout_.addWidget(self.preview)

    def load(self, mapping: MappingSettings, meta: Meta | None = None) -> None:
        self.meta = meta or self.meta
        self.table.setRowCount(0)
        for rule in mapping.dimensions:
            self._add_row(rule)
        self._changed()

    def _values_for(self, dimension: str) -> list[tuple[str, Any]]:
        definition = next((d for d in self.meta.dimensions if d["code"].casefold() == dimension.casefold()), None)
        values = [(v["code"], v["code"], v.get("label", "")) for v in (definition or {}).get("values", [])]
        return [*values, (ITEM_DEPARTMENT, ITEM_DEPARTMENT, "the department of the order's items")]

    def _add_row(self, rule: DimensionRule, at: int | None = None) -> None:
        row = self.table.rowCount() if at is None else at
        self.table.insertRow(row)
        dims = [(d["code"], d["code"], d.get("label", "")) for d in self.meta.dimensions]
        editable = not self.meta.dimensions
        dimension = combo(dims, rule.dimension or None, editable=editable, on_change=self._changed)
        dimension.currentIndexChanged.connect(lambda _=0, box=dimension: self._dimension_changed(box))
        self.table.setCellWidget(row, 1, dimension)
        self.table.setCellWidget(row, 2, combo(self._values_for(rule.dimension), rule.value or None,
                                               editable=editable, on_change=self._changed))
        self.table.setCellWidget(row, 3, line(format_conditions(rule.when), "always (catch-all)", self._changed))

    def _dimension_changed(self, box: QComboBox) -> None:
        for row in range(self.table.rowCount()):
            if self.table.cellWidget(row, 1) is box:
                value = self.table.cellWidget(row, 2)
                current = combo_value(value)
                value.blockSignals(True)
                value.clear()
                for text, data, tip in self._values_for(str(combo_value(box) or "")):
                    value.addItem(text, data)
                    value.setItemData(value.count() - 1, tip, Qt.ItemDataRole.ToolTipRole)
                index = value.findData(current)
                if index >= 0 or not value.isEditable():
                    value.setCurrentIndex(index)
                else:
                    value.setEditText("")
                value.blockSignals(False)

    def rule(self, row: int) -> DimensionRule:
        table = self.table
        return DimensionRule.model_construct(dimension=str(combo_value(table.cellWidget(row, 1)) or "").strip(),
                                             value=str(combo_value(table.cellWidget(row, 2)) or "").strip(),
                                             when=parse_conditions(table.cellWidget(row, 3).text()))

    def rules(self) -> list[DimensionRule]:
        return [self.rule(row) for row in range(self.table.rowCount())]

    def apply(self, mapping: MappingSettings) -> None:
        mapping.dimensions = [DimensionRule(**r.model_dump()) for r in self.rules()]

    def add_rule(self) -> None:
        row = self.table.currentRow()
        at = row + 1 if row >= 0 else self.table.rowCount()
        self._add_row(DimensionRule.model_construct(dimension="", value="", when={}), at)
        self.table.selectRow(at)
        self._changed()

    def remove_rule(self) -> None:
        row = self.table.currentRow()
        if row >= 0:
            self.table.removeRow(row)
            self._changed()

    def move(self, step: int) -> None:
        """Rules are ordered: the first match per dimension decides, so order is part of the meaning."""
        row = self.table.currentRow()
        target = row + step
        if row < 0 or not 0 <= target < self.table.rowCount():
            return
        rule = self.rule(row)
        self.table.removeRow(row)
        self._add_row(rule, target)
        self.table.selectRow(target)
        self._changed()

    def problems(self) -> list[Problem]:
        out = []
        rules = self.rules()
        for number, rule in enumerate(rules, 1):
            out += [Problem(p.level, f"Rule {number}: {p.text}") for p in check_dimension(rule, self.meta.dimensions)]
        out += self._order_problems(rules)
        return out

    def _order_problems(self, rules: list[DimensionRule]) -> list[Problem]:
        out = []
        catch_all: dict[str, int] = {}
        for number, rule in enumerate(rules, 1):
            dim = rule.dimension.casefold()
            if dim in catch_all:
                out.append(Problem("warning", f"Rule {number} is never used: rule {catch_all[dim]} already "
                                   f"catches every order for {rule.dimension}"))
            elif not rule.when and rule.value != ITEM_DEPARTMENT:
                catch_all[dim] = number
        covered = {r.dimension.casefold() for r in rules if not r.when and r.value != ITEM_DEPARTMENT}
        for d in self.meta.dimensions:
            if d.get("required_on_sales_orders") and d["code"].casefold() not in covered:
                out.append(Problem("warning", f"BNG requires {d['code']} on every sales order; add a last rule "
                                   "without conditions so no order is left without it"))
        return out

    def _changed(self) -> None:
        rules = self.rules()
        for row, rule in enumerate(rules):
            number = QTableWidgetItem(str(row + 1))
            number.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
            self.table.setItem(row, 0, number)
            set_check(self.table, row, 4, check_dimension(rule, self.meta.dimensions))
        show_problems(self.problem_label, self._order_problems(rules))
        self.changed.emit()

    def request_preview(self) -> None:
        if any(p.level == "error" for p in self.problems()):
            self.show_preview(["Fix the rules marked in red first."])
            return
        self.preview.setPlainText("Reading the order…")
        self.preview_requested.emit([r.model_dump() for r in self.rules()], self.order_id.value())

    def show_preview(self, lines: list[str]) -> None:
        self.preview.setPlainText("\n".join(lines))


# -- warehouses and locations ------------------------------------------------------------------------

class LocationsEditor(Editor):
    """BNG locations ↔ store warehouses, which locations feed the store's stock, where orders ship from."""

    title = "Warehouses"
    help = ("Which BNG locations count for the web store's stock, and which store warehouse each one fills. "
            "Leave every location unticked to use all of them. Web orders are created in BNG at the order "
            "location.")
    COLUMNS: ClassVar[list[str]] = ["BNG location", "Counts for store stock", "Web store warehouse", "Check"]

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.table = make_table(self.COLUMNS, 3)
        for column, width in {0: 280, 1: 170, 2: 220}.items():
            self.table.setColumnWidth(column, width)
        self.layout_.addWidget(self.table, 1)
        add = QHBoxLayout()
        self.new_code = QLineEdit()
        self.new_code.setPlaceholderText("location code, e.g. MAIN")
        self.new_code.setMinimumWidth(200)
        add.addWidget(QLabel("Add a location by code:"))
        add.addWidget(self.new_code)
        button = QPushButton("Add")
        button.clicked.connect(self._add_code)
        add.addWidget(button)
        add.addStretch(1)
        self.layout_.addLayout(add)
        order = QHBoxLayout()
        order.addWidget(QLabel("Web orders ship from"))
        self.order_location = QComboBox()
        self.order_location.setMinimumWidth(220)
        self.order_location.currentIndexChanged.connect(self._changed)
        order.addWidget(self.order_location)
        order.addStretch(1)
        self.layout_.addLayout(order)
        self.problem_label = problems_label()
        self.layout_.addWidget(self.problem_label)

    def load(self, mapping: MappingSettings, meta: Meta | None = None) -> None:
        self.meta = meta or self.meta
        settings = mapping.locations
        codes = [(loc["code"], loc.get("name", "")) for loc in self.meta.locations]
        known = {c for c, _ in codes}
        codes += [(c, "") for c in [*settings.warehouses, *settings.stock_locations, settings.order_location]
                  if c and c not in known and not known.add(c)]
        self.table.setRowCount(0)
        for code, name in codes:
            self._add_row(code, name, code in settings.stock_locations, settings.warehouses.get(code))
        self._fill_order_location(settings.order_location)
        self._changed()

    def _fill_order_location(self, current: str) -> None:
        self.order_location.blockSignals(True)
        self.order_location.clear()
        self.order_location.addItem("BNG's default location", "")
        for row in range(self.table.rowCount()):
            code = self.table.item(row, 0).data(Qt.ItemDataRole.UserRole)
            self.order_location.addItem(self.table.item(row, 0).text(), code)
        index = self.order_location.findData(current)
        self.order_location.setCurrentIndex(max(index, 0))
        self.order_location.blockSignals(False)

    def _add_row(self, code: str, name: str, stock: bool, warehouse: int | None) -> None:
        row = self.table.rowCount()
        self.table.insertRow(row)
        item = QTableWidgetItem(f"{code} — {name}" if name else code)
        item.setData(Qt.ItemDataRole.UserRole, code)
        self.table.setItem(row, 0, item)
        box = QCheckBox()
        box.setChecked(stock)
        box.toggled.connect(self._changed)
        holder = QWidget()
        holder_layout = QHBoxLayout(holder)
        holder_layout.setContentsMargins(8, 0, 0, 0)
        holder_layout.addWidget(box)
        self.table.setCellWidget(row, 1, holder)
        items = [("(none)", None)] + [(f"{w['name']} (#{w['id']})", int(w["id"])) for w in self.meta.warehouses]
        if warehouse is not None and all(int(w["id"]) != warehouse for w in self.meta.warehouses):
            items.append((f"Warehouse #{warehouse}", warehouse))
        self.table.setCellWidget(row, 2, combo(items, warehouse, on_change=self._changed))

    def _add_code(self) -> None:
        code = self.new_code.text().strip().upper()
        if code and code not in self.codes():
            self._add_row(code, "", False, None)
            self._fill_order_location(self.order_location.currentData())
            self.new_code.clear()
            self._changed()

    def codes(self) -> list[str]:
        return [self.table.item(r, 0).data(Qt.ItemDataRole.UserRole) for r in range(self.table.rowCount())]

    def _stock(self, row: int) -> bool:
        return self.table.cellWidget(row, 1).findChild(QCheckBox).isChecked()

    def apply(self, mapping: MappingSettings) -> None:
        settings = mapping.locations.model_copy()
        settings.stock_locations = [c for r, c in enumerate(self.codes()) if self._stock(r)]
        settings.warehouses = {c: combo_value(self.table.cellWidget(r, 2)) for r, c in enumerate(self.codes())
                               if combo_value(self.table.cellWidget(r, 2)) is not None}
        settings.order_location = self.order_location.currentData() or ""
        mapping.locations = settings

    def problems(self) -> list[Problem]:
        out = []
        used: dict[int, str] = {}
        for row, code in enumerate(self.codes()):
            warehouse = combo_value(self.table.cellWidget(row, 2))
            if warehouse is None:
                continue
            if warehouse in used:
                out.append(Problem("warning", f"{code} and {used[warehouse]} fill the same store warehouse; "
                                   "its stock becomes their sum"))
            used[warehouse] = code
            if not self._stock(row) and any(self._stock(r) for r in range(self.table.rowCount())):
                out.append(Problem("warning", f"{code} fills a warehouse but does not count for store stock"))
        return out

    def _changed(self) -> None:
        problems = self.problems()
        for row, code in enumerate(self.codes()):
            set_check(self.table, row, 3, [p for p in problems if p.text.startswith(code)
                                           or f"and {code} " in p.text])
        show_problems(self.problem_label, problems)
        self.changed.emit()


# -- field ownership ---------------------------------------------------------------------------------

PRODUCT_FIELDS = {
    "sku": "SKU", "name": "Name", "price": "Price", "weight": "Weight", "stock": "Stock quantity",
    "attributes": "Attributes (specifications)", "published": "Published", "category": "Category",
    "description": "Description", "gtin": "GTIN (barcode)",
}


class OwnershipEditor(Editor):
    """Which product fields BNG owns; the agent never writes a field the web store owns."""

    title = "Field ownership"
    help = ("Tick the product fields that BNG is the master of: the agent copies them from BNG to the web "
            "store. Unticked fields belong to the web store and are never overwritten.")

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.table = make_table(["Product field", "BNG owns it"], 0)
        self.table.setColumnWidth(1, 160)
        self.layout_.addWidget(self.table, 1)
        self.problem_label = problems_label()
        self.layout_.addWidget(self.problem_label)

    def load(self, mapping: MappingSettings, meta: Meta | None = None) -> None:
        self.meta = meta or self.meta
        owned = list(mapping.ownership.bng_owns)
        names = list(PRODUCT_FIELDS) + [f for f in owned if f not in PRODUCT_FIELDS]
        self.table.setRowCount(len(names))
        for row, name in enumerate(names):
            item = QTableWidgetItem(PRODUCT_FIELDS.get(name, name))
            item.setData(Qt.ItemDataRole.UserRole, name)
            self.table.setItem(row, 0, item)
            box = QCheckBox("BNG")
            box.setChecked(name in owned)
            box.toggled.connect(self._changed)
            self.table.setCellWidget(row, 1, box)
        self._changed()

    def owned(self) -> list[str]:
        return [self.table.item(r, 0).data(Qt.ItemDataRole.UserRole) for r in range(self.table.rowCount())
                if self.table.cellWidget(r, 1).isChecked()]

    def apply(self, mapping: MappingSettings) -> None:
        mapping.ownership = mapping.ownership.model_copy(update={"bng_owns": self.owned()})

    def problems(self) -> list[Problem]:
        if "sku" not in self.owned():
            return [Problem("warning", "The SKU is how records are matched: if the web store owns it, a SKU "
                            "changed in BNG is not copied and the item may stop matching")]
        return []

    def _changed(self) -> None:
        show_problems(self.problem_label, self.problems())
        for row in range(self.table.rowCount()):
            box = self.table.cellWidget(row, 1)
            box.setText("BNG" if box.isChecked() else "Web store")
        self.changed.emit()


EDITORS: tuple[type[Editor], ...] = (StatusEditor, CustomFieldsEditor, DimensionsEditor, LocationsEditor,
                                     OwnershipEditor)
