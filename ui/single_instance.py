"""One tray app per user and data dir: a second launch hands over to the first and exits.

Two agents on one database would both run the schedules (double polls, double alerts), and two
tray icons confuse people. The first instance listens on a local socket (a named pipe on Windows,
a Unix socket elsewhere) named after the user and the data dir; a second launch connects, sends
"show" (or what it was asked to do), and quits, and the first instance brings its window forward.
"""

from __future__ import annotations

import getpass
import hashlib

from PySide6.QtCore import QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

TIMEOUT_MS = 1000


def server_name(data_dir: str) -> str:
    """A name unique per user and data dir (tests and a portable copy get their own)."""
    try:
        user = getpass.getuser()
    except Exception:  # no user name in the environment: the data dir still separates instances
        user = "user"
    digest = hashlib.sha256(f"{user}\0{data_dir}".encode()).hexdigest()[:16]
    return f"bngsync-{digest}"


class SingleInstance(QObject):
    """`claim()` is True for the first instance; later ones deliver their message and get False."""

    message = Signal(str)   # what a second launch asked for ("show", "errors", ...)

    def __init__(self, name: str, parent: QObject | None = None):
        super().__init__(parent)
        self.name = name
        self.server: QLocalServer | None = None
        self._sockets: list[QLocalSocket] = []

    def claim(self, message: str = "show") -> bool:
        if self._send(message):
            return False
        server = QLocalServer(self)
        server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        if not server.listen(self.name):
            # A crashed instance can leave its socket file behind (Unix): remove it and retry once.
            QLocalServer.removeServer(self.name)
            if not server.listen(self.name):
                return True  # cannot guard, but must not stop the app from starting
        server.newConnection.connect(self._accept)
        self.server = server
        return True

    def _send(self, message: str) -> bool:
        socket = QLocalSocket()
        socket.connectToServer(self.name)
        if not socket.waitForConnected(TIMEOUT_MS):
            return False
        socket.write(message.encode() + b"\n")
        socket.flush()
        socket.waitForBytesWritten(TIMEOUT_MS)
        socket.disconnectFromServer()
        return True

    def _accept(self) -> None:
        while self.server is not None and self.server.hasPendingConnections():
            socket = self.server.nextPendingConnection()
            self._sockets.append(socket)
            socket.readyRead.connect(self._ready)
            socket.disconnected.connect(self._gone)
            self._read(socket)

    def _ready(self) -> None:
        socket = self.sender()
        if isinstance(socket, QLocalSocket):
            self._read(socket)

    def _gone(self) -> None:
        socket = self.sender()
        if isinstance(socket, QLocalSocket) and socket in self._sockets:
            self._read(socket)
            self._sockets.remove(socket)
            socket.deleteLater()

    def _read(self, socket: QLocalSocket) -> None:
        while socket.canReadLine():
            text = bytes(socket.readLine()).decode(errors="replace").strip()
            if text:
                self.message.emit(text)

    def close(self) -> None:
        for socket in self._sockets:
            socket.readyRead.disconnect(self._ready)
            socket.disconnected.disconnect(self._gone)
            socket.abort()
            socket.deleteLater()
        self._sockets.clear()
        if self.server is not None:
            self.server.close()
            self.server.deleteLater()
            self.server = None
