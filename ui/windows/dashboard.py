"""Dashboard: is everything flowing? One look answers it.

Top: the overall state in a sentence, with Sync now and Pause. Then a card per flow (its state,
last run, last success, next run, today's runs, and the last error when it fails), a card for the
queue and one for the two connections (breaker states in words), and a 30-day chart of orders
synced and records failed, drawn with QPainter.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ui.icons import COLORS, LABELS, state_icon
from ui.state import FLOW_HELP, FLOW_LABELS, SYSTEM_LABELS, headline, overall_state, runs_today, waiting_for_you
from ui.widgets import Banner, Card, Pill, ago, heading, in_future, muted, plural
from ui.windows import Window
from ui.words import alert_title

FLOW_STATES = {
    "ok": ("Working", COLORS["ok"]),
    "running": ("Running", COLORS["syncing"]),
    "failing": ("Failing", COLORS["error"]),
    "never run": ("Not run yet", COLORS["paused"]),
}
SYNCED = QColor("#2e7d32")
FAILED = QColor("#c62828")


class DailyChart(QWidget):
    """Bars per day: orders synced (green) with the day's failures stacked on top (red)."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.days: list[dict[str, Any]] = []
        self.setMinimumSize(360, 170)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def set_days(self, days: list[dict[str, Any]]) -> None:
        self.days = list(days)
        self.setToolTip(self._summary())
        self.update()

    def _summary(self) -> str:
        synced = sum(d["synced"] for d in self.days)
        failed = sum(d["failed"] for d in self.days)
        return f"Last {len(self.days)} days: {synced} orders synced, {failed} records failed"

    def sizeHint(self) -> QSize:
        return QSize(460, 190)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        metrics = painter.fontMetrics()
        line = metrics.height()
        rect = QRectF(self.rect()).adjusted(4, 4, -4, -4)
        # legend
        x = rect.left()
        for color, text in ((SYNCED, "orders synced"), (FAILED, "failed")):
            painter.fillRect(QRectF(x, rect.top() + line / 2 - 5, 10, 10), color)
            painter.setPen(QColor("#394450"))
            painter.drawText(QPointF(x + 14, rect.top() + line * 0.8), text)
            x += 14 + metrics.horizontalAdvance(text) + 16
        top = max((d["synced"] + d["failed"] for d in self.days), default=0)
        plot = QRectF(rect.left() + metrics.horizontalAdvance("0000") + 6, rect.top() + line + 8,
                      0, 0)
        plot.setRight(rect.right())
        plot.setBottom(rect.bottom() - line - 4)
        painter.setPen(QPen(QColor("#d5dbe1"), 1))
        painter.drawLine(plot.bottomLeft(), plot.bottomRight())
        if not self.days or top == 0:
            painter.setPen(QColor("#5f6b76"))
            painter.drawText(plot, Qt.AlignmentFlag.AlignCenter,
                             "Nothing synced in the last 30 days yet.\nOrders will show here day by day.")
            painter.end()
            return
        scale = nice_ceiling(top)
        painter.setPen(QColor("#5f6b76"))
        for value in (0, scale // 2, scale):
            y = plot.bottom() - plot.height() * value / scale
            painter.drawText(QRectF(rect.left(), y - line / 2, plot.left() - rect.left() - 6, line),
                             Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, str(value))
            if value:
                painter.setPen(QPen(QColor("#eef1f4"), 1))
                painter.drawLine(QPointF(plot.left(), y), QPointF(plot.right(), y))
                painter.setPen(QColor("#5f6b76"))
        slot = plot.width() / len(self.days)
        bar = max(2.0, slot * 0.7)
        for i, day in enumerate(self.days):
            x = plot.left() + i * slot + (slot - bar) / 2
            synced_h = plot.height() * day["synced"] / scale
            failed_h = plot.height() * day["failed"] / scale
            painter.fillRect(QRectF(x, plot.bottom() - synced_h, bar, synced_h), SYNCED)
            painter.fillRect(QRectF(x, plot.bottom() - synced_h - failed_h, bar, failed_h), FAILED)
        painter.setPen(QColor("#5f6b76"))
        label_every = max(1, len(self.days) // 5)
        for i in range(len(self.days) - 1, -1, -label_every):
            day = datetime.strptime(self.days[i]["day"], "%Y-%m-%d")
            text = "today" if i == len(self.days) - 1 else f"{day:%b %d}"
            width = metrics.horizontalAdvance(text)
            center = plot.left() + i * slot + slot / 2
            left = min(max(center - width / 2, plot.left()), plot.right() - width)
            painter.drawText(QPointF(left, rect.bottom() - 2), text)
        painter.end()


def nice_ceiling(value: int) -> int:
    """A round upper bound for the axis whose half is a whole number: 3 → 4, 7 → 8, 23 → 30, 140 → 200."""
    if value <= 2:
        return 2
    magnitude = 10 ** (len(str(int(value))) - 1)
    steps = (2, 4, 6, 8, 10) if magnitude == 1 else (1, 2, 3, 4, 5, 6, 8, 10)
    return next(step * magnitude for step in steps if step * magnitude >= value)


class FlowCard(Card):
    """One flow: what it does, its state, when it ran and runs next, today's runs, its last error."""

    sync_requested = Signal(str)

    def __init__(self, flow: str, parent: QWidget | None = None):
        super().__init__("", parent)
        self.flow = flow
        title = QLabel(FLOW_LABELS.get(flow, flow))
        title.setObjectName("cardTitle")
        self.body.addWidget(title)
        self.pill = Pill("…", COLORS["paused"])
        self.body.addWidget(self.pill, 0, Qt.AlignmentFlag.AlignLeft)
        self.setToolTip(FLOW_HELP.get(flow, ""))
        grid = QGridLayout()
        grid.setHorizontalSpacing(10)
        grid.setVerticalSpacing(2)
        self.values: dict[str, QLabel] = {}
        for row, (key, label) in enumerate((("last_success", "Last success"), ("last_run", "Last run"),
                                            ("next_run", "Next run"), ("today", "Today"))):
            grid.addWidget(muted(label, wrap=False), row, 0, Qt.AlignmentFlag.AlignTop)
            value = QLabel("—")
            value.setWordWrap(True)
            self.values[key] = value
            grid.addWidget(value, row, 1)
        grid.setColumnStretch(1, 1)
        self.body.addLayout(grid)
        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.setStyleSheet(f"color: {COLORS['error']};")
        self.error.hide()
        self.body.addWidget(self.error)
        self.body.addStretch(1)
        self.button = QPushButton("Sync now")
        self.button.setToolTip(f"Sync {FLOW_LABELS.get(flow, flow).lower()} now")
        self.button.clicked.connect(lambda: self.sync_requested.emit(self.flow))
        self.body.addWidget(self.button, 0, Qt.AlignmentFlag.AlignLeft)
        self.setMinimumWidth(180)

    def update_flow(self, flow: dict[str, Any], paused: bool = False) -> None:
        text, color = FLOW_STATES.get(flow.get("state", ""), (flow.get("state", ""), COLORS["paused"]))
        if paused and flow.get("state") != "running":
            text, color = "Paused", COLORS["paused"]
        self.pill.set(text, color)
        self.values["last_success"].setText(ago(flow.get("last_success_at")))
        last_run = flow.get("last_run") or ""
        self.values["last_run"].setText(ago(_ts(last_run)) if last_run else "never")
        next_run = flow.get("next_run") or ""
        self.values["next_run"].setText("paused" if paused else in_future(_ts(next_run)) if next_run
                                        else "on request")
        self.values["today"].setText(runs_today(flow))
        error = flow.get("last_error") or ""
        self.error.setText(error if flow.get("state") == "failing" else "")
        self.error.setVisible(flow.get("state") == "failing" and bool(error))
        self.button.setEnabled(not paused)


def _ts(text: str) -> float | None:
    """The service formats times as local 'YYYY-MM-DD HH:MM:SS'; back to epoch for 'ago'."""
    try:
        return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").timestamp()
    except ValueError:
        return None


class DashboardWindow(Window):
    """The first window people open: the state of every flow and connection at a glance."""

    def __init__(self, bridge: Any = None, parent: QWidget | None = None):
        super().__init__("Dashboard", bridge, (1040, 720), parent)
        self.status: dict[str, Any] | None = None
        self.problem: str | None = None
        self.no_tray = False
        self._chart_read_at = 0.0
        self._chart_today: int | None = None     # orders synced today when the chart was last read
        outer = QVBoxLayout(self)
        outer.setContentsMargins(18, 16, 18, 16)
        outer.setSpacing(12)

        head = QHBoxLayout()
        self.state_icon = QLabel()
        self.state_icon.setFixedSize(44, 44)
        head.addWidget(self.state_icon)
        titles = QVBoxLayout()
        titles.setSpacing(0)
        self.title = heading("Starting…")
        self.subtitle = muted("")
        titles.addWidget(self.title)
        titles.addWidget(self.subtitle)
        head.addLayout(titles, 1)
        self.sync_button = QToolButton()
        self.sync_button.setText("Sync now")
        self.sync_button.setPopupMode(QToolButton.ToolButtonPopupMode.MenuButtonPopup)
        self.sync_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.sync_button.setMinimumHeight(30)
        self.sync_button.clicked.connect(lambda: self.sync("all"))
        menu = QMenu(self.sync_button)
        menu.addAction("All flows", lambda: self.sync("all"))
        menu.addSeparator()
        for flow, label in FLOW_LABELS.items():
            menu.addAction(label, lambda flow=flow: self.sync(flow))
        self.sync_button.setMenu(menu)
        head.addWidget(self.sync_button)
        self.pause_button = QPushButton("Pause")
        self.pause_button.setMinimumHeight(30)
        self.pause_button.clicked.connect(self.toggle_pause)
        head.addWidget(self.pause_button)
        outer.addLayout(head)

        self.banner = Banner()
        self.banner.action_clicked.connect(lambda: self.navigate.emit(self._banner_target))
        self._banner_target = "errors"
        outer.addWidget(self.banner)
        self.note = Banner()  # the "no system tray" note stays separate from alerts
        outer.addWidget(self.note)

        flows = QGridLayout()
        flows.setSpacing(12)
        self.cards: dict[str, FlowCard] = {}
        for i, flow in enumerate(FLOW_LABELS):
            card = FlowCard(flow)
            card.sync_requested.connect(self.sync)
            self.cards[flow] = card
            flows.addWidget(card, 0, i)
        outer.addLayout(flows)

        bottom = QHBoxLayout()
        bottom.setSpacing(12)
        side = QVBoxLayout()
        side.setSpacing(12)
        self.queue_card = Card("Queue")
        self.queue_labels: dict[str, QLabel] = {}
        queue_grid = QGridLayout()
        queue_grid.setVerticalSpacing(2)
        for row, (key, label) in enumerate((("waiting", "Waiting"), ("running", "Running now"),
                                            ("retrying", "Will retry"), ("errors", "Need attention"))):
            queue_grid.addWidget(muted(label, wrap=False), row, 0)
            value = QLabel("0")
            value.setAlignment(Qt.AlignmentFlag.AlignRight)
            self.queue_labels[key] = value
            queue_grid.addWidget(value, row, 1)
        self.queue_card.body.addLayout(queue_grid)
        self.errors_button = QPushButton("Open errors")
        self.errors_button.clicked.connect(lambda: self.navigate.emit("errors"))
        self.queue_card.body.addWidget(self.errors_button, 0, Qt.AlignmentFlag.AlignLeft)
        side.addWidget(self.queue_card)
        self.connections_card = Card("Connections")
        self.connection_labels: dict[str, QLabel] = {}
        conn_grid = QGridLayout()
        conn_grid.setVerticalSpacing(2)
        for row, (system, label) in enumerate(SYSTEM_LABELS.items()):
            conn_grid.addWidget(muted(label, wrap=False), row, 0)
            value = QLabel("Not checked yet")
            value.setWordWrap(True)
            self.connection_labels[system] = value
            conn_grid.addWidget(value, row, 1)
        conn_grid.setColumnStretch(1, 1)
        self.connections_card.body.addLayout(conn_grid)
        side.addWidget(self.connections_card)
        side.addStretch(1)
        bottom.addLayout(side, 1)
        chart_card = Card("Orders synced per day — last 30 days")
        self.chart = DailyChart()
        chart_card.body.addWidget(self.chart, 1)
        history = QPushButton("Sync history")
        history.clicked.connect(lambda: self.navigate.emit("history"))
        chart_card.body.addWidget(history, 0, Qt.AlignmentFlag.AlignLeft)
        bottom.addWidget(chart_card, 2)
        outer.addLayout(bottom, 1)

        if bridge is not None:
            bridge.status.connect(self.update_status)
            bridge.problem.connect(self.show_problem)
            if bridge.last_status:
                self.update_status(bridge.last_status)
            bridge.refresh()

    # -- actions -------------------------------------------------------------------------------
    def sync(self, flow: str) -> None:
        if self.bridge is None:
            return
        label = "all flows" if flow == "all" else FLOW_LABELS.get(flow, flow).lower()
        self.subtitle.setText(f"Syncing {label}…")
        self.bridge.call(self.bridge.service.sync_later, flow, done=lambda _: self.bridge.refresh(),
                         failed=lambda exc: self.show_problem(f"Could not start the sync: {exc}"), context=self)

    def toggle_pause(self) -> None:
        if self.bridge is None:
            return
        paused = bool(self.status and self.status.get("paused"))
        action = self.bridge.service.resume if paused else self.bridge.service.pause
        self.pause_button.setEnabled(False)
        self.bridge.call(action, done=lambda _: self.pause_button.setEnabled(True),
                         failed=lambda exc: (self.pause_button.setEnabled(True), self.show_problem(str(exc))),
                         context=self)

    # -- showing -------------------------------------------------------------------------------
    def set_problem(self, problem: str | None) -> None:
        """The agent could not start (missing password, broken config...): say so at the top."""
        self.problem = problem
        self.update_status(self.status)

    def show_problem(self, text: str) -> None:
        self._banner_target = "settings"
        self.banner.show_message(text, "error", "Settings")

    def set_no_tray(self, no_tray: bool) -> None:
        self.no_tray = no_tray
        if no_tray:
            self.note.show_message("This desktop has no system tray, so bngsync shows this window instead. "
                                   "The agent runs while this window is open; closing it stops syncing.", "info")
        else:
            self.note.clear()

    def update_status(self, status: dict[str, Any] | None) -> None:
        self.status = status
        state = overall_state(status, self.problem)
        title, sentence = headline(status, self.problem)
        self.state_icon.setPixmap(state_icon(state).pixmap(44, 44))
        self.state_icon.setToolTip(LABELS[state])
        self.title.setText(title)
        if status:
            today = int(status.get("orders_synced_today") or 0)
            sentence += f"  {plural(today, 'order')} synced today."
        self.subtitle.setText(sentence)
        paused = bool(status and status.get("paused"))
        self.pause_button.setText("Resume" if paused else "Pause")
        self.sync_button.setEnabled(not paused)
        if not status:
            return
        for flow in status.get("flows", []):
            card = self.cards.get(flow["flow"])
            if card is not None:
                card.update_flow(flow, paused)
        queue = status.get("queue") or {}
        self.queue_labels["waiting"].setText(str(queue.get("pending", 0)))
        self.queue_labels["running"].setText(str(queue.get("running", 0)))
        self.queue_labels["retrying"].setText(str(queue.get("retry_wait", 0)))
        errors = waiting_for_you(status)           # records to fix and customers to review
        self.queue_labels["errors"].setText(str(errors))
        self.queue_labels["errors"].setStyleSheet(f"color: {COLORS['attention']}; font-weight: 600;"
                                                  if errors else "")
        self.errors_button.setText(f"Open errors ({errors})" if errors else "Open errors")
        self._show_connections(status.get("breakers") or [])
        self._show_alerts(status)
        today = int(status.get("orders_synced_today") or 0)
        stale = time.monotonic() - self._chart_read_at > 30 or today != self._chart_today
        if stale and self.bridge is not None:      # every 30 s, and soon after today's count moves
            if today != self._chart_today and time.monotonic() - self._chart_read_at < 2:
                return
            self._chart_read_at, self._chart_today = time.monotonic(), today
            self.bridge.call(self.bridge.service.daily_counts, 30, done=self.chart.set_days, context=self)

    def _show_connections(self, breakers: list[dict[str, Any]]) -> None:
        by_system = {b["system"]: b for b in breakers}
        for system, value in self.connection_labels.items():
            breaker = by_system.get(system)
            if breaker is None:
                value.setText("Not checked yet")
                value.setStyleSheet("color: #5f6b76;")
            elif breaker["state"] == "open":
                when = breaker.get("next_probe", "")[11:16]
                value.setText("Unreachable" + (f" — next try at {when}" if when else ""))
                value.setStyleSheet(f"color: {COLORS['error']}; font-weight: 600;")
            elif breaker["state"] == "half_open":
                value.setText("Checking whether it is back…")
                value.setStyleSheet(f"color: {COLORS['attention']};")
            else:
                failures = int(breaker.get("failures") or 0)
                value.setText("Connected" + (f" ({plural(failures, 'recent failure')})" if failures else ""))
                value.setStyleSheet(f"color: {COLORS['ok']};")

    def _show_alerts(self, status: dict[str, Any]) -> None:
        if self.banner.level == "error" and self._banner_target == "settings" and not self.problem:
            return  # a failed action stays visible until the person acts on it
        alerts = [a for a in status.get("alerts") or [] if a.get("severity") in ("warning", "error")]
        if self.problem:
            self._banner_target = "settings"
            self.banner.show_message(self.problem, "error", "Open settings")
        elif alerts:
            first = alerts[0]
            more = f" (+{len(alerts) - 1} more)" if len(alerts) > 1 else ""
            self._banner_target = "errors"
            message = first["message"] if len(first["message"]) <= 200 else first["message"][:197] + "…"
            self.banner.show_message(f"<b>{alert_title(first['title'])}</b> — {message}{more}",
                                     "error" if first.get("severity") == "error" else "warning", "Open errors")
        else:
            self.banner.clear()


__all__ = ["DailyChart", "DashboardWindow", "FlowCard", "nice_ceiling"]
