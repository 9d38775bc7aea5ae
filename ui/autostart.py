"""Start at login, per user: the Windows registry Run key, or an XDG autostart entry elsewhere.

Per user rather than machine-wide because the agent runs in the tray of the person logged in on
the BNG server and keeps its secrets in that person's keyring; no administrator rights needed.
The command started at login passes `--background`, so the app comes up quietly in the tray
instead of opening a window on every login.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

RUN_KEY = r"Software\Microsoft\Windows\CurrentVersion\Run"
VALUE_NAME = "bngsync"
DESKTOP_FILE = "bngsync.desktop"


def command() -> list[str]:
    """How to start the tray app from outside: the frozen exe, the installed script, or `python -m`."""
    if getattr(sys, "frozen", False):
        return [sys.executable, "--background"]
    scripts = Path(sys.executable).parent
    for name in ("bngsync-tray.exe", "bngsync-tray"):
        if (scripts / name).exists():
            return [str(scripts / name), "--background"]
    return [sys.executable, "-m", "ui.app", "--background"]


def _windows() -> bool:
    return sys.platform == "win32"


def _registry(registry: Any = None) -> Any:
    if registry is not None:
        return registry
    import winreg

    return winreg


def desktop_file() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "autostart" / DESKTOP_FILE


def _exec_quote(arg: str) -> str:
    """Quote an argument the way the Desktop Entry spec wants (double quotes, escaped specials)."""
    if arg and not any(c in arg for c in ' \t\n"\'\\><~|&;$*?#()`'):
        return arg
    escaped = "".join("\\" + c if c in '"`$\\' else c for c in arg)
    return f'"{escaped}"'


def desktop_entry(cmd: list[str]) -> str:
    from ui.icons import icon_path

    return "\n".join([
        "[Desktop Entry]",
        "Type=Application",
        "Name=bngsync",
        "Comment=Keeps the web store and BNG in sync",
        "Exec=" + " ".join(_exec_quote(a) for a in cmd),
        f"Icon={icon_path('app')}",
        "Terminal=false",
        "X-GNOME-Autostart-enabled=true",
        "",
    ])


def is_enabled(registry: Any = None, windows: bool | None = None) -> bool:
    if _windows() if windows is None else windows:
        reg = _registry(registry)
        try:
            with reg.OpenKey(reg.HKEY_CURRENT_USER, RUN_KEY, 0, reg.KEY_READ) as key:
                reg.QueryValueEx(key, VALUE_NAME)
            return True
        except OSError:
            return False
    return desktop_file().exists()


def enable(cmd: list[str] | None = None, registry: Any = None, windows: bool | None = None) -> None:
    cmd = cmd or command()
    if _windows() if windows is None else windows:
        reg = _registry(registry)
        with reg.CreateKeyEx(reg.HKEY_CURRENT_USER, RUN_KEY, 0, reg.KEY_SET_VALUE) as key:
            reg.SetValueEx(key, VALUE_NAME, 0, reg.REG_SZ, subprocess.list2cmdline(cmd))
        return
    path = desktop_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(desktop_entry(cmd), encoding="utf-8")


def disable(registry: Any = None, windows: bool | None = None) -> None:
    if _windows() if windows is None else windows:
        reg = _registry(registry)
        try:
            with reg.OpenKey(reg.HKEY_CURRENT_USER, RUN_KEY, 0, reg.KEY_SET_VALUE) as key:
                reg.DeleteValue(key, VALUE_NAME)
        except FileNotFoundError:
            pass
        return
    desktop_file().unlink(missing_ok=True)


def set_enabled(on: bool, cmd: list[str] | None = None, registry: Any = None, windows: bool | None = None) -> None:
    """Switch start at login on or off (doing nothing when it already is as asked)."""
    if on:
        enable(cmd, registry, windows)
    elif is_enabled(registry, windows):
        disable(registry, windows)
