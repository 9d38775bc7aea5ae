"""The agent's configuration: a TOML file read into pydantic models.

Only the two connection sections are required; everything else has a default that works on
the sample data. A wrong file never half-starts the agent: `load()` collects every problem into
one `ConfigError`, one line per problem naming the key and the reason, and the CLI prints them
and exits 2. Secrets never live here (see `agent.secrets`); a key that looks like one is refused.
"""

from __future__ import annotations

import tomllib
from datetime import time
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import tomli_w
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

FLOWS = ("orders", "shipments", "inventory", "products", "customers")
SECRET_KEYS = {"password", "api_key", "apikey", "token", "secret", "webhook_secret", "smtp_password"}


class ConfigError(Exception):
    """The configuration cannot be used; `problems` holds one plain sentence per problem."""

    def __init__(self, problems: list[str], path: Path | None = None):
        self.problems = problems
        self.path = path
        where = f" in {path}" if path else ""
        super().__init__(f"configuration problem{'s' if len(problems) > 1 else ''}{where}:\n"
                         + "\n".join(f"  - {p}" for p in problems))


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


def _url(value: str) -> str:
    value = value.strip()
    if not value.startswith(("http://", "https://")):
        raise ValueError("must start with http:// or https://")
    return value.rstrip("/")


class NopCommerceSettings(_Section):
    """The web store (community API plugin: token at /token, API under /api)."""

    url: str = Field(description="the store root, e.g. https://shop.example.com")
    username: str = Field(description="the API user's e-mail (a customer in the 'Api Users' role)")
    timeout_seconds: float = Field(30.0, gt=0, le=600, description="connect/read/write timeout per request")
    page_size: int = Field(100, ge=1, le=250, description="records per page (the plugin allows 1-250)")
    requests_per_second: float = Field(20.0, gt=0, description="client-side rate limit")
    store_id: int = Field(1, ge=0, description="the store whose orders are synced (multi-store installs)")
    verify_tls: bool = Field(True, description="check the store's TLS certificate (keep on)")

    @field_validator("url")
    @classmethod
    def _check_url(cls, v: str) -> str:
        return _url(v)

    @field_validator("username")
    @classmethod
    def _username(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("must not be empty")
        return v.strip()


class BngSettings(_Section):
    """The ERP (BNG REST API v1)."""

    url: str = Field(description="the API root, e.g. http://localhost:8420/api/v1")
    company: str = Field("", description="company code; only for hosted (SaaS) BNG")
    timeout_seconds: float = Field(30.0, gt=0, le=600, description="connect/read/write timeout per request")
    page_size: int = Field(500, ge=1, le=500, description="records per page (BNG allows 1-500)")
    requests_per_second: float = Field(10.0, gt=0, description="BNG's default limit is 10/s, burst 20")
    burst: int = Field(20, ge=1, description="requests allowed in a burst")
    verify_tls: bool = Field(True, description="check BNG's TLS certificate (hosted BNG)")

    @field_validator("url")
    @classmethod
    def _check_url(cls, v: str) -> str:
        return _url(v)


class AgentSettings(_Section):
    """How the engine works through its queue."""

    workers: int = Field(4, ge=1, le=32, description="jobs worked on at the same time")
    max_attempts: int = Field(8, ge=1, le=100, description="retryable failures before a job is dead")
    lease_seconds: int = Field(120, ge=5, description="after this a job whose worker died is taken over")
    retry_base_seconds: float = Field(5.0, gt=0, description="first retry delay; doubles per attempt, with jitter")
    retry_max_seconds: float = Field(3600.0, gt=0, description="longest delay between two attempts")
    breaker_failures: int = Field(5, ge=1, description="consecutive failures that open a breaker")
    breaker_cooldown_seconds: float = Field(30.0, gt=0, description="wait before probing a system that is down")
    breaker_max_cooldown_seconds: float = Field(300.0, gt=0, description="the probe wait doubles up to this, so "
                                                "a system that is back is found within minutes")
    paused: bool = Field(False, description="set by Pause in the tray: no work is started")


class QuietHours(_Section):
    start: time
    end: time


class ScheduleSettings(_Section):
    """Polling intervals per flow (minutes; 0 switches a flow's polling off) in local time."""

    orders_minutes: float = Field(2, ge=0, description="poll the store for new and changed orders")
    shipments_minutes: float = Field(5, ge=0, description="read BNG's change feed for shipments and statuses")
    inventory_minutes: float = Field(5, ge=0, description="read BNG's inventory journal and push stock")
    products_minutes: float = Field(60, ge=0, description="push new and changed BNG items to the store")
    customers_minutes: float = Field(30, ge=0, description="reconcile store customers with BNG")
    reconcile_at: time = Field(time(2, 30), description="nightly full reconciliation, local time")
    quiet_hours: QuietHours | None = Field(None, description='no polling between start and end, e.g. '
                                          '{start = "22:00", end = "06:00"}')
    open_order_window_days: int = Field(30, ge=1, description="how far back open orders are re-read")
    first_order_id: int = Field(0, ge=0, description="orders with a higher id are synced; 0 = all")


class WebhookSettings(_Section):
    """The receiver for the store's webhooks (opt-in)."""

    enabled: bool = Field(False, description="receive the store's webhooks (secret: `bngsync secrets set webhook`)")
    host: str = Field("127.0.0.1", description="address to listen on; 0.0.0.0 to accept from the network")
    port: int = Field(8765, ge=1, le=65535, description="port to listen on")
    max_body_bytes: int = Field(1_048_576, ge=1024, description="larger bodies are refused with 413")


class EmailSettings(_Section):
    enabled: bool = Field(False, description="send alerts by e-mail (password: `bngsync secrets set smtp`)")
    host: str = Field("localhost", description="SMTP server")
    port: int = Field(587, ge=1, le=65535, description="SMTP port")
    security: Literal["starttls", "tls", "none"] = Field("starttls", description="starttls, tls or none")
    username: str = Field("", description="SMTP user (empty: no login)")
    sender: str = Field("bngsync@localhost", description="From address")
    recipients: list[str] = Field(default_factory=list, description="who gets the alerts")


class AlertSettings(_Section):
    """When and where people are told that something needs them."""

    stale_flow_minutes: int = Field(60, ge=1, description="a flow failing this long raises an alert")
    digest_minutes: int = Field(15, ge=1, description="repeats of an incident are grouped this long")
    drift_threshold: int = Field(10, ge=0, description="stock drift units above which reconciliation alerts")
    email: EmailSettings = Field(default_factory=EmailSettings)
    chat_webhook_url: str = Field("", description="a chat webhook (JSON POST with text, title, severity)")


class HistorySettings(_Section):
    retention_days: int = Field(90, ge=1, description="runs and events older than this are pruned")


def _default_order_status() -> dict[str, str]:
    return {"Pending": "New", "Processing": "Open", "Complete": "Closed", "Cancelled": "Cancelled"}


def _default_payment_status() -> dict[str, str]:
    return {"Pending": "Unpaid", "Authorized": "Authorized", "Paid": "Paid",
            "PartiallyRefunded": "PartiallyRefunded", "Refunded": "Refunded", "Voided": "Voided"}


def _default_bng_payment() -> dict[str, str]:
    return {v: k for k, v in _default_payment_status().items()}


class StatusMapping(_Section):
    """Status tables, both ways; keys and values are names (nopCommerce ids are accepted too)."""

    order_to_bng: dict[str, str] = Field(default_factory=_default_order_status,
                                         description="store order status → BNG status of a new sales order")
    payment_to_bng: dict[str, str] = Field(default_factory=_default_payment_status,
                                           description="store payment status → BNG payment status")
    payment_to_nop: dict[str, str] = Field(default_factory=_default_bng_payment,
                                           description="BNG payment status → store payment status")


class CustomFieldRule(_Section):
    """One nopCommerce value → one BNG custom field."""

    source: str = Field(description="e.g. 'customer_attribute:Customer Type', 'checkout_attribute:Gift "
                        "wrapping', 'order:store_id', 'order:payment_method', 'constant:WEB'")
    target: str = Field(description="BNG custom field name, e.g. ORDER_SOURCE")
    entity: Literal["sales_order", "customer"] = "sales_order"
    values: dict[str, str] = Field(default_factory=dict, description="optional value translation")


def _default_custom_fields() -> list[CustomFieldRule]:
    return [
        CustomFieldRule(source="constant:Web", target="ORDER_SOURCE"),
        CustomFieldRule(source="order:custom_order_number", target="WEB_ORDER_NUMBER"),
        CustomFieldRule(source="checkout_attribute:Gift wrapping", target="GIFT_WRAP",
                        values={"Yes": "true", "No": "false"}),
        CustomFieldRule(source="customer_attribute:Customer Type", target="CUSTOMER_TYPE", entity="customer"),
    ]


class DimensionRule(_Section):
    """An ordered rule: when every condition holds, set the dimension to the value.

    Conditions are `field: value` or `field: [values]`; fields: store_id, country, currency,
    customer_role, customer_type, payment_method, shipping_method, category, total_min, total_max.
    A value `@item.department` takes the value from the order's items.
    """

    dimension: str
    value: str
    when: dict[str, Any] = Field(default_factory=dict)


EU_COUNTRIES = ["AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT",
                "LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE"]


def _default_dimension_rules() -> list[DimensionRule]:
    return [
        DimensionRule(dimension="COSTCENTER", value="WEB-US", when={"country": "US"}),
        DimensionRule(dimension="COSTCENTER", value="WEB-CA", when={"country": "CA"}),
        DimensionRule(dimension="COSTCENTER", value="WEB-EU", when={"country": EU_COUNTRIES}),
        DimensionRule(dimension="COSTCENTER", value="WEB-ROW"),
        DimensionRule(dimension="CHANNEL", value="ONLINE"),
        DimensionRule(dimension="DEPARTMENT", value="@item.department"),
    ]


class CurrencySettings(_Section):
    """Which currency BNG orders are written in."""

    mode: Literal["customer", "primary", "fixed"] = Field(
        "customer", description="customer: the shopper's currency; primary: the store's; fixed: `code`")
    code: str = Field("USD", pattern=r"^[A-Z]{3}$", description="with mode 'fixed'; also the store's primary")


class LocationSettings(_Section):
    """Which BNG locations feed the store's stock, and where web orders ship from."""

    stock_locations: list[str] = Field(default_factory=list, description="empty = all BNG locations")
    order_location: str = Field("", description="BNG location for web orders; empty = BNG's default")
    warehouses: dict[str, int] = Field(default_factory=dict,
                                       description="BNG location → nopCommerce warehouse id (optional)")


class OwnershipSettings(_Section):
    """Which system owns which product field; the agent never writes a field BNG does not own."""

    bng_owns: list[str] = Field(default_factory=lambda: ["sku", "name", "price", "weight", "stock",
                                                         "attributes", "published", "category"],
                                description="product fields BNG writes; the store owns the rest")


class MappingSettings(_Section):
    status: StatusMapping = Field(default_factory=StatusMapping)
    currency: CurrencySettings = Field(default_factory=CurrencySettings)
    custom_fields: list[CustomFieldRule] = Field(default_factory=_default_custom_fields,
                                                 description="store values → BNG custom fields")
    dimensions: list[DimensionRule] = Field(default_factory=_default_dimension_rules,
                                            description="ordered rules → GL dimension values (first match wins)")
    locations: LocationSettings = Field(default_factory=LocationSettings)
    ownership: OwnershipSettings = Field(default_factory=OwnershipSettings)
    sku_substitutions: dict[str, str] = Field(default_factory=dict,
                                              description="store SKU → BNG item_no, for renamed items")
    address_validation: Literal["off"] = Field("off", description="an external address-validation service")


Action = Literal["note", "hold", "quarantine"]


class QualitySettings(_Section):
    """Checks before writes and anomaly detection; each check's action is configurable.

    `actions` overrides the default action of a check by name (see `agent.quality.report.
    DEFAULT_ACTIONS`); a name that is not a check is refused, so a typo never silently leaves a
    check on its default.
    """

    actions: dict[str, Action] = Field(default_factory=dict, description="a check's action by name: note, hold "
                                       "or quarantine (e.g. `{ quantity_spike = \"hold\" }`)")
    min_history: int = Field(20, ge=1, description="orders of history before learned bounds are trusted")
    max_line_quantity: int = Field(100, ge=1, description="bound used while history is short")
    max_order_total: Decimal = Field(Decimal("50000"), gt=0, description="order total bound used while "
                                     "history is short")
    price_tolerance: Decimal = Field(Decimal("0.5"), ge=0, description="relative gap to list price")
    burst_orders: int = Field(5, ge=2, description="orders from one customer within burst_minutes")
    burst_minutes: int = Field(10, ge=1, description="the window of the burst check")
    robust_z: float = Field(6.0, gt=0, description="how far above the usual (in robust standard deviations "
                            "of the median/MAD) a quantity or order total must be to be flagged")
    known_customer_orders: int = Field(3, ge=1, description="earlier orders before a customer's usual total "
                                       "and shipping countries are trusted")

    @field_validator("actions")
    @classmethod
    def _known_checks(cls, v: dict[str, str]) -> dict[str, str]:
        from agent.quality.report import DEFAULT_ACTIONS  # the check names live with the checks

        unknown = sorted(set(v) - set(DEFAULT_ACTIONS))
        if unknown:
            raise ValueError(f"unknown check{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} "
                             f"(known: {', '.join(sorted(DEFAULT_ACTIONS))})")
        return v


class Settings(_Section):
    """The whole configuration file."""

    nopcommerce: NopCommerceSettings
    bng: BngSettings
    agent: AgentSettings = Field(default_factory=AgentSettings)
    schedules: ScheduleSettings = Field(default_factory=ScheduleSettings)
    webhooks: WebhookSettings = Field(default_factory=WebhookSettings)
    alerts: AlertSettings = Field(default_factory=AlertSettings)
    history: HistorySettings = Field(default_factory=HistorySettings)
    mapping: MappingSettings = Field(default_factory=MappingSettings)
    quality: QualitySettings = Field(default_factory=QualitySettings)

    @model_validator(mode="before")
    @classmethod
    def _no_secrets(cls, data: Any) -> Any:
        if isinstance(data, dict):
            found = sorted(_secret_keys(data))
            if found:
                raise ValueError("secrets do not belong in the config file (" + ", ".join(found)
                                 + "): store them with `bngsync secrets set ...`")
        return data


def _secret_keys(data: dict, prefix: str = "") -> list[str]:
    found = []
    for key, value in data.items():
        name = f"{prefix}{key}"
        if key.lower() in SECRET_KEYS:
            found.append(name)
        elif isinstance(value, dict):
            found.extend(_secret_keys(value, name + "."))
    return found


def _describe(err: dict) -> str:
    loc = ".".join(str(p) for p in err["loc"])
    msg = err["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    if err["type"] == "missing":
        msg = "is required"
    elif err["type"] == "extra_forbidden":
        msg = "is not a known setting (check the spelling)"
    return f"{loc}: {msg}" if loc else msg


def parse(data: dict, path: Path | None = None) -> Settings:
    """Validate a parsed TOML document; raise ConfigError listing every problem."""
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError([_describe(e) for e in exc.errors()], path) from None


def load(path: Path) -> Settings:
    """Read and validate the config file at `path`."""
    if not path.exists():
        raise ConfigError([f"no configuration file at {path}: create one with `bngsync config init`"], path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"cannot read the file: {exc.strerror or exc}"], path) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"not valid TOML: {exc}"], path) from None
    return parse(data, path)


def to_toml(settings: Settings) -> str:
    """Serialize settings back to TOML (None values are left out, as TOML has no null)."""
    data = settings.model_dump(mode="json", exclude_none=True)
    return tomli_w.dumps(data)


def save(settings: Settings, path: Path) -> None:
    """Write the settings atomically (a crash mid-write never leaves half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(to_toml(settings), encoding="utf-8")
    tmp.replace(path)


MINIMAL_TEMPLATE = """\
# bngsync configuration. Secrets (passwords, API keys) are not kept here:
# store them with `bngsync secrets set nopcommerce` and `bngsync secrets set bng`.
# Every other section is optional; see the README's configuration reference.

[nopcommerce]
url = "{nop_url}"      # the store root; the API is under /api, token at /token
username = "{nop_user}"

[bng]
url = "{bng_url}"
company = "{bng_company}"                            # only for hosted (SaaS) BNG
"""


def minimal(nop_url: str = "https://shop.example.com", nop_user: str = "api@shop.example.com",
            bng_url: str = "http://localhost:8420/api/v1", bng_company: str = "") -> str:
    return MINIMAL_TEMPLATE.format(nop_url=nop_url, nop_user=nop_user, bng_url=bng_url,
                                   bng_company=bng_company)

