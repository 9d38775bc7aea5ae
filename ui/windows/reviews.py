"""Customers to review: a store customer that looks like one BNG already has waits for a person.

The agent never merges customers on its own: when a new store customer looks like a BNG customer
(the same mailbox, the same name at a similar address...), it holds it and opens a *review*. This
tab lists them: the store customer, the BNG customer(s) it may be, and the evidence in sentences.
A person links it to one of them (BNG keeps its own data), creates a new BNG customer anyway, or
ignores it until it changes in the store. As on the records tab, the outcome appears in the row
itself ("Linking…", then "Linked to C000003 ✓" or "Failed: …"), so the click is seen to work.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QItemSelectionModel, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from ui.icons import COLORS
from ui.models import Column, RowsModel
from ui.widgets import Card, Pill, ago, bold, clear_layout, heading, muted, plural, setup_table

TONES = {"busy": COLORS["syncing"], "ok": COLORS["ok"], "bad": COLORS["error"], "note": "#5f6b76"}


def customer_text(row: dict[str, Any]) -> str:
    customer = row.get("customer") or {}
    return f"{customer.get('name', '')} <{customer.get('email', '')}>"


def matches_text(row: dict[str, Any]) -> str:
    """"C000003 Brenda Lindgren", "+ 1 more" when BNG has several likely matches."""
    candidates = row.get("candidates") or []
    if not candidates:
        return ""
    best = candidates[0]
    more = f" +{len(candidates) - 1} more" if len(candidates) > 1 else ""
    return f"{best['customer_no']} {best.get('name', '')}{more}"


def result_of(choice: str, customer_no: str | None, job: dict[str, Any] | None) -> tuple[str, str, str]:
    """(short, text, tone) of a decision from its sync job's state (no job: an ignore, done at once)."""
    if choice == "ignore":
        return "Ignored", "Ignored until the customer changes in the store", "note"
    done = f"Linked to {customer_no}" if choice == "link" else "Created in BNG"
    if job is None:
        return "Gone", "The customer sync is gone (resolved elsewhere)", "note"
    state, reason = job["state"], job.get("reason") or ""
    if state in ("pending", "running"):
        busy = f"Linking to {customer_no}…" if choice == "link" else "Creating in BNG…"
        return busy, busy, "busy"
    if state == "succeeded":
        return f"{done} ✓", f"{done} ✓", "ok"
    if state == "retry_wait":
        return "Will retry", f"Not done yet, will retry: {reason}", "bad"
    return "Failed", f"Failed: {reason} (see Records that failed)", "bad"


def row_color(row: dict[str, Any]) -> str:
    return TONES[row["tone"]] if row.get("tone") else COLORS["attention"]


class ReviewsPanel(QWidget):
    """The "Customers to review" tab of the errors window."""

    count_changed = Signal(int)      # open reviews as this tab last read them (for the tab's title)

    def __init__(self, bridge: Any = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.bridge = bridge
        self.following: dict[int, int] = {}     # review id → the sync job its decision made
        self.deciding: set[int] = set()          # reviews whose decision the service has not answered yet
        self.current: dict[str, Any] | None = None
        self.loaded = False
        outer = QVBoxLayout(self)
        outer.setContentsMargins(10, 10, 10, 10)
        outer.setSpacing(8)
        outer.addWidget(muted("New store customers that look like a customer BNG already has. They are not sent "
                              "to BNG until you decide: link them to the BNG customer, create a new one, or "
                              "ignore them."))
        bar = QHBoxLayout()
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
        outer.addLayout(bar)

        split = QSplitter(Qt.Orientation.Horizontal)
        self.model = RowsModel([
            Column("state", "State", format=lambda r: r.get("short") or "To decide", color=row_color,
                   tooltip=lambda r: r.get("result") or "Waiting for your decision"),
            Column("customer", "Store customer", format=customer_text),
            Column("candidates", "May be BNG customer", format=matches_text),
            Column("created_at", "Since", format=lambda r: ago(r.get("created_at"))),
        ], parent=self)
        self.table = setup_table(QTableView(), self.model, stretch=1)
        for column, width in {0: 140, 2: 240, 3: 80}.items():
            self.table.setColumnWidth(column, width)
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)
        split.addWidget(self.table)
        split.addWidget(self._detail_panel())
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setSizes([680, 460])
        outer.addWidget(split, 1)

        self.poll_timer = QTimer(self)
        self.poll_timer.setInterval(1000)
        self.poll_timer.timeout.connect(self._poll_results)
        if bridge is not None:
            bridge.reviews_changed.connect(self._reviews_changed)
        self.show_detail(None)

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
        self.detail_customer = QLabel()
        self.detail_customer.setWordWrap(True)
        self.detail_customer.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        card.body.addWidget(self.detail_customer)
        self.detail_result = QLabel()
        self.detail_result.setWordWrap(True)
        card.body.addWidget(self.detail_result)
        self.matches_title = bold(QLabel("May be this BNG customer"))
        card.body.addWidget(self.matches_title)
        holder = QWidget()
        holder.setObjectName("matches")
        holder.setStyleSheet("QWidget#matches { background: transparent; }")
        self.matches = QVBoxLayout(holder)
        self.matches.setContentsMargins(0, 0, 0, 0)
        self.matches.setSpacing(8)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(holder)
        scroll.viewport().setAutoFillBackground(False)       # the card's white, not the page's grey
        card.body.addWidget(scroll, 1)
        self.link_buttons: dict[str, QPushButton] = {}
        self.evidence_labels: dict[str, QLabel] = {}
        card.body.addWidget(muted("Link: the store customer becomes that BNG customer; BNG keeps what its staff "
                                  "entered. Create: a new BNG customer all the same. Ignore: not sent to BNG until "
                                  "the customer changes in the store."))
        buttons = QHBoxLayout()
        self.create_button = QPushButton("Create new customer")
        self.create_button.clicked.connect(lambda: self.decide("create"))
        self.ignore_button = QPushButton("Ignore")
        self.ignore_button.clicked.connect(lambda: self.decide("ignore"))
        buttons.addWidget(self.create_button)
        buttons.addStretch(1)
        buttons.addWidget(self.ignore_button)
        card.body.addLayout(buttons)
        card.setMinimumWidth(380)
        return card

    def _match_box(self, candidate: dict[str, Any], enabled: bool) -> QWidget:
        """One BNG customer it may be: who, why (the evidence, one sentence a line), and its Link button."""
        box = QFrame()
        box.setObjectName("match")
        box.setStyleSheet("QFrame#match { border: 1px solid #dde2e7; border-radius: 6px; background: #f7f9fb; }")
        layout = QVBoxLayout(box)
        layout.setContentsMargins(10, 8, 10, 8)
        layout.setSpacing(4)
        customer_no = candidate["customer_no"]
        layout.addWidget(bold(QLabel(f"{customer_no} — {candidate.get('name') or 'no name'}")))
        evidence = QLabel("\n".join(f"•  {e}" for e in candidate.get("evidence") or []) or "No details recorded.")
        evidence.setWordWrap(True)
        evidence.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.evidence_labels[customer_no] = evidence
        layout.addWidget(evidence)
        link = QPushButton(f"Link to {customer_no}")
        link.setEnabled(enabled)
        link.clicked.connect(lambda: self.decide("link", customer_no))
        self.link_buttons[customer_no] = link
        layout.addWidget(link, 0, Qt.AlignmentFlag.AlignLeft)
        return box

    # -- loading -------------------------------------------------------------------------------
    def reload(self) -> None:
        if self.bridge is None:
            return
        self.changed_label.hide()
        self.bridge.call(self.bridge.service.reviews, done=self._loaded, context=self)

    def _loaded(self, rows: list[dict[str, Any]]) -> None:
        self.loaded = True
        selected = self.current["id"] if self.current else None
        self.model.set_rows(rows)
        self._count()
        number = self.model.find("id", selected) if selected is not None else -1
        if self.model.rowCount():
            self.table.selectionModel().select(self.model.index(max(number, 0), 0),
                                               QItemSelectionModel.SelectionFlag.ClearAndSelect
                                               | QItemSelectionModel.SelectionFlag.Rows)
        else:
            self.show_detail(None)

    def _count(self) -> None:
        waiting = sum(1 for r in self.model.rows if not r.get("choice"))
        self.count_label.setText(f"{plural(waiting, 'customer')} to review" if waiting else "Nothing left to review")
        self.count_changed.emit(waiting)

    def _reviews_changed(self) -> None:
        """A decision was made (here or elsewhere): read the list again if that loses nothing on screen.
        With results shown, the errors window compares the open count with the status and offers a refresh."""
        if not self.isVisible():
            self.loaded = False
        elif not any(r.get("result") for r in self.model.rows):
            self.reload()

    def maybe_reload(self) -> None:
        """Reload unless results of decisions are on screen (they stay until the person refreshes)."""
        if not self.isVisible():
            self.loaded = False         # read again when shown
            return
        if any(r.get("result") for r in self.model.rows):
            self.changed_label.show()
        else:
            self.reload()

    # -- selection and detail ------------------------------------------------------------------
    def selected_row(self) -> dict[str, Any] | None:
        rows = self.table.selectionModel().selectedRows()
        return self.model.row(rows[0].row()) if rows else None

    def _selection_changed(self) -> None:
        self.show_detail(self.selected_row())

    def show_detail(self, row: dict[str, Any] | None) -> None:
        self.current = row
        clear_layout(self.matches)
        self.link_buttons, self.evidence_labels = {}, {}
        open_ = row is not None and not row.get("choice")
        self.create_button.setEnabled(open_)
        self.ignore_button.setEnabled(open_)
        if row is None:
            self.detail_title.setText("Nothing selected")
            self.detail_state.hide()
            self.detail_customer.setText("Pick a customer on the left to see why it may already be in BNG."
                                         if self.model.rowCount() else "No customer waits for a decision.")
            self.detail_result.hide()
            self.matches_title.hide()
            return
        customer = row.get("customer") or {}
        self.detail_title.setText(f"Store customer {customer.get('name', '')}")
        self.detail_state.show()
        tone = row.get("tone")
        self.detail_state.set(row.get("short") or "To decide", TONES[tone] if tone else COLORS["attention"])
        lines = [customer.get("email") or "", customer.get("phone") and f"Phone {customer['phone']}",
                 customer.get("address") or "", f"Flagged {ago(row.get('created_at'))}"]
        self.detail_customer.setText("\n".join(line for line in lines if line))
        result = row.get("result", "")
        self.detail_result.setVisible(bool(result))
        self.detail_result.setText(f"Your decision: {result}" if result else "")
        self.detail_result.setStyleSheet(f"color: {TONES.get(tone or '', '#5f6b76')}; font-weight: 600;")
        candidates = row.get("candidates") or []
        self.matches_title.setVisible(bool(candidates))
        self.matches_title.setText("May be this BNG customer" if len(candidates) == 1
                                   else f"May be one of these {len(candidates)} BNG customers")
        for candidate in candidates:
            self.matches.addWidget(self._match_box(candidate, open_))
        self.matches.addStretch(1)

    # -- deciding ------------------------------------------------------------------------------
    def decide(self, choice: str, customer_no: str | None = None) -> None:
        row = self.current
        if row is None or row.get("choice") or self.bridge is None:
            return
        if choice == "ignore":
            answer = QMessageBox.question(self, "Ignore", f"Ignore {customer_text(row)}? It is not sent to BNG "
                                          "until the customer changes in the store.")
            if answer != QMessageBox.StandardButton.Yes:
                return
        busy = {"link": f"Linking to {customer_no}…", "create": "Creating in BNG…", "ignore": "Ignoring…"}[choice]
        self._update(row["id"], {"choice": choice, "chosen": customer_no, "result": busy, "short": busy,
                                 "tone": "busy"})
        self.deciding.add(row["id"])
        self.bridge.call(self.bridge.service.decide_review, row["id"], choice, customer_no,
                         done=lambda done: self._decided(row["id"], done),
                         failed=lambda exc: self._not_decided(row["id"], exc), context=self)

    def _not_decided(self, review_id: int, error: BaseException) -> None:
        self.deciding.discard(review_id)
        self._update(review_id, {"choice": None, "result": f"Not done: {error}", "short": "Not done", "tone": "bad"})

    def _decided(self, review_id: int, done: dict[str, Any]) -> None:
        self.deciding.discard(review_id)
        if done.get("job"):
            self.following[review_id] = done["job"]
            self._update(review_id, {"chosen": done.get("customer_no")})
            if not self.poll_timer.isActive():
                self.poll_timer.start()
        else:
            short, text, tone = result_of(done["choice"], None, {"state": "succeeded"})
            self._update(review_id, {"result": text, "short": short, "tone": tone})
        self.bridge.refresh()

    def _poll_results(self) -> None:
        if not self.following:
            self.poll_timer.stop()
            return
        follow = dict(self.following)
        self.bridge.call(self.bridge.service.job_states, sorted(follow.values()),
                         done=lambda states: self._results(follow, states), context=self)

    def _results(self, follow: dict[int, int], states: dict[int, dict[str, Any]]) -> None:
        for review_id, job_id in follow.items():
            number = self.model.find("id", review_id)
            row = self.model.row(number)
            if row is None:
                continue
            short, text, tone = result_of(row["choice"], row.get("chosen"), states.get(job_id))
            self._update(review_id, {"result": text, "short": short, "tone": tone})
            if tone != "busy":
                self.following.pop(review_id, None)
        if not self.following:
            self.poll_timer.stop()

    def _update(self, review_id: int, changes: dict[str, Any]) -> None:
        number = self.model.find("id", review_id)
        self.model.update_row(number, changes)
        if "choice" in changes:
            self._count()
        if self.current is not None and self.current["id"] == review_id:
            self.show_detail(self.model.row(number))

    def select(self, review_id: int) -> None:
        number = self.model.find("id", review_id)
        if number >= 0:
            self.table.selectRow(number)

    def row_for(self, review_id: int) -> dict[str, Any] | None:
        return self.model.row(self.model.find("id", review_id))


__all__ = ["ReviewsPanel", "matches_text", "result_of"]
