#!/usr/bin/env python3
"""Set up and run bngsync from a fresh checkout: `python dev.py demo` or `python dev.py test`.

Works on Linux and Windows with only Python 3.11+ installed: it creates `.venv` beside this file
(once), installs the project with its dev extras into it, then runs the demo or the test suite
with that interpreter. Extra arguments are passed through (e.g. `python dev.py test -k stock`,
`python dev.py demo --orders 50`).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
STAMP = VENV / ".bngsync-installed"


def _requirements_hash() -> str:
    return hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()


def ensure_venv() -> None:
    """Create the venv and (re)install the project when pyproject.toml changed."""
    if sys.version_info < (3, 11):
        sys.exit(f"bngsync needs Python 3.11 or newer; this is {sys.version.split()[0]}")
    if not PYTHON.exists():
        print("Creating the virtual environment in .venv ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    wanted = _requirements_hash()
    if STAMP.exists() and STAMP.read_text().strip() == wanted:
        return
    print("Installing bngsync and its dependencies (first run takes a few minutes) ...", flush=True)
    subprocess.run([str(PYTHON), "-m", "pip", "install", "--quiet", "--upgrade", "pip"], check=True)
    subprocess.run([str(PYTHON), "-m", "pip", "install", "--quiet", "-e", f"{ROOT}[dev]"], check=True)
    STAMP.write_text(wanted)


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"demo", "test", "lint", "setup"}:
        print(__doc__)
        print("usage: python dev.py {demo|test|lint|setup} [args...]")
        return 2
    command, rest = argv[0], argv[1:]
    ensure_venv()
    env = dict(os.environ)
    if command == "demo":
        return subprocess.call([str(PYTHON), "-m", "agent.cli", "demo", *rest], env=env)
    if command == "test":
        env.setdefault("QT_QPA_PLATFORM", "offscreen")
        code = subprocess.call([str(PYTHON), "-m", "pytest", *rest], env=env, cwd=ROOT)
        return 1 if code == 5 else code  # "no tests collected" is a failure, not a pass
    if command == "lint":
        return subprocess.call([str(PYTHON), "-m", "ruff", "check", str(ROOT), *rest])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
