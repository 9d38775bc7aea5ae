"""Where the agent keeps its files.

Defaults follow the platform's conventions (platformdirs), so the tray app, the CLI and a
Windows service started for the same user all find the same database and config. Each can be
overridden — by a command-line flag or an environment variable — which is how tests, the demo
and portable installs get a private corner of the disk.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP_NAME = "bngsync"
APP_AUTHOR = "bngsync"

ENV_DATA_DIR = "BNGSYNC_DATA_DIR"
ENV_CONFIG = "BNGSYNC_CONFIG"
ENV_LOG_DIR = "BNGSYNC_LOG_DIR"


@dataclass(frozen=True)
class Paths:
    """The resolved locations of one agent instance."""

    data_dir: Path
    config_file: Path
    log_dir: Path

    @property
    def database(self) -> Path:
        return self.data_dir / "bngsync.sqlite3"

    @property
    def log_file(self) -> Path:
        return self.log_dir / "bngsync.log"


def resolve(data_dir: str | os.PathLike | None = None, config: str | os.PathLike | None = None,
            log_dir: str | os.PathLike | None = None) -> Paths:
    """Resolve paths: explicit argument, then environment variable, then platform default.

    When only a data dir is given (tests, the demo), logs go under it too, so a temporary
    data dir leaves nothing behind in the user's real folders.
    """
    data = data_dir or os.environ.get(ENV_DATA_DIR)
    cfg = config or os.environ.get(ENV_CONFIG)
    logs = log_dir or os.environ.get(ENV_LOG_DIR)
    data_path = Path(data).expanduser() if data else Path(platformdirs.user_data_dir(APP_NAME, APP_AUTHOR))
    if cfg:
        cfg_path = Path(cfg).expanduser()
    else:
        cfg_path = Path(platformdirs.user_config_dir(APP_NAME, APP_AUTHOR)) / "config.toml"
    if logs:
        log_path = Path(logs).expanduser()
    elif data:
        log_path = data_path / "logs"
    else:
        log_path = Path(platformdirs.user_log_dir(APP_NAME, APP_AUTHOR))
    return Paths(data_dir=data_path, config_file=cfg_path, log_dir=log_path)
