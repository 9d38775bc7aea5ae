"""Small pieces every window uses: the look, banners, state pills, cards, time in words.

One stylesheet for the whole app keeps windows consistent without each one styling itself: white
cards on a light grey background, state colours shared with the tray icons, readable default
sizes. Everything here is plain Qt widgets; no window logic.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from ui.icons import COLORS, app_icon

STYLE = """
QWidget#page { background: #f4f6f8; }
QFrame#card { background: #ffffff; border: 1px solid #dde2e7; border-radius: 8px; }
QLabel#cardTitle { font-size: 11pt; font-weight: 600; color: #1f2933; }
QLabel#muted { color: #5f6b76; }
QLabel#heading { font-size: 14pt; font-weight: 600; color: #1f2933; }
QLabel#big { font-size: 20pt; font-weight: 600; color: #1f2933; }
QFrame#banner { border-radius: 6px; padding: 2px; }
QTableView { background: #ffffff; alternate-background-color: #f7f9fb; gridline-color: #e6e9ed;
             selection-background-color: #cfe3f7; selection-color: #111111; }
QHeaderView::section { background: #eef1f4; border: none; border-bottom: 1px solid #d5dbe1;
                       padding: 4px 6px; font-weight: 600; color: #394450; }
QTabWidget::pane { border: 1px solid #dde2e7; background: #ffffff; }
QPlainTextEdit, QTextEdit { background: #ffffff; }
"""

BANNER_COLORS = {
    "info": ("#e8f1fb", "#1565c0"),
    "ok": ("#e8f5e9", "#2e7d32"),
    "warning": ("#fff4e5", "#b45309"),
    "error": ("#fdecea", "#c62828"),
}


def apply_style(app: QApplication) -> None:
    """The app-wide look (Fusion, so it is the same on Windows and Linux, plus the stylesheet)."""
    app.setStyle("Fusion")
    app.setStyleSheet(STYLE)
    app.setWindowIcon(app_icon())


def local_time(ts: float | None) -> str:
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M") if ts else ""


def ago(ts: float | None, now: float | None = None) -> str:
    """'just now', '5 min ago', '3 h ago', 'yesterday 14:02', a date: how people say when."""
    if not ts:
        return "never"
    now = time.time() if now is None else now
    seconds = now - ts
    if seconds < 0:
        return in_future(ts, now)
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 6 * 3600:
        return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60)} min ago"
    when = datetime.fromtimestamp(ts)
    today = datetime.fromtimestamp(now).date()
    if when.date() == today:
        return f"today {when:%H:%M}"
    if (today - when.date()).days == 1:
        return f"yesterday {when:%H:%M}"
    return f"{when:%Y-%m-%d %H:%M}"


def in_future(ts: float | None, now: float | None = None) -> str:
    if not ts:
        return "not scheduled"
    now = time.time() if now is None else now
    seconds = ts - now
    if seconds <= 60:
        return "in a moment"
    if seconds < 3600:
        return f"in {int(seconds // 60)} min"
    return f"at {datetime.fromtimestamp(ts):%H:%M}"


def plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n} {word if n == 1 else many or word + 's'}"


class Card(QFrame):
    """A white rounded panel with a title."""

    def __init__(self, title: str = "", parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("card")
        self.body = QVBoxLayout(self)
        self.body.setContentsMargins(14, 12, 14, 12)
        self.body.setSpacing(6)
        self.title = QLabel(title)
        self.title.setObjectName("cardTitle")
        if title:
            self.body.addWidget(self.title)


class Pill(QLabel):
    """A small coloured label for a state ("Up to date", "Failing")."""

    def __init__(self, text: str = "", color: str = COLORS["ok"], parent: QWidget | None = None):
        super().__init__(parent)
        self.set(text, color)

    def set(self, text: str, color: str) -> None:
        self.setText(text)
        tint = QColor(color)
        tint.setAlpha(34)
        self.setStyleSheet(f"QLabel {{ color: {color}; background: rgba({tint.red()}, {tint.green()}, "
                           f"{tint.blue()}, 34); border-radius: 9px; padding: 2px 9px; font-weight: 600; }}")


class Banner(QFrame):
    """A coloured strip with a sentence and an optional action button; hidden when empty."""

    action_clicked = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("banner")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(12, 8, 8, 8)
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.label, 1)
        self.button = QPushButton()
        self.button.clicked.connect(self.action_clicked)
        self.button.hide()
        layout.addWidget(self.button, 0, Qt.AlignmentFlag.AlignTop)
        self.level = ""
        self.hide()

    def show_message(self, text: str, level: str = "info", action: str = "") -> None:
        background, color = BANNER_COLORS.get(level, BANNER_COLORS["info"])
        self.level = level
        self.setStyleSheet(f"QFrame#banner {{ background: {background}; border: 1px solid {color}; }}"
                           f"QLabel {{ color: {color}; }}")
        self.label.setText(text)
        self.button.setText(action)
        self.button.setVisible(bool(action))
        self.show()

    def clear(self) -> None:
        self.label.clear()
        self.level = ""
        self.hide()


def heading(text: str, name: str = "heading") -> QLabel:
    label = QLabel(text)
    label.setObjectName(name)
    return label


def muted(text: str = "", wrap: bool = True) -> QLabel:
    label = QLabel(text)
    label.setObjectName("muted")
    label.setWordWrap(wrap)
    return label


def bold(label: QLabel) -> QLabel:
    font: QFont = label.font()
    font.setBold(True)
    label.setFont(font)
    return label


def setup_table(view: QTableView, model: Any = None, stretch: int | None = None, select_rows: bool = True,
                multi: bool = False) -> QTableView:
    """The tables' common behaviour: whole-row selection, alternating rows, no row numbers.

    The model is set first: header resize modes apply to sections, which exist only with a model.
    """
    if model is not None:
        view.setModel(model)
    view.setAlternatingRowColors(True)
    view.verticalHeader().hide()
    view.verticalHeader().setDefaultSectionSize(26)
    if select_rows:
        view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection if multi
                          else QAbstractItemView.SelectionMode.SingleSelection)
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.setWordWrap(False)
    header = view.horizontalHeader()
    header.setHighlightSections(False)
    header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
    if stretch is not None:
        header.setStretchLastSection(False)
        header.setSectionResizeMode(stretch, QHeaderView.ResizeMode.Stretch)
    else:
        header.setStretchLastSection(True)
    return view


def set_widths(view: QTableView, widths: dict[int, int]) -> None:
    for column, width in widths.items():
        view.setColumnWidth(column, width)


def page(widget: QWidget) -> QWidget:
    """Mark a window's background as the light grey page colour behind the cards."""
    widget.setObjectName("page")
    widget.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
    return widget


def clear_layout(layout: Any) -> None:
    while layout.count():
        item = layout.takeAt(0)
        if item.widget() is not None:
            item.widget().deleteLater()
        elif item.layout() is not None:
            clear_layout(item.layout())
