"""Fill a store through the engine's API with a plausible week: runs, synced orders, errors."""

from __future__ import annotations

import time
from datetime import date, datetime

from agent.engine.errors import JobError, Quarantine

QUARANTINED = [
    (1102, "The item 'AP_MBP_15' does not exist in BNG", "not_found"),
    (1107, "The e-mail address 'jane.doe@example' is not valid", "validation"),
    (1111, "Custom field Order source (ORDER_SOURCE) only accepts 'Web', 'Marketplace', 'Phone', 'Showroom', "
           "but the value is 'App'", "validation"),
]
DEAD = [(1109, "BNG did not answer in time (8 attempts)", "connection")]


def seed(service, days: int = 7, orders_per_day: int = 6) -> dict[str, list[int]]:
    """Runs and jobs over the last `days` days; returns the ids of the error jobs by state."""
    queue, history = service.queue, service.history
    midnight = datetime.combine(date.today(), datetime.min.time()).timestamp()
    order_no = 1000
    for day in range(days, 0, -1):
        base = midnight - day * 86400 + 9 * 3600   # 09:00 local, so day filters never straddle midnight
        for i in range(orders_per_day):
            history.clock = queue.clock = (lambda t=base + i * 600: t)
            run_id = history.start_run("orders", "schedule")
            order_no += 1
            key = f"nop-order:{order_no}"
            payload = {"order_id": order_no, "customer": {"email": f"c{order_no}@example.com"}}
            queue.enqueue("order.create", key, payload, run_id=run_id)
            [job] = queue.claim("seed")
            queue.complete(job, {"bng_order": f"SO-{104000 + order_no}"}, subject=f"bng-order:SO-{104000 + order_no}")
            history.finish_run(run_id, "ok", {"created": 1})
        history.clock = queue.clock = (lambda t=base + 3600 * 5: t)
        run_id = history.start_run("inventory", "schedule")
        history.finish_run(run_id, "ok", {"updated": 12})
    history.clock = queue.clock = time.time
    ids: dict[str, list[int]] = {"quarantined": [], "dead": []}
    run_id = history.start_run("orders", "manual")
    for number, reason, error_class in QUARANTINED:
        queue.enqueue("order.create", f"nop-order:{number}",
                      {"order_id": number, "customer": {"email": "jane.doe@example", "name": "Jane Doe"},
                       "lines": [{"sku": "AP_MBP_15", "quantity": 1}]}, run_id=run_id)
        [job] = queue.claim("seed")
        queue.fail(job, Quarantine(reason, error_class=error_class), subject="sku:AP_MBP_15 email:jane.doe@example")
        ids["quarantined"].append(job.id)
    for number, reason, error_class in DEAD:
        queue.enqueue("order.create", f"nop-order:{number}", {"order_id": number}, run_id=run_id)
        [job] = queue.claim("seed")
        queue.fail(job, JobError(reason, error_class=error_class, retryable=False))
        ids["dead"].append(job.id)
    history.finish_run(run_id, "partial", {"created": 0, "quarantined": 3, "dead": 1},
                       "4 of 4 record(s) need attention")
    return ids
