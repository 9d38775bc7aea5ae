"""`bngsync-tray` start-up: setup on first start, one instance, a broken config offered a fix."""

from __future__ import annotations

from PySide6.QtWidgets import QApplication, QMessageBox

from agent import config as config_mod
from ui import app as app_mod
from ui.single_instance import SingleInstance, server_name


def test_first_start_runs_the_setup_and_a_cancel_quits(qtbot, paths, monkeypatch):
    asked = []
    monkeypatch.setattr(app_mod, "run_setup", lambda p, s=None: asked.append(p) or False)
    assert app_mod.main([]) == 0
    assert asked == [paths] and not paths.config_file.exists()


def test_with_settings_it_starts_the_agent_and_the_tray(qtbot, service, paths, monkeypatch):
    monkeypatch.setattr(QApplication, "exec", lambda self: 0)   # return at once instead of running the loop
    created = []
    import ui.controller as controller_mod

    real = controller_mod.AppController

    class Recording(real):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            created.append(self)

    monkeypatch.setattr(controller_mod, "AppController", Recording)
    assert app_mod.main(["--background"]) == 0
    [controller] = created
    qtbot.waitUntil(lambda: controller.problem is not None, timeout=10_000)   # no secrets in tests
    assert "dashboard" in controller.windows          # offscreen has no tray: the dashboard stands in
    for window in controller.windows.values():
        window.close()
    controller.bridge.close()
    controller.bridge.runner.wait_idle()


def test_a_second_launch_returns_at_once(qtbot, service, paths):
    first = SingleInstance(server_name(str(paths.data_dir.resolve())))
    assert first.claim()
    assert app_mod.main([]) == 0
    first.close()


def test_a_broken_settings_file_is_explained(qtbot, paths, monkeypatch):
    paths.config_file.parent.mkdir(parents=True, exist_ok=True)
    paths.config_file.write_text('[nopcommerce]\nurl = "shop"\n')
    shown = []
    monkeypatch.setattr(QMessageBox, "critical",
                        lambda parent, title, text, *a: shown.append(text) or QMessageBox.StandardButton.No)
    assert app_mod.open_service(paths) is None
    assert "nopcommerce.url: must start with http" in shown[0] and "setup assistant" in shown[0]
    config_mod.save(config_mod.parse({"nopcommerce": {"url": "https://shop.example.com", "username": "a@b.c"},
                                      "bng": {"url": "http://localhost:8420/api/v1"}}), paths.config_file)
    service = app_mod.open_service(paths)
    assert service is not None
    service.close()


def test_version_and_help(capsys):
    import pytest

    with pytest.raises(SystemExit):
        app_mod.parse_args(["--version"])
    assert "bngsync" in capsys.readouterr().out
    args = app_mod.parse_args(["--background", "--data-dir", "/tmp/x"])
    assert args.background and args.data_dir == "/tmp/x"


def test_the_ready_file_is_written_once_on_screen(tmp_path, monkeypatch):
    """Start-up scripts (and the footprint benchmark) wait for BNGSYNC_READY_FILE."""
    import os

    ready = tmp_path / "ready"
    app_mod.announce_ready()                              # not asked for: nothing written
    assert not ready.exists()
    monkeypatch.setenv(app_mod.READY_FILE_ENV, str(ready))
    app_mod.announce_ready()
    assert ready.read_text().strip() == str(os.getpid())
    monkeypatch.setenv(app_mod.READY_FILE_ENV, str(tmp_path / "missing" / "ready"))
    app_mod.announce_ready()                              # an unwritable path never stops the app
