"""Qt table models over the service's plain dicts.

`RowsModel` shows a list of dicts through column specs. `KeysetModel` pages newest-first rows from
the database as the view scrolls: Qt asks `canFetchMore`/`fetchMore` when the user nears the end,
and each page is the next `limit` rows *before the last id shown* (keyset paging), an index seek
that costs the same at row 100 as at row 1,000,000. So a history of a million runs opens with one
page of 200 rows, not a count and not an OFFSET scan. Pages load through a runner (a thread pool
in the app), so even a slow disk never freezes the window; a reload bumps a generation number so a
late page of an old filter is dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QColor

from ui.bridge import ImmediateRunner

Index = QModelIndex | QPersistentModelIndex
ROW_ROLE = Qt.ItemDataRole.UserRole + 1

OUTCOME_COLORS = {"ok": "#2e7d32", "partial": "#e65100", "failed": "#c62828", "running": "#1565c0"}
LEVEL_COLORS = {"error": "#c62828", "warning": "#b45309", "info": None, "debug": "#757575"}


@dataclass(frozen=True)
class Column:
    """One column: which key of the row dict, its title, and optionally how to show the value."""

    key: str
    title: str
    format: Callable[[dict[str, Any]], str] | None = None
    color: Callable[[dict[str, Any]], str | None] | None = None
    tooltip: Callable[[dict[str, Any]], str] | None = None
    align_right: bool = False

    def text(self, row: dict[str, Any]) -> str:
        if self.format is not None:
            return self.format(row)
        value = row.get(self.key)
        return "" if value is None else str(value)


class RowsModel(QAbstractTableModel):
    """A read-only table of dicts; `ROW_ROLE` gives the whole row to views and delegates."""

    def __init__(self, columns: Sequence[Column], parent: QObject | None = None):
        super().__init__(parent)
        self.columns = list(columns)
        self.rows: list[dict[str, Any]] = []

    # -- Qt ------------------------------------------------------------------------------------
    def rowCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.columns)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.columns[section].title
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self.rows):
            return None
        row = self.rows[index.row()]
        column = self.columns[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return column.text(row)
        if role == Qt.ItemDataRole.ToolTipRole:
            return column.tooltip(row) if column.tooltip else (column.text(row) or None)
        if role == Qt.ItemDataRole.ForegroundRole and column.color is not None:
            color = column.color(row)
            return QColor(color) if color else None
        if role == Qt.ItemDataRole.TextAlignmentRole and column.align_right:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == ROW_ROLE:
            return row
        return None

    # -- rows ----------------------------------------------------------------------------------
    def set_rows(self, rows: list[dict[str, Any]]) -> None:
        self.beginResetModel()
        self.rows = list(rows)
        self.endResetModel()

    def row(self, number: int) -> dict[str, Any] | None:
        return self.rows[number] if 0 <= number < len(self.rows) else None

    def find(self, key: str, value: Any) -> int:
        """The row number whose `key` equals `value`, or -1."""
        return next((i for i, r in enumerate(self.rows) if r.get(key) == value), -1)

    def update_row(self, number: int, changes: dict[str, Any]) -> None:
        """Change some values of one row in place (e.g. the result of a retry)."""
        if 0 <= number < len(self.rows):
            self.rows[number] = {**self.rows[number], **changes}
            self.dataChanged.emit(self.index(number, 0), self.index(number, len(self.columns) - 1))


Fetch = Callable[[int | None, int], list[dict[str, Any]]]


class KeysetModel(RowsModel):
    """Rows paged newest first by id: `fetch(before_id, limit)` returns the next page."""

    page_loaded = Signal(int)      # rows in the page just added
    load_failed = Signal(str)

    def __init__(self, columns: Sequence[Column], fetch: Fetch | None = None, runner: Any = None,
                 page_size: int = 200, parent: QObject | None = None):
        super().__init__(columns, parent)
        self.fetch = fetch
        self.runner = runner or ImmediateRunner()
        self.page_size = page_size
        self.pages_fetched = 0
        self.loading = False
        self.exhausted = fetch is None
        self._generation = 0

    def set_fetch(self, fetch: Fetch | None) -> None:
        """Show another query (a new filter): drop the rows and load its first page."""
        self.fetch = fetch
        self.reload()

    def reload(self) -> None:
        self._generation += 1
        self.beginResetModel()
        self.rows = []
        self.pages_fetched = 0
        self.loading = False
        self.exhausted = self.fetch is None
        self.endResetModel()
        if self.fetch is not None:
            self._load()

    def canFetchMore(self, parent: Index = QModelIndex()) -> bool:
        return not parent.isValid() and not self.exhausted and not self.loading

    def fetchMore(self, parent: Index = QModelIndex()) -> None:
        if self.canFetchMore(parent):
            self._load()

    def _load(self) -> None:
        fetch = self.fetch
        if fetch is None:
            return
        self.loading = True
        generation = self._generation
        before = self.rows[-1].get("id") if self.rows else None
        self.pages_fetched += 1
        self.runner.run(fetch, before, self.page_size, done=lambda rows: self._loaded(generation, rows),
                        failed=lambda exc: self._failed(generation, exc), context=self)

    def _loaded(self, generation: int, rows: list[dict[str, Any]]) -> None:
        if generation != self._generation:
            return
        self.loading = False
        if len(rows) < self.page_size:
            self.exhausted = True
        if rows:
            start = len(self.rows)
            self.beginInsertRows(QModelIndex(), start, start + len(rows) - 1)
            self.rows.extend(rows)
            self.endInsertRows()
        self.page_loaded.emit(len(rows))

    def _failed(self, generation: int, error: BaseException) -> None:
        if generation != self._generation:
            return
        self.loading = False
        self.exhausted = True
        self.load_failed.emit(str(error) or type(error).__name__)
