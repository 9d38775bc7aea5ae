"""Schedules in local time: nightly once per day across DST, steady intervals, quiet hours."""

from __future__ import annotations

import itertools
import threading
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

import pytest

from agent.config import QuietHours, ScheduleSettings
from agent.engine.schedules import Scheduler, in_quiet_hours, local_zone, next_fire_times, wall_time
from tests.engine.conftest import wait_until

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")

# (zone, spring-forward day, fall-back day) in 2026
DST_DAYS = [(BERLIN, date(2026, 3, 29), date(2026, 10, 25)), (NEW_YORK, date(2026, 3, 8), date(2026, 11, 1))]


def only(flow: str, **kwargs) -> ScheduleSettings:
    """Settings with every polling flow off except the given ones."""
    minutes = {f"{name}_minutes": 0 for name in ("orders", "shipments", "inventory", "products", "customers")}
    minutes.update(kwargs.pop("minutes", {}))
    return ScheduleSettings(**minutes, **kwargs)


def nightly(tz: tzinfo, start: date, days: int, at: time = time(2, 30)) -> list[datetime]:
    after = datetime.combine(start, time(12), tzinfo=tz)
    fires = next_fire_times(only("none", reconcile_at=at), after, days, tz, flows=["reconcile"])
    assert all(f.flow == "reconcile" and f.trigger == "nightly" for f in fires)
    return [f.at for f in fires]


@pytest.mark.parametrize(("tz", "spring", "autumn"), DST_DAYS)
def test_nightly_runs_once_per_local_day_across_both_dst_changes(tz, spring, autumn):
    for change in (spring, autumn):
        fires = nightly(tz, change - timedelta(days=3), 7)
        local_days = [f.astimezone(tz).date() for f in fires]
        assert local_days == [change - timedelta(days=2) + timedelta(days=i) for i in range(7)]
        gaps = {round((b - a).total_seconds() / 3600) for a, b in itertools.pairwise(fires)}
        assert gaps <= {23, 24, 25}
        for fire in fires:
            local = fire.astimezone(tz)
            if local.date() == spring:
                assert local.time() == time(3, 30)        # 02:30 does not exist that night: 03:30
            else:
                assert local.time() == time(2, 30)


def test_an_ambiguous_nightly_time_runs_at_its_first_occurrence():
    # New York falls back at 02:00 → 01:00, so 01:30 happens twice on 2026-11-01.
    fires = nightly(NEW_YORK, date(2026, 10, 30), 4, at=time(1, 30))
    on_the_day = [f for f in fires if f.astimezone(NEW_YORK).date() == date(2026, 11, 1)]
    assert len(on_the_day) == 1 and on_the_day[0].utcoffset() == timedelta(hours=-4)   # still EDT
    # Berlin's 02:30 on 2026-10-25 also happens twice: once.
    fires = nightly(BERLIN, date(2026, 10, 24), 3)
    assert [f.astimezone(BERLIN).day for f in fires] == [25, 26, 27]
    assert fires[0].utcoffset() == timedelta(hours=2)


@pytest.mark.parametrize(("tz", "spring", "autumn"), DST_DAYS)
def test_intervals_keep_their_cadence_in_real_time_across_dst(tz, spring, autumn):
    settings = only("orders", minutes={"orders_minutes": 2})
    for change in (spring, autumn):
        after = datetime.combine(change, time(0, 30), tzinfo=tz)
        fires = [f.at for f in next_fire_times(settings, after, 120, tz, flows=["orders"])]
        utc = [f.astimezone(UTC) for f in fires]
        assert all((b - a) == timedelta(minutes=2) for a, b in itertools.pairwise(utc))
        assert len(set(utc)) == len(utc)
        assert fires[0].astimezone(UTC) == after.astimezone(UTC) + timedelta(minutes=2)


@pytest.mark.parametrize("tz", [BERLIN, NEW_YORK])
def test_quiet_hours_hold_back_polls_but_not_the_nightly_run(tz):
    settings = only("orders", minutes={"orders_minutes": 5, "inventory_minutes": 7},
                    quiet_hours=QuietHours(start=time(22), end=time(6)), reconcile_at=time(2, 30))
    for night in (date(2026, 3, 28), date(2026, 10, 24), date(2026, 3, 7), date(2026, 10, 31), date(2026, 6, 1)):
        after = datetime.combine(night, time(20), tzinfo=tz)
        fires = next_fire_times(settings, after, 200, tz)
        polls = [f for f in fires if f.trigger == "schedule"]
        assert not [f for f in polls if in_quiet_hours(f.at, time(22), time(6), tz)]
        last_evening = max(f.at for f in polls if f.at.astimezone(tz).date() == night)
        first_morning = min(f.at for f in polls if f.at > last_evening)
        assert last_evening.astimezone(tz).time() < time(22)
        assert time(6) <= first_morning.astimezone(tz).time() < time(6, 7)
        # The orders poll resumes on its 5-minute grid: whole multiples of 5 min from its start.
        orders = [f.at for f in polls if f.flow == "orders"]
        assert all((o - after).total_seconds() % 300 == 0 for o in orders)
        nightly_runs = [f for f in fires if f.flow == "reconcile"]
        assert len(nightly_runs) == 1
        assert nightly_runs[0].at.astimezone(tz).time() in (time(2, 30), time(3, 30))


def test_quiet_hours_within_one_day_and_off_flows():
    assert in_quiet_hours(datetime(2026, 6, 1, 12, 30, tzinfo=BERLIN), time(12), time(13), BERLIN)
    assert not in_quiet_hours(datetime(2026, 6, 1, 13, 0, tzinfo=BERLIN), time(12), time(13), BERLIN)
    assert not in_quiet_hours(datetime(2026, 6, 1, 13, 0, tzinfo=BERLIN), time(13), time(13), BERLIN)
    fires = next_fire_times(only("none"), datetime(2026, 6, 1, tzinfo=BERLIN), 10, BERLIN)
    assert {f.flow for f in fires} == {"reconcile"}
    assert wall_time(date(2026, 3, 29), time(2, 30), BERLIN).time() == time(3, 30)


def test_default_settings_poll_every_flow():
    fires = next_fire_times(ScheduleSettings(), datetime(2026, 6, 1, 12, tzinfo=NEW_YORK), 400, "America/New_York")
    assert {f.flow for f in fires} == {"orders", "shipments", "inventory", "products", "customers"}
    assert local_zone() is not None


def test_the_scheduler_calls_back_on_its_own_thread_and_on_demand():
    calls: list[tuple[str, str]] = []
    lock = threading.Lock()

    def callback(flow, trigger):
        with lock:
            calls.append((flow, trigger))

    next_runs = {}
    scheduler = Scheduler(only("orders", minutes={"orders_minutes": 0.004}), callback, tz="Europe/Berlin",
                          on_next_run=next_runs.__setitem__)
    scheduler.start()
    try:
        assert set(scheduler.next_runs()) == {"orders", "reconcile"}
        assert set(next_runs) == {"orders", "reconcile"}
        wait_until(lambda: calls.count(("orders", "schedule")) >= 2, timeout=10, message="two polls")
        scheduler.run_now("inventory")
        assert ("inventory", "manual") in calls
        scheduler.reload(only("none"))
        assert set(scheduler.next_runs()) == {"reconcile"}
    finally:
        scheduler.stop()
    assert not scheduler.running


def test_a_failing_callback_does_not_stop_the_schedule():
    calls = []

    def callback(flow, trigger):
        calls.append(flow)
        raise RuntimeError("the queue is locked")

    scheduler = Scheduler(only("orders", minutes={"orders_minutes": 0.003}), callback, tz="UTC").start()
    try:
        wait_until(lambda: len(calls) >= 2, timeout=10, message="polls after a failure")
    finally:
        scheduler.stop()
