"""Render `resources/icons/app.svg` into a Windows `.ico` for the executables and the installer.

Windows wants an .ico for an executable's icon (PyInstaller converts other formats only with
Pillow, which the app does not need); the source of truth stays the SVG the tray app draws.
Qt (already a dependency) renders the sizes Explorer, the taskbar and the Start menu use.

    python packaging/app_icon.py OUT.ico     # from resources/icons/app.svg

Small sizes are stored as uncompressed bitmaps and 256 px as PNG — the layout every Windows
version and NSIS's icon replacement accept.
"""

from __future__ import annotations

import struct
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SVG = ROOT / "resources" / "icons" / "app.svg"
SIZES = (16, 20, 24, 32, 40, 48, 64, 256)


def _render(svg: Path, size: int):
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise ValueError(f"{svg} is not a valid SVG")
    image = QImage(size, size, QImage.Format.Format_ARGB32)  # BGRA bytes in memory, as a DIB wants
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter)
    painter.end()
    return image


def _png(image) -> bytes:
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice

    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")
    return bytes(data)


def _dib(image) -> bytes:
    """A 32-bit bitmap as stored inside .ico: header, bottom-up BGRA rows, then a 1-bit mask."""
    size = image.width()
    rows = [bytes(image.constScanLine(y))[: size * 4] for y in range(size)]
    header = struct.pack("<IiiHHIIiiII", 40, size, size * 2, 1, 32, 0, 0, 0, 0, 0, 0)
    mask_row = b"\0" * (((size + 31) // 32) * 4)  # all opaque: the alpha channel decides
    return header + b"".join(reversed(rows)) + mask_row * size


def ico_bytes(svg: Path = SVG, sizes: tuple[int, ...] = SIZES) -> bytes:
    images = []
    for size in sizes:
        image = _render(svg, size)
        images.append((size, _png(image) if size >= 256 else _dib(image)))
    directory = struct.pack("<HHH", 0, 1, len(images))
    offset = 6 + 16 * len(images)
    entries, blobs = b"", b""
    for size, blob in images:
        dim = 0 if size >= 256 else size  # 0 means 256 in an icon directory
        entries += struct.pack("<BBBBHHII", dim, dim, 0, 0, 1, 32, len(blob), offset)
        blobs += blob
        offset += len(blob)
    return directory + entries + blobs


def write_ico(out: Path, svg: Path = SVG) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(ico_bytes(svg))
    return out


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python packaging/app_icon.py OUT.ico")
    print(write_ico(Path(sys.argv[1])))
