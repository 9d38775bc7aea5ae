"""Render every window of the desktop app against a running demo and save PNGs in docs/screenshots/.

    .venv/bin/python scripts/screenshots.py              # starts its own Xvfb and tray host
    .venv/bin/python scripts/screenshots.py --display    # use the current $DISPLAY instead
    .venv/bin/python scripts/screenshots.py --out DIR --orders 30

What runs is the real thing: both sandbox servers, the agent's runtime, shoppers placing orders
(some with bad data, which ends up in Errors), the BNG back office shipping them. Past days are
backfilled through the engine's own API (runs and synced orders), so the 30-day chart and the
history show more than today. The tray is real too: `trayer` hosts it on the virtual screen.

Debian packages: xvfb xauth trayer imagemagick libxcb-cursor0 libxcb-icccm4 libxcb-image0
libxcb-keysyms1 libxcb-render-util0 libxcb-render0 libxcb-shape0 libxcb-util1 libxcb-xkb1
libxkbcommon-x11-0 x11-utils.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SCREEN = "1600x1000x24"


# -- the virtual desktop -------------------------------------------------------------------------

def start_display() -> list[subprocess.Popen]:
    """Xvfb on a free display number, and trayer as the system tray host; returns the processes."""
    for number in range(91, 120):
        if not Path(f"/tmp/.X11-unix/X{number}").exists() and not Path(f"/tmp/.X{number}-lock").exists():
            break
    else:
        raise SystemExit("no free X display number between :91 and :119")
    xvfb = subprocess.Popen(["Xvfb", f":{number}", "-screen", "0", SCREEN, "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while not Path(f"/tmp/.X11-unix/X{number}").exists():
        if time.monotonic() > deadline or xvfb.poll() is not None:
            raise SystemExit("Xvfb did not start (is the xvfb package installed?)")
        time.sleep(0.05)
    os.environ["DISPLAY"] = f":{number}"
    processes = [xvfb]
    if shutil.which("trayer"):
        processes.append(subprocess.Popen(
            ["trayer", "--edge", "top", "--align", "right", "--widthtype", "request", "--height", "30",
             "--SetDockType", "true", "--transparent", "false", "--tint", "0x2f3b45", "--expand", "true"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    else:
        print("trayer is not installed: no tray on the virtual screen (the dashboard stands in)")
    return processes


def stop_processes(processes: list[subprocess.Popen]) -> None:
    for process in reversed(processes):
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()


# -- the demo ------------------------------------------------------------------------------------

def start_demo(orders: int, data_dir: Path, backfill_days: int) -> Any:
    """Sandbox + agent with orders flowing; returns the `Demo` once its orders are in BNG or in Errors."""
    from agent.demo import Demo, Progress

    if backfill_days:
        backfill(data_dir, backfill_days)   # first, and with no agent running: today's real runs stay newest
    demo = Demo(orders=orders, bad_data=0.2, seed=11, data_dir=data_dir)
    demo.start()
    ok, reason = demo.run(timeout=60, progress=Progress())
    print(f"\ndemo: {demo.counts()}" + ("" if ok else f" ({reason})"))
    return demo


class Clock:
    """A wall clock the backfill sets to each past moment it records."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def backfill(data_dir: Path, days: int = 21, seed: int = 5) -> None:
    """Earlier days' runs and synced orders, written through the engine's API, so charts span weeks."""
    from agent.engine import History, JobQueue
    from agent.store import open_store

    rng = random.Random(seed)
    store = open_store(data_dir)
    clock = Clock()
    queue, history = JobQueue(store, clock=clock), History(store, clock=clock)
    midnight = time.mktime((*time.localtime()[:3], 0, 0, 0, 0, 0, -1))
    number = 90_000
    try:
        for day in range(days, 0, -1):
            for hour in (8, 10, 12, 14, 16, 18):
                clock.now = midnight - day * 86400 + hour * 3600 + rng.randint(0, 1800)
                run_id = history.start_run("orders", "schedule")
                created = rng.randint(0, 6) if day % 7 not in (0, 6) else rng.randint(0, 2)
                for _ in range(created):
                    number += 1
                    queue.enqueue("order.create", f"nop-order:{number}", {"id": number}, run_id=run_id)
                    [job] = queue.claim("backfill")
                    queue.complete(job, {"order_no": f"SO-{number}"}, subject=f"bng-order:SO-{number}")
                history.finish_run(run_id, "ok", {"created": created} if created else {})
            clock.now = midnight - day * 86400 + 7 * 3600
            run_id = history.start_run("inventory", "schedule")
            history.finish_run(run_id, "ok", {"updated": rng.randint(3, 40)})
    finally:
        store.close()


# -- taking the pictures ---------------------------------------------------------------------------

class Camera:
    """Shows widgets, waits for their data, saves what they look like."""

    def __init__(self, app: Any, out: Path):
        self.app = app
        self.out = out
        self.saved: list[Path] = []

    def settle(self, ms: int = 400) -> None:
        deadline = time.monotonic() + ms / 1000
        while time.monotonic() < deadline:
            self.app.processEvents()
            time.sleep(0.01)

    def wait(self, predicate: Callable[[], Any], timeout: float = 20.0, what: str = "") -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.app.processEvents()
            if predicate():
                return True
            time.sleep(0.02)
        print(f"  (gave up waiting for {what or 'data'})")
        return False

    def shoot(self, widget: Any, name: str, settle_ms: int = 500) -> Path:
        widget.show()
        widget.raise_()
        self.settle(settle_ms)
        path = self.out / f"{name}.png"
        widget.grab().save(str(path))
        self.saved.append(path)
        print(f"  {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
        return path

    def screen(self, name: str, crop: tuple[int, int, int, int] | None = None) -> Path | None:
        """The virtual screen as X shows it (the real tray host included), through ImageMagick's `import`;
        `crop` is (x, y, width, height)."""
        if not shutil.which("import"):
            return None
        path = self.out / f"{name}.png"
        region = ["-crop", "{2}x{3}+{0}+{1}".format(*crop)] if crop else []
        subprocess.run(["import", "-window", "root", *region, str(path)], check=False)
        self.saved.append(path)
        print(f"  {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
        return path


def tray_states(camera: Camera) -> None:
    """The five tray icons side by side, at the sizes trays use, with their names."""
    from PySide6.QtCore import QRect, Qt
    from PySide6.QtGui import QColor, QPainter, QPixmap

    from ui.icons import LABELS, STATES, state_icon

    sizes = (16, 22, 32, 64)
    pixmap = QPixmap(5 * 170, 150)
    pixmap.fill(QColor("#ffffff"))
    painter = QPainter(pixmap)
    for i, state in enumerate(STATES):
        x = i * 170 + 12
        for size in sizes:
            painter.drawPixmap(x, 80 - size, state_icon(state).pixmap(size, size))
            x += size + 8
        painter.setPen(QColor("#1f2933"))
        painter.drawText(QRect(i * 170, 96, 170, 40), Qt.AlignmentFlag.AlignCenter, LABELS[state])
    painter.end()
    path = camera.out / "tray-states.png"
    pixmap.save(str(path))
    camera.saved.append(path)
    print(f"  {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")


def shoot_windows(camera: Camera, controller: Any, demo: Any) -> None:
    from PySide6.QtWidgets import QTableView

    dashboard = controller.show("dashboard")
    camera.wait(lambda: dashboard.status is not None and len(dashboard.chart.days) == 30, what="dashboard")
    camera.shoot(dashboard, "dashboard", 1500)

    errors = controller.show("errors")
    camera.wait(lambda: errors.model.rowCount() > 0, what="errors")
    quarantined = [r for r in errors.model.rows if r["state"] == "quarantined"] or errors.model.rows
    if quarantined:
        errors.select(quarantined[0]["id"])
    camera.shoot(errors, "errors")
    if quarantined:
        from ui.windows.errors import EditDialog

        dialog = EditDialog(errors.current, errors)
        camera.shoot(dialog, "errors-edit-and-retry")
        dialog.close()
        errors.retry_selected()
        camera.wait(lambda: errors.current is None or errors.row_for(quarantined[0]["id"]).get("tone") not in
                    (None, "busy"), timeout=30, what="the retry's result")
        camera.shoot(errors, "errors-retry-result")
    shoot_reviews(camera, errors, demo)
    errors.pages.setCurrentIndex(0)

    history = controller.show("history")
    camera.wait(lambda: history.runs.rowCount() > 0, what="runs")
    view: QTableView = history.runs_view
    view.selectRow(0)
    camera.wait(lambda: history.steps.rowCount() > 0, what="steps")
    camera.shoot(history, "history")
    if demo.placed:
        history.search.setText(str(demo.placed[0]))
        history.find()
        camera.wait(lambda: history.steps.rowCount() > 0, what="trail")
        camera.shoot(history, "history-search")

    mappings = controller.show("mappings")
    camera.wait(lambda: bool(mappings.meta.dimensions), what="BNG's definitions")
    names = ["statuses", "custom-fields", "dimensions", "warehouses", "ownership"]
    for index, name in enumerate(names):
        mappings.tabs.setCurrentIndex(index)
        if name == "dimensions" and demo.placed:
            mappings.dimensions.order_id.setValue(int(demo.placed[0]))
            mappings.dimensions.request_preview()
            camera.wait(lambda: "result" in mappings.dimensions.preview.toPlainText()
                        or "problem" in mappings.dimensions.preview.toPlainText()
                        or "Could not" in mappings.dimensions.preview.toPlainText(), what="the rule test")
        camera.shoot(mappings, f"mappings-{name}")

    settings = controller.show("settings")
    for index, name in enumerate(["connections", "schedules", "webhooks", "notifications", "general"]):
        settings.tabs.setCurrentIndex(index)
        if name == "connections":
            settings.nop.test()
            settings.bng.test()
            camera.wait(lambda: settings.nop.result.ok is not None and settings.bng.result.ok is not None,
                        what="connection tests")
        camera.shoot(settings, f"settings-{name}")
    camera.shoot(controller.show("about"), "about")
    for window in controller.windows.values():
        window.hide()


def register_lookalike(demo: Any) -> None:
    """A shopper registers in the store whom the shop's staff had entered in BNG twice already, by
    phone: with another e-mail, and once only with an initial. The customers flow holds it for review."""
    from agent.sandbox.nop.model import Customer, new_guid
    from agent.sandbox.nop.state import ROLE_REGISTERED

    nop, bng = demo.sandbox.nop.state, demo.sandbox.bng.state
    phone = "+1 503 555 0187"
    place = {"line1": "2211 NW Flanders St", "city": "Portland", "region": "OR", "postal_code": "97210",
             "country": "US"}
    bng.create_customer({"name": "Margaret Okafor", "email": "okafor.margaret@pdx-mail.example", "phone": phone,
                         "bill_to": {"name": "Margaret Okafor", **place}})
    bng.create_customer({"name": "M. Okafor", "email": "okafor.orders@pdx-mail.example", "phone": phone,
                         "bill_to": {"name": "M. Okafor", **place}})
    country = nop.directory.country("US")
    region = nop.directory.state("US", "OR")
    address = nop.add_address(first_name="Margaret", last_name="Okafor", email="maggie.okafor@example.com",
                              country_id=country.id, state_province_id=region.id if region else None,
                              city="Portland", address1="2211 NW Flanders Street", zip_postal_code="97210",
                              phone_number="(503) 555-0187")
    now = nop.clock()
    nop.add_customer(Customer(id=nop.next_id("customer"), customer_guid=new_guid(), email="maggie.okafor@example.com",
                              username="maggie.okafor@example.com", first_name="Margaret", last_name="Okafor",
                              role_ids=[ROLE_REGISTERED], created_on_utc=now, last_activity_date_utc=now,
                              address_ids=[address.id], billing_address_id=address.id,
                              shipping_address_id=address.id))


def shoot_reviews(camera: Camera, errors: Any, demo: Any) -> None:
    """The errors window's second tab: a customer to review, then the result of linking it."""
    register_lookalike(demo)
    demo.service.sync_later("customers")
    camera.wait(lambda: demo.service.open_review_count() > 0, timeout=30, what="a customer to review")
    errors.bridge.refresh()
    errors.show_reviews()
    errors.reviews.reload()
    panel = errors.reviews
    camera.wait(lambda: panel.model.rowCount() > 0 and panel.current is not None, what="the reviews")
    camera.shoot(errors, "errors-customer-reviews", 800)
    candidates = panel.current.get("candidates") or []
    if candidates:
        panel.link_buttons[candidates[0]["customer_no"]].click()
        camera.wait(lambda: panel.current is not None and panel.current.get("tone") not in (None, "busy"),
                    timeout=30, what="the link's result")
        camera.shoot(errors, "errors-customer-linked")


def shoot_wizard(camera: Camera, demo: Any, data_dir: Path) -> None:
    """The setup assistant, filled in against the sandbox (not finished: nothing is written)."""
    from ui.wizard import SetupWizard

    sandbox = demo.sandbox
    wizard = SetupWizard(data_dir / "wizard-config.toml")
    wizard.confirm = lambda text: True
    camera.shoot(wizard, "wizard-1-welcome")
    wizard.next()
    wizard.nop.url.setText(sandbox.nop_url)
    wizard.nop.username.setText(sandbox.credentials.nop_username)
    wizard.nop.password.setText(sandbox.credentials.nop_password)
    wizard.nop.test()
    camera.wait(lambda: wizard.nop.result.ok is not None, what="store test")
    camera.shoot(wizard, "wizard-2-web-store")
    wizard.next()
    wizard.bng.url.setText(sandbox.bng_url)
    wizard.bng.api_key.setText("wrong key")
    wizard.bng.test()
    camera.wait(lambda: wizard.bng.result.ok is not None, what="BNG test")
    camera.shoot(wizard, "wizard-3-bng-refused")
    wizard.bng.api_key.setText(sandbox.credentials.bng_api_key)
    wizard.bng.test()
    camera.wait(lambda: wizard.bng.result.ok is not None, what="BNG test")
    camera.shoot(wizard, "wizard-3-bng")
    for number, name in ((4, "locations"), (5, "statuses"), (6, "fields"), (7, "schedules"), (8, "summary")):
        wizard.next()
        camera.wait(lambda: wizard.currentPage().isEnabled(), what=name)
        camera.shoot(wizard, f"wizard-{number}-{name}", 700)
    wizard.reject()


def shoot_tray(camera: Camera, controller: Any) -> None:
    from PySide6.QtCore import QPoint

    tray_states(camera)
    if controller.tray is None:
        print("  (no system tray on this display: no tray menu picture)")
        return
    controller.bridge.refresh()
    camera.settle(1500)
    menu = controller.tray.menu
    geometry = controller.tray.icon.geometry()
    anchor = geometry.bottomLeft() if geometry.isValid() and not geometry.isEmpty() else QPoint(1300, 32)
    menu.popup(anchor)
    camera.settle(800)
    camera.shoot(menu, "tray-menu", 200)
    box = menu.geometry()
    screen = menu.screen().geometry()
    left = max(0, box.left() - 60)
    camera.screen("tray-on-the-desktop", (left, 0, screen.width() - left, box.bottom() + 30))
    menu.hide()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "docs" / "screenshots"), help="where the PNGs go")
    parser.add_argument("--orders", type=int, default=24, help="orders the demo's shoppers place")
    parser.add_argument("--backfill-days", type=int, default=21, help="earlier days of history to add")
    parser.add_argument("--display", action="store_true", help="use $DISPLAY instead of starting Xvfb")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    processes = [] if args.display else start_display()
    os.environ["QT_QPA_PLATFORM"] = "xcb"
    data_dir = Path(tempfile.mkdtemp(prefix="bngsync-shots-"))
    demo = None
    try:
        demo = start_demo(args.orders, data_dir, args.backfill_days)
        demo.service.stop()
        demo.service.start()                  # with the schedules, as the tray app runs it
        from PySide6.QtWidgets import QSystemTrayIcon

        from ui.app import application
        from ui.controller import AppController

        app = application()
        camera = Camera(app, out)
        camera.wait(QSystemTrayIcon.isSystemTrayAvailable, timeout=5, what="the tray host")
        controller = AppController(demo.service, start_agent=False)
        camera.settle(1000)
        print(f"saving to {out}")
        shoot_tray(camera, controller)
        shoot_windows(camera, controller, demo)
        shoot_wizard(camera, demo, data_dir)
        controller.bridge.close()
        controller.bridge.runner.wait_idle(30)
        if controller.tray is not None:
            controller.tray.hide()
        for window in controller.windows.values():   # tidy up before the interpreter tears Qt down
            window.close()
            window.deleteLater()
        controller.deleteLater()
        camera.settle(300)
        print(f"{len(camera.saved)} pictures")
    finally:
        if demo is not None:
            demo.stop()
        stop_processes(processes)
        shutil.rmtree(data_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
