"""Footprint: the memory of the headless agent and of the tray app, and how fast the tray app starts.

Everything runs as a merchant runs it: the installed entry points (`bngsync run`, `bngsync-tray`)
as child processes, against the sandbox (in its own process), each on its own data folder, with
the secrets in the environment and the project's bytecode compiled beforehand (an installed bundle
ships it compiled). Memory is the resident set (VmRSS) read from /proc, so this benchmark needs
Linux; the notes add the private part (what Windows' Task Manager shows as "Memory": RSS without
the shared library pages).

- `bngsync run`, idle: started with the default schedules (the first poll comes after 2 minutes),
  measured after `--idle` seconds (60 by default).
- `bngsync run`, after work: every flow polls once a minute, so within the first minute the agent
  syncs the whole sample data (orders, customers, products, stock, shipments); measured `--idle`
  seconds after every flow's first run has finished: the steady state of a running agent.
- the tray app, idle: `bngsync-tray --background` (what start-at-login runs), which starts the
  agent in-process, measured after `--idle` seconds. Under `QT_QPA_PLATFORM=offscreen` there is no
  system tray, so the app shows its dashboard instead (more than a tray icon alone). When Xvfb and
  a tray host (`trayer`) are installed, the app is also measured on a virtual X display with a real
  system tray, where `--background` shows the tray icon only.
- tray app cold start: from launching the process to the app being on screen (the tray icon shown,
  or offscreen the dashboard), which the app signals by writing `BNGSYNC_READY_FILE` (see `ui.app`).
  The first launch creates the database and is reported apart; the figure is the median of the
  `--starts` launches after it.

    .venv/bin/python -m benchmarks.bench_footprint [--idle 60] [--starts 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.common import ROOT, RemoteSandbox, Result, Scratch, print_results, save_results, wait_for

COMMAND = ".venv/bin/python -m benchmarks.bench_footprint"
BIN = Path(sys.executable).parent
FLOWS = ("orders", "shipments", "inventory", "products", "customers")
AGENT_TARGET_MB = 60.0
TRAY_TARGET_MB = 120.0
START_TARGET_S = 2.0


def memory(pid: int) -> dict[str, float]:
    """VmRSS, VmHWM (peak) and the private part of the resident set (Private_Clean + Private_Dirty), in MB."""
    values: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) / 1024
    private = 0
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("Private_Clean", "Private_Dirty"):
            private += int(rest.split()[0])
    values["private"] = private / 1024
    return values


def child_environment() -> dict[str, str]:
    """The environment of an installed app: bytecode is read (and written) as usual."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def compile_bytecode() -> None:
    """Compile the project's modules once (the installed packages come compiled already)."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", "agent", "ui"], cwd=ROOT, env=child_environment(),
                   check=True, stdout=subprocess.DEVNULL)


# -- a virtual desktop with a system tray (optional) ---------------------------------------------

class Desktop:
    """Xvfb on a free display with `trayer` as the tray host, when both are installed."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.display = ""
        self.processes: list[subprocess.Popen] = []

    @staticmethod
    def available() -> bool:
        return bool(shutil.which("Xvfb") and shutil.which("trayer"))

    def start(self) -> Desktop:
        number = next(n for n in range(90, 200) if not Path(f"/tmp/.X11-unix/X{n}").exists()
                      and not Path(f"/tmp/.X{n}-lock").exists())
        self.display = f":{number}"
        log = (self.folder / "desktop.txt").open("ab")
        self.processes.append(subprocess.Popen(["Xvfb", self.display, "-screen", "0", "1280x800x24", "-nolisten",
                                                "tcp"], stdout=log, stderr=log))
        wait_for(lambda: Path(f"/tmp/.X11-unix/X{number}").exists(), 20, what="Xvfb to listen")
        self.processes.append(subprocess.Popen(["trayer", "--edge", "top", "--align", "right", "--widthtype",
                                                "request", "--height", "24"], env=self.env(os.environ),
                                               stdout=log, stderr=log))
        probe = ("from PySide6.QtWidgets import QApplication, QSystemTrayIcon; app = QApplication([]); "
                 "raise SystemExit(0 if QSystemTrayIcon.isSystemTrayAvailable() else 1)")
        wait_for(lambda: subprocess.run([sys.executable, "-c", probe], env=self.env(os.environ),
                                        stderr=subprocess.DEVNULL).returncode == 0,
                 30, interval=0.2, what="the tray host")
        return self

    def env(self, base: Any) -> dict[str, str]:
        return {**base, "DISPLAY": self.display, "QT_QPA_PLATFORM": "xcb"}

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        self.processes.clear()


# -- the programs ----------------------------------------------------------------------------------

class Child:
    """One entry point running as a child process on its own data folder."""

    def __init__(self, folder: Path, urls: dict[str, str], schedules: dict[str, Any] | None = None,
                 desktop: Desktop | None = None):
        from agent import config as config_mod

        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.data_dir = folder / "data"
        self.config = folder / "bngsync.toml"
        data: dict[str, Any] = {"nopcommerce": {"url": urls["nop"], "username": urls["nop_username"]},
                                "bng": {"url": urls["bng"]}}
        if schedules:
            data["schedules"] = schedules
        config_mod.save(config_mod.parse(data), self.config)
        env = {**child_environment(), "BNGSYNC_NOP_PASSWORD": urls["nop_password"],
               "BNGSYNC_BNG_API_KEY": urls["bng_api_key"], "QT_QPA_PLATFORM": "offscreen"}
        self.env = desktop.env(env) if desktop is not None else env
        self.process: subprocess.Popen | None = None
        self._stderr: Any = None

    def _launch(self, command: list[str], ready_file: Path | None = None) -> Child:
        env = dict(self.env)
        if ready_file is not None:
            env["BNGSYNC_READY_FILE"] = str(ready_file)
        self._stderr = (self.folder / "stderr.txt").open("ab")
        self.process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=self._stderr)
        return self

    def agent(self) -> Child:
        """`bngsync run`."""
        return self._launch([str(BIN / "bngsync"), "--data-dir", str(self.data_dir), "--config", str(self.config),
                             "run"])

    def tray(self, ready_file: Path | None = None) -> Child:
        """`bngsync-tray --background`."""
        return self._launch([str(BIN / "bngsync-tray"), "--data-dir", str(self.data_dir), "--config",
                             str(self.config), "--background"], ready_file)

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def check_alive(self) -> None:
        if not self.alive():
            raise RuntimeError(f"the child process exited early: {self.stderr()[-2000:]}")

    def stderr(self) -> str:
        path = self.folder / "stderr.txt"
        return path.read_text(errors="replace") if path.exists() else ""

    def finished_flows(self) -> int:
        """Flows with at least one finished run in this child's database."""
        database = self.data_dir / "bngsync.sqlite3"
        if not database.exists():
            return 0
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5) as db:
            return db.execute("SELECT count(DISTINCT flow) FROM run WHERE outcome != 'running'").fetchone()[0]

    def stop(self, kill: bool = False) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.process = None
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None


# -- cold start ------------------------------------------------------------------------------------

def cold_starts(folder: Path, urls: dict[str, str], starts: int, desktop: Desktop | None) -> tuple[float, list[float]]:
    """(the first launch, the later launches): seconds from launching to the ready file."""
    child = Child(folder, urls, desktop=desktop)
    times = []
    for attempt in range(starts + 1):
        ready = folder / f"ready-{attempt}"
        started = time.perf_counter()
        child.tray(ready)
        try:
            wait_for(lambda r=ready: r.exists() or not child.alive(), 120, interval=0.01, what="the tray app to show")
            child.check_alive()
            times.append(time.perf_counter() - started)
        finally:
            child.stop(kill=True)      # a kill, not a quit: the next launch must find no instance running
    return times[0], times[1:]


# -- memory ----------------------------------------------------------------------------------------

def idle_memory(root: Path, urls: dict[str, str], idle: float, desktop: Desktop | None) -> dict[str, dict[str, float]]:
    """Memory of the idle agent, the agent after a first sync of everything, and the idle tray app(s)."""
    every_minute = {f"{flow}_minutes": 1 for flow in FLOWS}
    children = {"agent": Child(root / "agent", urls).agent(),
                "agent-work": Child(root / "agent-work", urls, schedules=every_minute).agent(),
                "tray": Child(root / "tray", urls).tray()}
    if desktop is not None:
        children["tray-desktop"] = Child(root / "tray-desktop", urls, desktop=desktop).tray()
    idlers = [name for name in children if name != "agent-work"]
    out: dict[str, dict[str, float]] = {}
    try:
        deadline = time.monotonic() + idle
        wait_for(lambda: time.monotonic() >= deadline or not all(c.alive() for c in children.values()),
                 idle + 5, interval=0.5, what="the idle period")
        for name in idlers:
            children[name].check_alive()
            out[name] = memory(children[name].pid)
            children[name].stop()
        worker = children["agent-work"]
        wait_for(lambda: worker.finished_flows() == len(FLOWS) or not worker.alive(), 600, interval=1.0,
                 what="the first run of every flow")
        worker.check_alive()
        worked_at = time.monotonic()
        wait_for(lambda: time.monotonic() >= worked_at + idle or not worker.alive(), idle + 5, interval=0.5,
                 what="the idle period after work")
        worker.check_alive()
        out["agent-work"] = memory(worker.pid)
    finally:
        for child in children.values():
            child.stop()
    return out


# -- the measurement -------------------------------------------------------------------------------

@dataclass
class Starts:
    first: float
    later: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.later) if self.later else self.first


def start_desktop(folder: Path) -> Desktop | None:
    """The virtual desktop, or None (the figures are then offscreen only) when it is not installed
    or does not come up: Qt's xcb platform needs the libraries listed in the README."""
    if not Desktop.available():
        return None
    desktop = Desktop(folder)
    try:
        return desktop.start()
    except TimeoutError as exc:
        desktop.stop()
        print(f"  no virtual desktop ({exc}); measuring offscreen only. See {folder / 'desktop.txt'}")
        return None


def run(idle: float = 60.0, starts: int = 3, desktop: bool = True) -> list[Result]:
    command = f"{COMMAND} --idle {idle:g} --starts {starts}"
    compile_bytecode()
    launches: dict[str, Starts] = {}
    with RemoteSandbox(seed=19, bad_data_rate=0.0) as box, Scratch("footprint") as root:
        session = start_desktop(root) if desktop else None
        try:
            launches["offscreen"] = Starts(*cold_starts(root / "start-offscreen", box.urls, starts, None))
            if session is not None:
                launches["desktop"] = Starts(*cold_starts(root / "start-desktop", box.urls, starts, session))
            rss = idle_memory(root, box.urls, idle, session)
        finally:
            if session is not None:
                session.stop()
    for name, s in launches.items():
        print(f"  tray app starts ({name}): first {s.first:.2f} s, then {', '.join(f'{t:.2f}' for t in s.later)} s")
    for name, values in rss.items():
        print(f"  {name}: RSS {values['VmRSS']:.1f} MB (private {values['private']:.1f} MB), "
              f"peak {values['VmHWM']:.1f} MB")

    def mem(name: str) -> str:
        return f"private {rss[name]['private']:.1f} MB, peak RSS {rss[name]['VmHWM']:.1f} MB"

    agent, worked, tray = rss["agent"], rss["agent-work"], rss["tray"]
    results = [
        Result(f"idle RSS, bngsync run ({idle:g} s idle)", agent["VmRSS"], "MB", "≤ 60 MB",
               agent["VmRSS"] <= AGENT_TARGET_MB, command=command,
               note=f"{mem('agent')}; default schedules, nothing done yet"),
        Result("RSS, bngsync run after a first sync of everything", worked["VmRSS"], "MB", "≤ 60 MB",
               worked["VmRSS"] <= AGENT_TARGET_MB, command=command,
               note=f"{mem('agent-work')}; every flow polling once a minute, read {idle:g} s after each flow's "
                    "first run ended"),
        Result(f"idle RSS, tray app offscreen ({idle:g} s idle)", tray["VmRSS"], "MB", "≤ 120 MB",
               tray["VmRSS"] <= TRAY_TARGET_MB, command=command,
               note=f"{mem('tray')}; offscreen Qt has no tray, so the dashboard is open instead"),
    ]
    if "tray-desktop" in rss:
        desk = rss["tray-desktop"]
        results.append(Result(f"idle RSS, tray app with a system tray ({idle:g} s idle)", desk["VmRSS"], "MB",
                              "≤ 120 MB", desk["VmRSS"] <= TRAY_TARGET_MB, command=command,
                              note=f"{mem('tray-desktop')}; Xvfb + trayer, the tray icon only"))
    off = launches["offscreen"]
    results.append(Result("tray app cold start to dashboard, offscreen", off.median, "s", "≤ 2 s",
                          off.median <= START_TARGET_S, command=command,
                          note=f"median of {len(off.later)} launches after a first one of {off.first:.2f} s "
                               "(database created); no tray offscreen, the dashboard stands in"))
    if "desktop" in launches:
        desk_start = launches["desktop"]
        results.append(Result("tray app cold start to tray icon shown", desk_start.median, "s", "≤ 2 s",
                              desk_start.median <= START_TARGET_S, command=command,
                              note=f"median of {len(desk_start.later)} launches after a first one of "
                                   f"{desk_start.first:.2f} s; Xvfb + trayer"))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--idle", type=float, default=60.0, help="seconds of idling before memory is read")
    parser.add_argument("--starts", type=int, default=3, help="timed launches of the tray app (after a first one)")
    parser.add_argument("--no-desktop", action="store_true", help="offscreen only, even when Xvfb and trayer exist")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()
    if not sys.platform.startswith("linux"):
        parser.error("this benchmark reads /proc: run it on Linux")
    results = run(args.idle, args.starts, desktop=not args.no_desktop)
    print_results("footprint", results)
    save_results(args.json, results)


if __name__ == "__main__":
    main()
