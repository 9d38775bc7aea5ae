"""The app's windows. Each is a top-level widget that talks to the agent only through a `Bridge`.

Windows do not open each other: they emit `navigate(name)` and the app controller shows the
window, so a window can be built and tested alone.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QWidget

from ui.icons import app_icon
from ui.widgets import page

WINDOW_NAMES = ("dashboard", "errors", "history", "mappings", "settings", "about")


class Window(QWidget):
    """A top-level window: app icon, "bngsync — <title>", a sensible first size.

    Closing only hides it (the agent keeps running in the tray); `closed` tells the controller,
    which quits when there is no tray to come back to.
    """

    navigate = Signal(str)
    closed = Signal()

    def __init__(self, title: str, bridge: Any = None, size: tuple[int, int] = (960, 640),
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.bridge = bridge
        self.setWindowTitle(f"bngsync — {title}")
        self.setWindowIcon(app_icon())
        self.resize(*size)
        page(self)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.closed.emit()
        super().closeEvent(event)

    def bring_to_front(self) -> None:
        self.show()
        self.setWindowState((self.windowState() & ~Qt.WindowState.WindowMinimized) | Qt.WindowState.WindowActive)
        self.raise_()
        self.activateWindow()
