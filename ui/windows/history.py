"""Sync history: every run, and everything that happened to one record.

The top table lists runs newest first (filter by flow, outcome and dates); the bottom one shows the
steps of the selected run, or — when a person searches for an order number, SKU or e-mail — that
record's whole trail across runs. Both tables page from the database by keyset as they scroll
(`KeysetModel`), so a history of a million runs opens as fast as one of ten.
"""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

from PySide6.QtCore import QDate, Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateEdit,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from ui.icons import COLORS
from ui.models import LEVEL_COLORS, OUTCOME_COLORS, Column, KeysetModel
from ui.state import FLOW_LABELS
from ui.widgets import Card, heading, muted, setup_table
from ui.windows import Window
from ui.words import record_label

OUTCOMES = (("Any outcome", None), ("OK", "ok"), ("Partly failed", "partial"), ("Failed", "failed"),
            ("Running", "running"))
OUTCOME_LABELS = {"ok": "OK", "partial": "Partly failed", "failed": "Failed", "running": "Running"}


def took(row: dict[str, Any]) -> str:
    if not row.get("ended_at"):
        return "…"
    seconds = row["ended_at"] - row["started_at"]
    if seconds < 1:
        return "< 1 s"
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min"


def counts_text(row: dict[str, Any]) -> str:
    counts = row.get("counts")
    if isinstance(counts, dict):
        return ", ".join(f"{v} {k}" for k, v in counts.items() if v) or "nothing to do"
    return str(counts or "")


def day_start(date: QDate) -> float:
    return datetime.combine(date.toPython(), time.min).timestamp()


RUN_COLUMNS = [
    Column("started", "Started", format=lambda r: r.get("started", "")[:16]),
    Column("flow", "Flow", format=lambda r: FLOW_LABELS.get(r["flow"], r["flow"])),
    Column("trigger", "Trigger", format=lambda r: str(r.get("trigger", "")).capitalize()),
    Column("outcome", "Outcome", format=lambda r: OUTCOME_LABELS.get(r["outcome"], r["outcome"]),
           color=lambda r: OUTCOME_COLORS.get(r["outcome"])),
    Column("took", "Took", format=took, align_right=True),
    Column("counts", "Records", format=counts_text),
    Column("message", "Message", format=lambda r: r.get("message") or ""),
]

EVENT_COLUMNS = [
    Column("when", "When", format=lambda r: r.get("when", "")),
    Column("level", "Level", format=lambda r: r.get("level", "").capitalize(),
           color=lambda r: LEVEL_COLORS.get(r.get("level", ""))),
    Column("subject", "Record", format=lambda r: record_label(r.get("subject") or ""),
           tooltip=lambda r: r.get("subject") or ""),
    Column("message", "What happened"),
]


class HistoryWindow(Window):
    """Runs and per-record trails, paged from the database."""

    def __init__(self, bridge: Any = None, parent: QWidget | None = None, page_size: int = 200):
        super().__init__("Sync history", bridge, (1120, 720), parent)
        runner = bridge.runner if bridge is not None else None
        outer = QVBoxLayout(self)
        outer.setContentsMargins(18, 16, 18, 16)
        outer.setSpacing(10)
        outer.addWidget(heading("Sync history"))
        outer.addWidget(muted("Every run of every flow, newest first. Search for an order number, SKU or e-mail "
                              "to see everything that happened to that record."))

        bar = QHBoxLayout()
        self.flow = QComboBox()
        self.flow.addItem("All flows", None)
        for flow, label in FLOW_LABELS.items():
            self.flow.addItem(label, flow)
        self.outcome = QComboBox()
        for label, outcome in OUTCOMES:
            self.outcome.addItem(label, outcome)
        self.dated = QCheckBox("From")
        today = QDate.currentDate()
        self.date_from = QDateEdit(today.addDays(-7))
        self.date_to = QDateEdit(today)
        for edit in (self.date_from, self.date_to):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("yyyy-MM-dd")
            edit.setEnabled(False)
        self.dated.toggled.connect(self.date_from.setEnabled)
        self.dated.toggled.connect(self.date_to.setEnabled)
        for widget in (self.flow, self.outcome):
            widget.currentIndexChanged.connect(self.reload_runs)
        self.dated.toggled.connect(self.reload_runs)
        self.date_from.dateChanged.connect(self.reload_runs)
        self.date_to.dateChanged.connect(self.reload_runs)
        bar.addWidget(self.flow)
        bar.addWidget(self.outcome)
        bar.addSpacing(8)
        bar.addWidget(self.dated)
        bar.addWidget(self.date_from)
        bar.addWidget(QLabel("to"))
        bar.addWidget(self.date_to)
        bar.addStretch(1)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Order number, SKU or e-mail")
        self.search.setClearButtonEnabled(True)
        self.search.setMinimumWidth(240)
        self.search.returnPressed.connect(self.find)
        self.search.textChanged.connect(self._search_edited)
        bar.addWidget(self.search)
        find = QPushButton("Find")
        find.clicked.connect(self.find)
        bar.addWidget(find)
        outer.addLayout(bar)

        split = QSplitter(Qt.Orientation.Vertical)
        self.runs = KeysetModel(RUN_COLUMNS, runner=runner, page_size=page_size, parent=self)
        self.runs_view = setup_table(QTableView(), self.runs, stretch=6)
        for column, width in {0: 130, 1: 90, 2: 80, 3: 100, 4: 60, 5: 220}.items():
            self.runs_view.setColumnWidth(column, width)
        self.runs_view.selectionModel().selectionChanged.connect(self._run_selected)
        self.runs.page_loaded.connect(self._runs_loaded)
        split.addWidget(self.runs_view)

        lower = Card("")
        self.steps_title = QLabel("Steps")
        self.steps_title.setObjectName("cardTitle")
        lower.body.addWidget(self.steps_title)
        self.steps_hint = muted("Pick a run above to see its steps.")
        lower.body.addWidget(self.steps_hint)
        self.steps = KeysetModel(EVENT_COLUMNS, runner=runner, page_size=page_size, parent=self)
        self.steps_view = setup_table(QTableView(), self.steps, stretch=3)
        for column, width in {0: 140, 1: 70, 2: 170}.items():
            self.steps_view.setColumnWidth(column, width)
        self.steps.page_loaded.connect(self._steps_loaded)
        lower.body.addWidget(self.steps_view, 1)
        split.addWidget(lower)
        split.setSizes([380, 300])
        outer.addWidget(split, 1)
        if bridge is not None:
            self.reload_runs()

    # -- runs ----------------------------------------------------------------------------------
    def filters(self) -> dict[str, Any]:
        since = until = None
        if self.dated.isChecked():
            since = day_start(self.date_from.date())
            until = day_start(self.date_to.date().addDays(1))
        return {"flow": self.flow.currentData(), "outcome": self.outcome.currentData(), "since": since,
                "until": until}

    def reload_runs(self) -> None:
        if self.bridge is None:
            return
        service, filters = self.bridge.service, self.filters()
        self.runs.set_fetch(lambda before, limit: service.runs_page(before_id=before, limit=limit, **filters))

    def show_flow(self, flow: str | None) -> None:
        index = self.flow.findData(flow)
        self.flow.setCurrentIndex(max(index, 0))

    def _runs_loaded(self, count: int) -> None:
        if not self.runs.rowCount() and self.runs.exhausted:
            self.runs_view.setToolTip("No runs match these filters.")
        else:
            self.runs_view.setToolTip("")

    def _run_selected(self) -> None:
        if self.search.text().strip():
            return
        rows = self.runs_view.selectionModel().selectedRows()
        run = self.runs.row(rows[0].row()) if rows else None
        if run is None or self.bridge is None:
            self.steps.set_fetch(None)
            self.steps_title.setText("Steps")
            self.steps_hint.setText("Pick a run above to see its steps.")
            self.steps_hint.show()
            return
        service, run_id = self.bridge.service, run["id"]
        self.steps_title.setText(f"Steps of the {FLOW_LABELS.get(run['flow'], run['flow']).lower()} run "
                                 f"started {run.get('started', '')[:16]}")
        self.steps_hint.hide()
        self.steps.set_fetch(lambda before, limit: service.events_page(run_id=run_id, before_id=before, limit=limit))

    # -- trails --------------------------------------------------------------------------------
    def _search_edited(self, text: str) -> None:
        """Clearing the search goes back to the selected run's steps."""
        if not text.strip():
            self.find()

    def find(self) -> None:
        """Show everything recorded about what was typed (an order number, SKU or e-mail)."""
        query = self.search.text().strip()
        if not query:
            self._run_selected()
            return
        if self.bridge is None:
            return
        service = self.bridge.service
        self.steps_title.setText(f"Everything about “{query}”")
        self.steps_hint.hide()
        self.steps.set_fetch(lambda before, limit: service.trail_page(query, before_id=before, limit=limit))

    def _steps_loaded(self, count: int) -> None:
        if self.steps.rowCount() == 0 and self.steps.exhausted:
            query = self.search.text().strip()
            self.steps_hint.setText(f"Nothing recorded about “{query}”. Check the number, or try the SKU or "
                                    "the customer's e-mail." if query else "This run has no steps recorded.")
            self.steps_hint.setStyleSheet(f"color: {COLORS['attention']};" if query else "")
            self.steps_hint.show()
        else:
            self.steps_hint.hide()
