"""Icons: the app icon and one tray icon per state, drawn from the SVGs in `resources/icons/`.

The tray must tell the state at a glance at 16 pixels, so each state is a coloured disc with one
bold white sign (check, arrows, "!", cross, pause bars) rather than a badge on a logo. Icons are
rendered to pixmaps at the sizes trays ask for; if a file is missing (a broken install) a plain
disc in the state's colour is drawn instead, so the app still starts and still shows its state.
"""

from __future__ import annotations

import sys
from functools import cache
from pathlib import Path

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap
from PySide6.QtSvg import QSvgRenderer

STATES = ("ok", "syncing", "attention", "error", "paused")

# The same colours mark states in the windows (cards, pills, chart), so a person learns them once.
COLORS = {
    "ok": "#2e7d32",
    "syncing": "#1565c0",
    "attention": "#e65100",
    "error": "#c62828",
    "paused": "#616161",
}
LABELS = {
    "ok": "Up to date",
    "syncing": "Syncing",
    "attention": "Needs attention",
    "error": "Connection problem",
    "paused": "Paused",
}
SIZES = (16, 20, 22, 24, 32, 48, 64)
SPIN_FRAMES = 12


def resource_dir() -> Path:
    """`resources/` next to the code: in a checkout, an installed package or a PyInstaller bundle."""
    candidates = []
    if getattr(sys, "_MEIPASS", None):
        candidates.append(Path(sys._MEIPASS) / "resources")
    here = Path(__file__).resolve().parent
    candidates += [here.parent / "resources", here / "resources"]
    for candidate in candidates:
        if (candidate / "icons").is_dir():
            return candidate
    return candidates[0]


def icon_path(name: str) -> Path:
    return resource_dir() / "icons" / f"{name}.svg"


def render(name: str, size: int, rotation: float = 0.0, fallback: str = "#00796b") -> QPixmap:
    """The SVG `name` as a square pixmap, optionally turned by `rotation` degrees around its centre."""
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    if rotation:
        painter.translate(size / 2, size / 2)
        painter.rotate(rotation)
        painter.translate(-size / 2, -size / 2)
    path = icon_path(name)
    renderer = QSvgRenderer(str(path)) if path.exists() else None
    if renderer is not None and renderer.isValid():
        renderer.render(painter, QRectF(0, 0, size, size))
    else:
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(fallback))
        painter.drawEllipse(QPointF(size / 2, size / 2), size * 0.45, size * 0.45)
    painter.end()
    return pixmap


def _icon(name: str, rotation: float = 0.0, fallback: str = "#00796b") -> QIcon:
    icon = QIcon()
    for size in SIZES:
        icon.addPixmap(render(name, size, rotation, fallback))
    return icon


@cache
def app_icon() -> QIcon:
    icon = QIcon()
    for size in (*SIZES, 128, 256):
        icon.addPixmap(render("app", size))
    return icon


@cache
def state_icon(state: str) -> QIcon:
    """The tray icon of a state (one of STATES)."""
    state = state if state in STATES else "error"
    return _icon(f"tray-{state}", fallback=COLORS[state])


@cache
def spin_frames() -> tuple[QIcon, ...]:
    """The syncing icon turned in steps: cycled by a timer, the arrows seem to spin."""
    step = 360 / SPIN_FRAMES
    return tuple(_icon("tray-syncing", i * step, COLORS["syncing"]) for i in range(SPIN_FRAMES))


def dot(color: str, size: int = 12) -> QIcon:
    """A small filled circle (state markers in lists and tabs)."""
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor(color))
    painter.drawEllipse(QRectF(1, 1, size - 2, size - 2))
    painter.end()
    return QIcon(pixmap)
