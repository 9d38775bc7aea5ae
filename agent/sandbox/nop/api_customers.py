"""`/api/customers`, and the directory lists the agent resolves address ids with.

Customers: the list skips deleted, inactive and system accounts and (per the reference) guests,
ordered by id with `since_id` applied; `/count` counts every non-deleted customer including
guests and system accounts, so it cannot size the list's paging. `/search?query=email:x` matches
by "equals or contains", case-insensitively as SQL Server's collation does; a query without any
`field:` pair matches everyone, and `limit=1` is refused (the plugin checks `limit <= 1`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from agent.sandbox.httpserver import Request, Response, Router
from agent.sandbox.nop.dto import country_dto, currency_dto, customer_dto, state_province_dto
from agent.sandbox.nop.model import Customer
from agent.sandbox.nop.replies import Query, check_paging, error, listing, page_of, positive_route_id, reply
from agent.sandbox.nop.state import NopState
from agent.sandbox.nop.wire import parse_query_date

# searchable Customer properties, by the plugin's underscore-free, case-free spelling
_SEARCHABLE = {"email": "email", "username": "username", "firstname": "first_name", "lastname": "last_name",
               "company": "company", "vatnumber": "vat_number", "systemname": "system_name",
               "admincomment": "admin_comment", "lastipaddress": "last_ip_address"}


def parse_search(query: str) -> dict[str, str]:
    """`ParseSearchQuery`: split on `word:`, pair fields with values, drop underscores from fields."""
    parts = [p for p in re.split(r"(\w+):", query) if p != ""]
    if len(parts) < 2:
        return {}
    pairs: dict[str, str] = {}
    for index in range(0, len(parts) - 1, 2):
        field, value = parts[index], parts[index + 1]
        if field and value:
            pairs[field.replace("_", "").strip().lower()] = value.strip()
    return pairs


class CustomersApi:
    def __init__(self, state: NopState):
        self.state = state

    def register(self, router: Router) -> None:
        router.add("GET", "/api/customers", self.list_customers)
        router.add("GET", "/api/customers/count", self.count_customers)
        router.add("GET", "/api/customers/search", self.search_customers)
        router.add("GET", "/api/customers/me", self.current_customer)
        router.add("GET", "/api/customers/{id}", self.get_customer)
        router.add("GET", "/api/countries", self.list_countries)
        router.add("GET", "/api/countries/{id}", self.get_country)
        router.add("GET", "/api/stateprovinces", self.list_states)
        router.add("GET", "/api/stateprovinces/{id}", self.get_state)
        router.add("GET", "/api/currencies", self.list_currencies)
        router.add("GET", "/api/currencies/primary", self.primary_currency)

    # -- customers -----------------------------------------------------------------------------
    def _listed(self, query: Query) -> Iterator[Customer]:
        created_min = parse_query_date(query.get("created_at_min"))
        created_max = parse_query_date(query.get("created_at_max"))
        since_id = query.int("since_id", 0)
        with_guests = self.state.customer_list_includes_guests
        for customer in self.state.customers.values():
            if customer.deleted or customer.is_system_account or not customer.active or customer.id <= since_id:
                continue
            if not with_guests and self.state.is_guest(customer):
                continue
            if customer.registered_in_store_id not in (0, 1):
                continue
            if created_min is not None and not (customer.created_on_utc or created_min) > created_min:
                continue
            if created_max is not None and not (customer.created_on_utc or created_max) < created_max:
                continue
            yield customer

    def list_customers(self, request: Request) -> Response:
        query = Query(request)
        limit, page = query.int("limit", 50), query.int("page", 1)
        check_paging(limit, page, ("limit", "Invalid limit parameter"), ("page", "Invalid request parameters"))
        with self.state.lock:
            items = [customer_dto(self.state, c) for c in page_of(self._listed(query), limit, page)]
        return listing("customers", items, query.fields)

    def count_customers(self, request: Request) -> Response:
        with self.state.lock:
            count = sum(1 for c in self.state.customers.values()
                        if not c.deleted and c.registered_in_store_id in (0, 1))
        return reply({"count": count})

    def search_customers(self, request: Request) -> Response:
        query = Query(request)
        limit, page = query.int("limit", 50), query.int("page", 1)
        if limit <= 1 or limit > 250:
            raise error(400, "limit", "Invalid limit parameter")
        if page <= 0:
            raise error(400, "page", "Invalid page parameter")
        text = query.get("query")
        if not text:
            return listing("customers", [], query.fields)
        wanted = {_SEARCHABLE[k]: v.lower() for k, v in parse_search(text).items() if k in _SEARCHABLE}
        with self.state.lock:
            def matches(customer: Customer) -> bool:
                for attribute, value in wanted.items():
                    actual = (getattr(customer, attribute) or "").lower()
                    if value not in actual:
                        return False
                return True

            found = (c for c in self.state.customers.values() if not c.deleted and matches(c))
            items = [customer_dto(self.state, c) for c in page_of(found, limit, page)]
        return listing("customers", items, query.fields)

    def current_customer(self, request: Request) -> Response:
        with self.state.lock:
            customer = self.state.customers.get(getattr(request, "nop_customer_id", 0))
            if customer is None or customer.deleted:
                raise error(404, "customer", "not found")
            item = customer_dto(self.state, customer)
        return listing("customers", [item], Query(request).fields)

    def get_customer(self, request: Request) -> Response:
        customer_id = positive_route_id(request)
        with self.state.lock:
            customer = self.state.customers.get(customer_id)
            if customer is None or customer.deleted:
                raise error(404, "customer", "not found")
            item = customer_dto(self.state, customer)
        return listing("customers", [item], Query(request).fields)

    # -- directory -------------------------------------------------------------------------------
    def list_countries(self, request: Request) -> Response:
        directory = self.state.directory
        return reply({"countries": [country_dto(self.state, c) for c in directory.countries]})

    def get_country(self, request: Request) -> Response:
        country_id = positive_route_id(request)
        if country_id not in self.state.directory.countries:
            raise error(404, "country", "not found")
        return listing("countries", [country_dto(self.state, country_id)], Query(request).fields)

    def list_states(self, request: Request) -> Response:
        return reply({"state_provinces": [state_province_dto(self.state, s) for s in self.state.directory.states]})

    def get_state(self, request: Request) -> Response:
        state_id = positive_route_id(request)
        if state_id not in self.state.directory.states:
            raise error(404, "province", "not found")
        return listing("state_provinces", [state_province_dto(self.state, state_id)], Query(request).fields)

    def list_currencies(self, request: Request) -> Response:
        items = [currency_dto(self.state, c) for c in self.state.directory.currencies]
        return listing("currencies", items, Query(request).fields)

    def primary_currency(self, request: Request) -> Response:
        return reply(currency_dto(self.state, self.state.directory.primary_currency.id))
