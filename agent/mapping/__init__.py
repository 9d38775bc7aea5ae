"""Transformation rules between the web store and BNG: pure functions, no I/O.

Every rule either returns the translated data (with notes for the history) or raises
`MappingError`, a data problem that retrying cannot fix and that the merchant can read.
"""

from agent.mapping.address import (
    AddressResult,
    AddressValidator,
    NoValidation,
    ValidatedAddress,
    country_code,
    normalize_address,
    postal_code,
    region_code,
)
from agent.mapping.dimensions import (
    LineContext,
    OrderContext,
    context_from_nop_order,
    explain,
    resolve_dimensions,
    validate_dimensions,
)
from agent.mapping.errors import MappingError
from agent.mapping.fields import (
    AttributeInfo,
    FieldsResult,
    build_custom_fields,
    coerce_value,
    parse_attributes_xml,
    parse_checkout_attribute_description,
)
from agent.mapping.money import (
    CurrencyChoice,
    LineInput,
    LineMoney,
    OrderMoney,
    allocate,
    build_order_money,
    choose_currency,
    convert,
    currency_precision,
    order_money_from_nop,
    round_money,
    to_bng_decimal,
    to_decimal,
)
from agent.mapping.status import (
    NopOrderState,
    StatusUpdate,
    bng_order_status,
    bng_payment_status,
    nop_order_status,
    nop_payment_status,
    nop_shipping_status,
    order_status_to_bng,
    payment_status_to_bng,
    payment_status_to_nop,
    shipping_update_from_bng,
)

__all__ = [
    "AddressResult", "AddressValidator", "AttributeInfo", "CurrencyChoice", "FieldsResult", "LineContext",
    "LineInput", "LineMoney", "MappingError", "NoValidation", "NopOrderState", "OrderContext", "OrderMoney",
    "StatusUpdate", "ValidatedAddress", "allocate", "bng_order_status", "bng_payment_status",
    "build_custom_fields", "build_order_money", "choose_currency", "coerce_value", "context_from_nop_order",
    "convert", "country_code", "currency_precision", "explain", "nop_order_status", "nop_payment_status",
    "nop_shipping_status", "normalize_address", "order_money_from_nop", "order_status_to_bng",
    "parse_attributes_xml", "parse_checkout_attribute_description", "payment_status_to_bng",
    "payment_status_to_nop", "postal_code", "region_code", "resolve_dimensions", "round_money",
    "shipping_update_from_bng", "to_bng_decimal", "to_decimal", "validate_dimensions",
]
