"""About: the version, and where the agent keeps its files (what support asks for first)."""

from __future__ import annotations

import platform
from pathlib import Path
from typing import Any

from PySide6 import __version__ as pyside_version
from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from agent import __version__
from ui.icons import app_icon
from ui.widgets import Card, heading, muted
from ui.windows import Window


def open_folder(path: Path) -> bool:
    """Show a folder in the file manager (the file's folder for a file)."""
    folder = path if path.is_dir() else path.parent
    return QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))


class AboutWindow(Window):
    def __init__(self, bridge: Any = None, parent: QWidget | None = None):
        super().__init__("About", bridge, (640, 420), parent)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(22, 20, 22, 20)
        outer.setSpacing(12)
        head = QHBoxLayout()
        logo = QLabel()
        logo.setPixmap(app_icon().pixmap(64, 64))
        head.addWidget(logo)
        titles = QVBoxLayout()
        titles.addWidget(heading("bngsync"))
        titles.addWidget(muted(f"Version {__version__} — keeps the nopCommerce web store and BNG in sync: orders "
                               "to BNG, shipments and stock back to the store."))
        head.addLayout(titles, 1)
        outer.addLayout(head)
        card = Card("Files")
        grid = QGridLayout()
        grid.setColumnStretch(1, 1)
        self.paths: dict[str, Path] = {}
        if bridge is not None:
            paths = bridge.service.paths
            rows = (("Settings", paths.config_file), ("Data", paths.data_dir), ("Log", paths.log_file))
            for row, (label, path) in enumerate(rows):
                self.paths[label] = path
                grid.addWidget(muted(label, wrap=False), row, 0)
                value = QLabel(str(path))
                value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
                value.setWordWrap(True)
                grid.addWidget(value, row, 1)
                button = QPushButton("Open folder")
                button.clicked.connect(lambda _=False, p=path: open_folder(p))
                grid.addWidget(button, row, 2)
        card.body.addLayout(grid)
        outer.addWidget(card)
        self.details = (f"bngsync {__version__}; Python {platform.python_version()}; Qt for Python "
                        f"{pyside_version}; {platform.system()} {platform.release()}")
        outer.addWidget(muted(self.details))
        copy = QPushButton("Copy these details")
        copy.clicked.connect(self.copy_details)
        outer.addWidget(copy, 0, Qt.AlignmentFlag.AlignLeft)
        outer.addStretch(1)

    def copy_details(self) -> None:
        lines = [self.details] + [f"{k}: {v}" for k, v in self.paths.items()]
        QGuiApplication.clipboard().setText("\n".join(lines))
