"""The web store side: the community API plugin's client and its typed models."""

from agent.connectors.nopcommerce.client import NopCommerceClient, nop_error_parser
from agent.connectors.nopcommerce.enums import (
    BackorderMode,
    LowStockActivity,
    ManageInventoryMethod,
    OrderStatus,
    PaymentStatus,
    ProductType,
    RoundingType,
    ShippingStatus,
    SpecificationAttributeType,
    TaxDisplayType,
    enum_id,
    enum_name,
)
from agent.connectors.nopcommerce.models import (
    Address,
    Country,
    Currency,
    Customer,
    Order,
    OrderItem,
    Product,
    ProductAttributeCombination,
    ProductSpecificationAttribute,
    ProductWarehouseInventory,
    Shipment,
    ShipmentItem,
    SpecificationAttribute,
    SpecificationAttributeOption,
    StateProvince,
    TokenInfo,
    Warehouse,
)

__all__ = [
    "Address", "BackorderMode", "Country", "Currency", "Customer", "LowStockActivity", "ManageInventoryMethod",
    "NopCommerceClient", "Order", "OrderItem", "OrderStatus", "PaymentStatus", "Product",
    "ProductAttributeCombination", "ProductSpecificationAttribute", "ProductType", "ProductWarehouseInventory",
    "RoundingType", "Shipment", "ShipmentItem", "ShippingStatus", "SpecificationAttribute",
    "SpecificationAttributeOption", "SpecificationAttributeType", "StateProvince", "TaxDisplayType", "TokenInfo",
    "Warehouse", "enum_id", "enum_name", "nop_error_parser",
]
