"""When flows poll, in the machine's local time, correct across daylight-saving changes.

Built on APScheduler 3 (BackgroundScheduler, in-memory job store, rebuilt from the config at
start: the schedule *is* the config, so there is nothing to persist or migrate).

* **Polling intervals** (`orders_minutes`, ...; 0 = off) run on real elapsed time: a 2-minute
  cadence stays 2 minutes across a DST change, never a burst or a one-hour gap.
* **The nightly reconciliation** runs once per local calendar day at `reconcile_at`. APScheduler's
  own CronTrigger fires twice on the autumn day when 02:30 happens twice, so a small trigger here
  computes one instant per local day instead: an ambiguous time runs at its first occurrence; a
  time that does not exist (02:30 on the spring-forward day in Europe or the US) runs at the
  instant the clock would have shown it without the jump, 03:30 local time (the same instant
  APScheduler's cron chooses).
* **Quiet hours** (e.g. 22:00–06:00 local) suppress polling triggers; the first poll after them
  comes at the first interval tick at or after the end, keeping the cadence. The nightly
  reconciliation is deliberately scheduled, so quiet hours do not apply to it, and work enqueued by
  hand (`run_now`, the tray's "sync now", webhooks) runs at any hour.

`next_fire_times()` computes the same fire times without a running scheduler, from the same
triggers, so tests prove the behaviour around DST changes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.interval import IntervalTrigger

from agent.config import FLOWS, ScheduleSettings

log = logging.getLogger(__name__)

RECONCILE = "reconcile"
POLL = "schedule"        # the trigger name a callback gets for interval polls
NIGHTLY = "nightly"      # ... for the nightly reconciliation

Callback = Callable[[str, str], None]


def local_zone() -> tzinfo:
    """The machine's time zone as a DST-aware zone (TZ, /etc/localtime, or Windows' setting)."""
    try:
        from tzlocal import get_localzone  # APScheduler's own dependency

        return get_localzone()
    except Exception:  # an unreadable zone setting must not stop syncing
        log.warning("the local time zone could not be determined; schedules use UTC")
        return UTC


def resolve_zone(tz: tzinfo | str | None) -> tzinfo:
    if tz is None:
        return local_zone()
    return ZoneInfo(tz) if isinstance(tz, str) else tz


def wall_time(day: date, at: time, tz: tzinfo) -> datetime:
    """The instant a wall clock in `tz` shows `at` on `day` (first occurrence if it shows it twice;
    the gap-shifted instant if it never does), as an aware datetime in `tz`."""
    naive = datetime.combine(day, at.replace(tzinfo=None))
    return naive.replace(tzinfo=tz, fold=0).astimezone(UTC).astimezone(tz)


def in_quiet_hours(moment: datetime, start: time, end: time, tz: tzinfo) -> bool:
    """Is `moment` inside [start, end) of local wall time? (start > end spans midnight)."""
    if start == end:
        return False
    wall = moment.astimezone(tz).time().replace(tzinfo=None)
    start, end = start.replace(tzinfo=None), end.replace(tzinfo=None)
    if start < end:
        return start <= wall < end
    return wall >= start or wall < end


class DailyTrigger(BaseTrigger):
    """Once per local calendar day at a wall-clock time (see the module doc for DST days)."""

    def __init__(self, at: time, tz: tzinfo):
        self.at = at
        self.timezone = tz

    def get_next_fire_time(self, previous_fire_time: datetime | None, now: datetime) -> datetime | None:
        start = now if previous_fire_time is None else min(now, previous_fire_time + timedelta(microseconds=1))
        day = start.astimezone(self.timezone).date() - timedelta(days=1)
        for offset in range(4):
            candidate = wall_time(day + timedelta(days=offset), self.at, self.timezone)
            if candidate >= start and (previous_fire_time is None or candidate > previous_fire_time):
                return candidate
        return None  # pragma: no cover - a day always has one

    def __str__(self) -> str:
        return f"daily at {self.at:%H:%M} ({self.timezone})"


class QuietHoursTrigger(BaseTrigger):
    """Wraps a polling trigger and skips its fire times inside quiet hours."""

    def __init__(self, inner: BaseTrigger, start: time, end: time, tz: tzinfo):
        self.inner = inner
        self.start = start
        self.end = end
        self.timezone = tz

    def _end_after(self, moment: datetime) -> datetime:
        local = moment.astimezone(self.timezone)
        for offset in range(3):
            candidate = wall_time(local.date() + timedelta(days=offset), self.end, self.timezone)
            if candidate > moment:
                return candidate
        return moment + timedelta(days=1)  # pragma: no cover

    def get_next_fire_time(self, previous_fire_time: datetime | None, now: datetime) -> datetime | None:
        fire = self.inner.get_next_fire_time(previous_fire_time, now)
        for _ in range(100):
            if fire is None or not in_quiet_hours(fire, self.start, self.end, self.timezone):
                return fire
            # The first tick at or after the end of the quiet period, on the same cadence.
            fire = self.inner.get_next_fire_time(None, self._end_after(fire))
        return fire  # pragma: no cover

    def __str__(self) -> str:
        return f"{self.inner} outside {self.start:%H:%M}-{self.end:%H:%M}"


@dataclass(frozen=True, order=True)
class Fire:
    at: datetime
    flow: str
    trigger: str


def poll_minutes(settings: ScheduleSettings) -> dict[str, float]:
    """Each flow's polling interval; flows set to 0 are left out."""
    intervals = {flow: float(getattr(settings, f"{flow}_minutes", 0) or 0) for flow in FLOWS}
    return {flow: minutes for flow, minutes in intervals.items() if minutes > 0}


def build_triggers(settings: ScheduleSettings, tz: tzinfo, start: datetime | None = None
                   ) -> dict[str, tuple[str, BaseTrigger]]:
    """flow → (trigger name, trigger). Interval triggers start one interval after `start`."""
    triggers: dict[str, tuple[str, BaseTrigger]] = {}
    for flow, minutes in poll_minutes(settings).items():
        first = (start + timedelta(minutes=minutes)) if start is not None else None
        trigger: BaseTrigger = IntervalTrigger(minutes=minutes, start_date=first, timezone=tz)
        quiet = settings.quiet_hours
        if quiet is not None and quiet.start != quiet.end:
            trigger = QuietHoursTrigger(trigger, quiet.start, quiet.end, tz)
        triggers[flow] = (POLL, trigger)
    triggers[RECONCILE] = (NIGHTLY, DailyTrigger(settings.reconcile_at, tz))
    return triggers


def next_fire_times(settings: ScheduleSettings, after: datetime, count: int, tz: tzinfo | str | None = None,
                    flows: Iterable[str] | None = None) -> list[Fire]:
    """The next `count` fire times after `after` (aware), in order, as the scheduler would fire them.

    Interval polls start one interval after `after`, as they do when the agent starts.
    """
    zone = resolve_zone(tz)
    after = after if after.tzinfo else after.replace(tzinfo=zone)
    wanted = set(flows) if flows is not None else None
    pending: dict[str, tuple[str, BaseTrigger, datetime | None]] = {}
    for flow, (name, trigger) in build_triggers(settings, zone, after).items():
        if wanted is None or flow in wanted:
            pending[flow] = (name, trigger, trigger.get_next_fire_time(None, after))
    fires: list[Fire] = []
    while len(fires) < count:
        live = [(at, flow) for flow, (_, _, at) in pending.items() if at is not None]
        if not live:
            break
        at, flow = min(live)
        name, trigger, _ = pending[flow]
        fires.append(Fire(at, flow, name))
        pending[flow] = (name, trigger, trigger.get_next_fire_time(at, at))
    return fires


class Scheduler:
    """Calls `callback(flow, trigger)` on the configured schedule (the callback enqueues a poll job)."""

    def __init__(self, settings: ScheduleSettings, callback: Callback, tz: tzinfo | str | None = None,
                 misfire_grace_seconds: int = 600, on_next_run: Callable[[str, datetime | None], None] | None = None):
        self.settings = settings
        self.callback = callback
        self.tz = resolve_zone(tz)
        self.misfire_grace_seconds = misfire_grace_seconds
        self.on_next_run = on_next_run
        self._scheduler: BackgroundScheduler | None = None

    @property
    def running(self) -> bool:
        return self._scheduler is not None and self._scheduler.running

    def start(self) -> Scheduler:
        if self.running:
            return self
        self._scheduler = BackgroundScheduler(timezone=self.tz, daemon=True,
                                              job_defaults={"coalesce": True, "max_instances": 1,
                                                            "misfire_grace_time": self.misfire_grace_seconds})
        self._add_jobs()
        self._scheduler.start()
        self._report_next_runs()
        return self

    def stop(self) -> None:
        if self._scheduler is not None and self._scheduler.running:
            self._scheduler.shutdown(wait=False)
        self._scheduler = None

    def reload(self, settings: ScheduleSettings) -> None:
        """Apply changed settings (the config was edited): rebuild every job."""
        self.settings = settings
        if self._scheduler is not None:
            self._scheduler.remove_all_jobs()
            self._add_jobs()
            self._report_next_runs()

    def pause(self) -> None:
        if self._scheduler is not None:
            self._scheduler.pause()

    def resume(self) -> None:
        if self._scheduler is not None:
            self._scheduler.resume()

    def run_now(self, flow: str, trigger: str = "manual") -> None:
        """Run a flow now, whatever the hour (quiet hours only hold back automatic polls)."""
        self._fire(flow, trigger)

    def next_runs(self) -> dict[str, datetime | None]:
        if self._scheduler is None:
            return {}
        return {job.id: job.next_run_time for job in self._scheduler.get_jobs()}

    def in_quiet_hours(self, moment: datetime | None = None) -> bool:
        quiet = self.settings.quiet_hours
        if quiet is None:
            return False
        return in_quiet_hours(moment or datetime.now(self.tz), quiet.start, quiet.end, self.tz)

    # -- internals -----------------------------------------------------------------------------
    def _add_jobs(self) -> None:
        assert self._scheduler is not None
        for flow, (name, trigger) in build_triggers(self.settings, self.tz).items():
            self._scheduler.add_job(self._fire, trigger, args=(flow, name), id=flow, name=f"{flow} ({name})",
                                    replace_existing=True)

    def _fire(self, flow: str, trigger: str) -> None:
        try:
            self.callback(flow, trigger)
        except Exception:
            log.exception("starting %s (%s) failed", flow, trigger)
        self._report_next_runs(flow)

    def _report_next_runs(self, only: str | None = None) -> None:
        if self.on_next_run is None or self._scheduler is None:
            return
        for job in self._scheduler.get_jobs():
            if only is None or job.id == only:
                try:
                    self.on_next_run(job.id, getattr(job, "next_run_time", None))
                except Exception:
                    log.exception("recording the next run of %s failed", job.id)
