"""Errors: the records that could not be synced, as a work list.

Each row is a dead or quarantined record with its reason; the panel beside it says in plain words
what went wrong and what to do, and shows the data, any correction already made, and the
record's trail. Retry, Retry all, Edit & retry (change the data, saved as an override so the
original stays visible) and Discard act on it; the outcome of a retry appears in the row itself
("Retrying…", then "Synced" or "Failed again: …"), followed by polling the records' states, so a
person sees what their click did without hunting for it in another window.

A second tab lists the customers to review (`ui.windows.reviews`): store customers held because they
look like a BNG customer, which wait for a person's decision just as failed records do.
"""

from __future__ import annotations

import json
from typing import Any

from PySide6.QtCore import QItemSelectionModel, Qt, QTimer
from PySide6.QtGui import QFont, QShowEvent
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ui.icons import COLORS
from ui.models import Column, KeysetModel
from ui.widgets import Banner, Card, Pill, ago, heading, muted, plural, setup_table
from ui.windows import Window
from ui.windows.reviews import ReviewsPanel
from ui.words import alert_title, explain_error, kind_label, record_label, state_label

RESULT_COLORS = {"busy": COLORS["syncing"], "ok": COLORS["ok"], "bad": COLORS["error"], "note": "#5f6b76"}
FILTERS = (("All open", None), ("Needs a fix", "quarantined"), ("Gave up", "dead"))


def changes(old: Any, new: Any) -> Any:
    """What differs from `old` in `new`, as an override the queue merges over the payload.

    Nested objects give nested overrides ({"customer": {"email": ...}}); a removed key becomes null,
    since an override can only set values.
    """
    if not isinstance(old, dict) or not isinstance(new, dict):
        return new
    out: dict[str, Any] = {}
    for key, value in new.items():
        if key not in old:
            out[key] = value
        elif old[key] != value:
            out[key] = changes(old[key], value) if isinstance(old[key], dict) and isinstance(value, dict) else value
    for key in old:
        if key not in new:
            out[key] = None
    return out


def merged(base: Any, override: Any) -> Any:
    """The data a retry works with: the payload with the override merged over it (as the queue does)."""
    from agent.engine.queue import merge

    return merge(base, override)


def set_path(data: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """Set 'customer.email' (dots go into nested objects) in a copy of `data`."""
    result = json.loads(json.dumps(data))
    node = result
    parts = [p for p in path.strip().split(".") if p]
    for part in parts[:-1]:
        if not isinstance(node.get(part), dict):
            node[part] = {}
        node = node[part]
    if parts:
        node[parts[-1]] = value
    return result


def parse_value(text: str) -> Any:
    """A typed value from what a person typed: JSON when it parses (42, true, null), else the text."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def result_of(job: dict[str, Any] | None) -> tuple[str, str, str]:
    """(short, text, tone) of a retry from the job's current state: the short form replaces the
    row's state, the text is shown beside the record."""
    if job is None:
        return "Gone", "Gone (resolved elsewhere)", "note"
    state = job["state"]
    reason = job.get("reason") or ""
    if state in ("pending", "running"):
        return "Retrying…", "Retrying…", "busy"
    if state == "succeeded":
        return "Synced ✓", "Synced ✓", "ok"
    if state == "retry_wait":
        return "Will retry", f"Failed again, will retry: {reason}", "bad"
    if state == "discarded":
        resolved = reason.startswith("resolved")
        return ("Resolved", "Resolved by a later sync", "note") if resolved else ("Discarded", "Discarded", "note")
    return "Failed again", f"Failed again: {reason}", "bad"


def row_color(row: dict[str, Any]) -> str:
    """A retry's result in its tone; else amber for records to fix and red for ones given up on."""
    if row.get("tone"):
        return RESULT_COLORS[row["tone"]]
    return COLORS["attention"] if row["state"] == "quarantined" else COLORS["error"]


def mono() -> QFont:
    font = QFont("monospace")
    font.setStyleHint(QFont.StyleHint.Monospace)
    return font


class EditDialog(QDialog):
    """Edit the record's data as JSON (or set one field) and retry with the change as an override."""

    def __init__(self, row: dict[str, Any], parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle(f"Edit & retry — {record_label(row['key'])}")
        self.resize(640, 560)
        self.original = merged(row.get("payload") or {}, row.get("override"))
        layout = QVBoxLayout(self)
        layout.addWidget(muted("Correct the data below and press Retry. The original stays in the history; "
                               "only what you change is saved, as a correction applied to this record."))
        one = QHBoxLayout()
        self.path = QLineEdit()
        self.path.setPlaceholderText("field, e.g. billing_address.email")
        self.value = QLineEdit()
        self.value.setPlaceholderText("new value")
        set_button = QPushButton("Set")
        set_button.clicked.connect(self.set_field)
        one.addWidget(QLabel("Set a field:"))
        one.addWidget(self.path, 2)
        one.addWidget(self.value, 2)
        one.addWidget(set_button)
        layout.addLayout(one)
        self.editor = QPlainTextEdit(json.dumps(self.original, indent=2, ensure_ascii=False))
        self.editor.setFont(mono())
        self.editor.textChanged.connect(self.validate)
        layout.addWidget(self.editor, 1)
        self.message = QLabel()
        self.message.setWordWrap(True)
        layout.addWidget(self.message)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.retry_button = self.buttons.addButton("Retry with these changes", QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self.validate()

    def data(self) -> Any:
        return json.loads(self.editor.toPlainText())

    def override(self) -> dict[str, Any]:
        """Only what changed, for `Service.retry(id, override)`."""
        return changes(self.original, self.data())

    def set_field(self) -> None:
        try:
            data = self.data()
        except ValueError:
            return
        if not isinstance(data, dict) or not self.path.text().strip():
            return
        self.editor.setPlainText(json.dumps(set_path(data, self.path.text(), parse_value(self.value.text())),
                                            indent=2, ensure_ascii=False))

    def validate(self) -> bool:
        try:
            data = self.data()
        except ValueError as exc:
            self.message.setText(f"Not valid JSON yet: {exc}")
            self.message.setStyleSheet(f"color: {COLORS['error']};")
            self.retry_button.setEnabled(False)
            return False
        if not isinstance(data, dict):
            self.message.setText("The data must be an object: { … }")
            self.message.setStyleSheet(f"color: {COLORS['error']};")
            self.retry_button.setEnabled(False)
            return False
        diff = changes(self.original, data)
        fields = ", ".join(sorted(_paths(diff))) if diff else ""
        self.message.setText(f"Changes: {fields}" if diff else "No changes yet: the retry would use the data as it is.")
        self.message.setStyleSheet("color: #5f6b76;")
        self.retry_button.setEnabled(True)
        return True


def _paths(diff: dict[str, Any], prefix: str = "") -> list[str]:
    out = []
    for key, value in diff.items():
        if isinstance(value, dict) and value:
            out += _paths(value, f"{prefix}{key}.")
        else:
            out.append(f"{prefix}{key}")
    return out


class ErrorsWindow(Window):
    """The work list of records that need a person."""

    def __init__(self, bridge: Any = None, parent: QWidget | None = None):
        super().__init__("Errors", bridge, (1180, 700), parent)
        self.following: set[int] = set()   # ids whose retry result is shown and polled
        self.known_open: int | None = None
        self.current: dict[str, Any] | None = None
        outer = QVBoxLayout(self)
        outer.setContentsMargins(18, 16, 18, 16)
        outer.setSpacing(10)
        outer.addWidget(heading("Errors"))
        self.alerts = Banner()
        self.alerts.action_clicked.connect(lambda: self.navigate.emit("dashboard"))
        outer.addWidget(self.alerts)
        self.pages = QTabWidget()
        outer.addWidget(self.pages, 1)
        records = QWidget()
        self.records_page = records
        page = QVBoxLayout(records)
        page.setContentsMargins(10, 10, 10, 10)
        page.setSpacing(8)
        page.addWidget(muted("Records that could not be synced. Fix the cause, then retry them — one, a "
                             "selection or all at once. Discard what should not be synced at all."))
        self.pages.addTab(records, "Records that failed")
        self.reviews = ReviewsPanel(bridge)
        self.reviews.count_changed.connect(self._review_count)
        self.pages.addTab(self.reviews, "Customers to review")
        self.pages.currentChanged.connect(self._page_changed)

        bar = QHBoxLayout()
        bar.addWidget(QLabel("Show"))
        self.state_filter = QComboBox()
        for label, state in FILTERS:
            self.state_filter.addItem(label, state)
        self.state_filter.currentIndexChanged.connect(self.reload)
        bar.addWidget(self.state_filter)
        self.kind_filter = QComboBox()
        self.kind_filter.addItem("All kinds", None)
        self.kind_filter.currentIndexChanged.connect(self.reload)
        self.kind_filter.setMinimumWidth(200)
        bar.addWidget(self.kind_filter)
        self.count_label = muted("", wrap=False)
        bar.addWidget(self.count_label)
        bar.addStretch(1)
        self.changed_label = QLabel("<a href='#'>The list changed — refresh</a>")
        self.changed_label.linkActivated.connect(lambda _: self.reload())
        self.changed_label.hide()
        bar.addWidget(self.changed_label)
        refresh = QPushButton("Refresh")
        refresh.clicked.connect(self.reload)
        bar.addWidget(refresh)
        self.retry_all_button = QPushButton("Retry all")
        self.retry_all_button.setToolTip("Retry every record in the list as filtered")
        self.retry_all_button.clicked.connect(self.retry_all)
        bar.addWidget(self.retry_all_button)
        page.addLayout(bar)

        split = QSplitter(Qt.Orientation.Horizontal)
        runner = bridge.runner if bridge is not None else None
        self.model = KeysetModel([
            Column("state", "State", format=lambda r: r.get("short") or state_label(r["state"]),
                   color=row_color, tooltip=lambda r: r.get("result") or state_label(r["state"])),
            Column("key", "Record", format=lambda r: record_label(r["key"]), tooltip=lambda r: r["key"]),
            Column("kind", "What", format=lambda r: kind_label(r["kind"])),
            Column("reason", "Reason", tooltip=lambda r: r.get("reason", "")),
            Column("attempts", "Tries", align_right=True),
            Column("updated_at", "When", format=lambda r: ago(r.get("updated_at"))),
        ], runner=runner, page_size=200, parent=self)
        self.table = setup_table(QTableView(), self.model, stretch=3, multi=True)
        for column, width in {0: 96, 1: 160, 2: 150, 4: 44, 5: 84}.items():
            self.table.setColumnWidth(column, width)
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)
        self.table.doubleClicked.connect(lambda _: self.edit_and_retry())
        self.model.page_loaded.connect(self._page_loaded)
        self.model.load_failed.connect(lambda text: self.alerts.show_message(f"Could not read the list: {text}",
                                                                            "error"))
        split.addWidget(self.table)
        split.addWidget(self._detail_panel())
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setSizes([760, 400])
        page.addWidget(split, 1)

        self.poll_timer = QTimer(self)
        self.poll_timer.setInterval(1000)
        self.poll_timer.timeout.connect(self._poll_results)
        if bridge is not None:
            bridge.status.connect(self._status)
            bridge.errors_changed.connect(self._maybe_reload)
        self.show_detail(None)
        self.reload()

    # -- layout --------------------------------------------------------------------------------
    def _detail_panel(self) -> QWidget:
        card = Card("")
        head = QHBoxLayout()
        self.detail_title = heading("")
        self.detail_title.setWordWrap(True)
        head.addWidget(self.detail_title, 1)
        self.detail_state = Pill("")
        head.addWidget(self.detail_state, 0, Qt.AlignmentFlag.AlignTop)
        card.body.addLayout(head)
        self.detail_what = QLabel()
        self.detail_what.setWordWrap(True)
        self.detail_reason = QLabel()
        self.detail_reason.setWordWrap(True)
        self.detail_reason.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.detail_reason.setStyleSheet(f"color: {COLORS['error']};")
        self.detail_todo = muted("")
        self.detail_meta = muted("")
        self.detail_result = QLabel()
        self.detail_result.setWordWrap(True)
        for label in (self.detail_meta, self.detail_result, self.detail_what, self.detail_reason, self.detail_todo):
            card.body.addWidget(label)
        self.tabs = QTabWidget()
        self.payload_view = QPlainTextEdit()
        self.payload_view.setReadOnly(True)
        self.payload_view.setFont(mono())
        self.payload_view.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.override_view = QPlainTextEdit()
        self.override_view.setReadOnly(True)
        self.override_view.setFont(mono())
        self.override_view.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.trail_view = QPlainTextEdit()
        self.trail_view.setReadOnly(True)
        self.trail_view.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.tabs.addTab(self.payload_view, "Data")
        self.tabs.addTab(self.override_view, "Your corrections")
        self.tabs.addTab(self.trail_view, "Trail")
        self.tabs.currentChanged.connect(lambda _: self._load_trail())
        card.body.addWidget(self.tabs, 1)
        buttons = QHBoxLayout()
        self.retry_button = QPushButton("Retry")
        self.retry_button.clicked.connect(self.retry_selected)
        self.edit_button = QPushButton("Edit && retry…")
        self.edit_button.clicked.connect(self.edit_and_retry)
        self.discard_button = QPushButton("Discard")
        self.discard_button.clicked.connect(self.discard_selected)
        for button in (self.retry_button, self.edit_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(self.discard_button)
        card.body.addLayout(buttons)
        card.setMinimumWidth(360)
        return card

    # -- loading -------------------------------------------------------------------------------
    def _fetch(self, state: str | None, kind: str | None):
        service = self.bridge.service
        return lambda before, limit: service.errors_page(state=state, kind=kind, before_id=before, limit=limit)

    def reload(self) -> None:
        if self.bridge is None:
            return
        self.following.clear()
        self.changed_label.hide()
        self.model.set_fetch(self._fetch(self.state_filter.currentData(), self.kind_filter.currentData()))
        self.bridge.call(self.bridge.service.error_counts, done=self._counts, context=self)

    def _counts(self, counts: dict[str, dict[str, int]]) -> None:
        current = self.kind_filter.currentData()
        self.kind_filter.blockSignals(True)
        self.kind_filter.clear()
        total = sum(sum(c.values()) for c in counts.values())
        self.kind_filter.addItem(f"All kinds ({total})", None)
        for kind in sorted(counts, key=kind_label):
            self.kind_filter.addItem(f"{kind_label(kind)} ({sum(counts[kind].values())})", kind)
        index = self.kind_filter.findData(current)
        self.kind_filter.setCurrentIndex(max(index, 0))
        self.kind_filter.blockSignals(False)
        state = self.state_filter.currentData()
        shown = sum(c.get(state, 0) if state else sum(c.values()) for k, c in counts.items()
                    if current is None or k == current)
        self.known_open = total
        self.count_label.setText(plural(shown, "record"))
        self.retry_all_button.setText(f"Retry all ({shown})" if shown else "Retry all")
        self.retry_all_button.setEnabled(shown > 0)

    def _page_loaded(self, _: int) -> None:
        if self.model.rowCount() and not self.table.selectionModel().hasSelection():
            self.table.selectionModel().select(self.model.index(0, 0), QItemSelectionModel.SelectionFlag.ClearAndSelect
                                               | QItemSelectionModel.SelectionFlag.Rows)
        elif not self.model.rowCount():
            self.show_detail(None)

    def _status(self, status: dict[str, Any]) -> None:
        alerts = [a for a in status.get("alerts") or [] if a.get("kind") in ("breaker", "stale")
                  or str(a.get("incident", "")).startswith(("breaker:", "stale:"))]
        if alerts:
            text = " · ".join(f"<b>{alert_title(a['title'])}</b>: {a['message']}" for a in alerts[:2])
            self.alerts.show_message(text, "error", "Dashboard")
        else:
            self.alerts.clear()
        if self.known_open is not None and status.get("open_errors") != self.known_open:
            self._maybe_reload()
        errors, reviews = int(status.get("open_errors") or 0), int(status.get("open_reviews") or 0)
        self.pages.setTabText(0, f"Records that failed ({errors})" if errors else "Records that failed")
        self._review_count(reviews)
        if self.reviews.loaded and not self.reviews.deciding:   # a decision in flight makes the counts differ
            if reviews != sum(1 for r in self.reviews.model.rows if not r.get("choice")):
                self.reviews.maybe_reload()
            else:
                self.reviews.changed_label.hide()   # a status read before a decision landed is no news

    def _review_count(self, count: int) -> None:
        self.pages.setTabText(1, f"Customers to review ({count})" if count else "Customers to review")

    def _page_changed(self, index: int) -> None:
        if self.pages.widget(index) is self.reviews and not self.reviews.loaded:
            self.reviews.reload()

    def show_reviews(self) -> None:
        """Open on the customers to review (nothing else waits, or a person asked for them)."""
        self.pages.setCurrentWidget(self.reviews)
        if not self.reviews.loaded:
            self.reviews.reload()

    def _maybe_reload(self) -> None:
        """Reload when nothing on screen would be lost; else offer it (rows must not jump mid-work)."""
        if not self.isVisible():
            return
        if self.following or any(r.get("result") for r in self.model.rows):
            self.changed_label.show()   # results of retries stay visible until the person refreshes
        else:
            self.reload()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if event.spontaneous() or self.bridge is None:
            return
        if self.model.pages_fetched:
            self._maybe_reload()
        status = self.bridge.last_status or {}
        if status.get("open_reviews") and not status.get("open_errors"):
            self.show_reviews()
        elif self.pages.currentWidget() is self.reviews:
            self.reviews.maybe_reload()

    # -- selection and detail ------------------------------------------------------------------
    def selected_rows(self) -> list[dict[str, Any]]:
        rows = sorted({i.row() for i in self.table.selectionModel().selectedRows()})
        return [self.model.rows[r] for r in rows if r < len(self.model.rows)]

    def _selection_changed(self) -> None:
        rows = self.selected_rows()
        self.show_detail(rows[0] if len(rows) == 1 else None, len(rows))

    def show_detail(self, row: dict[str, Any] | None, selected: int = 0) -> None:
        self.current = row
        acting = row is not None and row["id"] not in self.following
        self.retry_button.setEnabled(selected > 1 or acting)
        self.retry_button.setText(f"Retry {selected} selected" if selected > 1 else "Retry")
        self.edit_button.setEnabled(acting)
        self.discard_button.setEnabled(selected > 1 or acting)
        self.discard_button.setText(f"Discard {selected} selected" if selected > 1 else "Discard")
        if row is None:
            self.detail_title.setText(f"{selected} records selected" if selected > 1 else "Nothing selected")
            self.detail_state.hide()
            self.detail_what.setText("" if selected > 1 else "Pick a record on the left to see what went wrong.")
            for label in (self.detail_reason, self.detail_todo, self.detail_meta, self.detail_result):
                label.clear()
            self.detail_result.hide()
            for view in (self.payload_view, self.override_view, self.trail_view):
                view.clear()
            return
        self.detail_title.setText(f"{record_label(row['key'])} — {kind_label(row['kind'])}")
        self.detail_state.show()
        self.detail_state.set(state_label(row["state"]),
                              COLORS["attention"] if row["state"] == "quarantined" else COLORS["error"])
        what, todo = explain_error(row.get("error_class", ""))
        tries = plural(int(row.get("attempts") or 0), "try", "tries")
        result = row.get("result", "")
        self.detail_result.setVisible(bool(result))
        self.detail_result.setText(f"Your retry: {result}" if result else "")
        self.detail_result.setStyleSheet(f"color: {RESULT_COLORS.get(row.get('tone', ''), '#5f6b76')}; "
                                         "font-weight: 600;")
        self.detail_what.setText(what)
        self.detail_meta.setText(f"{tries} · last one {ago(row.get('updated_at'))} · {row['key']}")
        self.detail_reason.setText(row.get("reason") or "No reason was recorded.")
        self.detail_todo.setText(f"What to do: {todo}")
        self.payload_view.setPlainText(json.dumps(row.get("payload"), indent=2, ensure_ascii=False))
        override = row.get("override")
        self.override_view.setPlainText(json.dumps(override, indent=2, ensure_ascii=False) if override
                                        else "No corrections yet. Use Edit & retry to change the data.")
        self.trail_view.clear()
        self._load_trail()

    def _load_trail(self) -> None:
        row = self.current
        if row is None or self.tabs.currentWidget() is not self.trail_view or self.bridge is None:
            return
        job_id = row["id"]
        self.bridge.call(self.bridge.service.events_page, job_id=job_id, limit=100,
                         done=lambda events: self._show_trail(job_id, events), context=self)

    def _show_trail(self, job_id: int, events: list[dict[str, Any]]) -> None:
        if self.current is None or self.current["id"] != job_id:
            return
        lines = [f"{e['when']}  {e['level'].upper():7}  {e['message']}" for e in reversed(events)]
        self.trail_view.setPlainText("\n".join(lines) or "Nothing recorded yet.")

    # -- actions -------------------------------------------------------------------------------
    def _mark(self, rows: list[dict[str, Any]], text: str, tone: str, short: str | None = None) -> None:
        for row in rows:
            number = self.model.find("id", row["id"])
            self.model.update_row(number, {"result": text, "tone": tone, "short": short or text})

    def retry_selected(self) -> None:
        rows = [r for r in self.selected_rows() if r["id"] not in self.following]
        for row in rows:
            self._retry(row, None)

    def _retry(self, row: dict[str, Any], override: dict[str, Any] | None) -> None:
        self.following.add(row["id"])
        self._mark([row], "Retrying…", "busy")
        self.show_detail(self.current, len(self.selected_rows()))
        self.bridge.call(self.bridge.service.retry, row["id"], override,
                         done=lambda _: self._follow(), failed=lambda exc: self._retry_failed(row, exc), context=self)

    def _retry_failed(self, row: dict[str, Any], error: BaseException) -> None:
        self.following.discard(row["id"])
        self._mark([row], f"Could not retry: {error}", "bad", "Not retried")

    def _follow(self) -> None:
        if not self.poll_timer.isActive():
            self.poll_timer.start()
        self.bridge.refresh()

    def _poll_results(self) -> None:
        if not self.following:
            self.poll_timer.stop()
            return
        ids = sorted(self.following)
        self.bridge.call(self.bridge.service.job_states, ids, done=lambda states: self._results(ids, states),
                         context=self)

    def _results(self, ids: list[int], states: dict[int, dict[str, Any]]) -> None:
        for job_id in ids:
            job = states.get(job_id)
            short, text, tone = result_of(job)
            number = self.model.find("id", job_id)
            if number >= 0:
                changes_ = {"result": text, "tone": tone, "short": short}
                if job is not None:
                    changes_.update(state=job["state"], attempts=job["attempts"],
                                    reason=job["reason"] or self.model.rows[number].get("reason", ""))
                self.model.update_row(number, changes_)
            if tone != "busy":
                self.following.discard(job_id)
        if not self.following:
            self.poll_timer.stop()
        self._selection_changed()

    def retry_all(self) -> None:
        state, kind = self.state_filter.currentData(), self.kind_filter.currentData()
        what = self.retry_all_button.text().replace("Retry all ", "").strip("()") or "all"
        answer = QMessageBox.question(self, "Retry all", f"Retry {what} record(s) in this list now?")
        if answer != QMessageBox.StandardButton.Yes:
            return
        rows = list(self.model.rows)
        self._mark(rows, "Retrying…", "busy")
        self.following.update(r["id"] for r in rows)
        self.bridge.call(self.bridge.service.retry_all, state, kind, done=lambda n: self._follow(),
                         failed=lambda exc: self.alerts.show_message(f"Retry all failed: {exc}", "error"),
                         context=self)

    def edit_and_retry(self) -> None:
        row = self.current
        if row is None or row["id"] in self.following:
            return
        dialog = EditDialog(row, self)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            override = dialog.override()
            self._retry(row, override or None)
            number = self.model.find("id", row["id"])
            if override:
                self.model.update_row(number, {"override": merged(row.get("override"), override)})

    def discard_selected(self) -> None:
        rows = [r for r in self.selected_rows() if r["id"] not in self.following]
        if not rows:
            return
        names = record_label(rows[0]["key"]) if len(rows) == 1 else plural(len(rows), "record")
        answer = QMessageBox.question(self, "Discard", f"Discard {names}? It will not be synced; the history "
                                      "keeps a note of it.")
        if answer != QMessageBox.StandardButton.Yes:
            return
        self._mark(rows, "Discarding…", "busy")
        for row in rows:
            self.bridge.call(self.bridge.service.discard, row["id"],
                             done=lambda _, row=row: self._discarded(row),
                             failed=lambda exc, row=row: self._mark([row], f"Could not discard: {exc}", "bad",
                                                                    "Not discarded"),
                             context=self)

    def _discarded(self, row: dict[str, Any]) -> None:
        number = self.model.find("id", row["id"])
        self.model.update_row(number, {"result": "Discarded", "short": "Discarded", "tone": "note",
                                       "state": "discarded"})
        self.following.discard(row["id"])
        self._selection_changed()
        self.bridge.refresh()

    def row_for(self, job_id: int) -> dict[str, Any] | None:
        number = self.model.find("id", job_id)
        return self.model.row(number)

    def select(self, job_id: int) -> None:
        number = self.model.find("id", job_id)
        if number >= 0:
            self.table.selectRow(number)


__all__ = ["EditDialog", "ErrorsWindow", "changes", "result_of", "set_path"]
