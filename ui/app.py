"""`bngsync-tray`: the desktop app. One instance per user; the setup assistant on first start.

    bngsync-tray                 start (or bring the running one forward)
    bngsync-tray --background    start quietly in the tray (what start-at-login runs)
    bngsync-tray --setup         run the setup assistant first
    bngsync-tray --data-dir D --config F   use another data folder / settings file

When the environment variable `BNGSYNC_READY_FILE` names a file, the app writes its process id
there once it is on screen: the tray icon shown or, without a system tray, the dashboard. Start-up
scripts and the footprint benchmark wait for that file instead of guessing how long a start takes.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from agent import __version__
from agent import paths as paths_mod


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bngsync-tray", description="bngsync in the system tray")
    parser.add_argument("--background", action="store_true", help="start in the tray without opening a window")
    parser.add_argument("--setup", action="store_true", help="run the setup assistant")
    parser.add_argument("--data-dir", help="the data folder (database, logs)")
    parser.add_argument("--config", help="the settings file")
    parser.add_argument("--version", action="version", version=f"bngsync {__version__}")
    return parser.parse_args(argv)


def application() -> QApplication:
    """The QApplication, created once with the app's name and look."""
    from ui.widgets import apply_style

    app = QApplication.instance()
    if app is None:
        app = QApplication(sys.argv[:1])
        app.setApplicationName("bngsync")
        app.setApplicationDisplayName("bngsync")
        app.setOrganizationName("bngsync")
        app.setApplicationVersion(__version__)
        apply_style(app)
    app.setQuitOnLastWindowClosed(False)   # closing a window leaves the agent running in the tray
    return app  # type: ignore[return-value]


def run_setup(paths: paths_mod.Paths, settings: Any = None) -> bool:
    """The setup assistant, modal; True when settings were saved."""
    from ui.wizard import SetupWizard

    wizard = SetupWizard(paths.config_file, settings)
    return wizard.exec() == SetupWizard.DialogCode.Accepted


def open_service(paths: paths_mod.Paths) -> Any:
    """Open the service; on a broken settings file offer the setup assistant. None: the person gave up."""
    from agent.config import ConfigError
    from agent.service import Service
    from agent.store import StoreError

    while True:
        try:
            return Service.open(paths, console=False)
        except ConfigError as exc:
            answer = QMessageBox.critical(
                None, "bngsync", f"The settings in {paths.config_file} cannot be used:\n\n"
                + "\n".join(exc.problems) + "\n\nRun the setup assistant to fix them?",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No)
            if answer != QMessageBox.StandardButton.Yes or not run_setup(paths):
                return None
        except StoreError as exc:
            QMessageBox.critical(None, "bngsync", f"bngsync cannot use its data folder:\n\n{exc}")
            return None


READY_FILE_ENV = "BNGSYNC_READY_FILE"


def announce_ready() -> None:
    """Write the process id to `BNGSYNC_READY_FILE` (when set).

    Called from the event loop's first turn, so the tray icon or window shown before it has been
    handed to the platform. A file that cannot be written is ignored: it must never stop the app.
    """
    target = os.environ.get(READY_FILE_ENV)
    if target:
        try:
            Path(target).write_text(f"{os.getpid()}\n", encoding="utf-8")
        except OSError:
            pass


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `bngsync-tray` GUI script."""
    from ui.controller import AppController
    from ui.single_instance import SingleInstance, server_name

    args = parse_args(sys.argv[1:] if argv is None else argv)
    paths = paths_mod.resolve(data_dir=args.data_dir, config=args.config)
    app = application()
    instance = SingleInstance(server_name(str(paths.data_dir.resolve())))
    if not instance.claim("ping" if args.background else "show"):
        print("bngsync is already running; its window was brought forward.")
        return 0
    if (args.setup or not paths.config_file.exists()) and not run_setup(paths):
        return 0
    service = open_service(paths)
    if service is None:
        return 1
    controller = AppController(service)
    instance.message.connect(controller.on_message)
    if not args.background and controller.tray is not None:
        controller.show("dashboard")
    QTimer.singleShot(0, announce_ready)
    try:
        return app.exec()
    finally:
        instance.close()
        service.close()


def run_with_service(service: Any) -> int:
    """Show the app for a service that is already running (`bngsync demo --ui`)."""
    from ui.controller import AppController

    app = application()
    controller = AppController(service, start_agent=False)
    controller.show("dashboard")
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
