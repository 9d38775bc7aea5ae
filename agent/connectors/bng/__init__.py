"""The ERP side: BNG's REST API v1 client and its typed models."""

from agent.connectors.bng.client import BngClient, ChangeFeed, Feed, TransactionFeed, bng_error_parser
from agent.connectors.bng.models import (
    ORDER_STATUSES,
    PAYMENT_STATUSES,
    Address,
    BngDecimal,
    Change,
    Customer,
    CustomerCreate,
    CustomFieldDefinition,
    DimensionDefinition,
    DimensionValue,
    Health,
    InventoryTransaction,
    Item,
    Location,
    SalesOrder,
    SalesOrderCreate,
    SalesOrderLine,
    Shipment,
    ShipmentLine,
    SourceDocument,
    StockLevel,
)

__all__ = [
    "ORDER_STATUSES", "PAYMENT_STATUSES", "Address", "BngClient", "BngDecimal", "Change", "ChangeFeed",
    "CustomFieldDefinition", "Customer", "CustomerCreate", "DimensionDefinition", "DimensionValue", "Feed", "Health",
    "InventoryTransaction", "Item", "Location", "SalesOrder", "SalesOrderCreate", "SalesOrderLine", "Shipment",
    "ShipmentLine", "SourceDocument", "StockLevel", "TransactionFeed", "bng_error_parser",
]
