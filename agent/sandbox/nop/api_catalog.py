"""Products, warehouse stock, specification attributes and warehouses.

The product PUT is the plugin's: merge the sent keys, stamp `updated_on_utc`, and rewrite the tag
list from the body — **an omitted `tags` wipes the product's tags**. `stock_quantity` is an
absolute overwrite with no stock history and no low-stock activity. `published_status` is a
boolean in the 4.90 fork (`true`/`false`); the documented `published`/`unpublished`/`any` words
are silently ignored, so they return every product.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from agent.sandbox.httpserver import Request, Response, Router
from agent.sandbox.nop.dto import (
    inventory_dto,
    product_dto,
    product_specification_dto,
    specification_attribute_dto,
    warehouse_dto,
)
from agent.sandbox.nop.model import (
    Combination,
    Product,
    ProductSpecification,
    SpecificationOption,
    WarehouseInventory,
)
from agent.sandbox.nop.replies import (
    Query,
    body_root,
    check_paging,
    error,
    errors,
    listing,
    page_of,
    positive_route_id,
    reply,
    route_id,
)
from agent.sandbox.nop.schema import PRODUCT_FIELDS, PRODUCT_SPECS, defaults, invalid_keys, merge, type_errors
from agent.sandbox.nop.state import NopState
from agent.sandbox.nop.wire import money, parse_query_date, query_ids

_LOWER = (("limit", "invalid limit parameter"), ("page", "invalid page parameter"))
_INT_KEYS = {"product_id", "warehouse_id", "stock_quantity", "reserved_quantity", "attribute_type_id",
             "specification_attribute_option_id", "display_order", "id"}


def _int_fields_ok(body: dict[str, Any], keys: set[str]) -> list[str]:
    bad = []
    for key in keys & body.keys():
        value = body[key]
        if value is None:
            continue
        if isinstance(value, bool) or not str(value).strip().lstrip("-").isdigit():
            bad.append(key)
    return bad


class CatalogApi:
    def __init__(self, state: NopState):
        self.state = state

    def register(self, router: Router) -> None:
        router.add("GET", "/api/products", self.list_products)
        router.add("POST", "/api/products", self.create_product)
        router.add("GET", "/api/products/count", self.count_products)
        router.add("GET", "/api/products/{id}", self.get_product)
        router.add("PUT", "/api/products/{id}", self.update_product)
        router.add("GET", "/api/product_warehouse_inventories", self.list_inventories)
        router.add("POST", "/api/product_warehouse_inventories", self.create_inventory)
        router.add("GET", "/api/product_warehouse_inventories/{id}", self.get_inventory)
        router.add("PUT", "/api/product_warehouse_inventories/{id}", self.update_inventory)
        router.add("GET", "/api/specificationattributes", self.list_specification_attributes)
        router.add("POST", "/api/specificationattributes", self.create_specification_attribute)
        router.add("GET", "/api/specificationattributes/count", self.count_specification_attributes)
        router.add("GET", "/api/specificationattributes/{id}", self.get_specification_attribute)
        router.add("PUT", "/api/specificationattributes/{id}", self.update_specification_attribute)
        router.add("GET", "/api/productspecificationattributes", self.list_product_specifications)
        router.add("POST", "/api/productspecificationattributes", self.create_product_specification)
        router.add("GET", "/api/productspecificationattributes/count", self.count_product_specifications)
        router.add("GET", "/api/productspecificationattributes/{id}", self.get_product_specification)
        router.add("DELETE", "/api/productspecificationattributes/{id}", self.delete_product_specification)
        router.add("GET", "/api/warehouses", self.list_warehouses)
        router.add("GET", "/api/warehouses/{id}", self.get_warehouse)

    # -- products ------------------------------------------------------------------------------
    def _products(self, query: Query, with_ids: bool) -> Iterator[Product]:
        created_min = parse_query_date(query.get("created_at_min"))
        created_max = parse_query_date(query.get("created_at_max"))
        updated_min = parse_query_date(query.get("updated_at_min"))
        updated_max = parse_query_date(query.get("updated_at_max"))
        published = query.bool_or_none("published_status")
        is_download = query.bool_or_none("is_download")
        ids = set(query_ids(query.get("ids")) or []) if with_ids else set()
        since_id = (query.int_or_none("since_id") or 0) if with_ids else 0
        part_numbers = [p for p in (query.get("manufacturer_part_numbers") or "").split(",") if p]
        for product in self.state.products.values():
            f = product.fields
            if f["deleted"] or product.id <= since_id or (ids and product.id not in ids):
                continue
            if published is not None and f["published"] != published:
                continue
            if is_download is not None and f["is_download"] != is_download:
                continue
            if part_numbers and f["manufacturer_part_number"] not in part_numbers:
                continue
            if created_min is not None and not f["created_on_utc"] > created_min:
                continue
            if created_max is not None and not f["created_on_utc"] < created_max:
                continue
            if updated_min is not None and not f["updated_on_utc"] > updated_min:
                continue
            if updated_max is not None and not f["updated_on_utc"] < updated_max:
                continue
            yield product

    def list_products(self, request: Request) -> Response:
        query = Query(request)
        limit, page = query.int_or_none("limit"), query.int_or_none("page")
        check_paging(limit, page, *_LOWER)
        with self.state.lock:
            products = page_of(self._products(query, with_ids=True), limit or 50, page or 1)
            items = [product_dto(self.state, p) for p in products]
        return listing("products", items, query.fields)

    def count_products(self, request: Request) -> Response:
        with self.state.lock:
            count = sum(1 for _ in self._products(Query(request), with_ids=False))
        return reply({"count": count})

    def _product(self, product_id: int) -> Product:
        product = self.state.products.get(product_id)
        if product is None or product.deleted:
            raise error(404, "product", "not found")
        return product

    def get_product(self, request: Request) -> Response:
        product_id = positive_route_id(request)
        with self.state.lock:
            item = product_dto(self.state, self._product(product_id))
        return listing("products", [item], Query(request).fields)

    def _validate_product_body(self, body: dict[str, Any]) -> None:
        bad = invalid_keys(PRODUCT_SPECS, body)
        tags = body.get("tags")
        if tags is not None and (not isinstance(tags, list) or any(isinstance(t, (dict, list)) for t in tags)):
            bad.append("tags")
        combos = body.get("product_attribute_combinations")
        if combos is not None and (not isinstance(combos, list) or any(
                not isinstance(c, dict) or _int_fields_ok(c, {"id", "stock_quantity"}) for c in combos)):
            bad.append("product_attribute_combinations")
        if bad:
            raise errors(422, type_errors(bad))

    def update_product(self, request: Request) -> Response:
        body = body_root(request, "product")
        product_id = route_id(request)
        if product_id <= 0:
            raise errors(422, {"id": ["invalid id"]})
        self._validate_product_body(body)
        state = self.state
        with state.lock:
            product = self._product(product_id)
            merge(PRODUCT_SPECS, product.fields, body)
            product.fields["updated_on_utc"] = state.clock()
            self._merge_combinations(product, body.get("product_attribute_combinations"))
            tags = body.get("tags")
            product.tags = [str(t) for t in tags] if tags is not None else []
            state.product_changed(product.id)
            state.counters["product_puts"] += 1
            state.emit("products/update", "product", product.id)
            item = product_dto(state, product)
        return reply({"products": [item]})

    def _merge_combinations(self, product: Product, combos: list[dict[str, Any]] | None) -> None:
        for raw in combos or []:
            combo = next((c for c in product.combinations if c.id == raw.get("id")), None)
            if combo is None:
                combo = Combination(self.state.next_id("combination"), raw.get("attributes_xml") or "", 0)
                product.combinations.append(combo)
            if "stock_quantity" in raw:
                combo.stock_quantity = int(raw["stock_quantity"] or 0)
            if "sku" in raw:
                combo.sku = raw["sku"]
            if "attributes_xml" in raw:
                combo.attributes_xml = raw["attributes_xml"] or ""
            if "overridden_price" in raw:
                combo.overridden_price = None if raw["overridden_price"] is None else money(raw["overridden_price"])

    def create_product(self, request: Request) -> Response:
        body = body_root(request, "product")
        self._validate_product_body(body)
        if not str(body.get("name") or "").strip():
            raise errors(422, {"name": ["invalid name"]})
        state = self.state
        with state.lock:
            now = state.clock()
            fields = defaults(PRODUCT_FIELDS)
            fields.update(product_type_id=5, created_on_utc=now, updated_on_utc=now)
            product = Product(id=state.next_id("product"), fields=fields)
            merge(PRODUCT_SPECS, product.fields, body)
            product.fields["updated_on_utc"] = now
            product.tags = [str(t) for t in body.get("tags") or []]
            self._merge_combinations(product, body.get("product_attribute_combinations"))
            state.add_product(product)
            item = product_dto(state, product)
        return reply({"products": [item]})

    # -- warehouse stock -----------------------------------------------------------------------
    def list_inventories(self, request: Request) -> Response:
        query = Query(request)
        limit, page = query.int("limit", 50), query.int("page", 1)
        check_paging(limit, page, *_LOWER)
        product_id, warehouse_id = query.int_or_none("product_id"), query.int_or_none("warehouse_id")
        since_id = query.int("since_id", 0)
        with self.state.lock:
            rows = (i for i in self.state.inventories.values() if i.id > since_id
                    and (product_id is None or i.product_id == product_id)
                    and (warehouse_id is None or i.warehouse_id == warehouse_id))
            items = [inventory_dto(i) for i in page_of(rows, limit, page)]
        return listing("product_warehouse_inventories", items, query.fields)

    def get_inventory(self, request: Request) -> Response:
        inventory_id = positive_route_id(request)
        with self.state.lock:
            inventory = self.state.inventories.get(inventory_id)
            if inventory is None:
                raise error(404, "product_warehouse_inventories", "not found")
            item = inventory_dto(inventory)
        return listing("product_warehouse_inventories", [item], Query(request).fields)

    def _check_inventory_refs(self, body: dict[str, Any]) -> None:
        bad = _int_fields_ok(body, _INT_KEYS)
        if bad:
            raise errors(422, type_errors(bad))
        if body.get("warehouse_id") is not None and int(body["warehouse_id"]) not in self.state.warehouses:
            raise error(404, "warehouse_id", "not found")
        if body.get("product_id") is not None and int(body["product_id"]) not in self.state.products:
            raise error(404, "product_id", "not found")

    def create_inventory(self, request: Request) -> Response:
        body = body_root(request, "product_warehouse_inventory")
        with self.state.lock:
            self._check_inventory_refs(body)
            product_id, warehouse_id = int(body.get("product_id") or 0), int(body.get("warehouse_id") or 0)
            if product_id not in self.state.products:
                raise error(404, "product_id", "not found")
            if warehouse_id not in self.state.warehouses:
                raise error(404, "warehouse_id", "not found")
            if any(i.product_id == product_id and i.warehouse_id == warehouse_id
                   for i in self.state.inventories.values()):
                raise error(400, "product_warehouse_inventories", "already exist")
            inventory = WarehouseInventory(self.state.next_id("inventory"), product_id, warehouse_id,
                                           int(body.get("stock_quantity") or 0),
                                           int(body.get("reserved_quantity") or 0))
            self.state.inventories[inventory.id] = inventory
            item = inventory_dto(inventory)
        return reply({"product_warehouse_inventories": [item]})

    def update_inventory(self, request: Request) -> Response:
        body = body_root(request, "product_warehouse_inventory")
        with self.state.lock:
            self._check_inventory_refs(body)
            inventory = self.state.inventories.get(route_id(request))
            if inventory is None:
                raise error(404, "product_warehouse_inventory", "not found")
            for key in ("product_id", "warehouse_id", "stock_quantity", "reserved_quantity"):
                if key in body:
                    setattr(inventory, key, int(body[key] or 0))
            self.state.counters["inventory_puts"] += 1
            item = inventory_dto(inventory)
        return reply({"product_warehouse_inventories": [item]})

    # -- specification attributes ----------------------------------------------------------------
    def list_specification_attributes(self, request: Request) -> Response:
        query = Query(request)
        limit, page = query.int("limit", 50), query.int("page", 1)
        check_paging(limit, page, *_LOWER)
        since_id = query.int("since_id", 0)
        with self.state.lock:
            rows = (a for a in self.state.specification_attributes.values() if a.id > since_id)
            items = [specification_attribute_dto(a) for a in page_of(rows, limit, page)]
        return listing("specification_attributes", items, query.fields)

    def count_specification_attributes(self, request: Request) -> Response:
        return reply({"count": len(self.state.specification_attributes)})

    def get_specification_attribute(self, request: Request) -> Response:
        attribute_id = positive_route_id(request)
        with self.state.lock:
            attribute = self.state.specification_attributes.get(attribute_id)
            if attribute is None:
                raise error(404, "specification attribute", "not found")
            item = specification_attribute_dto(attribute)
        return listing("specification_attributes", [item], Query(request).fields)

    def create_specification_attribute(self, request: Request) -> Response:
        body = body_root(request, "specification_attribute")
        name = str(body.get("name") or "").strip()
        if not name:
            raise errors(422, {"name": ["invalid name"]})
        options = body.get("specification_attribute_options") or []
        if not isinstance(options, list) or any(not isinstance(o, dict) or not str(o.get("name") or "").strip()
                                                for o in options):
            raise errors(422, type_errors(["specification_attribute_options"]))
        with self.state.lock:
            attribute = self.state.add_specification_attribute(
                name, int(body.get("display_order") or 0),
                [(str(o["name"]), int(o.get("display_order") or 0), o.get("color_squares_rgb")) for o in options])
            item = specification_attribute_dto(attribute)
        return reply({"specification_attributes": [item]})

    def update_specification_attribute(self, request: Request) -> Response:
        """Merge the sent keys; options sent without an id are added (known names are kept once)."""
        body = body_root(request, "specification_attribute")
        attribute_id = route_id(request)
        if attribute_id <= 0:
            raise errors(422, {"id": ["invalid id"]})
        options = body.get("specification_attribute_options")
        if options is not None and (not isinstance(options, list) or any(
                not isinstance(o, dict) or not str(o.get("name") or "").strip() for o in options)):
            raise errors(422, type_errors(["specification_attribute_options"]))
        with self.state.lock:
            attribute = self.state.specification_attributes.get(attribute_id)
            if attribute is None:
                raise error(404, "specification attribute", "not found")
            if str(body.get("name") or "").strip():
                attribute.name = str(body["name"]).strip()
            if body.get("display_order") is not None:
                attribute.display_order = int(body["display_order"])
            known = {o.name.casefold() for o in attribute.options}
            for raw in options or []:
                name = str(raw["name"]).strip()
                if raw.get("id") or name.casefold() in known:
                    continue
                option = SpecificationOption(self.state.next_id("specification_option"), attribute.id, name,
                                             int(raw.get("display_order") or 0), raw.get("color_squares_rgb"))
                attribute.options.append(option)
                self.state.specification_options[option.id] = option
                known.add(name.casefold())
            item = specification_attribute_dto(attribute)
        return reply({"specification_attributes": [item]})

    def _product_specifications(self, query: Query) -> Iterator[ProductSpecification]:
        product_id = query.int("product_id", 0)
        option_id = query.int("specification_attribute_option_id", 0)
        allow_filtering = query.bool_or_none("allow_filtering")
        show = query.bool_or_none("show_on_product_page")
        for spec in self.state.product_specifications.values():
            if product_id > 0 and spec.product_id != product_id:
                continue
            if option_id > 0 and spec.specification_attribute_option_id != option_id:
                continue
            if allow_filtering is not None and spec.allow_filtering != allow_filtering:
                continue
            if show is not None and spec.show_on_product_page != show:
                continue
            yield spec

    def list_product_specifications(self, request: Request) -> Response:
        query = Query(request)
        limit, page = query.int("limit", 50), query.int("page", 1)
        check_paging(limit, page, *_LOWER)
        since_id = query.int("since_id", 0)
        with self.state.lock:
            rows = (s for s in self._product_specifications(query) if s.id > since_id)
            items = [product_specification_dto(s) for s in page_of(rows, limit, page)]
        return listing("product_specification_attributes", items, query.fields)

    def count_product_specifications(self, request: Request) -> Response:
        with self.state.lock:
            count = sum(1 for _ in self._product_specifications(Query(request)))
        return reply({"count": count})

    def get_product_specification(self, request: Request) -> Response:
        spec_id = positive_route_id(request)
        with self.state.lock:
            spec = self.state.product_specifications.get(spec_id)
            if spec is None:
                raise error(404, "product specification attribute", "not found")
            item = product_specification_dto(spec)
        return listing("product_specification_attributes", [item], Query(request).fields)

    def create_product_specification(self, request: Request) -> Response:
        body = body_root(request, "product_specification_attribute")
        bad = _int_fields_ok(body, _INT_KEYS)
        if bad:
            raise errors(422, type_errors(bad))
        product_id = int(body.get("product_id") or 0)
        option_id = int(body.get("specification_attribute_option_id") or 0)
        problems = {}
        if product_id <= 0:
            problems["product_id"] = ["invalid product id"]
        if int(body.get("attribute_type_id") or 0) == 0 and option_id <= 0:
            problems["specification_attribute_option_id"] = ["invalid specification attribute option id"]
        if problems:
            raise errors(422, problems)
        with self.state.lock:
            spec = ProductSpecification(
                id=self.state.next_id("product_specification"), product_id=product_id,
                attribute_type_id=int(body.get("attribute_type_id") or 0), specification_attribute_option_id=option_id,
                custom_value=body.get("custom_value"), allow_filtering=bool(body.get("allow_filtering", False)),
                show_on_product_page=bool(body.get("show_on_product_page", True)),
                display_order=int(body.get("display_order") or 0))
            self.state.product_specifications[spec.id] = spec
            self.state.product_changed(product_id)
            item = product_specification_dto(spec)
        return reply({"product_specification_attributes": [item]})

    def delete_product_specification(self, request: Request) -> Response:
        spec_id = positive_route_id(request)
        with self.state.lock:
            spec = self.state.product_specifications.pop(spec_id, None)
            if spec is None:
                raise error(404, "product specification attribute", "not found")
            self.state.product_changed(spec.product_id)
        return reply({})

    # -- warehouses ------------------------------------------------------------------------------
    def list_warehouses(self, request: Request) -> Response:
        query = Query(request)
        with self.state.lock:
            items = [warehouse_dto(self.state, w) for w in self.state.warehouses.values()]
        return listing("warehouses", items, query.fields)

    def get_warehouse(self, request: Request) -> Response:
        warehouse_id = positive_route_id(request)
        with self.state.lock:
            warehouse = self.state.warehouses.get(warehouse_id)
            if warehouse is None:
                raise error(404, "warehouse", "warehouse not found")
            item = warehouse_dto(self.state, warehouse)
        return listing("warehouses", [item], Query(request).fields)
