"""Customers flow against the sandbox: registrations and changes reach BNG; likely duplicates wait
for a person's decision instead of becoming a second BNG customer."""

from __future__ import annotations

from agent.flows.customers import list_reviews, resolve_review
from tests.conftest import wait_until

BRENDA = {"name": "Brenda Lindgren", "email": "b.lindgren@ketchikan-mail.example", "phone": "+1 907 555 0142",
          "bill_to": {"name": "Brenda Lindgren", "line1": "1249 Tongass Ave, Ste B", "city": "Ketchikan",
                      "region": "AK", "postal_code": "99901", "country": "US"}}
VICTORIA = {"name": "Victoria Terces", "email": "vterces@prairie.example",
            "bill_to": {"line1": "201 1st Ave S", "city": "Saskatoon", "region": "SK", "postal_code": "S7K1J9",
                        "country": "CA"}}
JAMES = {"name": "Pan, James", "email": "jp@standrews.example",
         "bill_to": {"line1": "St Katharines West 16", "city": "St Andrews", "postal_code": "KY16 9AX",
                     "country": "GB"}}


def bng_customer(sandbox, nop_id: int) -> dict:
    found = sandbox.bng.state.customers_for(str(nop_id))
    assert len(found) == 1, f"store customer {nop_id}: {len(found)} BNG customers"
    return found[0]


def sync(runtime) -> dict:
    report = runtime.sync("customers", timeout=60)
    assert report["ok"], report
    return report["flows"]["customers"]


def test_registered_customers_become_bng_customers_once(sandbox, make_runtime):
    runtime = make_runtime(sandbox)
    bng = sandbox.bng.state
    counts = sync(runtime)
    assert counts["succeeded"] == 5

    steve = bng_customer(sandbox, 4)
    assert steve["name"] == "Steve Gates" and steve["bill_to"]["region"] == "CA"
    assert steve["bill_to"]["line1"] == "750 BEL AIR RD"           # cleaned like an order's address
    arthur = bng_customer(sandbox, 5)                              # the phone customer, found by e-mail
    assert arthur["customer_no"] == "C000001" and arthur["phone"] == "+44 20 7946 0001", "BNG's data is kept"
    for nop_id in (6, 7, 8):
        bng_customer(sandbox, nop_id)
    assert bng.customers_for("1") == [], "the store's staff and API user are not customers"
    assert bng.snapshot()["customers"] == 2 + 4
    assert list_reviews(runtime.store) == []
    assert sync(runtime)["enqueued"] == 0, "nothing changed: nothing sent"


def test_changed_names_and_addresses_follow_and_nothing_else(sandbox, make_runtime):
    runtime = make_runtime(sandbox)
    nop = sandbox.nop.state
    sync(runtime)
    versions = {n: bng_customer(sandbox, n)["row_version"] for n in (5, 6, 7, 8)}
    with nop.lock:
        steve = nop.customers[4]
        steve.last_name = "Gates-Wood"
        address = nop.addresses[steve.billing_address_id]
        address.address1, address.city, address.zip_postal_code = "1 Infinite Loop", "Cupertino", "95014"
    assert sync(runtime)["succeeded"] == 1

    moved = bng_customer(sandbox, 4)
    assert moved["name"] == "Steve Gates-Wood"
    assert (moved["bill_to"]["line1"], moved["bill_to"]["city"], moved["bill_to"]["postal_code"]) == \
        ("1 INFINITE LOOP", "Cupertino", "95014")
    assert {n: bng_customer(sandbox, n)["row_version"] for n in (5, 6, 7, 8)} == versions


def test_new_registration_from_the_shop(sandbox, make_runtime):
    runtime = make_runtime(sandbox)
    sync(runtime)
    order = sandbox.nop.shoppers.place_order(new_customer=True, anomalies=[], country="DE")
    customer_id = order["customer_id"]
    sync(runtime)
    created = bng_customer(sandbox, customer_id)
    assert created["email"] == sandbox.nop.state.customers[customer_id].email
    assert created["bill_to"]["country"] == "DE"


def test_a_likely_duplicate_waits_for_a_person_who_links_it(sandbox, make_runtime):
    runtime = make_runtime(sandbox)
    bng = sandbox.bng.state
    entered_by_phone = bng.create_customer(BRENDA)["customer_no"]
    sync(runtime)

    assert bng.customers_for("7") == [], "not created while a person has to decide"
    (review,) = list_reviews(runtime.store)
    assert review["customer_id"] == "7" and review["candidates"][0]["customer_no"] == entered_by_phone
    evidence = " ".join(review["candidates"][0]["evidence"])
    assert "names 100% alike" in evidence and "addresses" in evidence
    assert [a for a in runtime.alerts.open_alerts() if a["incident"] == "review:customers"]
    assert sync(runtime)["enqueued"] == 0, "an open review is not asked again"

    done = resolve_review(runtime.store, runtime.queue, review["id"], "link")
    assert done["customer_no"] == entered_by_phone
    wait_until(lambda: runtime.queue.get(done["job"]).state == "succeeded", 30, message="the link")
    linked = bng.customer(entered_by_phone)
    assert linked["external_id"] == "7" and linked["email"] == BRENDA["email"], "BNG keeps its own data"
    assert runtime.xref.bng_key("customer", 7) == entered_by_phone
    assert list_reviews(runtime.store) == [] and list_reviews(runtime.store, state=None)[0]["choice"] == "link"
    sync(runtime)
    assert bng.customers_for("7") == [linked]


def test_create_and_ignore_decisions(sandbox, make_runtime):
    runtime = make_runtime(sandbox)
    bng = sandbox.bng.state
    bng.create_customer(VICTORIA)
    bng.create_customer(JAMES)
    sync(runtime)
    reviews = {r["customer_id"]: r for r in list_reviews(runtime.store)}
    assert set(reviews) == {"6", "8"}

    created = resolve_review(runtime.store, runtime.queue, reviews["8"]["id"], "create", alerts=runtime.alerts)
    assert [a for a in runtime.alerts.open_alerts() if a["incident"] == "review:customers"], "one is still open"
    resolve_review(runtime.store, runtime.queue, reviews["6"]["id"], "ignore", alerts=runtime.alerts)
    assert not [a for a in runtime.alerts.open_alerts() if a["incident"] == "review:customers"]
    wait_until(lambda: runtime.queue.get(created["job"]).state == "succeeded", 30, message="the create")
    assert bng_customer(sandbox, 8)["email"] == "victoria_victoria@nopCommerce.com"
    assert bng.customers_for("6") == []
    assert runtime.sync("customers", timeout=60, full=True)["ok"]
    assert list_reviews(runtime.store) == [] and bng.customers_for("6") == [], "ignored until the customer changes"


def test_store_webhooks_about_customers_make_the_same_sync(sandbox):
    from agent.flows import webhook_jobs
    from agent.sandbox.nop.dto import customer_dto

    nop = sandbox.nop.state
    with nop.lock:
        steve, staff = customer_dto(nop, nop.customers[4]), customer_dto(nop, nop.customers[1])
    (job,) = webhook_jobs("customers/update", steve)
    assert job.kind == "customer.sync" and job.key.startswith("nop-customer:4@")
    assert webhook_jobs("customers/update", staff) is None
    assert webhook_jobs("customers/create", {"id": 99, "email": None, "role_ids": [4]}) is None
